"""Keeping every worker's in-memory index in step with the store.

Design (several uvicorn workers, one PostgreSQL):
- The database is the source of truth. A post is *indexable* for an encoder version when it
  has a row in ``post_embeddings`` for that version and its status is not ``reject`` or
  ``removed``. Each worker process holds its own ``VectorIndex`` of the indexable posts.
- Whoever changes something the index depends on (an embedding, a status, a quality score,
  a deletion) appends the post id to the ``index_changes`` log *in the same transaction*
  (``write_embeddings`` / ``log_changes``). An entry means "re-read this post": applying it
  is idempotent and independent of order, since the worker reads the post's current state.
- Each worker runs ``IndexSync``: at startup ``startup()`` reconciles the index with the
  store (adds what is missing, removes what is extra, fixes metadata), then a thread calls
  ``sync()`` every ``index_sync_interval_ms``, applying the log entries after its cursor.
- Bound: a change committed at time t is searchable in every worker by
  t + interval + (time to apply the batch), i.e. ≈ 1 s with the default interval and
  batches of up to a few thousand posts. An HNSW compaction (every ``compact_fraction`` of
  deletions) delays application by its build time (minutes at 1M vectors).
- PostgreSQL sequence values are handed out before commit, so entry 11 can become visible
  before entry 10. The cursor therefore remembers holes and re-asks for them on each poll
  for ``gap_timeout_s`` (a transaction open longer than that is assumed rolled back; the
  periodic ``reconcile_every_s`` full reconcile catches anything that slipped through).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from quanzi.models.index.filters import PostMeta
from quanzi.models.index.vector_index import VectorIndex
from quanzi.polling import Poller
from quanzi.storage.orm import IndexChange, Post, PostEmbedding, PostScore

log = logging.getLogger(__name__)
INDEXABLE_STATUSES = ("pending", "pass", "review")
QUALITY_MODEL = "quality"
_BATCH = 5_000  # rows per SQL IN (...) query; stays below every backend's parameter limit


# ---------------------------------------------------------------------- writing
def log_changes(session: Session, post_ids: Iterable[str]) -> None:
    """Record that these posts changed (status, quality, deletion) so workers re-read them."""
    rows = [{"post_id": pid} for pid in dict.fromkeys(post_ids)]
    if rows:
        session.execute(insert(IndexChange), rows)


def write_embeddings(
    session: Session,
    encoder_version: str,
    post_ids: Sequence[str],
    vectors: np.ndarray,
    new: bool = False,
) -> None:
    """Store (replace) posts' vectors for an encoder version and log the change.

    Call inside the transaction that stores the posts, so a worker never sees a log entry
    whose embedding is not yet committed. ``new``: the posts are inserted in this
    transaction, so there is nothing to replace (one statement fewer a batch at ingest).
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != len(post_ids):
        raise ValueError(f"{len(post_ids)} post ids but vectors of shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("zero vectors cannot be indexed")
    x = (x / norms).astype("<f4")
    for start in range(0, len(post_ids), _BATCH):
        chunk = list(post_ids[start : start + _BATCH])
        if not new:
            session.execute(
                delete(PostEmbedding).where(
                    PostEmbedding.encoder_version == encoder_version,
                    PostEmbedding.post_id.in_(chunk),
                )
            )
        session.execute(
            insert(PostEmbedding),
            [
                {
                    "post_id": pid,
                    "encoder_version": encoder_version,
                    "dim": x.shape[1],
                    "vector": x[start + i].tobytes(),
                }
                for i, pid in enumerate(chunk)
            ],
        )
    log_changes(session, post_ids)


# ---------------------------------------------------------------------- reading
@dataclass
class StoreReader:
    """The store as the index sees it: indexable posts, their vectors and the change log."""

    engine: Engine
    encoder_version: str

    def indexable(self, post_ids: Sequence[str] | None = None) -> dict[str, PostMeta]:
        """Indexable posts (all, or among ``post_ids``) with their filter metadata."""
        if post_ids is None:
            return dict(self._indexable_query(None))
        out: dict[str, PostMeta] = {}
        for start in range(0, len(post_ids), _BATCH):
            out.update(self._indexable_query(list(post_ids[start : start + _BATCH])))
        return out

    def _indexable_query(self, ids: list[str] | None) -> Iterator[tuple[str, PostMeta]]:
        ranked = select(
            PostScore.post_id,
            PostScore.score,
            func.row_number()
            .over(
                partition_by=PostScore.post_id,
                order_by=(PostScore.created_at.desc(), PostScore.id.desc()),
            )
            .label("rank"),
        ).where(PostScore.model_name == QUALITY_MODEL)
        if ids is not None:
            ranked = ranked.where(PostScore.post_id.in_(ids))
        quality = ranked.subquery()
        query = (
            select(Post.id, Post.circle_id, Post.status, quality.c.score)
            .join(
                PostEmbedding,
                (PostEmbedding.post_id == Post.id)
                & (PostEmbedding.encoder_version == self.encoder_version),
            )
            .outerjoin(quality, (quality.c.post_id == Post.id) & (quality.c.rank == 1))
            .where(Post.status.in_(INDEXABLE_STATUSES))
        )
        if ids is not None:
            query = query.where(Post.id.in_(ids))
        with self.engine.connect() as conn:
            for pid, circle_id, status, score in conn.execute(query):
                yield (
                    pid,
                    PostMeta(
                        circle_id=circle_id,
                        status=status,
                        quality=None if score is None else float(score),
                    ),
                )

    def vectors(self, post_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these posts (posts without one are absent)."""
        out: dict[str, np.ndarray] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(post_ids), _BATCH):
                chunk = list(post_ids[start : start + _BATCH])
                for pid, blob in conn.execute(
                    select(PostEmbedding.post_id, PostEmbedding.vector).where(
                        PostEmbedding.encoder_version == self.encoder_version,
                        PostEmbedding.post_id.in_(chunk),
                    )
                ):
                    out[pid] = np.frombuffer(blob, dtype="<f4")
        return out

    def max_seq(self) -> int:
        """The newest change-log position (0 for an empty log)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(IndexChange.seq))).scalar() or 0)

    def changes(
        self, after: int, also: Iterable[int] = (), limit: int = 10_000
    ) -> list[tuple[int, str]]:
        """Log entries after ``after`` (oldest first, at most ``limit``) plus those in ``also``."""
        also = list(also)
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(IndexChange.seq, IndexChange.post_id)
                    .where(IndexChange.seq > after)
                    .order_by(IndexChange.seq)
                    .limit(limit)
                )
            )
            if also:
                rows += list(
                    conn.execute(
                        select(IndexChange.seq, IndexChange.post_id).where(
                            IndexChange.seq.in_(also)
                        )
                    )
                )
        return [(int(seq), pid) for seq, pid in rows]


