"""Backfill: stored pending posts (a loaded world) go through the same ingest pipeline."""

from __future__ import annotations

from quanzi_tests import serving_models as sm
from sqlalchemy import select

from quanzi.serving.post_ingest.backfill import backfill_pending
from quanzi.serving.worker_models import ModelRegistry
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema
from quanzi.storage.orm import Post, PostEmbedding, PostScore, ReviewItem

CREAM = "这款保湿面霜质地轻薄，冬天用脸不干，保湿效果能维持一整天"


def test_backfill_moderates_scores_embeds_and_flags_later_copies(
    settings: Settings, factory_class: type
) -> None:
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        f = factory_class(session)
        world = sm.seed_world(f)
        for pid, text in (
            ("p-1", CREAM),
            ("p-2", "进店领优惠券，优惠券，优惠券"),
            ("p-3", CREAM + "！"),
            ("p-done", "已经审核过的帖子"),
        ):
            f.post(
                world["beauty"],
                world["user"],
                id=pid,
                text=text,
                status="pass" if pid == "p-done" else "pending",
            )
    registry = ModelRegistry(settings, engine, loader=sm.fake_loader("4"))
    try:
        done = backfill_pending(sessions, registry.current(), batch=2)
    finally:
        registry.close()
    with sessions() as session:
        status = dict(session.execute(select(Post.id, Post.status)).all())
        assert done == 3
        assert status == {"p-1": "pass", "p-2": "reject", "p-3": "review", "p-done": "pass"}
        queued = session.scalars(select(ReviewItem)).all()
        assert [q.post_id for q in queued] == ["p-3"]
        assert queued[0].reasons["near_duplicate_of"] == "p-1"  # the older post is the original
        scored = {(s.post_id, s.model_name) for s in session.scalars(select(PostScore))}
        assert ("p-1", "quality") in scored and ("p-done", "moderation") not in scored
        embedded = set(session.scalars(select(PostEmbedding.post_id)))
        assert embedded == {"p-1", "p-2", "p-3"}
    engine.dispose()
