"""The vector index of one encoder version: post ids, vectors, filter metadata, tombstones.

Every vector gets a *slot* (0, 1, 2, … in insertion order), which is also its position in
the FAISS index, so a bitmap over slots is directly a FAISS ``IDSelectorBitmap``. Beside
the FAISS index we keep, per slot, the post id, an ``alive`` flag and the metadata
filters need (circle code, quality, status).

Index type by size (``IndexConfig.flat_max``, default 50,000 from settings):
- ``flat``: ``IndexFlatIP``, exact inner product. At 50k × 256 dims a query scans 13M
  floats (~2 ms on one thread), which is the point where HNSW starts paying off.
- ``hnsw``: ``IndexHNSWFlat`` (inner product), approximate; see ``evaluation/index_bench``
  for recall and latency at 1M.
Vectors are L2-normalised on the way in, so inner product is cosine similarity.

Removal is a tombstone for both types: HNSW cannot delete a vector from its graph, and
using the same mechanism for flat keeps slots stable. A search only considers alive slots
(a cached bitmap selector); once tombstones exceed ``compact_fraction`` of the slots,
``compact()`` rebuilds from the alive vectors, choosing the type again by size.

Concurrency: searches may run from any thread; mutations (add, remove, update_meta,
compact) must come from one thread at a time (the worker's sync thread). A lock keeps a
search from seeing a half-applied mutation; ``compact()`` builds its new index outside the
lock, so searches continue on the old one until the swap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import faiss
import numpy as np

from quanzi.models.index.filters import (
    STATUS_CODES,
    UNKNOWN,
    PostMeta,
    SearchFilter,
    filter_mask,
    mask_to_bitmap,
)
from quanzi.settings import Settings

IndexKind = Literal["flat", "hnsw"]
Hit = tuple[str, float]
ProgressFn = Callable[[int], None]
_ADD_CHUNK = 20_000  # vectors per FAISS add call, so progress bars move and memory peaks stay low
_STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}


@dataclass(frozen=True)
class IndexConfig:
    """Tunables of the index; the defaults are the ones ``quanzi bench index`` justifies."""

    flat_max: int = 50_000  # exact (flat) up to this many alive vectors, HNSW beyond
    hnsw_m: int = 32  # graph degree: 2·M links per vector on level 0
    ef_construction: int = 64  # build-time beam width (quality of the graph)
    ef_search: int = 192  # query-time beam width: recall@10 ≥ 0.95 at 1M (bench)
    ef_search_max: int = 1024  # cap when a filter widens the beam
    compact_fraction: float = 0.2  # compact once this share of slots are tombstones
    # A filter allowing this few posts (or this small a share) is answered by an exact scan
    # of just those posts: a graph walk would mostly meet filtered-out nodes and lose recall.
    exact_filter_max: int = 20_000
    exact_filter_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.flat_max < 1 or self.hnsw_m < 4 or self.ef_construction < 8:
            raise ValueError(f"invalid index config {self}")
        if not 0.0 < self.compact_fraction < 1.0:
            raise ValueError(f"compact_fraction must be in (0, 1), got {self.compact_fraction}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> IndexConfig:
        """The config a deployment uses (flat/HNSW threshold from settings)."""
        return replace(cls(flat_max=settings.index_flat_max), **overrides)

    def kind_for(self, n: int) -> IndexKind:
        """Exact search while it is fast enough, HNSW beyond."""
        return "flat" if n <= self.flat_max else "hnsw"


def configure_threads(settings: Settings) -> None:
    """Set FAISS's OpenMP thread count for this process (a process-wide setting)."""
    faiss.omp_set_num_threads(settings.index_threads)


