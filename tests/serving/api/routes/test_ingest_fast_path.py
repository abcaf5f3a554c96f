"""POST /v1/posts answered below FastAPI (``ingest_fast_path.py``) answers as the route does:
the same results, headers, errors and metrics; what it declines reaches the route."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

from quanzi.serving.api.ingest_fast_path import IngestFastPath

settings = sm.settings
world = sm.world
TEXT = "用了两周，保湿效果很好，冬天脸不干，味道淡淡的，分量也足，推荐干皮姐妹入手"


def _post(pid: str, text: str = TEXT, **kw: Any) -> dict[str, Any]:
    return {"id": pid, "circle_id": "c-beauty", "author_id": "u-1", "text": text, **kw}


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``seen``: per ingest request, whether the fast path answered it; set ``decline`` to
    send the next requests to the route."""
    record: dict[str, Any] = {"seen": [], "decline": False}
    real = IngestFastPath.respond

    async def spy(self: IngestFastPath, scope: Any, body: bytes, receive: Any, send: Any) -> bool:
        done = False if record["decline"] else await real(self, scope, body, receive, send)
        record["seen"].append(done)
        return done

    monkeypatch.setattr(IngestFastPath, "respond", spy)
    return record


def test_the_fast_path_answers_like_the_route(
    api: TestClient, keys: dict, world: dict, answered: dict
) -> None:
    sm.use_models(api, sm.fake_loader("7"))
    warm = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-0", "口红颜色很正，显白"))
    assert warm.status_code == 200  # the key was not cached yet: the route answered
    first = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1"))
    answered["decline"] = True
    by_route = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1"))
    answered["decline"] = False
    by_fast = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1"))
    assert answered["seen"] == [False, True, False, True]
    for response in (first, by_route, by_fast):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-quanzi-batch-posts"] == "1"
    assert by_fast.json() == by_route.json()  # both replay the stored post
    stored = first.json()
    assert (stored["stored"], stored["replayed"]) == (1, 0)
    assert stored["results"][0] == {**by_route.json()["results"][0], "replayed": False}
    metrics = api.get("/metrics").text  # every answer counted under the route's template
    assert 'quanzi_requests_total{method="POST",route="/v1/posts",status="200"} 4.0' in metrics


def test_errors_are_the_routes_errors(
    api: TestClient, keys: dict, world: dict, answered: dict
) -> None:
    sm.use_models(api, sm.fake_loader("7"))
    assert api.post("/v1/posts", headers=keys["ingest"], json=_post("p-0")).status_code == 200
    unknown = _post("p-2", circle_id="nope")
    fast = api.post("/v1/posts", headers=keys["ingest"], json=unknown)  # raised in the batch
    answered["decline"] = True
    route = api.post("/v1/posts", headers=keys["ingest"], json=unknown)
    answered["decline"] = False
    assert answered["seen"][1:] == [True, False]
    assert fast.status_code == route.status_code == 404
    assert fast.json() == route.json() and "nope" in fast.json()["detail"]
    other = _post("p-0", "换了别的内容")  # the same id, other content
    conflict = api.post("/v1/posts", headers=keys["ingest"], json=other)
    assert conflict.status_code == 409 and answered["seen"][-1] is True
    # Declined, so answered by the route: an invalid body, and a key of another role.
    assert api.post("/v1/posts", headers=keys["ingest"], json={"id": "x"}).status_code == 422
    for _ in range(2):  # the editor key is cached after its first 403: still the route's 403
        assert api.post("/v1/posts", headers=keys["editor"], json=_post("p-3")).status_code == 403
    assert answered["seen"][-3:] == [False, False, False] and len(answered["seen"]) == 7
    bad = api.post(
        "/v1/posts",
        headers=keys["ingest"] | {"content-type": "application/json"},
        content=b"{not json",
    )
    assert bad.status_code == 422 and answered["seen"].pop() is False
    # A JSON body not said to be JSON never reaches the fast path: the route's 422.
    body = json.dumps(_post("p-4"), ensure_ascii=False).encode()
    for kind in ({"content-type": "text/plain"}, {}):
        plain = api.post("/v1/posts", headers=keys["ingest"] | kind, content=body)
        assert plain.status_code == 422, plain.text
    assert len(answered["seen"]) == 7
    said = api.post(
        "/v1/posts",
        headers=keys["ingest"] | {"content-type": "application/json; charset=utf-8"},
        content=body,
    )
    assert said.status_code == 200 and answered["seen"][-1] is True
