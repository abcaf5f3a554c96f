"""The copies-caught evaluation reads the hidden truth against what the store decided."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quanzi.evaluation.copies_eval import evaluate_copies


def _moderation(f: Any, post: Any, near: str | None) -> None:
    f.score(post, model_name="moderation", label="pass", payload={"near_duplicate_of": near})


def test_copies_caught_flagged_and_live_are_counted(
    engine: Engine, session: Session, factory: Any
) -> None:
    hotels, shampoo = factory.circle(id="c-hotels"), factory.circle(id="c-shampoo")
    u = factory.user(id="u-1")
    src = factory.post(hotels, u, id="src", text="房间干净，早餐丰富")
    caught = factory.post(shampoo, u, id="copy-caught", text="房间干净，早餐丰富", status="review")
    live = factory.post(hotels, u, id="copy-live", text="房间干净，早餐丰富")
    genuine = factory.post(shampoo, u, id="gen", text="洗发水很好用", status="review")
    _moderation(factory, src, None)
    _moderation(factory, caught, "src")
    _moderation(factory, live, None)
    _moderation(factory, genuine, "other")  # a false flag on a genuine review
    session.commit()
    truth = pd.DataFrame(
        {
            "post_id": ["src", "copy-caught", "copy-live", "gen"],
            "kind": ["genuine", "filler", "filler", "genuine"],
            "filler_kind": [None, "copy_paste", "copy_paste", None],
            "source_post_id": [None, "src", "src", None],
        }
    )
    posts = pd.DataFrame(
        {
            "id": ["src", "copy-caught", "copy-live", "gen"],
            "circle_id": ["c-hotels", "c-shampoo", "c-hotels", "c-shampoo"],
        }
    )
    report = evaluate_copies(engine, truth, posts)
    assert (report.copies, report.cross_circle) == (2, 1)
    assert (report.caught, report.caught_cross_circle) == (1, 1)
    assert (report.flagged, report.flagged_true_source) == (1, 1)
    assert (report.live, report.live_unflagged) == (1, 1)
    assert (report.flags, report.false_flags) == (2, 1)
    assert (report.genuine, report.genuine_flagged) == (2, 1)
    assert report.caught_rate == 0.5 and report.statuses == {"review": 1, "pass": 1}