def normalize_rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Validate and L2-normalise a (n, dim) float matrix (a copy, C-contiguous float32)."""
    x = np.array(vectors, dtype=np.float32, copy=True, order="C")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {np.shape(vectors)}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("zero vectors cannot be indexed (no direction to compare)")
    x /= norms
    return x


class VectorIndex:
    """Post ids ↔ vectors for one encoder version, with filtered top-k search."""

    def __init__(self, dim: int, encoder_version: str, config: IndexConfig | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dimension must be positive, got {dim}")
        if not encoder_version or "/" in encoder_version or encoder_version.startswith("."):
            raise ValueError(f"invalid encoder version {encoder_version!r} (used as a folder name)")
        self.dim = dim
        self.encoder_version = encoder_version
        self.config = config or IndexConfig()
        self.kind: IndexKind = "flat"
        self.log_seq = 0  # position in the store's change log this index reflects
        self._lock = threading.RLock()
        self._index: faiss.Index = self._new_faiss("flat")
        self._ids: list[str] = []  # slot -> post id (dead slots keep theirs)
        self._slot: dict[str, int] = {}  # alive post id -> slot
        self._alive = np.zeros(0, dtype=bool)
        self._circle = np.zeros(0, dtype=np.int32)
        self._quality = np.zeros(0, dtype=np.float32)
        self._status = np.zeros(0, dtype=np.int8)
        self._circle_codes: dict[str, int] = {}
        self._alive_bitmap: np.ndarray | None = None  # cache, dropped on every mutation

    # ------------------------------------------------------------------ introspection
    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._slot

    @property
    def ntotal(self) -> int:
        """Slots in use, tombstones included."""
        return len(self._ids)

    @property
    def tombstones(self) -> int:
        return self.ntotal - len(self._slot)

    @property
    def needs_compaction(self) -> bool:
        return self.tombstones > self.config.compact_fraction * max(self.ntotal, 1)

    def ids(self) -> list[str]:
        """The alive post ids, in slot order."""
        with self._lock:
            return [self._ids[s] for s in np.flatnonzero(self._alive[: self.ntotal])]

    def meta(self, post_id: str) -> PostMeta:
        """The filter metadata stored for ``post_id`` (KeyError if not indexed)."""
        with self._lock:
            slot = self._slot[post_id]
            circle = int(self._circle[slot])
            quality = float(self._quality[slot])
            status = int(self._status[slot])
            names = {code: name for name, code in self._circle_codes.items()}
            return PostMeta(
                circle_id=names.get(circle),
                quality=None if np.isnan(quality) else quality,
                status=_STATUS_NAMES.get(status),
            )

    def meta_matches(self, post_id: str, meta: PostMeta) -> bool:
        """Whether the stored metadata equals ``meta`` (quality compared as stored, float32)."""
        have = self.meta(post_id)
        q = None if meta.quality is None else float(np.float32(meta.quality))
        return (have.circle_id, have.status, have.quality) == (meta.circle_id, meta.status, q)

    def vector(self, post_id: str) -> np.ndarray:
        """The stored (normalised) vector of ``post_id`` (KeyError if not indexed)."""
        with self._lock:
            return self._storage_view()[self._slot[post_id]].copy()

    def stats(self) -> dict[str, Any]:
        """Sizes and settings, for ``quanzi index stats`` and /metrics."""
        return {
            "encoder_version": self.encoder_version,
            "dim": self.dim,
            "kind": self.kind,
            "count": len(self),
            "slots": self.ntotal,
            "tombstones": self.tombstones,
            "circles": len(self._circle_codes),
            "log_seq": self.log_seq,
            "memory_bytes": self.memory_bytes(),
        }

    def memory_bytes(self) -> int:
        """Approximate RAM of the index: vectors, graph links and metadata arrays.

        flat: n·d·4 bytes. HNSW adds about 2·M·4 bytes of level-0 links per vector
        (and ~1/M of that again for the upper levels): at 1M × 256 dims with M=32 that is
        1.02 GB of vectors + ~0.27 GB of links.
        """
        n = self.ntotal
        links = (
            int(2 * self.config.hnsw_m * 4 * n * (1 + 1 / self.config.hnsw_m))
            if self.kind == "hnsw"
            else 0
        )
        return n * self.dim * 4 + links + n * (1 + 4 + 4 + 1)

    # ------------------------------------------------------------------ mutations
    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metas: Sequence[PostMeta | None] | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        """Add (or replace) posts. An id already indexed is tombstoned and re-added."""
        ids = list(ids)
        x = normalize_rows(vectors, self.dim) if len(ids) else np.zeros((0, self.dim), "float32")
        if x.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but {x.shape[0]} vectors")
        if metas is not None and len(metas) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(metas)} metadata rows")
        _check_ids(ids)
        if not ids:
            return
        metas = list(metas) if metas is not None else [None] * len(ids)
        with self._lock:
            for pid in ids:
                self._tombstone(pid)
            if self.kind == "flat" and self.config.kind_for(len(self._slot) + len(ids)) == "hnsw":
                # Crossing the size threshold: rebuild as HNSW from what is alive, then add.
                self._rebuild_locked("hnsw")
            self._append(ids, x, metas, progress)
        if self.kind == "flat" and self.needs_compaction:
            self.compact()

    def remove(self, ids: Iterable[str]) -> int:
        """Tombstone posts; returns how many were indexed. Unknown ids are ignored."""
        with self._lock:
            removed = sum(self._tombstone(pid) for pid in ids)
        if removed and self.kind == "flat" and self.needs_compaction:
            self.compact()  # cheap for flat; HNSW compaction is the sync thread's call
        return removed

    def update_meta(self, post_id: str, meta: PostMeta) -> None:
        """Change a post's filter metadata without touching its vector."""
        with self._lock:
            slot = self._slot[post_id]
            self._set_meta(slot, meta)
            self._alive_bitmap = None

    def compact(self, progress: ProgressFn | None = None) -> None:
        """Rebuild from the alive vectors (drops tombstones; picks flat or HNSW by size).

        The new index is built without holding the lock (searches go on against the old
        one), then swapped in. Callers must not mutate concurrently (single mutator).
        """
        n = self.ntotal
        slots = np.flatnonzero(self._alive[:n])
        kind = self.config.kind_for(len(slots))
        vectors = self._storage_view()[slots].copy()
        new_index = self._new_faiss(kind)
        _add_chunked(new_index, vectors, progress)
        with self._lock:
            self._index = new_index
            self.kind = kind
            self._ids = [self._ids[s] for s in slots]
            self._slot = {pid: i for i, pid in enumerate(self._ids)}
            self._alive = np.ones(len(slots), dtype=bool)
            self._circle = self._circle[slots].copy()
            self._quality = self._quality[slots].copy()
            self._status = self._status[slots].copy()
            self._alive_bitmap = None

    # ------------------------------------------------------------------ search
    def search(self, query: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[Hit]:
        """Top-``k`` (post id, cosine similarity) for one query vector, best first."""
        query = np.asarray(query)
        if query.ndim != 1:
            raise ValueError(f"search takes one vector; use search_batch for shape {query.shape}")
        return self.search_batch(query[None, :], k, flt)[0]

    def search_batch(
        self, queries: np.ndarray, k: int, flt: SearchFilter | None = None
    ) -> list[list[Hit]]:
        """Top-``k`` hits for each row of ``queries``; ``flt`` is applied inside the search."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = normalize_rows(queries, self.dim)
        with self._lock:
            n = self.ntotal
            if flt is None or flt.is_empty:
                allowed = len(self._slot)
                bitmap = None if allowed == n else self._cached_alive_bitmap()
            else:
                mask = filter_mask(
                    flt,
                    self._alive[:n],
                    self._circle[:n],
                    self._quality[:n],
                    self._status[:n],
                    self._circle_codes.get(flt.circle_id) if flt.circle_id else None,
                    (self._slot[p] for p in flt.exclude_ids if p in self._slot),
                )
                allowed = int(mask.sum())
                bitmap = mask_to_bitmap(mask)
            if allowed == 0:
                return [[] for _ in range(len(q))]
            k_eff = min(k, allowed)
            distances, slots = self._search_locked(q, k_eff, bitmap, allowed)
            return [
                [(self._ids[s], float(d)) for d, s in zip(drow, srow, strict=True) if s >= 0]
                for drow, srow in zip(distances, slots, strict=True)
            ]

    def _search_locked(
        self, q: np.ndarray, k: int, bitmap: np.ndarray | None, allowed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self.ntotal
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap)) if bitmap is not None else None
        if self.kind == "flat":
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
            return self._index.search(q, k, params=params)
        fraction = allowed / max(len(self._slot), 1)
        if sel is not None and (
            allowed <= self.config.exact_filter_max or fraction < self.config.exact_filter_fraction
        ):
            # Few posts pass: an exact scan of the raw vectors, checking the bitmap first,
            # costs allowed·d multiply-adds (+ n bit tests) and has perfect recall.
            storage = faiss.downcast_index(self._index.storage)
            return storage.search(q, k, params=faiss.SearchParameters(sel=sel))
        # The graph walk stops after ef_search candidates whether or not they pass the
        # filter, so widen the beam in proportion to how much the filter removes.
        ef = max(k, min(self.config.ef_search_max, int(self.config.ef_search / fraction)))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if sel is not None:
            params.sel = sel
        return self._index.search(q, k, params=params)

    # ------------------------------------------------------------------ internals
    def _new_faiss(self, kind: IndexKind) -> faiss.Index:
        if kind == "flat":
            return faiss.IndexFlatIP(self.dim)
        index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.config.ef_construction
        index.hnsw.efSearch = self.config.ef_search
        return index

    def _storage_view(self) -> np.ndarray:
        """A zero-copy (ntotal, dim) view of the raw vectors inside the FAISS index."""
        flat = self._index if self.kind == "flat" else faiss.downcast_index(self._index.storage)
        n = flat.ntotal
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)

    def _cached_alive_bitmap(self) -> np.ndarray:
        if self._alive_bitmap is None:
            self._alive_bitmap = mask_to_bitmap(self._alive[: self.ntotal])
        return self._alive_bitmap

    def _tombstone(self, post_id: str) -> bool:
        slot = self._slot.pop(post_id, None)
        if slot is None:
            return False
        self._alive[slot] = False
        self._alive_bitmap = None
        return True

    def _rebuild_locked(self, kind: IndexKind) -> None:
        """Rebuild in place (under the lock) as ``kind``, dropping tombstones."""
        slots = np.flatnonzero(self._alive[: self.ntotal])
        vectors = self._storage_view()[slots].copy()
        self._index = self._new_faiss(kind)
        self.kind = kind
        _add_chunked(self._index, vectors, None)
        self._ids = [self._ids[s] for s in slots]
        self._slot = {pid: i for i, pid in enumerate(self._ids)}
        self._alive = np.ones(len(slots), dtype=bool)
        self._circle = self._circle[slots].copy()
        self._quality = self._quality[slots].copy()
        self._status = self._status[slots].copy()
        self._alive_bitmap = None

    def _append(
        self,
        ids: list[str],
        x: np.ndarray,
        metas: list[PostMeta | None],
        progress: ProgressFn | None,
    ) -> None:
        start = self.ntotal
        end = start + len(ids)
        _add_chunked(self._index, x, progress)
        self._alive = np.concatenate([self._alive, np.ones(len(ids), dtype=bool)])
        self._circle = np.concatenate([self._circle, np.full(len(ids), UNKNOWN, np.int32)])
        self._quality = np.concatenate([self._quality, np.full(len(ids), np.nan, np.float32)])
        self._status = np.concatenate([self._status, np.full(len(ids), UNKNOWN, np.int8)])
        self._ids.extend(ids)
        for slot, pid, meta in zip(range(start, end), ids, metas, strict=True):
            self._slot[pid] = slot
            if meta is not None:
                self._set_meta(slot, meta)
        self._alive_bitmap = None

    def _set_meta(self, slot: int, meta: PostMeta) -> None:
        if meta.circle_id is None:
            self._circle[slot] = UNKNOWN
        else:
            code = self._circle_codes.setdefault(meta.circle_id, len(self._circle_codes))
            self._circle[slot] = code
        self._quality[slot] = np.nan if meta.quality is None else meta.quality
        if meta.status is not None and meta.status not in STATUS_CODES:
            raise ValueError(f"unknown post status {meta.status!r}")
        self._status[slot] = UNKNOWN if meta.status is None else STATUS_CODES[meta.status]

    # ------------------------------------------------------------------ persistence hooks
    def export_state(self) -> dict[str, Any]:
        """Everything ``persistence.save_index`` writes (arrays are not copied)."""
        return {
            "faiss": self._index,
            "ids": self._ids,
            "alive": self._alive,
            "circle": self._circle,
            "quality": self._quality,
            "status": self._status,
            "circles": sorted(self._circle_codes, key=self._circle_codes.__getitem__),
        }

    @classmethod
    def from_state(
        cls,
        *,
        dim: int,
        encoder_version: str,
        config: IndexConfig,
        kind: IndexKind,
        log_seq: int,
        faiss_index: faiss.Index,
        ids: list[str],
        alive: np.ndarray,
        circle: np.ndarray,
        quality: np.ndarray,
        status: np.ndarray,
        circles: list[str],
    ) -> VectorIndex:
        """Reassemble an index from saved parts (``persistence.load_index`` checks them)."""
        n = len(ids)
        if (
            faiss_index.ntotal != n
            or faiss_index.d != dim
            or any(len(a) != n for a in (alive, circle, quality, status))
        ):
            raise ValueError(
                f"inconsistent index parts: {faiss_index.ntotal} vectors of dim "
                f"{faiss_index.d}, {n} ids, arrays of {len(alive)}/{len(circle)}/"
                f"{len(quality)}/{len(status)}"
            )
        index = cls(dim, encoder_version, config)
        index.kind = kind
        index.log_seq = log_seq
        index._index = faiss_index
        if kind == "hnsw":
            faiss_index.hnsw.efSearch = config.ef_search
        index._ids = ids
        index._alive = alive.astype(bool)
        index._circle = circle.astype(np.int32)
        index._quality = quality.astype(np.float32)
        index._status = status.astype(np.int8)
        index._circle_codes = {name: code for code, name in enumerate(circles)}
        index._slot = {ids[s]: int(s) for s in np.flatnonzero(index._alive)}
        if len(index._slot) != int(index._alive.sum()):
            raise ValueError("duplicate alive post ids in saved index")
        return index

    @classmethod
    def build(
        cls,
        dim: int,
        encoder_version: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metas: Sequence[PostMeta | None] | None = None,
        config: IndexConfig | None = None,
        progress: ProgressFn | None = None,
    ) -> VectorIndex:
        """A fresh index over ``ids``, its type chosen once by the final size."""
        index = cls(dim, encoder_version, config)
        kind = index.config.kind_for(len(ids))
        index.kind = kind
        index._index = index._new_faiss(kind)
        index.add(ids, vectors, metas, progress)
        return index


def _check_ids(ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate post ids in one add")
    for pid in ids:
        if not isinstance(pid, str) or not pid or "\n" in pid or "\r" in pid:
            raise ValueError(f"invalid post id {pid!r} (non-empty string without line breaks)")


def _add_chunked(index: faiss.Index, x: np.ndarray, progress: ProgressFn | None) -> None:
    for start in range(0, len(x), _ADD_CHUNK):
        chunk = x[start : start + _ADD_CHUNK]
        index.add(chunk)
        if progress is not None:
            progress(len(chunk))
