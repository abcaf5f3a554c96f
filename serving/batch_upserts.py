"""Batch writes from the feed service: users, relations and interactions.

Users and relations are idempotent upserts (``INSERT … ON CONFLICT``, on SQLite and
PostgreSQL alike), so the feed service can resend a batch after a timeout. Interactions
are an append-only log. Every id a batch refers to must already be stored: the error
lists the unknown ones instead of failing on the first foreign key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quanzi.serving.editorial.errors import NotFound, id_list
from quanzi.storage.orm import BrandRelation, Circle, Interaction, Post, User, UserRelation

CHUNK = 1000  # rows per statement: stays under SQLite's bound-parameter limit

USER_FIELDS = (
    "kind",
    "display_name",
    "follower_count",
    "creator_certified",
    "account_created_at",
    "merchant_circle_id",
)


def _insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"upserts are written for SQLite and PostgreSQL, not {dialect}")


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _missing(session: Session, column: Any, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    found: set[str] = set()
    ordered = sorted(wanted)
    for i in range(0, len(ordered), CHUNK):
        found.update(session.scalars(select(column).where(column.in_(ordered[i : i + CHUNK]))))
    return wanted - found


def _require(session: Session, checks: Sequence[tuple[str, Any, Iterable[str]]]) -> None:
    """404 naming every unknown id, grouped by kind (``users: u-9; posts: p-7``)."""
    parts = []
    for label, column, ids in checks:
        missing = _missing(session, column, ids)
        if missing:
            parts.append(f"{label}: {id_list(missing)}")
    if parts:
        raise NotFound("unknown ids — store them first. " + "; ".join(parts))


def upsert_users(session: Session, users: Sequence[dict[str, Any]]) -> int:
    """Insert or update users by id; returns how many rows the batch wrote."""
    if not users:
        return 0
    users = list({u["id"]: u for u in users}.values())  # a repeated id: the last copy wins
    circles = {u["merchant_circle_id"] for u in users if u.get("merchant_circle_id")}
    _require(session, [("circles", Circle.id, circles)])
    for chunk in _chunks(users):
        stmt = _insert(session, User).values(list(chunk))
        stmt = stmt.on_conflict_do_update(
            index_elements=[User.id], set_={f: stmt.excluded[f] for f in USER_FIELDS}
        )
        session.execute(stmt)
    return len(users)


def upsert_relations(
    session: Session, user_edges: Sequence[dict[str, Any]], brand_edges: Sequence[dict[str, Any]]
) -> tuple[int, int]:
    """Add or delete user→user edges (friendship both ways) and upsert brand relations."""
    users = (
        {e["user_id"] for e in user_edges}
        | {e["other_id"] for e in user_edges}
        | {e["user_id"] for e in brand_edges}
    )
    _require(
        session,
        [("users", User.id, users), ("circles", Circle.id, {e["circle_id"] for e in brand_edges})],
    )
    adds: dict[tuple[str, str, str], dict[str, Any]] = {}
    removals: list[tuple[str, str, str]] = []
    user_edges = [e for e in user_edges if e["user_id"] != e["other_id"]]  # no self-edges
    for e in user_edges:
        pairs = [(e["user_id"], e["kind"], e["other_id"])]
        if e["kind"] == "friend":  # stored in both directions (orm.UserRelation)
            pairs.append((e["other_id"], "friend", e["user_id"]))
        for user_id, kind, other_id in pairs:
            if e.get("deleted"):
                removals.append((user_id, kind, other_id))
                adds.pop((user_id, kind, other_id), None)
            else:
                adds[(user_id, kind, other_id)] = {
                    "user_id": user_id,
                    "kind": kind,
                    "other_id": other_id,
                }
    for i in range(0, len(removals), CHUNK // 4):
        session.execute(
            delete(UserRelation).where(
                or_(
                    *(
                        and_(
                            UserRelation.user_id == u,
                            UserRelation.kind == k,
                            UserRelation.other_id == o,
                        )
                        for u, k, o in removals[i : i + CHUNK // 4]
                    )
                )
            )
        )
    for chunk in _chunks(list(adds.values())):
        session.execute(
            _insert(session, UserRelation)
            .values(list(chunk))
            .on_conflict_do_nothing(index_elements=["user_id", "kind", "other_id"])
        )
    brands = {(e["user_id"], e["circle_id"], e["kind"]): e for e in brand_edges}  # last wins
    for chunk in _chunks(list(brands.values())):
        stmt = _insert(session, BrandRelation).values(list(chunk))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "circle_id", "kind"],
                set_={"active": stmt.excluded.active},
            )
        )
    return len(user_edges), len(brand_edges)


def add_interactions(session: Session, interactions: Sequence[dict[str, Any]]) -> int:
    """Append interactions after checking every user and post id is stored."""
    if not interactions:
        return 0
    _require(
        session,
        [
            ("users", User.id, {i["user_id"] for i in interactions}),
            ("posts", Post.id, {i["post_id"] for i in interactions}),
        ],
    )
    for chunk in _chunks(interactions):
        session.execute(_insert(session, Interaction), list(chunk))
    return len(interactions)
