from quanzi.cli_groups import world_app  # noqa: F401  (commands land with the world generator)
