"""The model registry: degraded loading, content-addressed encoder versions, atomic swaps,
reload requests reaching other workers."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from quanzi_tests import serving_models as sm

from quanzi.models.loading import LoadedModels, encoder_version, load_models
from quanzi.serving.worker_models import ModelRegistry, ModelSet, keep_last_good
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, upgrade_schema


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny sentence-transformers encoder (16-d output)."""
    return sm.build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


def test_fresh_data_dir_degrades_without_creating_an_mlflow_store(settings: Settings) -> None:
    broken = settings.model_copy(update={"encoder": str(settings.data_dir / "no-such-model")})
    loaded = load_models(broken)
    assert loaded.predictors == {"moderation": None, "quality": None, "trust": None}
    assert loaded.versions == {
        "moderation": "rules",
        "quality": "unavailable",
        "trust": "unavailable",
    }
    assert set(loaded.degraded) == {"moderation", "quality", "trust", "encoder"}
    assert "quanzi train quality" in loaded.degraded["quality"]
    assert loaded.embedder is None
    assert not (settings.data_dir / "mlflow.db").exists()


def test_configured_encoder_loads_and_embeds_unit_vectors(
    settings: Settings, tiny_encoder: Path
) -> None:
    loaded = load_models(settings.model_copy(update={"encoder": str(tiny_encoder)}))
    assert "encoder" not in loaded.degraded
    assert loaded.embedder is not None and loaded.embedder.dim == 16
    vectors = loaded.embedder(["保湿面霜", "手机续航"])
    assert vectors.shape == (2, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert loaded.encoder_version == encoder_version(
        settings.model_copy(update={"encoder": str(tiny_encoder)})
    )


def test_encoder_version_follows_the_weights(settings: Settings, tmp_path: Path) -> None:
    model = tmp_path / "my encoder"
    model.mkdir()
    (model / "modules.json").write_text("[]")
    (model / "weights.bin").write_bytes(b"\x00" * 64)
    configured = settings.model_copy(update={"encoder": str(model)})
    first = encoder_version(configured)
    assert first == encoder_version(configured)  # every worker derives the same
    assert first.startswith("my-encoder-") and "/" not in first
    (model / "weights.bin").write_bytes(b"\x01" * 64)
    assert encoder_version(configured) != first


def test_a_reload_request_reaches_another_worker(settings: Settings) -> None:
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    first = ModelRegistry(settings, engine, loader=sm.fake_loader("1"))
    second = ModelRegistry(settings, engine, loader=sm.fake_loader("1"))
    try:
        assert second.current().generation == 1
        second.start_watching(interval_s=0.05)
        second.loader = sm.fake_loader("2")
        first.request_reload_everywhere(by="test")
        deadline = time.monotonic() + 10
        while second.current().generation < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert second.current().model_versions()["quality"] == "2"
        assert second.status.trigger == "another worker"
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_first_load_failure_serves_an_all_degraded_set(settings: Settings) -> None:
    upgrade_schema(settings)
    engine = engine_from_settings(settings)

    def broken(_settings: Settings) -> None:
        raise RuntimeError("disk on fire")

    registry = ModelRegistry(settings, engine, loader=broken)  # type: ignore[arg-type]
    try:
        models = registry.current()
        assert models.predictors == {"moderation": None, "quality": None, "trust": None}
        assert "disk on fire" in models.degraded["encoder"]
        assert registry.status.state == "failed"
    finally:
        registry.close()
        engine.dispose()


def _model_set(predictors: dict, versions: dict, encoder_version: str | None):  # type: ignore[no-untyped-def]
    return ModelSet(
        generation=1,
        predictors=predictors,
        versions=versions,
        embedder=(lambda texts: np.zeros((len(texts), 4))) if encoder_version else None,
        encoder_version=encoder_version,
        index_sync=None,
        degraded={},
        loaded_at=datetime.now(UTC),
    )


class _VectorModel:
    """A predictor reading the encoder's vectors, trained on ``encoder_version``'s."""

    uses_vectors = True

    def __init__(self, encoder_version: str) -> None:
        self.encoder_version = encoder_version


def test_a_failed_reload_keeps_a_vector_model_only_for_the_encoder_it_was_trained_on() -> None:
    trained = _VectorModel("enc-a1b2c3d4e5f6")  # the runtime suffix may differ: same encoder
    old = _model_set(
        {"quality": trained, "moderation": None, "trust": None},
        {"quality": "3"},
        "enc-a1b2c3d4e5f6-onnx-int8",
    )

    def reload(encoder_version: str) -> LoadedModels:
        loaded = LoadedModels(
            {"quality": None, "moderation": None, "trust": None},
            {"quality": "unavailable"},
            lambda texts: np.zeros((len(texts), 4)),
            encoder_version,
            {"quality": "quanzi-quality: trained on another encoder's vectors"},
        )
        keep_last_good(loaded, old)
        return loaded

    same = reload("enc-a1b2c3d4e5f6-torch")
    assert same.predictors["quality"] is trained and same.versions["quality"] == "3"
    assert "kept v3 in force" in same.degraded["quality"]
    other = reload("enc-ffffffffffff-onnx-int8")  # a new encoder: the old head would misread
    assert other.predictors["quality"] is None and other.versions["quality"] == "unavailable"
    assert "not kept" in other.degraded["quality"]
    assert "quanzi train quality" in other.degraded["quality"]
