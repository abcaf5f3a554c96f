"""The service's FeedStore: a columnar in-memory snapshot of post features, kept current.

Why: ``/v1/feed/rank`` ranks up to 2,000 candidates in milliseconds, so a request never
runs SQL per candidate. Each worker process holds one ``SnapshotFeedStore`` (one numpy
array per feature, a row per post) and a ``FeedStoreSync`` thread keeps it in step with the
database the same way the vector index does (``models/index/sync.py``):

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
worker's ranking within interval + apply time (≈ 1 s by default); an unlogged post insert
or status change within ``scan_every_s`` + interval (≈ 11 s).

Safe defaults when a post has no model score yet (see ``default_base_level``): quality is
``UNKNOWN_QUALITY`` (neutral) and the trust base level comes from provenance alone —
merchant account → L5; verified purchase by a certified creator → L2, by anyone else → L3;
otherwise L4 (not trusted, demoted but not dropped, never lifted to L1).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any
from zoneinfo import ZoneInfo

import faiss
import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, or_, select

from quanzi.models.index.filters import SearchFilter
from quanzi.polling import Poller
from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.params import (
    DEFAULT_ARMS,
    Arm,
    Phase,
    RankingParams,
    assign_arm,
    phase_for,
    resolve_params,
)
from quanzi.serving.ranking.pipeline import RankingPipeline, RankingResult
from quanzi.serving.ranking.query import FeedQuery, ViewerContext
from quanzi.serving.ranking.viewer_loader import ViewerLoader
from quanzi.settings import Settings
from quanzi.storage.orm import (
    INTERACTION_KINDS,
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
served_log = logging.getLogger("quanzi.feed.served")

QUALITY_MODEL = "quality"
TRUST_MODEL = "trust"
UNKNOWN_QUALITY = 0.5  # neutral: an unscored post is neither favoured nor buried
KINDS: tuple[str, ...] = INTERACTION_KINDS
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
IMPRESSION = KIND_INDEX["impression"]
# Editor overrides of the hot list, as feed multipliers (the scorer takes log(boost)).
OVERRIDE_BOOST = {"pin": 2.0, "remove": 0.5}
CHINA = ZoneInfo("Asia/Shanghai")
_BATCH = 5_000  # ids per SQL IN (...)


def default_base_level(author_kind: str, certified: bool, verified: bool) -> int:
    """Trust base level from provenance alone, for posts the trust model has not scored."""
    if author_kind == "merchant":
        return 5
    if verified:
        return 2 if certified else 3
    return 4


def tier_of(score: float) -> int:
    """Quality tier of a continuous score (used only when a score row carries no tier)."""
    return 1 if score < 0.35 else 2 if score < 0.65 else 3


def parse_level(payload: dict[str, Any] | None, label: str | None,
                score: float | None) -> int | None:
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


# ---------------------------------------------------------------------------- the store
_POST_COLS: dict[str, tuple[str, object]] = {
    # CandidateSet column → (dtype, fill); the snapshot keeps exactly these per post.
    "author_id": ("object", ""),
    "circle_id": ("object", ""),
    "created_ts": ("float64", 0.0),
    "status": ("object", "pending"),
    "quality": ("float32", UNKNOWN_QUALITY),
    "tier": ("int8", 0),
    "base_level": ("int8", 4),
    "verified": ("bool", False),
    "creator": ("bool", False),
    "boost": ("float32", 1.0),
}


class _Columns:
    """Fixed-capacity arrays; ``n`` rows in use. Grown by copying, then swapped in."""

    def __init__(self, cap: int, dim: int | None = None) -> None:
        self.n = 0
        self.cap = cap
        self.ids = np.empty(cap, dtype=object)
        self.cols = {k: np.full(cap, fill, dtype=dt) for k, (dt, fill) in _POST_COLS.items()}
        self.passed = np.zeros(cap, dtype=bool)
        self.counts = np.zeros((cap, len(KINDS)), dtype=np.float32)
        self.dim = dim
        self.emb = None if dim is None else np.zeros((cap, dim), dtype=np.float32)
        self.has_emb = np.zeros(cap, dtype=bool)

    def grown(self, cap: int, dim: int | None = None) -> _Columns:
        new = _Columns(cap, dim if dim is not None else self.dim)
        n = self.n
        new.n = n
        new.ids[:n] = self.ids[:n]
        for k, arr in self.cols.items():
            new.cols[k][:n] = arr[:n]
        new.passed[:n] = self.passed[:n]
        new.counts[:n] = self.counts[:n]
        if self.emb is not None and new.emb is not None and new.dim == self.dim:
            new.emb[:n] = self.emb[:n]
            new.has_emb[:n] = self.has_emb[:n]
        return new


@dataclass(frozen=True)
class _Window:
    """A circle's newest passed posts with a vector, and their vectors as one matrix: what
    the ``similar`` source scans. Current while ``source`` is still the circle's row array
    and no vector was written since ``emb_version``."""

    source: np.ndarray
    emb_version: int
    rows: np.ndarray  # newest first
    neg_ts: np.ndarray  # −created_ts of ``rows``, ascending (for the age cut)
    matrix: np.ndarray  # (len(rows), dim) float32, C-contiguous


@dataclass
class StoreStats:
    posts: int
    passed: int
    with_embedding: int
    circles: int
    dim: int | None


class SnapshotFeedStore:
    """The ``FeedStore`` protocol over columnar arrays; one writer, many readers.

    Readers take ``self._c`` once per call, so a concurrent grow-and-swap never shows them
    half-copied arrays; in-place updates of single rows are benign races (a request may see
    a post's new status with its old quality for one refresh).
    """

    def __init__(self, weights: dict[str, float] | None = None, similar_window: int = 5_000,
                 index: Any | None = None) -> None:
        self._c = _Columns(1024)
        self._row: dict[str, int] = {}
        self._author_rows: dict[str, np.ndarray] = {}
        self._circle_rows: dict[str, np.ndarray] = {}  # passed posts, newest first
        self._circle_neg_ts: dict[str, np.ndarray] = {}  # −created_ts of those, ascending
        self._pending_counts: dict[str, np.ndarray] = {}
        self._windows: dict[str, _Window] = {}  # per circle, rebuilt on first read after a change
        self._emb_version = 0  # bumped after every vector write
        self._lock = threading.Lock()  # one writer at a time
        self.circles: frozenset[str] = frozenset()
        self.similar_window = similar_window
        self.index = index  # optional VectorIndex for similar_posts (filters inside FAISS)
        self.model_versions: dict[str, str] = {}
        self.encoder_version: str | None = None
        w = weights if weights is not None else RankingParams().interaction_weights
        self.weights = np.array([w.get(k, 0.0) if k != "impression" else 0.0 for k in KINDS],
                                dtype=np.float32)

    # ------------------------------------------------------------------ writing
    def upsert_posts(self, frame: pd.DataFrame) -> None:
        """Add or replace posts. Columns: ``id`` and any of the snapshot's post columns."""
        if frame.empty:
            return
        with self._lock:
            ids = frame["id"].astype(str).tolist()
            rows = np.fromiter((self._row.get(p, -1) for p in ids), np.int64, len(ids))
            new = rows < 0
            c = self._c
            n_new = int(new.sum())
            if c.n + n_new > c.cap:
                c = c.grown(max(2 * c.cap, c.n + n_new + 1024))
            rows[new] = np.arange(c.n, c.n + n_new)
            c.ids[rows[new]] = np.array(ids, dtype=object)[new]
            old_circles = set(c.cols["circle_id"][rows[~new]])
            old_authors = c.cols["author_id"][rows[~new]]
            for name, (dtype, fill) in _POST_COLS.items():
                if name in frame:
                    values = frame[name].to_numpy()
                    if dtype != "object":
                        values = np.where(pd.isna(values), fill, values).astype(dtype)
                    c.cols[name][rows] = values
                elif n_new:
                    c.cols[name][rows[new]] = fill
            c.passed[rows] = c.cols["status"][rows] == "pass"
            if n_new:
                c.counts[rows[new]] = 0.0
                c.has_emb[rows[new]] = False
                c.n += n_new
            self._c = c
            for i in np.flatnonzero(new):
                self._row[ids[i]] = int(rows[i])
            self._apply_pending(ids)
            moved = old_authors != c.cols["author_id"][rows[~new]]
            self._index_authors(np.concatenate([rows[new], rows[~new][moved]]),
                                old_authors[moved])
            self._rebuild_circles(old_circles | set(c.cols["circle_id"][rows]))

    def mark_removed(self, post_ids: Iterable[str]) -> None:
        """Posts deleted from the store: they stay as rows but never pass moderation again."""
        with self._lock:
            c = self._c
            rows = [self._row[p] for p in post_ids if p in self._row]
            if not rows:
                return
            c.cols["status"][rows] = "removed"
            c.passed[rows] = False
            self._rebuild_circles(set(c.cols["circle_id"][rows]))

    def set_embeddings(self, post_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store unit vectors for known posts (unknown ids are skipped)."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(post_ids) or not len(x):
            return
        with self._lock:
            c = self._c
            if c.emb is None or c.dim != x.shape[1]:
                c = c.grown(c.cap, dim=x.shape[1])  # first vectors, or a new encoder
                self._c = c
            rows = np.fromiter((self._row.get(p, -1) for p in post_ids), np.int64, len(post_ids))
            ok = rows >= 0
            norms = np.linalg.norm(x[ok], axis=1, keepdims=True)
            assert c.emb is not None
            c.emb[rows[ok]] = x[ok] / np.where(norms > 0, norms, 1.0)
            c.has_emb[rows[ok]] = True
            self._emb_version += 1  # after the write: a window cut meanwhile is stale, not kept

    def add_counts(self, post_ids: Sequence[str], kinds: Sequence[str],
                   counts: Sequence[float]) -> None:
        """Add interaction counts; counts of posts not yet in the snapshot wait for them."""
        with self._lock:
            c = self._c
            for pid, kind, cnt in zip(post_ids, kinds, counts, strict=True):
                k = KIND_INDEX.get(kind)
                if k is None:
                    continue
                row = self._row.get(pid)
                if row is None:
                    pending = self._pending_counts.setdefault(
                        pid, np.zeros(len(KINDS), dtype=np.float32))
                    pending[k] += cnt
                else:
                    c.counts[row, k] += cnt

    def set_boosts(self, boosts: dict[str, float]) -> None:
        """Replace every editorial multiplier (posts not named go back to 1)."""
        with self._lock:
            c = self._c
            c.cols["boost"][: c.n] = 1.0
            for pid, b in boosts.items():
                row = self._row.get(pid)
                if row is not None:
                    c.cols["boost"][row] = b

    def _apply_pending(self, ids: Iterable[str]) -> None:
        if not self._pending_counts:
            return
        for pid in ids:
            pending = self._pending_counts.pop(pid, None)
            if pending is not None:
                self._c.counts[self._row[pid]] += pending

    def _index_authors(self, rows: np.ndarray, old_authors: np.ndarray) -> None:
        c = self._c
        for author in set(old_authors):
            mine = self._author_rows.get(author)
            if mine is not None:
                self._author_rows[author] = mine[c.cols["author_id"][mine] == author]
        if not len(rows):
            return
        groups = pd.Series(rows).groupby(c.cols["author_id"][rows]).indices
        for author, idx in groups.items():
            add = rows[idx]
            have = self._author_rows.get(author)
            self._author_rows[author] = add if have is None else np.union1d(have, add)

    def _rebuild_circles(self, circles: set[str]) -> None:
        c = self._c
        n = c.n
        circle = c.cols["circle_id"][:n]
        created = c.cols["created_ts"][:n]
        for cid in circles:
            rows = np.flatnonzero((circle == cid) & c.passed[:n])
            order = np.argsort(-created[rows], kind="stable")
            rows = rows[order]
            self._circle_neg_ts[cid] = -created[rows]
            self._circle_rows[cid] = rows

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._c.n

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._row

    def has_circle(self, circle_id: str) -> bool:
        return circle_id in self.circles

    def stats(self) -> StoreStats:
        c = self._c
        return StoreStats(posts=c.n, passed=int(c.passed[: c.n].sum()),
                          with_embedding=int(c.has_emb[: c.n].sum()),
                          circles=len(self.circles), dim=c.dim)

    def recent_posts(self, circle_id: str, since_ts: float, limit: int) -> list[str]:
        rows = self._circle_rows.get(circle_id)
        if rows is None:
            return []
        neg_ts = self._circle_neg_ts[circle_id]
        end = min(int(np.searchsorted(neg_ts, -since_ts, side="right")), limit)
        return self._c.ids[rows[:end]].tolist()

    def posts_by_authors(self, author_ids: frozenset[str], since_ts: float,
                         limit: int) -> list[str]:
        parts = [r for a in author_ids if (r := self._author_rows.get(a)) is not None]
        if not parts:
            return []
        c = self._c
        rows = np.concatenate(parts)
        rows = rows[rows < c.n]
        created = c.cols["created_ts"][rows]
        keep = c.passed[rows] & (created >= since_ts)
        rows, created = rows[keep], created[keep]
        top = np.argsort(-created, kind="stable")[:limit]
        return c.ids[rows[top]].tolist()

    def similar_posts(self, vector: np.ndarray, k: int, circle_id: str | None,
                      since_ts: float | None = None) -> list[str]:
        """The ``k`` posts nearest to ``vector`` (cosine), best first.

        With a circle — the feed's ``similar`` source — an exact FAISS inner-product scan of
        the circle's window: its ``similar_window`` newest passed posts, cut at ``since_ts``.
        Why not the ANN index: the feed serves only posts within the age limit, so
        neighbours older than that would be filtered after the search anyway, and the
        window is small enough to scan exactly (≈ 0.35 ms for 5,000 × 256 on one core)
        with perfect recall. Without a circle: the vector index when one is loaded.
        """
        v = np.ascontiguousarray(vector, dtype=np.float32)
        if circle_id is None:
            if self.index is not None:
                flt = SearchFilter.of(statuses=("pass",))
                return [pid for pid, _ in self.index.search(v, k, flt)]
            return self._scan(self._all_window(), v, k, since_ts)
        return self._scan(self._window(circle_id), v, k, since_ts)

    def _window(self, circle_id: str) -> _Window | None:
        source = self._circle_rows.get(circle_id)
        if source is None:
            return None
        w = self._windows.get(circle_id)
        if w is not None and w.source is source and w.emb_version == self._emb_version:
            return w
        w = self._cut_window(source)
        if w is not None:
            self._windows[circle_id] = w
        return w

    def _all_window(self) -> _Window | None:
        c = self._c
        rows = np.flatnonzero(c.passed[: c.n])
        rows = rows[np.argsort(-c.cols["created_ts"][rows], kind="stable")]
        return self._cut_window(rows)

    def _cut_window(self, source: np.ndarray) -> _Window | None:
        c = self._c
        if c.emb is None:
            return None
        version = self._emb_version  # read first: a write during the cut makes it stale
        rows = source[: self.similar_window]
        rows = rows[c.has_emb[rows]]
        return _Window(source, version, rows, -c.cols["created_ts"][rows],
                       np.ascontiguousarray(c.emb[rows]))

    def _scan(self, w: _Window | None, v: np.ndarray, k: int,
              since_ts: float | None) -> list[str]:
        if w is None or v.shape != (w.matrix.shape[1],):
            return []
        end = len(w.rows) if since_ts is None else \
            int(np.searchsorted(w.neg_ts, -since_ts, side="right"))
        k = min(k, end)
        if k <= 0:
            return []
        _, top = faiss.knn(v[None, :], w.matrix[:end], k, metric=faiss.METRIC_INNER_PRODUCT)
        return self._c.ids[w.rows[top[0]]].tolist()

    def rows_of(self, post_ids: Sequence[str]) -> np.ndarray:
        """Snapshot rows of ``post_ids`` (−1 where unknown)."""
        n = self._c.n
        rows = np.fromiter(map(self._row.get, post_ids, repeat(-1, len(post_ids))), np.int64,
                           len(post_ids))
        rows[rows >= n] = -1
        return rows

    def hydrate(self, candidates: CandidateSet) -> None:
        c = self._c
        n = len(candidates)
        rows = np.fromiter(map(self._row.get, candidates.post_ids, repeat(-1, n)), np.int64, n)
        rows[rows >= c.n] = -1
        known = rows >= 0
        r = rows[known]
        counts = c.counts[r]
        gathered = {name: c.cols[name][r] for name in _POST_COLS}
        gathered["impressions"] = counts[:, IMPRESSION]
        gathered["weighted_actions"] = counts @ self.weights
        if bool(known.all()):
            candidates.cols.update(gathered)
        else:  # unknown posts keep the defaults (they fail moderation: status "pending")
            candidates.fill_missing()
            for name, values in gathered.items():
                candidates.cols[name][known] = values
        candidates.fill_missing()  # the viewer-relative columns, until their hydrator runs
        if c.emb is not None:  # gathered when a stage reads them (after the filters)
            candidates.use_matrix(c.emb, rows)

    def vectors_of(self, post_ids: Sequence[str]) -> np.ndarray:
        """Embeddings of those of ``post_ids`` that have one, ``(m, d)`` (m may be 0)."""
        c = self._c
        if c.emb is None:
            return np.zeros((0, 0), dtype=np.float32)
        rows = self.rows_of(post_ids)
        rows = rows[rows >= 0]
        rows = rows[c.has_emb[rows]]
        return c.emb[rows]

    def authors_of(self, post_ids: Sequence[str]) -> list[str]:
        rows = self.rows_of(post_ids)
        return [str(a) for a in self._c.cols["author_id"][rows[rows >= 0]]]

    def engagement_of(self, post_ids: Sequence[str]) -> np.ndarray:
        """Weighted actions of each post (0 for unknown posts), in order."""
        c = self._c
        rows = self.rows_of(post_ids)
        out = np.zeros(len(post_ids), dtype=np.float32)
        known = rows >= 0
        out[known] = c.counts[rows[known]] @ self.weights
        return out


# ---------------------------------------------------------------------------- from the DB
def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _BATCH):
        yield list(ids[start:start + _BATCH])


def post_frame(engine: Engine, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Posts with author kind and verified purchase, plus latest quality/trust scores."""
    cols = ["id", "author_id", "circle_id", "created_ts", "status", "author_kind",
            "certified", "verified"]
    query = (select(Post.id, Post.author_id, Post.circle_id, Post.created_at, Post.status,
                    User.kind, User.creator_certified, Order.user_id, Order.created_at)
             .join(User, User.id == Post.author_id)
             .outerjoin(Order, Order.id == Post.order_id))
    records: list[tuple[Any, ...]] = []
    with engine.connect() as conn:
        for chunk in ([None] if ids is None else _chunks(ids)):
            q = query if chunk is None else query.where(Post.id.in_(chunk))
            for pid, author, circle, created, status, kind, cert, buyer, ordered in \
                    conn.execute(q):
                verified = buyer == author and (ordered is None or ordered <= created)
                records.append((pid, author, circle, created.timestamp(), status, kind,
                                bool(cert), bool(verified)))
    frame = pd.DataFrame.from_records(records, columns=cols)
    frame["creator"] = (frame["author_kind"] == "creator") | frame["certified"]
    return frame


def score_frame(engine: Engine, ids: Sequence[str] | None = None
                ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Latest quality and trust per post, and the newest model version per model name."""
    ranked = select(
        PostScore.post_id, PostScore.model_name, PostScore.model_version, PostScore.score,
        PostScore.label, PostScore.payload, PostScore.id,
        func.row_number().over(partition_by=(PostScore.post_id, PostScore.model_name),
                               order_by=(PostScore.created_at.desc(), PostScore.id.desc())
                               ).label("rank"),
    ).where(PostScore.model_name.in_((QUALITY_MODEL, TRUST_MODEL)))
    rows: dict[str, dict[str, Any]] = {}
    newest: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for chunk in ([None] if ids is None else _chunks(ids)):
            q = ranked if chunk is None else ranked.where(PostScore.post_id.in_(chunk))
            sub = q.subquery()
            for pid, name, version, score, label, payload, sid, _ in conn.execute(
                    select(sub).where(sub.c.rank == 1)):
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
    frame = pd.DataFrame(list(rows.values()),
                         columns=["id", "quality", "tier", "scored_level"])
    return frame, {name: version for name, (_, version) in newest.items()}


def resolve_base_levels(posts: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Posts joined with their scores; trust base level from the model, else provenance."""
    merged = posts.merge(scores, on="id", how="left")
    fallback = [default_base_level(k, c, v) for k, c, v in
                zip(merged["author_kind"], merged["certified"], merged["verified"], strict=True)]
    merged["base_level"] = merged["scored_level"].fillna(pd.Series(fallback, index=merged.index))
    merged["base_level"] = merged["base_level"].astype(int)
    merged["quality"] = merged["quality"].astype(float).fillna(UNKNOWN_QUALITY)
    merged["tier"] = merged["tier"].fillna(0).astype(int)
    return merged


def pick_encoder_version(engine: Engine) -> str | None:
    """The encoder version most posts have a vector for (None when there are none)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(PostEmbedding.encoder_version, func.count().label("n"))
            .group_by(PostEmbedding.encoder_version).order_by(func.count().desc()).limit(1)
        ).first()
    return None if row is None else str(row[0])


def read_embeddings(engine: Engine, version: str, ids: Sequence[str] | None = None
                    ) -> tuple[list[str], np.ndarray]:
    query = select(PostEmbedding.post_id, PostEmbedding.vector).where(
        PostEmbedding.encoder_version == version)
    out_ids: list[str] = []
    blobs: list[bytes] = []
    with engine.connect() as conn:
        for chunk in ([None] if ids is None else _chunks(ids)):
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
        rows = conn.execute(select(HotListOverride.post_id, HotListOverride.action,
                                   HotListOverride.value)
                            .where(or_(HotListOverride.expires_at.is_(None),
                                       HotListOverride.expires_at > now)))
        return {pid: (float(value) if action == "boost" else OVERRIDE_BOOST.get(action, 1.0))
                for pid, action, value in rows}


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
            return (int(conn.execute(select(func.max(IndexChange.seq))).scalar() or 0),
                    int(conn.execute(select(func.max(PostScore.id))).scalar() or 0),
                    int(conn.execute(select(func.max(Interaction.id))).scalar() or 0),
                    int(conn.execute(select(func.max(UserRelation.id))).scalar() or 0))

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
            change_seq, score_id, interaction_id, relation_id)
        self._scan_from = scan_from
        self._last_scan = self._last_full = time.monotonic()
        s = store.stats()
        log.info("feed store loaded: %d posts (%d passed, %d with vectors) in %.2f s",
                 s.posts, s.passed, s.with_embedding, time.perf_counter() - started)
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
            vec_ids, matrix = read_embeddings(self.engine, version,
                                              None if ids is None else posts["id"].tolist())
            store.set_embeddings(vec_ids, matrix)
        return len(posts)

    def _load_interactions(self, store: SnapshotFeedStore, after: int, upto: int) -> int:
        if upto <= after:
            return 0
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Interaction.post_id, Interaction.kind, func.count())
                .where(Interaction.id > after, Interaction.id <= upto)
                .group_by(Interaction.post_id, Interaction.kind)).all()
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
                changed.update(conn.scalars(select(IndexChange.post_id).where(
                    IndexChange.seq > self._change_seq, IndexChange.seq <= change_seq)))
            if score_id > self._score_id:
                changed.update(conn.scalars(select(PostScore.post_id).where(
                    PostScore.id > self._score_id, PostScore.id <= score_id)))
            if time.monotonic() - self._last_scan > self.scan_every_s:
                scan_from = datetime.now(UTC) - timedelta(seconds=5)
                if self._scan_from is not None:
                    changed.update(conn.scalars(select(Post.id).where(
                        Post.updated_at >= self._scan_from)))
                self._scan_from = scan_from
                self._last_scan = time.monotonic()
            circles = frozenset(conn.scalars(select(Circle.id)))
        store.circles = circles
        n_posts = self._load_posts(store, sorted(changed)) if changed else 0
        n_inter = self._apply_new_interactions(store, interaction_id, relation_id)
        store.set_boosts(live_boosts(self.engine, datetime.now(UTC)))
        self._change_seq, self._score_id, self._interaction_id, self._relation_id = (
            change_seq, score_id, interaction_id, relation_id)
        return RefreshReport(posts=n_posts, interactions=n_inter,
                             seconds=time.perf_counter() - started)

    def _apply_new_interactions(self, store: SnapshotFeedStore, interaction_id: int,
                                relation_id: int) -> int:
        """The interactions and relations since the last refresh, read once: counted into
        the snapshot and told to ``on_viewer_changes``. Returns the (post, kind) pairs
        counted."""
        rows: list[tuple[str, str, str, str]] = []
        users: list[str] = []
        with self.engine.connect() as conn:
            if interaction_id > self._interaction_id:
                rows = [(u, p, k, a) for u, p, k, a in conn.execute(
                    select(Interaction.user_id, Interaction.post_id, Interaction.kind,
                           Post.author_id)
                    .join(Post, Post.id == Interaction.post_id)
                    .where(Interaction.id > self._interaction_id,
                           Interaction.id <= interaction_id)
                    .order_by(Interaction.id))]
            if relation_id > self._relation_id and self.on_viewer_changes is not None:
                users = list(conn.scalars(select(UserRelation.user_id).where(
                    UserRelation.id > self._relation_id, UserRelation.id <= relation_id)
                    .distinct()))
        counts = Counter((post, kind) for _user, post, kind, _author in rows)
        if counts:
            pairs, n = zip(*counts.items(), strict=True)
            store.add_counts([p for p, _ in pairs], [k for _, k in pairs],
                             [float(c) for c in n])
        if self.on_viewer_changes is not None and (rows or users):
            self.on_viewer_changes(rows, users)
        return len(counts)

    def run_in_thread(self) -> None:
        if self._poller is None:
            self._poller = Poller("feed-store-sync", self.refresh, self.interval_s, log)
        self._poller.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._poller is not None:
            self._poller.stop(timeout)


