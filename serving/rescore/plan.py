"""Which stored posts a rescore touches, in which id ranges, and its progress record.

A run is planned once: the selected post ids, in the database's own order, are cut into
blocks of ``block_size`` consecutive ids, and each block is a row of ``rescore_blocks``.
The run's id is a digest of the chosen versions and the selection, so the same command
run again after a kill finds the unfinished run and processes only the blocks whose
writes were never committed (``pending_blocks``). A finished run planned again selects
afresh: with ``only_stale`` (the default) every post already carries the chosen versions'
key, so the second run processes nothing.

Both engines read a block with ``read_block`` (one connection per read) and hand the rows
to ``batch.rescore_batch``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from quanzi.models.model_versions import versions_key
from quanzi.serving.post_ingest.persistence import PostInput, scoring_records
from quanzi.storage.db import session_factory, session_scope
from quanzi.storage.orm import (
    Post,
    PostEmbedding,
    PostScore,
    RescoreBlock,
    RescoreRun,
    ReviewDecision,
    ReviewItem,
)

# Posts a rescore may change: pending ones are ingest's (`quanzi posts backfill`), and a
# removed post stays removed whatever a model says.
RESCORABLE_STATUSES = ("pass", "review", "reject")


@dataclass(frozen=True)
class Selection:
    """Which posts: of these circles (all when empty), created in [since, until), and —
    with ``only_stale`` — only those scored by other versions than the chosen ones."""

    circle_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    only_stale: bool = True

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["circle_ids"] = sorted(self.circle_ids)
        for name in ("since", "until"):
            out[name] = None if out[name] is None else out[name].isoformat()
        return out

    def clauses(self, key: str) -> list[Any]:
        """The SQL conditions on ``posts`` (the chosen versions' ``key`` for staleness)."""
        where: list[Any] = [Post.status.in_(RESCORABLE_STATUSES)]
        if self.circle_ids:
            where.append(Post.circle_id.in_(sorted(self.circle_ids)))
        if self.since is not None:
            where.append(Post.created_at >= self.since)
        if self.until is not None:
            where.append(Post.created_at < self.until)
        if self.only_stale:
            where.append(or_(Post.scored_versions.is_(None), Post.scored_versions != key))
        return where


@dataclass(frozen=True)
class Block:
    """Posts with ``lo <= id < hi`` (``hi`` None: to the end) that match the selection."""

    block: int
    lo: str
    hi: str | None
    posts: int


@dataclass
class Plan:
    """A planned (or resumed) run: what every engine needs to process it."""

    run_id: str
    versions: dict[str, str]
    selection: Selection
    blocks: list[Block]  # the blocks still to do
    total_blocks: int
    total_posts: int
    resumed: bool = False
    done_posts: int = 0  # already committed by an earlier, killed attempt
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = versions_key(self.versions)

    @property
    def todo_posts(self) -> int:
        return sum(b.posts for b in self.blocks)


def run_id_of(versions: dict[str, str], selection: Selection) -> str:
    """The same versions and selection always name the same run (resume finds it)."""
    blob = json.dumps({"versions": versions, "selection": selection.as_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def plan_run(
    engine: Engine,
    versions: dict[str, str],
    selection: Selection,
    block_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Resume the unfinished run of these versions and selection, or plan a new one."""
    run_id = run_id_of(versions, selection)
    sessions = session_factory(engine)
    with session_scope(sessions) as session:
        run = session.get(RescoreRun, run_id)
        if run is not None and run.state == "running":
            return _resume(session, run, versions, selection)
        if run is not None:  # finished before: plan afresh under the same id
            session.execute(delete(RescoreBlock).where(RescoreBlock.run_id == run_id))
            session.delete(run)
            session.flush()
        blocks = _cut_blocks(session, selection.clauses(versions_key(versions)), block_size)
        if progress is not None:
            progress(len(blocks))
        total = sum(b.posts for b in blocks)
        session.add(
            RescoreRun(
                id=run_id,
                versions=versions,
                selection=selection.as_dict(),
                state="running" if blocks else "done",
                blocks=len(blocks),
                posts=total,
                finished_at=None if blocks else datetime.now(UTC),
            )
        )
        session.flush()
        if blocks:
            session.add_all(
                RescoreBlock(run_id=run_id, block=b.block, lo=b.lo, hi=b.hi, posts=b.posts)
                for b in blocks
            )
    return Plan(run_id, versions, selection, blocks, len(blocks), total)


def _resume(session: Session, run: RescoreRun, versions: dict[str, str], sel: Selection) -> Plan:
    rows = session.scalars(
        select(RescoreBlock).where(RescoreBlock.run_id == run.id).order_by(RescoreBlock.block)
    ).all()
    todo = [r for r in rows if r.finished_at is None]
    for row in todo:  # a partly written block is read again whole (its writes are upserts)
        row.done_posts = 0
    done = sum(r.posts for r in rows if r.finished_at is not None)
    blocks = [Block(r.block, r.lo, r.hi, r.posts) for r in todo]
    return Plan(run.id, versions, sel, blocks, len(rows), run.posts, resumed=True, done_posts=done)


def _cut_blocks(session: Session, where: Sequence[Any], block_size: int) -> list[Block]:
    """Consecutive id ranges of ``block_size`` selected posts (one streamed id scan)."""
    ids = session.execute(
        select(Post.id).where(*where).order_by(Post.id).execution_options(yield_per=10_000)
    ).scalars()
    starts: list[str] = []
    counts: list[int] = []
    for i, pid in enumerate(ids):
        if i % block_size == 0:
            starts.append(pid)
            counts.append(0)
        counts[-1] += 1
    return [
        Block(i, lo, starts[i + 1] if i + 1 < len(starts) else None, n)
        for i, (lo, n) in enumerate(zip(starts, counts, strict=True))
    ]


def finish_run(engine: Engine, run_id: str, processed: Sequence[int] = ()) -> bool:
    """Mark the run done when every block is; False while some block is not.

    ``processed``: blocks an engine read and wrote to the end without an error — including
    those whose read found nothing left to do (a resumed block written before the kill).
    """
    with session_scope(session_factory(engine)) as session:
        now = datetime.now(UTC)
        for start in range(0, len(processed), 500):
            session.execute(
                update(RescoreBlock)
                .where(
                    RescoreBlock.run_id == run_id,
                    RescoreBlock.block.in_(list(processed[start : start + 500])),
                    RescoreBlock.finished_at.is_(None),
                )
                .values(finished_at=now)
            )
        left = session.scalar(
            select(func.count())
            .select_from(RescoreBlock)
            .where(RescoreBlock.run_id == run_id, RescoreBlock.finished_at.is_(None))
        )
        if left:
            return False
        run = session.get(RescoreRun, run_id)
        if run is not None and run.state != "done":
            run.state = "done"
            run.finished_at = datetime.now(UTC)
        return True


# --------------------------------------------------------------------------- reading
def read_block(
    sessions: sessionmaker[Session],
    block: Block,
    selection: Selection,
    key: str,
    encoder_version: str | None,
) -> list[dict[str, Any]]:
    """The block's posts as the models read them, plus what the write needs to know: the
    stored status, whether an editor decided the post, its stored near-duplicate finding,
    and whether it already has a vector of the chosen encoder. Flat, JSON-safe rows."""
    now = datetime.now(UTC)
    where = [*selection.clauses(key), Post.id >= block.lo]
    if block.hi is not None:
        where.append(Post.id < block.hi)
    with sessions() as session:
        posts = session.scalars(select(Post).where(*where).order_by(Post.id)).all()
        if not posts:
            return []
        ids = [p.id for p in posts]
        inputs = [PostInput.of(p) for p in posts]
        records = scoring_records(session, inputs, now)
        decided = set(
            session.scalars(select(ReviewDecision.post_id).where(ReviewDecision.post_id.in_(ids)))
        )
        queued = dict(
            session.execute(
                select(ReviewItem.post_id, ReviewItem.status).where(ReviewItem.post_id.in_(ids))
            ).all()
        )
        near: dict[str, tuple[str | None, float | None]] = {}
        for pid, payload in session.execute(
            select(PostScore.post_id, PostScore.payload)
            .where(PostScore.post_id.in_(ids), PostScore.model_name == "moderation")
            .order_by(PostScore.created_at, PostScore.id)
        ):
            payload = payload or {}
            near[pid] = (payload.get("near_duplicate_of"), payload.get("near_duplicate_cosine"))
        has_vector: set[str] = set()
        if encoder_version is not None:
            has_vector = set(
                session.scalars(
                    select(PostEmbedding.post_id).where(
                        PostEmbedding.encoder_version == encoder_version,
                        PostEmbedding.post_id.in_(ids),
                    )
                )
            )
    return [
        {
            "block": block.block,
            "block_rows": len(posts),  # what the read found: the block is done at this many
            "id": p.id,
            "circle_id": p.circle_id,
            "text": p.text,
            "status": p.status,
            "record": json.dumps(record, ensure_ascii=False),
            "editor_decided": p.id in decided,
            "review_item": queued.get(p.id),
            "near_duplicate_of": near.get(p.id, (None, None))[0],
            "near_duplicate_cosine": near.get(p.id, (None, None))[1],
            "has_vector": p.id in has_vector,
        }
        for p, record in zip(posts, records, strict=True)
    ]
