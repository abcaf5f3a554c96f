from quanzi.cli_groups import data_app  # noqa: F401  (commands land with the corpora tools)
