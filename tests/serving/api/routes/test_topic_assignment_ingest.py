"""POST /v1/posts assigns a post without a ``#tag#`` to its circle's nearest topic, in one
request or a batch, and notices a topic hidden meanwhile."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm
from sqlalchemy import select

from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.db import session_factory as make_sessions
from quanzi.storage.orm import PostTopic, Topic

settings = sm.settings
world = sm.world

BATTERY = [
    "#续航# 电池续航很好，充满电用一整天",  # a tag in the text …
    "续航给力，电池一天一充够用",
    "电池耐用，续航比上一台强",
]
CAMERA = ["拍照清楚，夜景拍照也不糊", "拍照效果好，像素高，夜景清楚", "后置拍照清楚，人像拍照自然"]


def _post(pid: str, text: str, *tags: str) -> dict[str, Any]:
    return {"id": pid, "circle_id": "c-phone", "author_id": "u-1", "text": text, "topics": tags}


def _tagged() -> list[dict[str, Any]]:
    """… or given as the field: both make topics and their centroids."""
    return [_post(f"t-{i}", t, "续航") for i, t in enumerate(BATTERY)] + [
        _post(f"t-{i + 3}", t, "拍照") for i, t in enumerate(CAMERA)
    ]


def _links(settings: Settings) -> dict[str, tuple[str, str]]:
    engine = engine_from_settings(settings)
    try:
        with make_sessions(engine)() as s:
            rows = s.execute(
                select(PostTopic.post_id, Topic.name, PostTopic.source).join(
                    Topic, Topic.id == PostTopic.topic_id
                )
            ).all()
        return {p: (name, source) for p, name, source in rows}
    finally:
        engine.dispose()


def _ingest_tagged(api: TestClient, keys: dict) -> None:
    """Serve the small models and store the tagged posts (their topics and centroids)."""
    sm.use_models(api, sm.fake_loader())
    response = api.post("/v1/posts", headers=keys["ingest"], json={"posts": _tagged()})
    assert response.status_code == 200, response.text


def test_untagged_posts_join_their_nearest_topic_at_ingest(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    _ingest_tagged(api, keys)
    # one post a request, then a batch
    one = api.post(
        "/v1/posts", headers=keys["ingest"], json=_post("u-bat", "电池续航怎么样？充一次电用一天")
    )
    assert one.status_code == 200, one.text
    batch = [
        _post("u-cam", "夜景拍照清楚，拍照像素高"),
        _post("u-none", "快递第二天就到了，包装完好"),
    ]
    assert api.post("/v1/posts", headers=keys["ingest"], json={"posts": batch}).status_code == 200
    links = _links(settings)
    assert links["t-0"] == ("续航", "tag")
    assert links["u-bat"] == ("续航", "assigned")
    assert links["u-cam"] == ("拍照", "assigned")
    assert "u-none" not in links  # near no topic: none


def test_a_hidden_topic_takes_no_more_posts_at_ingest(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    _ingest_tagged(api, keys)
    first = _post("u-1st", "电池续航怎么样？充一次电用一天")
    assert api.post("/v1/posts", headers=keys["ingest"], json=first).status_code == 200
    topic_id = next(
        t["id"]
        for t in api.get("/v1/topics?circle_id=c-phone", headers=keys["editor"]).json()
        if t["name"] == "续航"
    )
    assert (
        api.patch(
            f"/v1/topics/{topic_id}", headers=keys["editor"], json={"hidden": True}
        ).status_code
        == 200
    )
    later = _post("u-2nd", "电池续航怎么样？充一次电能用一天吗")
    assert api.post("/v1/posts", headers=keys["ingest"], json=later).status_code == 200
    links = _links(settings)
    assert links["u-1st"] == ("续航", "assigned")
    assert links.get("u-2nd", ("",))[0] != "续航"  # the centroids were rebuilt at once
