"""What post ingest reads and writes: references, provenance, score rows, stored results.

A post's response is rebuilt from its ``post_scores`` rows (``result_of``), so a post sent
again (same id, same content) is *replayed* — its stored result returned, nothing written —
and answers exactly what the first call answered; the same id with other content is a 409
(posts are immutable here: an edit is a new post id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from quanzi.models.content_type import MODEL_NAME as CONTENT_TYPE_MODEL
from quanzi.models.content_type import VERSION as CONTENT_TYPE_VERSION
from quanzi.models.loading import UNAVAILABLE
from quanzi.models.quality import rejected_quality
from quanzi.serving.editorial.errors import Conflict, NotFound, id_list
from quanzi.storage.orm import Circle, Item, Order, Post, PostScore, ReviewItem, User
from quanzi.storage.queries import verified_purchase_clause

TIER_NAMES = {"unusable": 0, "low": 1, "good": 2, "excellent": 3}


@dataclass(frozen=True)
class PostInput:
    """One post as the feed service sends it (already schema-checked)."""

    id: str
    circle_id: str
    author_id: str
    text: str
    item_id: str | None = None
    order_id: str | None = None
    image_count: int = 0
    created_at: datetime | None = None
    topics: tuple[str, ...] = ()  # #话题# tags given as a field (the text's are parsed too)

    @classmethod
    def of(cls, post: Post) -> PostInput:
        """A stored post as ingest reads it (backfill, rescore)."""
        return cls(
            post.id,
            post.circle_id,
            post.author_id,
            post.text,
            post.item_id,
            post.order_id,
            post.image_count,
            post.created_at,
        )


def check_references(session: Session, posts: Sequence[PostInput]) -> None:
    """404 naming every unknown circle, author, item and order at once."""
    checks = [
        ("circles", Circle.id, {p.circle_id for p in posts}),
        ("authors", User.id, {p.author_id for p in posts}),
        ("items", Item.id, {p.item_id for p in posts if p.item_id}),
        ("orders", Order.id, {p.order_id for p in posts if p.order_id}),
    ]
    problems = []
    for label, column, ids in checks:
        if not ids:
            continue
        found = set(session.scalars(select(column).where(column.in_(sorted(ids)))))
        if ids - found:
            problems.append(f"{label}: {id_list(ids - found)}")
    if problems:
        raise NotFound(
            "unknown ids — create them first (circles through `quanzi world load` "
            "or the store, users with POST /v1/users): " + "; ".join(problems)
        )


def author_record(
    user: User, circle_id: str, at: datetime, history: tuple[int, float] | None = None
) -> dict[str, Any]:
    """The provenance the trust model reads about an author (trust-levels.md, models/trust.py).

    ``history`` is (posts stored before this batch, share of them that were verified
    purchases); left out when unknown, so the model sees "unknown", not zero.
    """
    created = user.account_created_at
    age_days = max(0.0, (at - created).total_seconds() / 86400) if created else None
    record: dict[str, Any] = {
        "kind": user.kind,
        "follower_count": int(user.follower_count or 0),
        "creator_certified": bool(user.creator_certified),
        "account_age_days": age_days,
        "is_brand_account": user.kind == "merchant" and user.merchant_circle_id == circle_id,
    }
    if history is not None:
        record["post_count"] = history[0]
        if history[0]:
            record["verified_share"] = history[1]
    return record


def author_histories(session: Session, author_ids: Sequence[str]) -> dict[str, tuple[int, float]]:
    """Per author: stored posts and the share that are verified purchases (one query)."""

    verified = func.sum(case((verified_purchase_clause(), 1), else_=0))
    rows = session.execute(
        select(Post.author_id, func.count(), verified)
        .outerjoin(Order, Order.id == Post.order_id)
        .where(Post.author_id.in_(sorted(set(author_ids))))
        .group_by(Post.author_id)
    ).all()
    out = {a: (0, 0.0) for a in author_ids}
    for author, n, v in rows:
        out[author] = (int(n), float(v or 0) / int(n) if n else 0.0)
    return out


def verified_purchases(
    posts: Sequence[PostInput], orders: dict[str, Order], now: datetime
) -> list[bool]:
    """The author's own order of this item, placed before the post (storage.queries)."""
    out = []
    for p in posts:
        order = orders.get(p.order_id) if p.order_id else None
        out.append(
            order is not None
            and order.user_id == p.author_id
            and order.item_id == p.item_id
            and order.created_at <= (p.created_at or now)
        )
    return out


