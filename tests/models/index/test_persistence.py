"""Saving and loading: round trip, atomic generations, clear errors, rebuild on damage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quanzi.models.index import (
    IndexConfig,
    IndexCorruptError,
    IndexMissingError,
    PostMeta,
    SearchFilter,
    VectorIndex,
    load_index,
    load_or_rebuild,
    save_index,
)
from quanzi.models.index.persistence import MANIFEST, read_manifest
from quanzi.settings import Settings

DIM = 8


def _index(kind_max: int = 1000, n: int = 60) -> tuple[VectorIndex, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    metas = [PostMeta(circle_id=f"c{i % 2}", quality=i / n, status="pass") for i in range(n)]
    index = VectorIndex.build(
        DIM,
        "enc-1",
        [f"圈{i}" for i in range(n)],
        x,
        metas,
        IndexConfig(flat_max=kind_max, ef_search=200),
    )
    index.remove(["圈3"])
    index.log_seq = 42
    return index, x


@pytest.mark.parametrize("kind_max", [1000, 10], ids=["flat", "hnsw"])
def test_save_load_round_trip_keeps_ids_metadata_tombstones_and_answers(
    settings: Settings, kind_max: int
) -> None:
    index, x = _index(kind_max)
    manifest = save_index(index, settings.index_dir)
    assert manifest == settings.index_dir / "enc-1" / MANIFEST
    loaded = load_index(settings.index_dir, "enc-1")
    assert loaded.kind == index.kind and loaded.log_seq == 42 and len(loaded) == 59
    assert "圈3" not in loaded and loaded.meta("圈5") == index.meta("圈5")
    flt = SearchFilter.of(circle_id="c1", min_quality=0.2)
    assert loaded.search_batch(x[:10], 5, flt) == index.search_batch(x[:10], 5, flt)
    m = read_manifest(settings.index_dir, "enc-1")
    assert (m["dim"], m["index_type"], m["count"], m["tombstones"]) == (DIM, index.kind, 59, 1)
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())


def test_saving_again_replaces_the_generation_and_leaves_no_stray_files(settings: Settings) -> None:
    index, _ = _index()
    save_index(index, settings.index_dir)
    index.remove(["圈4"])
    save_index(index, settings.index_dir)
    folder = settings.index_dir / "enc-1"
    files = [p for p in folder.iterdir() if not p.name.startswith(".")]  # not the save lock
    assert len(files) == 4  # manifest + one generation's three files
    assert "圈4" not in load_index(settings.index_dir, "enc-1")


def test_missing_index_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(IndexMissingError, match="quanzi index rebuild"):
        load_index(settings.index_dir, "enc-1")


def _damage_manifest(folder: Path) -> None:
    (folder / MANIFEST).write_text("{not json", encoding="utf-8")


def _damage_data_file(folder: Path) -> None:
    name = json.loads((folder / MANIFEST).read_text())["files"]["faiss"]["name"]
    with (folder / name).open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\xff\x00\xff")


def _delete_data_file(folder: Path) -> None:
    name = json.loads((folder / MANIFEST).read_text())["files"]["ids"]["name"]
    (folder / name).unlink()


@pytest.mark.parametrize(
    "damage",
    [_damage_manifest, _damage_data_file, _delete_data_file],
    ids=["manifest", "checksum", "missing-file"],
)
def test_corrupt_index_is_a_clear_error_and_triggers_a_rebuild(settings: Settings, damage) -> None:
    index, x = _index()
    save_index(index, settings.index_dir)
    damage(settings.index_dir / "enc-1")
    with pytest.raises(IndexCorruptError, match="quanzi index rebuild"):
        load_index(settings.index_dir, "enc-1")

    rebuilt, reason = load_or_rebuild(settings.index_dir, "enc-1", lambda: _index()[0])
    assert reason is not None and "rebuild" in reason
    assert len(rebuilt) == 59
    again, reason = load_or_rebuild(
        settings.index_dir, "enc-1", lambda: pytest.fail("a sound index must not be rebuilt")
    )
    assert reason is None and again.search(x[0], 3) == rebuilt.search(x[0], 3)


def test_manifest_of_another_encoder_version_is_refused(settings: Settings) -> None:
    index, _ = _index()
    save_index(index, settings.index_dir)
    (settings.index_dir / "enc-1").rename(settings.index_dir / "enc-2")
    with pytest.raises(IndexCorruptError, match="is for encoder 'enc-1'"):
        load_index(settings.index_dir, "enc-2")


# A worker process at start-up: load the index or rebuild it (a random 59-post index),
# then save it again as the server's workers do after a sync; prints how often it rebuilt.
_WORKER = """
import sys
from pathlib import Path
import numpy as np
from quanzi.models.index import IndexConfig, PostMeta, VectorIndex, load_or_rebuild, save_index

def build():
    x = np.random.default_rng(1).standard_normal((59, 8)).astype(np.float32)
    metas = [PostMeta(circle_id="c0", quality=0.5, status="pass") for _ in range(59)]
    return VectorIndex.build(8, "enc-1", [f"p{i}" for i in range(59)], x, metas, IndexConfig())

rebuilt = 0
for _ in range(6):
    index, reason = load_or_rebuild(Path(sys.argv[1]), "enc-1", build)
    rebuilt += reason is not None
    save_index(index, Path(sys.argv[1]))
print(rebuilt)
"""


def test_worker_processes_saving_at_once_never_break_each_others_index(
    settings: Settings,
) -> None:
    """Three workers that found no index at once: without the save lock one deleted the
    other's fresh generation before it was checksummed (FileNotFoundError at start-up).
    With it, every save completes, the saved index loads, and only one rebuild happens
    (the others load what the first saved)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(settings.index_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert sum(int(out.strip()) for out, _ in outs) == 1
    assert len(load_index(settings.index_dir, "enc-1")) == 59
    folder = settings.index_dir / "enc-1"
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == 4
