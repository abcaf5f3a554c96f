"""Saving and loading an index under ``Settings().index_dir / <encoder_version>/``.

Layout of one version's folder:
- ``manifest.json``: encoder version, dim, type, counts, change-log position, and for each
  data file its name and SHA-256. It is written last, by atomic rename.
- ``<generation>.faiss`` (FAISS's own format), ``<generation>.ids.txt`` (one post id per
  slot, UTF-8), ``<generation>.meta.npz`` (alive, circle, quality, status arrays; loaded
  with ``allow_pickle=False``), where ``generation`` is unique per save.

Crash safety: a save writes new generation files (each via temp file + rename), then
replaces the manifest atomically, then deletes older generations. Saves hold a file lock
(``.save.lock`` in the version's folder): the server's worker processes start together and
may each rebuild a missing index, and without the lock one worker's clean-up deleted the
other's new generation before it was checksummed (a worker then served without an index).
A load that fails takes the lock and tries again before it rebuilds, so the second worker
loads what the first one saved. A crash at any point
leaves either the old manifest with its intact files or the new one with its files; a
manifest whose files are missing or fail their checksum raises ``IndexCorruptError``, whose
message says to run ``quanzi index rebuild`` (``load_or_rebuild`` does that itself).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from filelock import FileLock

from quanzi.models.index.vector_index import IndexConfig, VectorIndex

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SAVE_LOCK = ".save.lock"  # a dot name: the clean-up of old generations never deletes it
log = logging.getLogger(__name__)


class IndexLoadError(RuntimeError):
    """The saved index cannot be used; the message says why and what to run."""


class IndexMissingError(IndexLoadError):
    """No index has been saved for this encoder version."""


class IndexCorruptError(IndexLoadError):
    """The saved index is unreadable, incomplete or fails its checksums."""


def index_path(index_dir: Path, encoder_version: str) -> Path:
    """The folder holding one encoder version's index."""
    return index_dir / encoder_version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same folder, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_lock(index_dir: Path, encoder_version: str) -> FileLock:
    """The lock every save of this version's index holds (across processes)."""
    folder = index_path(index_dir, encoder_version)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / SAVE_LOCK)


def save_index(index: VectorIndex, index_dir: Path) -> Path:
    """Persist ``index`` atomically (one save at a time); returns the manifest path."""
    with save_lock(index_dir, index.encoder_version):
        return _save_locked(index, index_dir)


def _save_locked(index: VectorIndex, index_dir: Path) -> Path:
    folder = index_path(index_dir, index.encoder_version)
    generation = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    with index._lock:  # a consistent snapshot: no mutation between the parts
        state = index.export_state()
        stats = index.stats()
        files = {
            "faiss": f"{generation}.faiss",
            "ids": f"{generation}.ids.txt",
            "meta": f"{generation}.meta.npz",
        }
        _atomic_write(folder / files["faiss"], lambda p: faiss.write_index(state["faiss"], str(p)))
        _atomic_write(
            folder / files["ids"],
            lambda p: p.write_text("".join(f"{pid}\n" for pid in state["ids"]), encoding="utf-8"),
        )

        def write_meta(p: Path) -> None:
            with p.open("wb") as fh:
                np.savez(
                    fh,
                    alive=state["alive"],
                    circle=state["circle"],
                    quality=state["quality"],
                    status=state["status"],
                )

        _atomic_write(folder / files["meta"], write_meta)
    manifest = {
        "format_version": FORMAT_VERSION,
        "encoder_version": index.encoder_version,
        "dim": index.dim,
        "index_type": stats["kind"],
        "count": stats["count"],
        "slots": stats["slots"],
        "tombstones": stats["tombstones"],
        "log_seq": index.log_seq,
        "config": {k: getattr(index.config, k) for k in index.config.__dataclass_fields__},
        "circles": state["circles"],
        "files": {
            role: {"name": name, "sha256": _sha256(folder / name)} for role, name in files.items()
        },
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    manifest_path = folder / MANIFEST
    _atomic_write(
        manifest_path,
        lambda p: p.write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        ),
    )
    keep = {entry["name"] for entry in manifest["files"].values()} | {MANIFEST}
    for old in folder.iterdir():
        if old.is_file() and old.name not in keep and not old.name.startswith("."):
            old.unlink(missing_ok=True)
    return manifest_path


