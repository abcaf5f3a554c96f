"""The serving path never reads a world's hidden truth or held-out days."""

from __future__ import annotations

from pathlib import Path

import quanzi.serving


def test_serving_code_never_opens_world_hidden_or_eval_files() -> None:
    root = Path(quanzi.serving.__file__).parent
    for path in root.rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        for needle in (
            "hidden/",
            "posts_truth",
            "users_truth",
            "interactions_holdout",
            "worlds_dir",
        ):
            assert needle not in src, f"{path} mentions {needle!r}"
