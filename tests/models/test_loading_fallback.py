"""A champion that cannot be loaded, or a registry that does not answer, falls back to the
last version this data dir loaded, and says so; never an exception, never a long hang."""

from __future__ import annotations

import importlib
import socket
import time
from pathlib import Path

import pytest

from quanzi.models.champions import last_good_version, resolve_champion
from quanzi.models.loading import load_task
from quanzi.settings import Settings
from quanzi.training.pipeline import run_task
from quanzi.training.promotion import promote
from quanzi.training.task_registry import TASKS

fake_tasks = importlib.import_module("quanzi_tests.fake_tasks")


@pytest.fixture
def store(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """An MLflow store with the small ``fake`` task registered: v1 loaded once (the last
    good version), then v2 promoted to champion."""
    fake_tasks.mlflow_store(settings.data_dir, tmp_path_factory.getbasetemp())
    task = fake_tasks.CharCountTask()
    monkeypatch.setitem(TASKS, "fake", task)
    run_task(task, settings, small=True)
    promote(settings, "fake")
    first = load_task(settings, "fake")
    assert (first.version, first.note) == ("1", None)
    run_task(task, settings, small=True)
    promote(settings, "fake", force=True, reason="test: a second champion")
    return settings


def _corrupt(settings: Settings, version: str) -> None:
    """The cached artifact of ``version`` with every file overwritten by garbage."""
    folder = settings.models_dir / "quanzi-fake" / f"v{version}"
    from quanzi.models.champions import download_model_version

    download_model_version(settings, "quanzi-fake", version)
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")


def test_a_corrupt_champion_falls_back_to_the_last_good_version(store: Settings) -> None:
    _corrupt(store, "2")
    got = load_task(store, "fake")
    assert got.version == "1" and got.predictor is not None
    assert "cannot load v2" in got.note and "serving the last good v1" in got.note
    assert got.predictor.predict([{"text": "加我 13912345678"}])[0]["decision"] == "reject"
    assert last_good_version(store, "fake") == "1"  # a failed load never becomes "good"


def test_a_missing_champion_artifact_falls_back_too(store: Settings) -> None:
    folder = store.models_dir / "quanzi-fake" / "v2"
    _corrupt(store, "2")
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (folder / "artifacts" / "model_dir").mkdir(parents=True)  # present but empty
    got = load_task(store, "fake")
    assert got.version == "1" and "serving the last good v1" in got.note


def test_a_healthy_champion_loads_and_becomes_the_last_good(store: Settings) -> None:
    got = load_task(store, "fake")
    assert (got.version, got.note, got.offline) == ("2", None, False)
    assert last_good_version(store, "fake") == "2"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unreachable(settings: Settings) -> Settings:
    """The same data dir with the tracking server on a closed port (new object: the
    resolved URI is cached per settings object)."""
    return Settings(
        data_dir=settings.data_dir,
        env="test",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{_closed_port()}",
        mlflow_timeout_s=1.0,
    )


def test_an_unreachable_registry_serves_the_last_good_version_within_the_timeout(
    store: Settings,
) -> None:
    down = _unreachable(store)
    started = time.monotonic()
    got = load_task(down, "fake")
    assert time.monotonic() - started < 10  # MLflow's own retries take minutes
    assert got.version == "1" and got.offline
    assert "MLflow registry unreachable" in got.note
    again = load_task(down, "fake", offline=True)  # the next task does not ask again
    assert again.version == "1" and "earlier lookup" in again.note


def test_an_unreachable_registry_with_nothing_cached_degrades_without_raising(
    settings: Settings, tmp_path: Path
) -> None:
    down = _unreachable(settings)
    got = load_task(down, "quality")
    assert got.predictor is None and got.offline
    assert "no version of quanzi-quality was ever loaded here" in got.note
    with pytest.raises(OSError, match="unreachable"):
        resolve_champion(down, "quality")
