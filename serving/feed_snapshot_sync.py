"""The feed snapshot kept current: the database readers and the ``FeedStoreSync`` thread.

Each worker holds one ``SnapshotFeedStore`` (``models/ranking/feed_snapshot.py``);
``FeedStoreSync`` fills it from the database and keeps it in step the same way the vector
index does (``models/index/sync.py``):

- at first use, a full load: posts with author kind, verified purchase, the latest
  ``quality`` and ``trust`` rows of ``post_scores``, embeddings of one encoder version from
  ``post_embeddings``, engagement counts per (post, interaction kind), live hot-list
  overrides (editor boosts), circles;
- every ``QUANZI_FEED_REFRESH_INTERVAL_MS`` (default 1000): the posts named in
  ``index_changes`` and in new ``post_scores`` rows since the last poll are re-read; new
  ``interactions`` rows (by id) are added to the counts; overrides and circles re-read;
- every ``scan_every_s`` (10 s): posts whose ``updated_at`` moved (inserts and status
  changes that nobody logged) are re-read;
- every ``full_every_s`` (10 min): a fresh snapshot is built and swapped in (catches user
  changes such as a new creator certification, and PostgreSQL id holes).

Bound: a change logged in ``index_changes``/``post_scores``/``interactions`` reaches every
worker's ranking within the interval (1 s by default): the interval is a staleness bound
(``Poller(bound_staleness=True)``), so refreshes start every half interval, or earlier by
the longest recent refresh when that is tighter; applying a 250-post rescore block is
short next to the interval, and the other half absorbs a poll thread that waits for the
CPU (figures in ``docs/scale.md``); an unlogged
post insert or status change within ``scan_every_s`` + interval (≈ 11 s).

Safe defaults when a post has no model score yet: quality is ``UNKNOWN_QUALITY`` (neutral)
and the trust base level comes from provenance alone (``models/ranking/base_levels.py``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, or_, select

from quanzi.models.content_type import CODE as CONTENT_CODE
from quanzi.models.content_type import MODEL_NAME as CONTENT_TYPE_SCORE
from quanzi.models.ranking.base_levels import resolve_base_levels
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.polling import Poller
from quanzi.storage.orm import (
    Circle,
    HotListOverride,
    IndexChange,
    Interaction,
    Order,
    Post,
    PostEmbedding,
    PostScore,
    User,
    UserRelation,
)

log = logging.getLogger(__name__)

QUALITY_MODEL = "quality"
CONTENT_TYPE_MODEL = CONTENT_TYPE_SCORE  # the stored content type (models/content_type.py)
TRUST_MODEL = "trust"
# Editor overrides of the hot list, as feed multipliers (the scorer takes log(boost)).
OVERRIDE_BOOST = {"pin": 2.0, "remove": 0.5}
_BATCH = 5_000  # ids per SQL IN (...)


def tier_of(score: float) -> int:
    """Quality tier of a continuous score (used only when a score row carries no tier)."""
    return 1 if score < 0.35 else 2 if score < 0.65 else 3


def parse_level(
    payload: dict[str, Any] | None, label: str | None, score: float | None
) -> int | None:
    """A trust level 2..6 from a ``post_scores`` row (payload ``level``, label ``L3``, score)."""
    for value in ((payload or {}).get("level"), label, score):
        if value is None:
            continue
        text = str(value).strip().upper().removeprefix("L")
        try:
            level = int(float(text))
        except ValueError:
            continue
        if 1 <= level <= 6:
            return max(level, 2)  # L1 is viewer-relative, never a post's own level
    return None


def parse_tier(payload: dict[str, Any] | None, label: str | None, score: float) -> int:
    for value in ((payload or {}).get("tier"), label):
        try:
            tier = int(str(value))
        except (TypeError, ValueError):
            continue
        if 0 <= tier <= 3:
            return tier
    return tier_of(score)


# ---------------------------------------------------------------------------- from the DB
def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _BATCH):
        yield list(ids[start : start + _BATCH])


def post_frame(engine: Engine, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Posts with author kind and verified purchase, plus latest quality/trust scores."""
    cols = [
        "id",
        "author_id",
        "circle_id",
        "created_ts",
        "status",
        "author_kind",
        "certified",
        "verified",
    ]
    query = (
        select(
            Post.id,
            Post.author_id,
            Post.circle_id,
            Post.created_at,
            Post.status,
            User.kind,
            User.creator_certified,
            Order.user_id,
            Order.created_at,
        )
        .join(User, User.id == Post.author_id)
        .outerjoin(Order, Order.id == Post.order_id)
    )
    records: list[tuple[Any, ...]] = []
    with engine.connect() as conn:
        for chunk in [None] if ids is None else _chunks(ids):
            q = query if chunk is None else query.where(Post.id.in_(chunk))
            for pid, author, circle, created, status, kind, cert, buyer, ordered in conn.execute(q):
                verified = buyer == author and (ordered is None or ordered <= created)
                records.append(
                    (
                        pid,
                        author,
                        circle,
                        created.timestamp(),
                        status,
                        kind,
                        bool(cert),
                        bool(verified),
                    )
                )
    frame = pd.DataFrame.from_records(records, columns=cols)
    frame["creator"] = (frame["author_kind"] == "creator") | frame["certified"]
    return frame


