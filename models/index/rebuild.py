"""Building an index from scratch out of the store (``quanzi index rebuild``, worker startup)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import Engine, select

from quanzi.models.index.persistence import load_or_rebuild
from quanzi.models.index.sync import (
    INDEXABLE_STATUSES,
    IndexSync,
    StoreReader,
    SyncReport,
    write_embeddings,
)
from quanzi.models.index.vector_index import (
    IndexConfig,
    ProgressFn,
    VectorIndex,
    configure_threads,
)
from quanzi.settings import Settings
from quanzi.storage.db import session_factory, session_scope
from quanzi.storage.orm import Post, PostEmbedding

_CHUNK = 5_000


def rebuild_from_store(
    reader: StoreReader,
    config: IndexConfig | None = None,
    dim: int | None = None,
    progress: ProgressFn | None = None,
    fetch_progress: ProgressFn | None = None,
    known: dict[str, np.ndarray] | None = None,
) -> VectorIndex:
    """A fresh index of every indexable post's stored vector; its log cursor = the log head.

    ``known``: vectors the caller already holds (a rescore's per-block shards, the same
    values it stored), so only the others are read back from the store.
    The cursor is read *before* the posts, so a change committed during the rebuild is
    applied again by the next ``IndexSync.sync()`` (applying is idempotent).
    """
    head = reader.max_seq()
    wanted = reader.indexable()
    ids = sorted(wanted)
    vectors = {pid: v for pid, v in (known or {}).items() if pid in wanted}
    todo = [pid for pid in ids if pid not in vectors]
    for start in range(0, len(todo), _CHUNK):
        chunk = todo[start : start + _CHUNK]
        vectors.update(reader.vectors(chunk))
        if fetch_progress is not None:
            fetch_progress(len(chunk))
    ids = [pid for pid in ids if pid in vectors]
    if ids:
        dims = {len(vectors[pid]) for pid in ids}
        if len(dims) != 1:
            raise ValueError(
                f"stored vectors for {reader.encoder_version!r} have mixed "
                f"dimensions {sorted(dims)}; re-embed with one encoder"
            )
        dim = dims.pop()
        matrix = np.stack([vectors[pid] for pid in ids])
    elif dim is None:
        raise ValueError(
            f"no post has an embedding for encoder version "
            f"{reader.encoder_version!r}: nothing to index (pass --vectors/--ids "
            "or embed the posts first)"
        )
    else:
        matrix = np.zeros((0, dim), dtype=np.float32)
    index = VectorIndex.build(
        dim, reader.encoder_version, ids, matrix, [wanted[pid] for pid in ids], config, progress
    )
    index.log_seq = head
    return index


def posts_without_embedding(engine: Engine, encoder_version: str) -> list[tuple[str, str]]:
    """(post id, text) of indexable posts that have no vector for ``encoder_version`` yet."""
    has = select(PostEmbedding.post_id).where(PostEmbedding.encoder_version == encoder_version)
    query = (
        select(Post.id, Post.text)
        .where(Post.status.in_(INDEXABLE_STATUSES))
        .where(Post.id.not_in(has))
        .order_by(Post.id)
    )
    with engine.connect() as conn:
        return [(pid, text) for pid, text in conn.execute(query)]


def import_vectors(
    engine: Engine,
    encoder_version: str,
    ids: Sequence[str],
    vectors: np.ndarray,
    progress: ProgressFn | None = None,
) -> int:
    """Store given vectors for the ids that are posts; returns how many were unknown posts."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
    position = {pid: i for i, pid in enumerate(ids)}
    if len(position) != len(ids):
        raise ValueError("duplicate ids in the ids file")
    known: list[str] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            known += conn.execute(select(Post.id).where(Post.id.in_(chunk))).scalars().all()
    known.sort(key=position.__getitem__)
    factory = session_factory(engine)
    for start in range(0, len(known), _CHUNK):
        chunk = known[start : start + _CHUNK]
        rows = vectors[[position[pid] for pid in chunk]]
        with session_scope(factory) as session:
            write_embeddings(session, encoder_version, chunk, rows)
        if progress is not None:
            progress(len(chunk))
    return len(ids) - len(known)


def embed_missing(
    engine: Engine,
    encoder_version: str,
    embed: Callable[[list[str]], np.ndarray],
    progress: ProgressFn | None = None,
    batch: int = 256,
) -> int:
    """Embed and store the indexable posts that lack a vector; returns how many."""
    todo = posts_without_embedding(engine, encoder_version)
    factory = session_factory(engine)
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        vectors = np.asarray(embed([text for _, text in chunk]), dtype=np.float32)
        with session_scope(factory) as session:
            write_embeddings(session, encoder_version, [pid for pid, _ in chunk], vectors)
        if progress is not None:
            progress(len(chunk))
    return len(todo)


def open_worker_index(
    settings: Settings, engine: Engine, encoder_version: str, dim: int | None = None
) -> tuple[IndexSync, SyncReport, str | None]:
    """What a worker's lifespan runs at startup: load (or rebuild) the index, reconcile it.

    Returns the sync object (call ``run_in_thread()`` then, and ``stop()`` at shutdown),
    what the reconcile changed, and why a rebuild happened (``None`` when the saved index
    loaded). Workers save nothing afterwards: only ``quanzi index rebuild`` and a startup
    rebuild write the index folder, so two workers never race on it.
    """
    configure_threads(settings)
    config = IndexConfig.from_settings(settings)
    reader = StoreReader(engine, encoder_version)
    index, rebuilt = load_or_rebuild(
        settings.index_dir, encoder_version, lambda: rebuild_from_store(reader, config, dim), config
    )
    sync = IndexSync(index, reader, interval_s=settings.index_sync_interval_ms / 1000)
    return sync, sync.startup(), rebuilt
