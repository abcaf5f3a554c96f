"""Discovery clusters a circle's posts into named topics, and editors' choices survive
re-clustering: a hidden or renamed topic is neither recreated nor touched."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from quanzi.serving.editorial import topics as logic
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory
from quanzi.storage.orm import PostEmbedding, Topic

VERSION = "enc-test"
THEMES = {
    0: ["电池续航很给力，续航一整天", "续航时间长，电池耐用", "电池续航不错，待机久"],
    1: ["拍照清楚，像素很高", "拍照效果好，夜景像素清晰", "像素高，拍照色彩好"],
}


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    u = f.user(id="u-1")
    rng = np.random.default_rng(0)
    centers = np.eye(16, dtype=np.float32)[:2]
    n = 0
    for theme, texts in THEMES.items():
        for i in range(12):
            n += 1
            post = f.post(circle, u, id=f"p-{n}", text=texts[i % 3])
            v = centers[theme] + 0.05 * rng.standard_normal(16).astype(np.float32)
            v /= np.linalg.norm(v)
            f._add(
                PostEmbedding(
                    post_id=post.id,
                    encoder_version=VERSION,
                    dim=16,
                    vector=v.astype("<f4").tobytes(),
                )
            )


def test_discovery_names_clusters_and_keeps_editors_choices(settings: Settings, seed: Any) -> None:
    seed(_world)
    engine = engine_from_settings(settings)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as s:
            found = logic.discover_topics(s, "c-1", VERSION, min_size=5)
            names = {t.name for t in found}
        assert names == {"续航", "拍照"}
        with sessions.begin() as s:
            by_name = {t.name: t for t in s.scalars(select(Topic))}
            logic.update_topic(s, by_name["续航"].id, "editor", None, True)  # hide
            logic.update_topic(s, by_name["拍照"].id, "editor", "影像", None)  # rename
        with sessions.begin() as s:
            again = logic.discover_topics(s, "c-1", VERSION, min_size=5)
        # 续航 exists (hidden); 拍照's posts sit in the renamed 影像: nothing comes back
        assert again == []
        with sessions() as s:
            topics = {t.name: t for t in s.scalars(select(Topic))}
        assert topics["续航"].status == "hidden" and topics["影像"].edited
    finally:
        engine.dispose()