def score_frame(
    engine: Engine, ids: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Latest quality and trust per post, and the newest model version per model name."""
    ranked = select(
        PostScore.post_id,
        PostScore.model_name,
        PostScore.model_version,
        PostScore.score,
        PostScore.label,
        PostScore.payload,
        PostScore.id,
        func.row_number()
        .over(
            partition_by=(PostScore.post_id, PostScore.model_name),
            order_by=(PostScore.created_at.desc(), PostScore.id.desc()),
        )
        .label("rank"),
    ).where(PostScore.model_name.in_((QUALITY_MODEL, TRUST_MODEL, CONTENT_TYPE_MODEL)))
    rows: dict[str, dict[str, Any]] = {}
    newest: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for chunk in [None] if ids is None else _chunks(ids):
            q = ranked if chunk is None else ranked.where(PostScore.post_id.in_(chunk))
            sub = q.subquery()
            for pid, name, version, score, label, payload, sid, _ in conn.execute(
                select(sub).where(sub.c.rank == 1)
            ):
                row = rows.setdefault(pid, {"id": pid})
                if sid > newest.get(name, (-1, ""))[0]:
                    newest[name] = (sid, version)
                if name == QUALITY_MODEL and score is not None:
                    row["quality"] = float(score)
                    row["tier"] = parse_tier(payload, label, float(score))
                elif name == TRUST_MODEL:
                    level = parse_level(payload, label, score)
                    if level is not None:
                        row["scored_level"] = level
                elif name == CONTENT_TYPE_MODEL:
                    row["ctype"] = CONTENT_CODE.get(str(label), 0)
    frame = pd.DataFrame(
        list(rows.values()), columns=["id", "quality", "tier", "scored_level", "ctype"]
    )
    return frame, {name: version for name, (_, version) in newest.items()}


def pick_encoder_version(engine: Engine) -> str | None:
    """The encoder version most posts have a vector for (None when there are none)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(PostEmbedding.encoder_version, func.count().label("n"))
            .group_by(PostEmbedding.encoder_version)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
    return None if row is None else str(row[0])


def read_embeddings(
    engine: Engine, version: str, ids: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    query = select(PostEmbedding.post_id, PostEmbedding.vector).where(
        PostEmbedding.encoder_version == version
    )
    out_ids: list[str] = []
    blobs: list[bytes] = []
    with engine.connect() as conn:
        for chunk in [None] if ids is None else _chunks(ids):
            q = query if chunk is None else query.where(PostEmbedding.post_id.in_(chunk))
            for pid, blob in conn.execute(q):
                out_ids.append(pid)
                blobs.append(blob)
    if not blobs:
        return [], np.zeros((0, 0), dtype=np.float32)
    dims = {len(b) for b in blobs}
    if len(dims) != 1:
        raise ValueError(f"encoder version {version!r} has vectors of mixed sizes")
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
    return out_ids, matrix.astype(np.float32)


def live_boosts(engine: Engine, now: datetime) -> dict[str, float]:
    """Hot-list overrides as feed multipliers: boost → its value, pin ×2, remove ×0.5."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(HotListOverride.post_id, HotListOverride.action, HotListOverride.value).where(
                or_(HotListOverride.expires_at.is_(None), HotListOverride.expires_at > now)
            )
        )
        return {
            pid: (float(value) if action == "boost" else OVERRIDE_BOOST.get(action, 1.0))
            for pid, action, value in rows
        }


@dataclass
class RefreshReport:
    posts: int = 0
    interactions: int = 0
    seconds: float = 0.0


@dataclass
class FeedStoreSync:
    """Loads a snapshot from the database and keeps it current (a daemon thread)."""

    engine: Engine
    encoder_version: str | None = None  # None: the models' encoder, else the most common
    interval_s: float = 1.0
    scan_every_s: float = 10.0
    full_every_s: float = 600.0
    models: Callable[[], Any | None] | None = None  # → the current ModelSet (or None)
    # Told each refresh's new interactions (user, post, kind, author) in commit order and the
    # users whose relations changed: the feed service keeps cached viewer contexts current.
    on_viewer_changes: Callable[[list[tuple[str, str, str, str]], list[str]], Any] | None = None
    store: SnapshotFeedStore = field(default_factory=SnapshotFeedStore)
    _change_seq: int = 0
    _score_id: int = 0
    _interaction_id: int = 0
    _relation_id: int = 0
    _scan_from: datetime | None = None
    _last_scan: float = 0.0
    _last_full: float = 0.0
    _poller: Poller | None = None

    def _heads(self) -> tuple[int, int, int, int]:
        with self.engine.connect() as conn:
            return (
                int(conn.execute(select(func.max(IndexChange.seq))).scalar() or 0),
                int(conn.execute(select(func.max(PostScore.id))).scalar() or 0),
                int(conn.execute(select(func.max(Interaction.id))).scalar() or 0),
                int(conn.execute(select(func.max(UserRelation.id))).scalar() or 0),
            )

    def full_load(self) -> SnapshotFeedStore:
        """Build a fresh snapshot of everything and swap it in; returns it."""
        started = time.perf_counter()
        scan_from = datetime.now(UTC) - timedelta(seconds=5)
        change_seq, score_id, interaction_id, relation_id = self._heads()  # re-applied later
        store = SnapshotFeedStore()
        store.encoder_version, store.index = self._encoder()
        with self.engine.connect() as conn:
            store.circles = frozenset(conn.scalars(select(Circle.id)))
        self._load_posts(store, None)
        self._load_interactions(store, 0, interaction_id)
        store.set_boosts(live_boosts(self.engine, datetime.now(UTC)))
        self.store = store
        self._change_seq, self._score_id, self._interaction_id, self._relation_id = (
            change_seq,
            score_id,
            interaction_id,
            relation_id,
        )
        self._scan_from = scan_from
        self._last_scan = self._last_full = time.monotonic()
        s = store.stats()
        log.info(
            "feed store loaded: %d posts (%d passed, %d with vectors) in %.2f s",
            s.posts,
            s.passed,
            s.with_embedding,
            time.perf_counter() - started,
        )
        return store

    def _encoder(self) -> tuple[str | None, Any | None]:
        """The encoder version whose vectors to hold, and that version's FAISS index if any."""
        models = self.models() if self.models is not None else None
        version = getattr(models, "encoder_version", None)
        if version is not None:
            return version, getattr(models, "index", None)
        return self.encoder_version or pick_encoder_version(self.engine), None

    def _load_posts(self, store: SnapshotFeedStore, ids: Sequence[str] | None) -> int:
        posts = post_frame(self.engine, ids)
        if ids is not None:
            gone = set(ids) - set(posts["id"])
            if gone:
                store.mark_removed(gone)
        if posts.empty:
            return 0
        scores, versions = score_frame(self.engine, None if ids is None else posts["id"].tolist())
        store.model_versions.update(versions)
        store.upsert_posts(resolve_base_levels(posts, scores))
        version = store.encoder_version
        if version is not None:
            store.encoder_version = version
            vec_ids, matrix = read_embeddings(
                self.engine, version, None if ids is None else posts["id"].tolist()
            )
            store.set_embeddings(vec_ids, matrix)
        return len(posts)

    def _load_interactions(self, store: SnapshotFeedStore, after: int, upto: int) -> int:
        if upto <= after:
            return 0
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Interaction.post_id, Interaction.kind, func.count())
                .where(Interaction.id > after, Interaction.id <= upto)
                .group_by(Interaction.post_id, Interaction.kind)
            ).all()
        if rows:
            pids, kinds, counts = zip(*rows, strict=True)
            store.add_counts(pids, kinds, [float(n) for n in counts])
        return len(rows)

    def refresh(self) -> RefreshReport:
        """Apply what changed since the last call (or rebuild when a full reload is due)."""
        started = time.perf_counter()
        if time.monotonic() - self._last_full > self.full_every_s:
            store = self.full_load()
            return RefreshReport(posts=len(store), seconds=time.perf_counter() - started)
        store = self.store
        models = self.models() if self.models is not None else None
        version = getattr(models, "encoder_version", None)
        store.index = getattr(models, "index", None) if version is not None else None
        if version is not None and version != store.encoder_version:
            store = self.full_load()  # a new encoder (model reload): every vector changes
            return RefreshReport(posts=len(store), seconds=time.perf_counter() - started)
        change_seq, score_id, interaction_id, relation_id = self._heads()
        changed: set[str] = set()
        with self.engine.connect() as conn:
            if change_seq > self._change_seq:
                changed.update(
                    conn.scalars(
                        select(IndexChange.post_id).where(
                            IndexChange.seq > self._change_seq, IndexChange.seq <= change_seq
                        )
                    )
                )
            if score_id > self._score_id:
                changed.update(
                    conn.scalars(
                        select(PostScore.post_id).where(
                            PostScore.id > self._score_id, PostScore.id <= score_id
                        )
                    )
                )
            if time.monotonic() - self._last_scan > self.scan_every_s:
                scan_from = datetime.now(UTC) - timedelta(seconds=5)
                if self._scan_from is not None:
                    changed.update(
                        conn.scalars(select(Post.id).where(Post.updated_at >= self._scan_from))
                    )
                self._scan_from = scan_from
                self._last_scan = time.monotonic()
            circles = frozenset(conn.scalars(select(Circle.id)))
        store.circles = circles
        n_posts = self._load_posts(store, sorted(changed)) if changed else 0
        n_inter = self._apply_new_interactions(store, interaction_id, relation_id)
        store.set_boosts(live_boosts(self.engine, datetime.now(UTC)))
        self._change_seq, self._score_id, self._interaction_id, self._relation_id = (
            change_seq,
            score_id,
            interaction_id,
            relation_id,
        )
        return RefreshReport(
            posts=n_posts, interactions=n_inter, seconds=time.perf_counter() - started
        )

    def _apply_new_interactions(
        self, store: SnapshotFeedStore, interaction_id: int, relation_id: int
    ) -> int:
        """The interactions and relations since the last refresh, read once: counted into
        the snapshot and told to ``on_viewer_changes``. Returns the (post, kind) pairs
        counted."""
        rows: list[tuple[str, str, str, str]] = []
        users: list[str] = []
        with self.engine.connect() as conn:
            if interaction_id > self._interaction_id:
                rows = [
                    (u, p, k, a)
                    for u, p, k, a in conn.execute(
                        select(
                            Interaction.user_id,
                            Interaction.post_id,
                            Interaction.kind,
                            Post.author_id,
                        )
                        .join(Post, Post.id == Interaction.post_id)
                        .where(
                            Interaction.id > self._interaction_id, Interaction.id <= interaction_id
                        )
                        .order_by(Interaction.id)
                    )
                ]
            if relation_id > self._relation_id and self.on_viewer_changes is not None:
                users = list(
                    conn.scalars(
                        select(UserRelation.user_id)
                        .where(UserRelation.id > self._relation_id, UserRelation.id <= relation_id)
                        .distinct()
                    )
                )
        counts = Counter((post, kind) for _user, post, kind, _author in rows)
        if counts:
            pairs, n = zip(*counts.items(), strict=True)
            store.add_counts([p for p, _ in pairs], [k for _, k in pairs], [float(c) for c in n])
        if self.on_viewer_changes is not None and (rows or users):
            self.on_viewer_changes(rows, users)
        return len(counts)

    def run_in_thread(self) -> None:
        if self._poller is None:
            # The interval is the feed's staleness bound (its setting says so): a refresh
            # that applies a large batch of changes brings the next one forward.
            self._poller = Poller(
                "feed-store-sync", self.refresh, self.interval_s, log, bound_staleness=True
            )
        self._poller.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._poller is not None:
            self._poller.stop(timeout)


# ---------------------------------------------------------------------------- the service