def read_manifest(index_dir: Path, encoder_version: str) -> dict[str, Any]:
    """The manifest of a saved index; raises a clear IndexLoadError when absent or unreadable."""
    path = index_path(index_dir, encoder_version) / MANIFEST
    if not path.exists():
        raise IndexMissingError(
            f"no index for encoder version {encoder_version!r} at {path.parent}; "
            "run `quanzi index rebuild` to build it from the store"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
        for key in ("format_version", "encoder_version", "dim", "index_type", "files"):
            if key not in manifest:
                raise ValueError(f"missing key {key!r}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(
            f"index manifest {path} is unreadable ({exc}); run `quanzi index rebuild`"
        ) from exc
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {path.parent} has format {manifest['format_version']}, this code reads "
            f"{FORMAT_VERSION}; run `quanzi index rebuild`"
        )
    if manifest["encoder_version"] != encoder_version:
        raise IndexCorruptError(
            f"index at {path.parent} is for encoder {manifest['encoder_version']!r}, not "
            f"{encoder_version!r}; run `quanzi index rebuild`"
        )
    return manifest


def load_index(
    index_dir: Path, encoder_version: str, config: IndexConfig | None = None, verify: bool = True
) -> VectorIndex:
    """Load a saved index, checking every file's checksum (``verify``) and consistency."""
    manifest = read_manifest(index_dir, encoder_version)
    folder = index_path(index_dir, encoder_version)
    paths = {}
    for role in ("faiss", "ids", "meta"):
        entry = manifest["files"].get(role)
        path = folder / entry["name"] if entry else None
        if path is None or not path.exists():
            raise IndexCorruptError(
                f"index at {folder} lacks its {role} file; run `quanzi index rebuild`"
            )
        if verify and _sha256(path) != entry["sha256"]:
            raise IndexCorruptError(
                f"index file {path} fails its checksum (damaged or "
                "partially written); run `quanzi index rebuild`"
            )
        paths[role] = path
    saved = manifest.get("config", {})
    config = config or IndexConfig(
        **{k: v for k, v in saved.items() if k in IndexConfig.__dataclass_fields__}
    )
    try:
        faiss_index = faiss.read_index(str(paths["faiss"]))  # already the concrete class
        expected = faiss.IndexHNSWFlat if manifest["index_type"] == "hnsw" else faiss.IndexFlat
        if not isinstance(faiss_index, expected):
            raise ValueError(
                f"{paths['faiss'].name} holds a {type(faiss_index).__name__}, "
                f"manifest says {manifest['index_type']}"
            )
        ids = paths["ids"].read_text(encoding="utf-8").split("\n")[:-1]
        with np.load(paths["meta"], allow_pickle=False) as meta:
            arrays = {name: meta[name] for name in ("alive", "circle", "quality", "status")}
        return VectorIndex.from_state(
            dim=int(manifest["dim"]),
            encoder_version=encoder_version,
            config=config,
            kind=manifest["index_type"],
            log_seq=int(manifest.get("log_seq", 0)),
            faiss_index=faiss_index,
            ids=ids,
            circles=list(manifest.get("circles", [])),
            **arrays,
        )
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        if isinstance(exc, IndexLoadError):
            raise
        raise IndexCorruptError(
            f"index at {folder} cannot be read ({exc}); run `quanzi index rebuild`"
        ) from exc


def load_or_rebuild(
    index_dir: Path,
    encoder_version: str,
    rebuild: Callable[[], VectorIndex],
    config: IndexConfig | None = None,
) -> tuple[VectorIndex, str | None]:
    """Load the saved index; when it is missing or corrupt, rebuild it and save it.

    Returns the index and, when a rebuild happened, the reason (the load error message),
    so the caller can log it: a worker never refuses to start over a damaged index file.
    """
    try:
        return load_index(index_dir, encoder_version, config), None
    except IndexLoadError:
        pass
    with save_lock(index_dir, encoder_version):
        try:  # another process may have saved it while this one waited for the lock
            return load_index(index_dir, encoder_version, config), None
        except IndexLoadError as exc:
            log.warning("rebuilding the index: %s", exc)
            index = rebuild()
            _save_locked(index, index_dir)
            return index, str(exc)
