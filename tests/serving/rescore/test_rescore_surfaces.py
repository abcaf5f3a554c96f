"""A rescore's changed decisions reach every surface the way an editor's decision does.

Posts are ingested under an old, lenient moderation champion (version 0 passes all), one
of them was rejected by it; then ``rescore_batch`` runs with version 2
(``tests/utils/rescore_models.py``), which rejects an offensive post and passes the
rejected one. The served app must then drop the newly rejected post from the feed, the
hot list, banner picks, a published collection's served view (flagged, not deleted, in
the editor's view) and collection suggestions, and admit the newly passed one — and an
editor's reject in the review queue must take the same path (a change-log entry that the
workers' feed snapshots follow within their refresh interval).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import console_world as cw
from quanzi_tests import rescore_models as rm
from quanzi_tests import serving_models as sm
from sqlalchemy import select

from quanzi.serving.editorial.status_changes import set_statuses
from quanzi.serving.rescore.local import Job, run_local
from quanzi.serving.rescore.plan import Selection, plan_run
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import engine_from_settings, session_factory
from quanzi.storage.orm import IndexChange, Interaction, Post, ReviewItem, User

OLD = {**rm.V1, "moderation": "0"}  # the lenient champion the posts were ingested under
NEW = {**rm.V1, "moderation": "2"}  # the newly promoted one (same encoder: no re-embedding)
COLLECTED = ("p-keep", "p-bad")  # the published collection's items
REFRESH_MS = 50
VISIBLE_WITHIN_S = 10.0  # the refresh interval plus a loaded CI machine's slack

POSTS = {  # certified creator (L2), long enough for quality tier ≥ 2
    "p-keep": "这款保湿面霜质地轻薄，冬天用脸不干，保湿效果能维持一整天，干皮姐妹可以放心入手",
    "p-bad": "这个面霜真的傻，不过保湿效果还行，冬天涂了脸不干，价格也还可以接受，会再看看",
    "p-back": "口红颜色很正很显白，薄涂厚涂都好看，持久度一般，吃完饭需要补一次妆，整体满意",
    "p-more": "唇釉颜色好看但是有点拔干，需要先涂润唇膏打底，持久度还不错的一款，值得一试的",
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    return Settings(
        data_dir=data_dir,
        env="test",
        index_sync_interval_ms=REFRESH_MS,
        feed_refresh_interval_ms=REFRESH_MS,
    )


@pytest.fixture
def served(
    client: TestClient, settings: Settings, seed: Callable[[Callable[[Any], Any]], Any]
) -> TestClient:
    """The demo state before the rescore: posts ingested under version 0, ``p-back``
    rejected by it, engagement for the hot list, a published collection holding ``p-bad``."""
    seed(sm.seed_world)
    sm.use_models(client, lambda s: rm.load_test_versions(s, OLD))
    body = {
        "posts": [
            {"id": pid, "circle_id": "c-beauty", "author_id": "u-creator", "text": text}
            for pid, text in POSTS.items()
        ]
    }
    response = client.post("/v1/posts", json=body)
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"pass"}
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine).begin() as session:
            set_statuses(session, {"p-back": "reject"})  # what version 0 decided of it
            fan = session.get(User, "u-1")
            assert fan is not None
            recent = datetime.now(UTC) - timedelta(hours=1)
            for pid in POSTS:
                for _ in range(3):
                    session.add_all(_likes(fan.id, pid, recent))
    finally:
        engine.dispose()
    sm.wait_indexed(client, [p for p in POSTS if p != "p-back"])  # a reject leaves the index
    published = client.post(
        "/v1/collections",
        json={"circle_id": "c-beauty", "title": "冬季保湿", "post_ids": list(COLLECTED)},
    ).json()
    assert client.post(f"/v1/collections/{published['id']}/publish").status_code == 200
    draft = client.post(
        "/v1/collections", json={"circle_id": "c-beauty", "title": "草稿", "post_ids": ["p-keep"]}
    ).json()
    client.app.state.ids = {"published": published["id"], "draft": draft["id"]}  # type: ignore[attr-defined]
    return client


def _editor_key(settings: Settings) -> str:
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine).begin() as session:
            return create_key(session, "editor", "editor-1")[1]
    finally:
        engine.dispose()


def _likes(user_id: str, post_id: str, at: datetime) -> list[Any]:
    return [Interaction(user_id=user_id, post_id=post_id, kind="like", created_at=at)]


def _rescore(settings: Settings, versions: dict[str, str]) -> dict[str, int]:
    engine = engine_from_settings(settings)
    try:
        plan = plan_run(engine, versions, Selection(only_stale=False), block_size=16)
        url = engine.url.render_as_string(hide_password=False)
        job = Job(settings, url, plan, loader=rm.load_test_versions)
        return dict(run_local(job, timeout_s=120).changes)
    finally:
        engine.dispose()


def _surfaces(client: TestClient) -> dict[str, set[str]]:
    """The posts each surface shows now."""
    ids = client.app.state.ids  # type: ignore[attr-defined]
    feed = client.post(
        "/v1/feed/rank",
        json={
            "viewer_id": "u-1",
            "circle_id": "c-beauty",
            "candidate_ids": list(POSTS),
            "limit": 10,
            "exclude_seen": False,
            "params": {"author_cap": 10},
        },
    )
    hot = client.get("/v1/hotlists/c-beauty")
    banner = client.get("/v1/banner/picks", params={"circle_id": "c-beauty", "per_author": 10})
    shown = client.get(f"/v1/collections/{ids['published']}/served")
    suggested = client.get(f"/v1/collections/{ids['draft']}/suggestions", params={"k": 10})
    for r in (feed, hot, banner, shown, suggested):
        assert r.status_code == 200, r.text
    return {
        "feed": {i["post_id"] for i in feed.json()["items"]},
        "hot list": {i["post_id"] for i in hot.json()["items"]},
        "banner picks": {p["post_id"] for g in banner.json()["groups"] for p in g["posts"]},
        "served collection": {i["post_id"] for i in shown.json()["items"]},
        "suggestions": {s["post_id"] for s in suggested.json()["data"]},
    }


def _eventually(
    client: TestClient, check: Callable[[dict[str, set[str]]], list[str]]
) -> dict[str, set[str]]:
    """Surfaces once ``check`` finds nothing wrong (the workers' sync threads follow the
    change log within their refresh interval); fails with what is still wrong."""
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while True:
        now = _surfaces(client)
        wrong = check(now)
        if not wrong:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"after {VISIBLE_WITHIN_S} s: {wrong}")
        time.sleep(REFRESH_MS / 1000)


def _shows(present: str, absent: str | None = None) -> Callable[[dict[str, set[str]]], list[str]]:
    def check(now: dict[str, set[str]]) -> list[str]:
        wrong = [
            f"{name} lacks {present}"
            for name, ids in now.items()
            if present not in ids and (name != "served collection" or present in COLLECTED)
        ]
        return wrong + [f"{name} shows {absent}" for name, ids in now.items() if absent in ids]

    return check


def test_rescored_decisions_leave_and_enter_every_surface(
    served: TestClient, settings: Settings
) -> None:
    _eventually(served, _shows("p-bad", "p-back"))  # before: version 0's decisions

    changes = _rescore(settings, NEW)
    assert changes == {"pass→reject offensive": 1, "reject→pass": 1}

    after = _eventually(served, _shows("p-back", "p-bad"))
    assert after["served collection"] == {"p-keep"}
    ids = served.app.state.ids  # type: ignore[attr-defined]
    # The editor's view keeps the item, flagged; the served view closes the gap.
    editor = served.get(f"/v1/collections/{ids['published']}").json()
    items = {i["post_id"]: i for i in editor["items"]}
    assert [i["post_id"] for i in editor["items"]] == ["p-keep", "p-bad"]
    assert editor["hidden_items"] == 1 and items["p-bad"]["hidden"]
    assert "reject" in items["p-bad"]["flag"] and items["p-keep"]["flag"] is None
    shown = served.get(f"/v1/collections/{ids['published']}/served").json()
    assert [(i["post_id"], i["position"]) for i in shown["items"]] == [("p-keep", 1)]
    listed = served.get("/v1/collections", params={"status": "published"}).json()
    assert listed["data"][0]["hidden_items"] == 1
    # The console flags it too: a warning on the collection, a badge in the list.
    assert cw.sign_in(served, _editor_key(settings)).status_code in (200, 303)
    page = served.get(f"/console/collections/{ids['published']}")
    assert page.status_code == 200 and "hidden from the served collection" in page.text
    assert "1 hidden" in served.get("/console/collections").text

    # The old champion again (a rollback): p-bad passes again and is served in its place.
    _rescore(settings, OLD)
    _eventually(served, _shows("p-bad"))
    shown = served.get(f"/v1/collections/{ids['published']}/served").json()
    assert [i["post_id"] for i in shown["items"]] == ["p-keep", "p-bad"]


def test_a_draft_collection_is_not_served(served: TestClient) -> None:
    ids = served.app.state.ids  # type: ignore[attr-defined]
    response = served.get(f"/v1/collections/{ids['draft']}/served")
    assert response.status_code == 409 and "draft" in response.json()["detail"]


def test_an_editors_reject_takes_the_same_path(served: TestClient, settings: Settings) -> None:
    """A post sent to review, rejected by an editor: logged for the workers like a
    rescore's change, so it leaves the feed within the refresh interval (not the 10 s
    scan for unlogged changes), and the collection holding it flags it."""
    _eventually(served, _shows("p-bad", "p-back"))
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine).begin() as session:
            set_statuses(session, {"p-bad": "review"})  # as ingest would have sent it
            session.add(ReviewItem(post_id="p-bad", circle_id="c-beauty", reasons={}))
        with session_factory(engine)() as session:
            review_id = session.scalar(select(ReviewItem.id).where(ReviewItem.post_id == "p-bad"))
            logged_before = session.scalar(
                select(IndexChange.seq).order_by(IndexChange.seq.desc()).limit(1)
            )
        decided = served.post(
            f"/v1/review/{review_id}/decision",
            json={"decision": "reject", "reason": "骂人", "labels": ["offensive"]},
        )
        assert decided.status_code == 201, decided.text
        assert decided.json()["post_status"] == "reject"
        with session_factory(engine)() as session:
            logged = session.scalars(
                select(IndexChange.post_id).where(IndexChange.seq > logged_before)
            ).all()
            assert logged == ["p-bad"]
            assert session.get(Post, "p-bad").status == "reject"  # type: ignore[union-attr]
    finally:
        engine.dispose()
    now = _eventually(served, lambda s: [n for n, ids in s.items() if "p-bad" in ids])
    assert now["served collection"] == {"p-keep"}
