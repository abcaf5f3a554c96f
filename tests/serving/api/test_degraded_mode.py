"""Degraded mode: a model that cannot be loaded never stops the service and is never silent.

The service keeps serving — on the last good version or the documented fallback (rule
moderation, null quality/trust, the weighted scorer) — ``/readyz`` says which, every
response carries ``X-Quanzi-Degraded``, and ``/metrics`` counts it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

from quanzi.models.loading import LoadedModels
from quanzi.serving.app import create_app
from quanzi.settings import Settings

settings = sm.settings


def _broken_reload(version: str = "2") -> Any:
    """A loader whose champions all fail to load (as after promoting a corrupt v2)."""

    def load(_settings: Settings) -> LoadedModels:
        why = f"cannot load v{version}: SafetensorError: invalid header"
        return LoadedModels(
            predictors={"moderation": None, "quality": None, "trust": None},
            versions={"moderation": "rules-v1", "quality": "unavailable", "trust": "unavailable"},
            embedder=sm.HashEmbedder(),
            encoder_version="hash-256",
            degraded={"moderation": why, "quality": why, "trust": why},
        )

    return load


def test_a_reload_that_breaks_keeps_the_last_good_models(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(sm.seed_world)
    sm.use_models(api, sm.fake_loader("1"))
    before = api.post("/v1/moderate", headers=keys["ingest"], json={"text": "优惠券进店"})
    assert before.json()["model_versions"] == {"moderation": "1"}
    assert "x-quanzi-degraded" not in before.headers

    api.app.state.quanzi.models.loader = _broken_reload()
    reloaded = api.post("/v1/admin/reload", headers=keys["admin"], json={"wait": True})
    assert reloaded.status_code == 200

    after = api.post("/v1/moderate", headers=keys["ingest"], json={"text": "优惠券进店"})
    assert after.status_code == 200
    assert after.json()["model_versions"] == {"moderation": "1"}  # kept, not the rules
    assert after.json()["decision"] == before.json()["decision"]
    assert after.headers["x-quanzi-degraded"] == "moderation=1, quality=1, trust=1"

    ready = api.get("/readyz").json()
    assert ready["mode"] == "degraded"
    quality = next(d for d in ready["degraded"] if d["model"] == "quality")
    assert quality["serving"] == "v1 (not the champion)"
    assert "cannot load v2" in quality["reason"] and "kept v1 in force" in quality["reason"]

    metrics = api.get("/metrics").text
    assert 'quanzi_model_degraded{model="quality",serving="v1 (not the champion)"} 1.0' in metrics
    assert 'quanzi_degraded_responses_total{route="/v1/moderate"}' in metrics


def test_without_champions_the_service_serves_on_rules_and_says_so(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(sm.seed_world)
    sm.use_models(api, sm.fake_loader(with_models=False))
    answer = api.post("/v1/moderate", headers=keys["ingest"], json={"text": "加我薇信 abc12345"})
    assert answer.status_code == 200
    assert answer.json()["model_versions"] == {"moderation": "rules"}
    assert answer.headers["x-quanzi-degraded"] == (
        "moderation=rules, quality=unavailable, trust=unavailable"
    )
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["mode"] == "degraded"
    serving = {d["model"]: d["serving"] for d in ready.json()["degraded"]}
    assert serving["quality"] == "none: scores are null"
    assert serving["moderation"].endswith("the rule detectors and circle rules")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_mlflow_never_stops_the_service(
    settings: Settings, seed: Any, tmp_path: Path
) -> None:
    """The real loader, a tracking server that does not answer, nothing cached: the first
    request is answered on the fallbacks after one bounded wait."""
    keys = seed(lambda f: {"ingest": _key(f, "ingest")})
    down = Settings(
        data_dir=settings.data_dir,
        env="test",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{_closed_port()}",
        mlflow_timeout_s=1.0,
        encoder=str(sm.build_tiny_encoder(tmp_path / "encoder")),
        encoder_runtime="torch",
    )
    with TestClient(create_app(down)) as client:
        headers = {"Authorization": f"Bearer {keys['ingest']}"}
        answer = client.post("/v1/moderate", headers=headers, json={"text": "加我薇信 abc12345"})
        assert answer.status_code == 200
        assert answer.json()["decision"] in ("review", "reject")  # the rule detectors
        assert "moderation=rules" in answer.headers["x-quanzi-degraded"]
        ready = client.get("/readyz").json()
        assert ready["mode"] == "degraded"
        reasons = {d["model"]: d["reason"] for d in ready["degraded"]}
        assert "MLflow registry unreachable" in reasons["moderation"]
        assert {"moderation", "quality", "trust"} <= set(reasons)


def _key(f: Any, role: str) -> str:
    from quanzi.storage.api_keys import create_key

    return create_key(f.session, role, role)[1]