def tier_of(quality: dict[str, Any] | None) -> int | None:
    """A quality tier as an int 0–3 (models may answer the tier's name)."""
    if not quality:
        return None
    tier = quality.get("tier")
    if isinstance(tier, bool):
        return None
    if isinstance(tier, int | float):
        return int(tier)
    if isinstance(tier, str):
        return TIER_NAMES.get(tier.lower(), int(tier) if tier.isdigit() else None)
    return None


def score_rows_for(
    post_id: str, result: dict[str, Any], versions: dict[str, str], now: datetime
) -> list[dict[str, Any]]:
    """One ``post_scores`` row per model that answered (moderation always answers)."""
    rows = []
    moderation = result["moderation"]
    rows.append(
        {
            "post_id": post_id,
            "model_name": "moderation",
            "model_version": versions["moderation"],
            "score": max((float(e.get("prob", 0.0)) for e in moderation["labels"]), default=0.0),
            "label": moderation["decision"],
            "payload": {
                **moderation,
                "near_duplicate_of": result["near_duplicate_of"],
                "near_duplicate_cosine": result.get("near_duplicate_cosine"),
            },
            "created_at": now,
        }
    )
    quality = result.get("quality")
    if quality is not None:
        tier = tier_of(quality)
        rows.append(
            {
                "post_id": post_id,
                "model_name": "quality",
                "model_version": versions["quality"],
                "score": float(quality["score"]),
                "label": None if tier is None else str(tier),
                "payload": quality,
                "created_at": now,
            }
        )
    if result.get("content_type"):
        rows.append(
            {
                "post_id": post_id,
                "model_name": CONTENT_TYPE_MODEL,
                "model_version": CONTENT_TYPE_VERSION,
                "score": None,
                "label": result["content_type"],
                "payload": {},
                "created_at": now,
            }
        )
    trust = result.get("trust")
    if trust is not None:
        level = str(trust["level"])
        prob = (trust.get("probs") or {}).get(level)
        rows.append(
            {
                "post_id": post_id,
                "model_name": "trust",
                "model_version": versions["trust"],
                "score": None if prob is None else float(prob),
                "label": level,
                "payload": trust,
                "created_at": now,
            }
        )
    return rows


def public_part(part: dict[str, Any] | None, keys: Sequence[str]) -> dict[str, Any] | None:
    if part is None:
        return None
    return {k: part.get(k) for k in keys} | {k: v for k, v in part.items() if k not in keys}


def result_of(
    post: Post, scores: Sequence[PostScore], encoder_version: str | None, replayed: bool
) -> dict[str, Any]:
    """The response for a stored post, rebuilt from its newest score row per model."""
    latest: dict[str, PostScore] = {}
    for row in sorted(scores, key=lambda s: (s.created_at, s.id or 0)):
        latest[row.model_name] = row
    moderation = dict(latest["moderation"].payload) if "moderation" in latest else None
    near = moderation.pop("near_duplicate_of", None) if moderation else None
    if moderation is not None:
        moderation.pop("near_duplicate_cosine", None)
    versions = {
        name: latest[name].model_version if name in latest else UNAVAILABLE
        for name in ("moderation", "quality", "trust")
    }
    versions["encoder"] = encoder_version or UNAVAILABLE
    quality = latest["quality"].payload if "quality" in latest else None
    quality = rejected_quality(quality, post.status)
    trust = latest["trust"].payload if "trust" in latest else None
    return {
        "post_id": post.id,
        "status": post.status,
        "replayed": replayed,
        "moderation": moderation,
        "quality": public_part(quality, ("score", "tier")),
        "trust": public_part(trust, ("level", "probs", "reasons")),
        "near_duplicate_of": near,
        "content_type": latest[CONTENT_TYPE_MODEL].label if CONTENT_TYPE_MODEL in latest else None,
        "model_versions": versions,
    }


