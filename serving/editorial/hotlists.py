"""Hot lists (榜单): a circle's passed posts ranked by decayed engagement, then editor overrides.

heat(post) = Σ over its interactions in the window of weight(kind) × exp(−age / τ).
The sum runs in SQL (one GROUP BY over ``interactions``); boosts multiply heat and
removals drop posts in the same query, then pins are placed at their positions.
Overrides past ``expires_at`` are ignored, so a campaign pin ends by itself.
Guardrails (``guardrails.py``): only a passed post can be pinned, and a post flagged at
ingest as a copy of another (any circle) never appears, pinned or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from quanzi.models.ranking.params import INTERACTION_WEIGHTS
from quanzi.serving.editorial.errors import Conflict, Invalid, NotFound
from quanzi.serving.editorial.guardrails import post_facts
from quanzi.storage.orm import Circle, HotListOverride, Interaction, Post
from quanzi.storage.queries import circle_posts_clause


def _default_weights() -> dict[str, float]:
    """The feed's own interaction weights: one notion of engagement across the service."""
    return dict(INTERACTION_WEIGHTS)


class HotListParams(BaseModel):
    """Every tunable of the hot list, with its unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decay_hours: float = Field(
        24.0, gt=0, description="τ: an interaction's weight falls by 1/e every τ hours."
    )
    window_hours: float = Field(168.0, gt=0, description="Older interactions are ignored.")
    interaction_weights: dict[str, float] = Field(default_factory=_default_weights)
    max_boost: float = Field(100.0, gt=1, description="Largest boost multiplier allowed.")


@dataclass(frozen=True)
class HotListEntry:
    post_id: str
    rank: int  # 1-based
    heat: float  # after boost
    base_heat: float  # before any override
    override: HotListOverride | None


def _epoch_seconds(column: ColumnElement[datetime], dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 of a UTC timestamp column, on SQLite and PostgreSQL."""
    if dialect == "sqlite":  # stored as UTC wall-clock text
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


def _ensure_sqlite_exp(session: Session) -> None:
    """SQLite builds without math functions lack exp(); provide Python's (idempotent)."""
    connection = session.connection().connection.driver_connection
    connection.create_function("exp", 1, math.exp, deterministic=True)  # type: ignore[union-attr]


def require_circle(session: Session, circle_id: str) -> Circle:
    circle = session.get(Circle, circle_id)
    if circle is None:
        raise NotFound(f"circle {circle_id!r} not found")
    return circle


def active_overrides(session: Session, circle_id: str, now: datetime) -> list[HotListOverride]:
    """The circle's overrides that have not expired at ``now``, oldest first."""
    return list(
        session.scalars(
            select(HotListOverride)
            .where(
                HotListOverride.circle_id == circle_id,
                or_(HotListOverride.expires_at.is_(None), HotListOverride.expires_at > now),
            )
            .order_by(HotListOverride.created_at, HotListOverride.id)
        )
    )


def hot_list(
    session: Session,
    circle_id: str,
    *,
    limit: int,
    now: datetime | None = None,
    params: HotListParams | None = None,
) -> list[HotListEntry]:
    """The circle's hot list at ``now``: ``limit`` passed posts, overrides applied."""
    params = params or HotListParams()
    now = now or datetime.now(UTC)
    require_circle(session, circle_id)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _ensure_sqlite_exp(session)
    weights = {k: w for k, w in params.interaction_weights.items() if w != 0}
    tau_s = params.decay_hours * 3600.0
    age_s = literal(now.timestamp()) - _epoch_seconds(Interaction.created_at, dialect)
    weight = case(weights, value=Interaction.kind, else_=0.0) if weights else literal(0.0)
    heat = (
        select(
            Interaction.post_id.label("post_id"),
            func.sum(weight * func.exp(-age_s / tau_s)).label("heat"),
        )
        .join(Post, Post.id == Interaction.post_id)
        .where(
            circle_posts_clause(session, circle_id),
            Post.status == "pass",
            Interaction.kind.in_(list(weights)),
            Interaction.created_at > now - timedelta(hours=params.window_hours),
            Interaction.created_at <= now,
        )
        .group_by(Interaction.post_id)
        .subquery("heat")
    )
    overrides = active_overrides(session, circle_id, now)
    by_post = {o.post_id: o for o in overrides}
    pins = sorted((o for o in overrides if o.action == "pin"), key=lambda o: o.value)
    live = (HotListOverride.circle_id == circle_id) & or_(
        HotListOverride.expires_at.is_(None), HotListOverride.expires_at > now
    )
    ov = (
        select(HotListOverride.post_id, HotListOverride.action, HotListOverride.value)
        .where(live)
        .subquery("ov")
    )
    adjusted = heat.c.heat * case((ov.c.action == "boost", ov.c.value), else_=1.0)
    rows = session.execute(
        select(heat.c.post_id, heat.c.heat, adjusted.label("adjusted"))
        .outerjoin(ov, ov.c.post_id == heat.c.post_id)
        .where(or_(ov.c.action.is_(None), ov.c.action.not_in(["remove", "pin"])), adjusted > 0)
        .order_by(adjusted.desc(), heat.c.post_id)
        .limit(2 * limit + 10)  # room for the copies dropped below
    ).all()
    copies = flagged_copies(session, [r.post_id for r in rows] + [p.post_id for p in pins])
    entries = [
        (r.post_id, float(r.adjusted), float(r.heat)) for r in rows if r.post_id not in copies
    ][:limit]
    pins = [p for p in pins if p.post_id not in copies]
    if pins:
        entries = _place_pins(
            session,
            circle_id,
            entries,
            pins,
            heat_of=_heats(session, heat, [p.post_id for p in pins]),
        )
    return [
        HotListEntry(post_id=pid, rank=i, heat=h, base_heat=b, override=by_post.get(pid))
        for i, (pid, h, b) in enumerate(entries[:limit], start=1)
    ]


