"""The FAISS vector index: one per encoder version, persisted, filtered, kept in sync."""

from quanzi.models.index.filters import PostMeta, SearchFilter
from quanzi.models.index.persistence import (
    IndexCorruptError,
    IndexLoadError,
    IndexMissingError,
    load_index,
    load_or_rebuild,
    save_index,
)
from quanzi.models.index.sync import (
    IndexSync,
    StoreReader,
    log_changes,
    reconcile,
    write_embeddings,
)
from quanzi.models.index.vector_index import IndexConfig, VectorIndex, configure_threads

__all__ = [
    "IndexConfig",
    "IndexCorruptError",
    "IndexLoadError",
    "IndexMissingError",
    "IndexSync",
    "PostMeta",
    "SearchFilter",
    "StoreReader",
    "VectorIndex",
    "configure_threads",
    "load_index",
    "load_or_rebuild",
    "log_changes",
    "reconcile",
    "save_index",
    "write_embeddings",
]