def replays(
    session: Session, posts: Sequence[PostInput], encoder_version: str | None
) -> dict[str, dict[str, Any]]:
    """Stored results of posts sent again; 409 when an id is reused for other content."""
    ids = [p.id for p in posts]
    stored = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(ids)))}
    if not stored:
        return {}
    conflicts = [
        p.id
        for p in posts
        if p.id in stored
        and (
            stored[p.id].text != p.text
            or stored[p.id].circle_id != p.circle_id
            or stored[p.id].author_id != p.author_id
        )
    ]
    if conflicts:
        raise Conflict(
            f"post ids already stored with other text, circle or author: "
            f"{id_list(conflicts)} (posts are immutable: send an edit as a new id)"
        )
    scores: dict[str, list[PostScore]] = {}
    for row in session.scalars(select(PostScore).where(PostScore.post_id.in_(list(stored)))):
        scores.setdefault(row.post_id, []).append(row)
    return {
        pid: result_of(post, scores.get(pid, []), encoder_version, replayed=True)
        for pid, post in stored.items()
    }


def scoring_records(
    session: Session, posts: Sequence[PostInput], now: datetime
) -> list[dict[str, Any]]:
    """Each post as the models read it: text, circle, the author's provenance (with the
    author's stored history) and whether it is a verified purchase."""
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_(sorted({p.author_id for p in posts})))
        )
    }
    order_ids = sorted({p.order_id for p in posts if p.order_id})
    orders = (
        {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
        if order_ids
        else {}
    )
    verified = verified_purchases(posts, orders, now)
    history = author_histories(session, [p.author_id for p in posts])
    return [
        {
            "text": p.text,
            "circle_id": p.circle_id,
            "author": author_record(
                users[p.author_id], p.circle_id, p.created_at or now, history[p.author_id]
            ),
            "verified_purchase": v,
        }
        for p, v in zip(posts, verified, strict=True)
    ]


def write_rows(
    session: Session,
    post_rows: list[dict[str, Any]],
    score_rows: list[dict[str, Any]],
    review_rows: list[dict[str, Any]],
    stored: bool,
) -> None:
    """Insert the posts (or, when ``stored``, update their status), their score rows and
    their review items (a post already queued is not queued twice)."""
    if stored:
        session.execute(
            update(Post),
            [
                {k: r[k] for k in ("id", "status", "scored_versions", "updated_at")}
                for r in post_rows
            ],
        )
        queued = set(
            session.scalars(
                select(ReviewItem.post_id).where(
                    ReviewItem.post_id.in_([r["post_id"] for r in review_rows])
                )
            )
        )
        review_rows = [r for r in review_rows if r["post_id"] not in queued]
    else:
        session.execute(insert(Post).execution_options(render_nulls=True), post_rows)
    # render_nulls: a None (a trust level without its probability, a content type's score)
    # is written as NULL instead of leaving its column out, which split a batch's rows into
    # one INSERT per run of rows with the same columns (16 statements for 8 posts).
    session.execute(insert(PostScore).execution_options(render_nulls=True), score_rows)
    if review_rows:
        session.execute(insert(ReviewItem), review_rows)


def texts_of(session: Session, post_ids: list[str]) -> dict[str, str]:
    """Stored posts' texts by id (the near-duplicate check compares a copy's text)."""
    if not post_ids:
        return {}
    rows = session.execute(select(Post.id, Post.text).where(Post.id.in_(post_ids)))
    return {pid: text for pid, text in rows}
