"""A small store and versioned models for the rescore tests.

``load_test_versions`` stands in for ``models.model_versions.load_versions``: it builds
the service tests' rule models (``serving_models.py``) by version, so a "newly promoted"
moderation version really decides differently — version 1 sends a single coupon push to
review, version 2 (``StrictModeration``) rejects any. It is a module function, so Ray
actors get it by value (``ray_pickling``) and load the models themselves, like the real
loader does.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from quanzi_tests import serving_models

from quanzi.models.loading import LoadedModels
from quanzi.settings import Settings
from quanzi.storage.orm import Circle, CircleRule, Post, PostScore, ReviewDecision, ReviewItem, User

V1 = {"moderation": "1", "quality": "1", "trust": "1", "encoder": "hash-256"}
V2 = {**V1, "moderation": "2", "encoder": "hash-256-v2"}  # also a new encoder version

TEXTS = [
    "用了一个月，保湿效果很好，皮肤不干了，推荐给干皮的朋友",
    "物流很快，包装完好，味道不错，下次还买",
    "领优惠券再下单更划算",
    "进店领优惠券，进店有惊喜，优惠券限时",
    "客服太傻了，问三遍都答不上来",
    "尺码合适，颜色正，做工精细，性价比高",
    "有点小贵，但是质量很好，值得",
    "加微信领小样",
]


class StrictModeration(serving_models.RuleModeration):
    """Version 2: any coupon or shop push is an ad to reject."""

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = super().predict(records)
        for answer in out:
            for label in answer["labels"]:
                if label["label"] == "ad":
                    label["band"] = "reject"
            if any(e["band"] == "reject" for e in answer["labels"]):
                answer["decision"] = "reject"
        return out


class LenientModeration:
    """Version 0: an old champion that passes everything."""

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"decision": "pass", "labels": []} for _ in records]


MODERATION = {"0": LenientModeration, "1": serving_models.RuleModeration, "2": StrictModeration}


def load_test_versions(_settings: Settings, versions: dict[str, str]) -> LoadedModels:
    """The rule models at the chosen versions (what each process loads for itself)."""
    moderation = MODERATION[versions["moderation"]]
    return LoadedModels(
        predictors={
            "moderation": moderation(),
            "quality": serving_models.LengthQuality(),
            "trust": serving_models.ProvenanceTrust(),
        },
        versions={t: versions[t] for t in ("moderation", "quality", "trust")},
        embedder=serving_models.HashEmbedder(),
        encoder_version=versions["encoder"],
    )


def ray_pickling() -> None:
    """Let Ray workers unpickle this module's loader (tests/utils is not installed)."""
    import ray.cloudpickle

    for name in ("quanzi_tests.rescore_models", "quanzi_tests.serving_models"):
        ray.cloudpickle.register_pickle_by_value(sys.modules[name])


def seed_store(session: Any, n_posts: int, seed: int = 7) -> list[str]:
    """Two circles (one with a blocked term), 20 authors, ``n_posts`` posts drawn from
    ``TEXTS`` with a number so none repeats; one post decided by an editor, one removed."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    circles = [
        Circle(id="c-a", name="美妆圈", category="beauty", brand="A"),
        Circle(id="c-b", name="手机圈", category="digital", brand="B"),
    ]
    session.add_all(circles)
    session.add(CircleRule(circle_id="c-b", term="加微信", action="block"))
    users = [
        User(
            id=f"u-{i:02d}",
            kind="creator" if i % 5 == 0 else "user",
            creator_certified=i % 5 == 0,
            follower_count=1000 * i,
            account_created_at=start - timedelta(days=30 + i),
        )
        for i in range(20)
    ]
    session.add_all(users)
    session.flush()
    ids = []
    for i in range(n_posts):
        pid = f"p-{i:06d}"
        ids.append(pid)
        session.add(
            Post(
                id=pid,
                circle_id=circles[i % 2].id,
                author_id=users[rng.randrange(20)].id,
                text=f"{rng.choice(TEXTS)} #{i}",
                status="pass",
                created_at=start + timedelta(minutes=i),
            )
        )
    session.flush()
    decided, removed = ids[2], ids[3]
    session.get(Post, removed).status = "removed"
    item = ReviewItem(post_id=decided, circle_id="c-a", reasons={}, status="closed")
    session.add(item)
    session.flush()
    session.add(
        ReviewDecision(
            review_id=item.id, post_id=decided, editor="ed", decision="pass", reason="fine"
        )
    )
    session.commit()
    return ids


def store_state(session: Any) -> dict[str, Any]:
    """Everything a rescore writes, comparable across engines and runs."""
    posts = {p.id: (p.status, p.scored_versions) for p in session.query(Post).order_by(Post.id)}
    scores = {}
    for s in session.query(PostScore).order_by(PostScore.id):
        key = (s.post_id, s.model_name, s.model_version)
        assert key not in scores, f"score row {key} written twice"
        scores[key] = (s.label, s.score, s.payload)
    reviews = {r.post_id: r.status for r in session.query(ReviewItem)}
    return {"posts": posts, "scores": scores, "reviews": reviews}