# ---------------------------------------------------------------------- applying
@dataclass
class SyncReport:
    """What one reconcile or sync changed."""

    added: int = 0
    removed: int = 0
    updated: int = 0
    entries: int = 0

    @property
    def changed(self) -> int:
        return self.added + self.removed + self.updated


def _apply(
    index: VectorIndex,
    reader: StoreReader,
    post_ids: Sequence[str],
    wanted: dict[str, PostMeta],
    check_vectors: bool,
) -> SyncReport:
    """Make ``index`` agree with ``wanted`` (the store's answer) for ``post_ids``."""
    report = SyncReport()
    gone = [pid for pid in post_ids if pid not in wanted and pid in index]
    report.removed = index.remove(gone)
    missing = [pid for pid in post_ids if pid in wanted and pid not in index]
    present = [pid for pid in post_ids if pid in wanted and pid in index]
    if check_vectors and present:
        # A changed embedding (re-embedded post) must replace the vector, not just the metadata.
        stored = reader.vectors(present)
        for pid in present:
            vec = stored.get(pid)
            if vec is not None and not np.allclose(vec, index.vector(pid), atol=1e-6):
                missing.append(pid)
        present = [pid for pid in present if pid not in set(missing)]
    for pid in present:
        if not index.meta_matches(pid, wanted[pid]):
            index.update_meta(pid, wanted[pid])
            report.updated += 1
    if missing:
        vectors = reader.vectors(missing)
        ids = [pid for pid in missing if pid in vectors]
        if ids:
            index.add(ids, np.stack([vectors[pid] for pid in ids]), [wanted[pid] for pid in ids])
        report.added = len(ids)
    return report


def reconcile(index: VectorIndex, reader: StoreReader) -> SyncReport:
    """Startup: add indexable posts the index lacks, remove extras, refresh metadata.

    Vectors are fetched only for the posts that are missing, so reconciling a saved index
    with a store that moved on a little costs one metadata scan plus the difference.
    """
    wanted = reader.indexable()
    ids = list(dict.fromkeys([*index.ids(), *wanted]))
    return _apply(index, reader, ids, wanted, check_vectors=False)


@dataclass
class IndexSync:
    """Tails the change log into one worker's index; ``run_in_thread`` for the app lifespan."""

    index: VectorIndex
    reader: StoreReader
    interval_s: float = 1.0
    gap_timeout_s: float = 30.0
    reconcile_every_s: float = 600.0
    _gaps: dict[int, float] = field(default_factory=dict)  # missing seq -> first noticed
    _poller: Poller | None = None
    _last_reconcile: float = 0.0

    def startup(self) -> SyncReport:
        """Reconcile with the store and start tailing from the log's current end."""
        head = self.reader.max_seq()  # read first: changes during reconcile get re-applied
        report = reconcile(self.index, self.reader)
        self.index.log_seq = head
        self._gaps.clear()
        self._last_reconcile = time.monotonic()
        return report

    def sync(self) -> SyncReport:
        """Apply every log entry committed since the last call; returns what changed."""
        now = time.monotonic()
        self._gaps = {s: t for s, t in self._gaps.items() if now - t < self.gap_timeout_s}
        total = SyncReport()
        while True:
            entries = self.reader.changes(self.index.log_seq, also=self._gaps)
            if not entries:
                break
            cursor = self.index.log_seq
            for seq, _ in entries:
                self._gaps.pop(seq, None)
            for seq in sorted({s for s, _ in entries if s > cursor}):
                for hole in range(cursor + 1, seq):
                    self._gaps.setdefault(hole, now)
                cursor = seq
            post_ids = list(dict.fromkeys(pid for _, pid in entries))
            report = _apply(
                self.index,
                self.reader,
                post_ids,
                self.reader.indexable(post_ids),
                check_vectors=True,
            )
            self.index.log_seq = cursor
            total.added += report.added
            total.removed += report.removed
            total.updated += report.updated
            total.entries += len(entries)
            if len(entries) < 10_000:
                break
        if self.index.needs_compaction:
            self.index.compact()
        return total

    def _poll(self) -> None:
        if time.monotonic() - self._last_reconcile > self.reconcile_every_s:
            self.startup()
        else:
            self.sync()

    def run_in_thread(self) -> None:
        """Start polling in a daemon thread (call ``startup()`` first)."""
        if self._poller is not None and self._poller.running:
            raise RuntimeError("index sync already running")
        self._poller = Poller("index-sync", self._poll, self.interval_s, log)
        self._poller.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the polling thread (lifespan shutdown)."""
        if self._poller is not None:
            self._poller.stop(timeout)