def flagged_copies(session: Session, post_ids: list[str]) -> set[str]:
    """The posts among ``post_ids`` flagged at ingest as near-duplicates of another."""
    return {pid for pid, f in post_facts(session, post_ids).items() if f.near_duplicate_of}


def _heats(session: Session, heat: Subquery, post_ids: list[str]) -> dict[str, float]:
    rows = session.execute(
        select(heat.c.post_id, heat.c.heat).where(heat.c.post_id.in_(post_ids))
    ).all()
    return {r.post_id: float(r.heat) for r in rows}


def _place_pins(
    session: Session,
    circle_id: str,
    entries: list[tuple[str, float, float]],
    pins: list[HotListOverride],
    heat_of: dict[str, float],
) -> list[tuple[str, float, float]]:
    """Insert pinned posts (still passed, still in the circle) at their 1-based positions.

    On a tie the newer pin takes the position and the older one moves down by one.
    """
    ids = [p.post_id for p in pins]
    passed = set(
        session.scalars(
            select(Post.id).where(
                and_(
                    Post.id.in_(ids), circle_posts_clause(session, circle_id), Post.status == "pass"
                )
            )
        )
    )
    out = list(entries)
    for pin in pins:  # ascending position, so earlier pins keep their places
        if pin.post_id not in passed:
            continue
        base = heat_of.get(pin.post_id, 0.0)
        at = min(max(int(pin.value), 1), len(out) + 1) - 1
        out.insert(at, (pin.post_id, base, base))
    return out


def set_override(
    session: Session,
    circle_id: str,
    *,
    post_id: str,
    action: str,
    value: float,
    expires_at: datetime | None,
    editor: str,
    params: HotListParams | None = None,
) -> HotListOverride:
    """Create or replace the override of one post in one circle's hot list."""
    params = params or HotListParams()
    require_circle(session, circle_id)
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"post {post_id!r} not found")
    in_scope = session.scalar(
        select(Post.id).where(Post.id == post_id, circle_posts_clause(session, circle_id))
    )
    if in_scope is None:
        raise NotFound(
            f"post {post_id!r} is not in circle {circle_id!r} (it belongs to {post.circle_id!r})"
        )
    if action == "pin" and (value < 1 or value != int(value)):
        raise Invalid("a pin needs `value`: the 1-based position, a whole number ≥ 1")
    if action in ("pin", "boost") and post.status != "pass":
        raise Conflict(
            f"post {post_id!r} is {post.status}: only a post that passed moderation can be "
            f"{'pinned' if action == 'pin' else 'boosted'} in a hot list"
        )
    if action in ("pin", "boost") and flagged_copies(session, [post_id]):
        raise Conflict(
            f"post {post_id!r} was flagged at ingest as a copy of another post: copies never "
            "go in a hot list"
        )
    if action == "boost" and not 0 < value <= params.max_boost:
        raise Invalid(f"a boost needs `value`: a heat multiplier in (0, {params.max_boost:g}]")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise Conflict("`expires_at` is in the past: the override would never apply")
    row = session.scalar(
        select(HotListOverride).where(
            HotListOverride.circle_id == circle_id, HotListOverride.post_id == post_id
        )
    )
    if row is None:
        row = HotListOverride(circle_id=circle_id, post_id=post_id)
        session.add(row)
    row.action = action
    row.value = value if action != "remove" else 0.0
    row.expires_at = expires_at
    row.editor = editor
    row.created_at = datetime.now(UTC)
    session.flush()
    return row


def delete_override(session: Session, circle_id: str, post_id: str) -> None:
    row = session.scalar(
        select(HotListOverride).where(
            HotListOverride.circle_id == circle_id, HotListOverride.post_id == post_id
        )
    )
    if row is None:
        raise NotFound(f"no override for post {post_id!r} in circle {circle_id!r}")
    session.delete(row)
    session.flush()