# ---------------------------------------------------------------------------- the service
class UnknownCircle(LookupError):
    """The request names a circle the store does not know (HTTP 404)."""


def campaign_phase(now: datetime) -> Phase:
    """The campaign phase of ``now`` on the China calendar day (domain.md)."""
    local = now.astimezone(CHINA)
    return phase_for(local.month, local.day)


@dataclass
class FeedRequest:
    """A validated ``/v1/feed/rank`` request (the route builds it from its schema)."""

    viewer_id: str
    circle_id: str
    limit: int = 20
    candidate_ids: tuple[str, ...] | None = None
    phase: Phase | None = None
    exclude_seen: bool = True
    exclude_ids: frozenset[str] = frozenset()
    params: dict[str, Any] | None = None
    as_of: datetime | None = None


class FeedService:
    """What each worker holds for the feed: snapshot + sync thread, viewer loader, pipeline.

    The snapshot loads on first use (so apps that never rank pay nothing at startup) and the
    sync thread starts then.
    """

    def __init__(self, settings: Settings, engine: Engine, *,
                 models: Callable[[], Any | None] | None = None,
                 encoder_version: str | None = None,
                 arms: tuple[Arm, ...] = DEFAULT_ARMS) -> None:
        self.settings = settings
        self.sync = FeedStoreSync(engine, encoder_version=encoder_version,
                                  interval_s=settings.feed_refresh_interval_ms / 1000,
                                  models=models)
        self.loader = ViewerLoader(engine, ttl_s=settings.feed_viewer_cache_ttl_s)
        self.sync.on_viewer_changes = self._viewer_changes
        self.pipeline = RankingPipeline.default(  # learned scorer's model: the champion
            ranker=(lambda: getattr(models(), "ranker", None)) if models else None)
        self.arms = arms
        self._ready = False
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.loading = False  # a background preload is running (``start``)
        self.load_error: str | None = None
        self._arm_params: dict[str, RankingParams] = {}

    @property
    def store(self) -> SnapshotFeedStore:
        """The current snapshot (loading it on first use)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.sync.full_load()
                    self.sync.run_in_thread()
                    self._ready = True
        return self.sync.store

    def start(self, models_settled: Callable[[], bool] | None = None,
              wait_s: float = 300.0, on_loaded: Callable[[], Any] | None = None) -> None:
        """Load the snapshot in a background thread now, not on the first feed request (which
        would take seconds). Waits first (up to ``wait_s``) until ``models_settled`` says the
        model load finished, so the snapshot holds the served encoder's vectors and is
        not loaded twice; then calls ``on_loaded``. ``/readyz`` answers 503 while
        ``loading``."""
        def load() -> None:
            deadline = time.monotonic() + wait_s
            while models_settled is not None and not models_settled() \
                    and time.monotonic() < deadline and not self._closing.is_set():
                time.sleep(0.1)
            try:
                _ = self.store
                if on_loaded is not None:
                    on_loaded()
            except Exception as exc:  # retried on first use; /readyz says why meanwhile
                log.exception("feed snapshot preload failed")
                self.load_error = f"{type(exc).__name__}: {exc}"[:300]
            finally:
                self.loading = False

        self.loading = True
        threading.Thread(target=load, name="feed-store-preload", daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        self.sync.stop()

    def model_versions(self, store: SnapshotFeedStore, scorer: str = "") -> dict[str, str]:
        versions = {"ranker": scorer or "weighted-v1"}
        versions["quality"] = store.model_versions.get(QUALITY_MODEL, "unavailable")
        versions["trust"] = store.model_versions.get(TRUST_MODEL, "unavailable")
        versions["encoder"] = store.encoder_version or "unavailable"
        return versions

    def params_for(self, arm: Arm, overrides: dict[str, Any] | None) -> RankingParams:
        if overrides:
            return resolve_params(arm, overrides)
        params = self._arm_params.get(arm.name)
        if params is None:
            params = self._arm_params[arm.name] = resolve_params(arm)
        return params

    def _viewer_changes(self, rows: list[tuple[str, str, str, str]], users: list[str]) -> None:
        self.loader.apply(rows, self.sync.store, relation_users=users)

    @property
    def ready(self) -> bool:
        """Whether the snapshot is loaded (ranking then never waits on the database for it)."""
        return self._ready

    def cached_viewer(self, req: FeedRequest) -> ViewerContext | None:
        """The request's viewer context when no SQL is needed to get it, else None."""
        return self.loader.peek(req.viewer_id, req.as_of) if self._ready else None

    def load_viewer(self, req: FeedRequest) -> ViewerContext:
        """The request's viewer context, reading the database on a miss (blocking: async
        callers run it in a thread, then call ``rank`` with it)."""
        return self.loader.load(req.viewer_id, self.store, req.as_of)

    def rank(self, req: FeedRequest,
             viewer: ViewerContext | None = None) -> tuple[dict[str, Any], RankingResult]:
        """Rank one request; returns the response body and the pipeline's result."""
        store = self.store
        if not store.has_circle(req.circle_id):
            raise UnknownCircle(f"circle {req.circle_id!r} not found")
        now = req.as_of or datetime.now(UTC)
        arm = assign_arm(req.viewer_id, self.arms)
        params = self.params_for(arm, req.params)
        if viewer is None:
            viewer = self.loader.load(req.viewer_id, store, req.as_of)
        phase = req.phase or campaign_phase(now)
        query = FeedQuery(viewer=viewer, circle_id=req.circle_id, limit=req.limit, now=now,
                          phase=phase, params=params, candidate_ids=req.candidate_ids,
                          exclude_seen=req.exclude_seen, exclude_ids=req.exclude_ids,
                          arm=arm.name)
        result = self.pipeline.rank(query, store)
        request_id = uuid.uuid4().hex
        items = [{"post_id": it.post_id, "score": it.score, "trust_level": it.trust_level,
                  "source": it.source,
                  "reasons": [{"feature": f, "contribution": v} for f, v in it.reasons]}
                 for it in result.items]
        body = {"items": items, "arm": arm.name, "phase": phase,
                "model_versions": self.model_versions(store, result.scorer),
                "request_id": request_id, "n_candidates": result.n_candidates,
                "removed": result.removed}
        if served_log.isEnabledFor(logging.INFO):
            served_log.info(json.dumps({
                "event": "feed_served", "request_id": request_id, "viewer_id": req.viewer_id,
                "circle_id": req.circle_id, "arm": arm.name, "phase": phase,
                "post_ids": [it["post_id"] for it in items], "errors": result.errors,
            }, ensure_ascii=False))
        return body, result
