"""POST /v1/feed/rank behind real API keys, on a small seeded circle."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from quanzi.models.ranking.params import assign_arm
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key

URL = "/v1/feed/rank"


@pytest.fixture
def feed(seed) -> dict:
    """Viewer v with friend u_friend; posts by the friend, strangers and a merchant."""

    def build(f):
        circle = f.circle(id="c1")
        f.circle(id="c2")
        viewer = f.user(id="v")
        friend = f.user(id="u_friend")
        strangers = [f.user(id=f"u_s{i}") for i in range(4)]
        merchant = f.user(id="u_merchant", kind="merchant")
        f.friends(viewer, friend)
        posts = {"p_friend": f.post(circle, friend, id="p_friend")}
        for i, s in enumerate(strangers):
            posts[f"p_s{i}"] = f.post(circle, s, id=f"p_s{i}")
        posts["p_promo"] = f.post(circle, merchant, id="p_promo")
        posts["p_hidden"] = f.post(circle, strangers[0], id="p_hidden")
        posts["p_review"] = f.post(circle, strangers[1], id="p_review", status="review")
        for pid in ("p_friend", "p_s0", "p_s1", "p_s2", "p_s3", "p_hidden"):
            f.score(
                posts[pid], model_name="trust", model_version="3", score=None, payload={"level": 3}
            )
        f.interaction(viewer, posts["p_hidden"], "impression")
        f.interaction(viewer, posts["p_hidden"], "hide")
        as_of = f.tick() + timedelta(hours=1)
        return {
            "as_of": as_of.isoformat(),
            "feed": {"Authorization": f"Bearer {create_key(f.session, 'feed-service')[1]}"},
            "editor": {"Authorization": f"Bearer {create_key(f.session, 'editor')[1]}"},
        }

    return seed(build)


@pytest.fixture
def api(settings: Settings, feed: dict) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _rank(api: TestClient, feed: dict, **body) -> dict:
    body = {"viewer_id": "v", "circle_id": "c1", "as_of": feed["as_of"], **body}
    response = api.post(URL, json=body, headers=feed["feed"])
    assert response.status_code == 200, response.text
    return response.json()


def test_rank_feed_lifts_friend_post_to_l1_and_says_why(api, feed) -> None:
    body = _rank(api, feed)
    items = {i["post_id"]: i for i in body["items"]}
    assert items["p_friend"]["trust_level"] == 1
    assert items["p_s0"]["trust_level"] == 3
    assert items["p_promo"]["trust_level"] == 5  # a merchant account: L5, never lifted
    assert body["items"][0]["post_id"] == "p_friend"
    assert all(1 <= len(i["reasons"]) <= 3 for i in body["items"])
    assert len(body["request_id"]) == 32
    assert body["model_versions"]["trust"] == "3"
    assert body["model_versions"]["quality"] == "unavailable"


def test_hidden_and_unmoderated_posts_are_never_returned(api, feed) -> None:
    ids = [i["post_id"] for i in _rank(api, feed)["items"]]
    assert "p_hidden" not in ids and "p_review" not in ids
    given = _rank(api, feed, candidate_ids=["p_hidden", "p_review", "p_s1"], exclude_seen=False)
    assert [i["post_id"] for i in given["items"]] == ["p_s1"]
    assert given["removed"]["negative_feedback"] == 1 and given["removed"]["moderation"] == 1


def test_given_candidates_limit_and_exclude_ids_are_honoured(api, feed) -> None:
    body = _rank(
        api,
        feed,
        candidate_ids=["p_s0", "p_s1", "p_s2", "p_s3", "unknown"],
        exclude_ids=["p_s2"],
        limit=2,
    )
    ids = [i["post_id"] for i in body["items"]]
    assert len(ids) == 2 and "p_s2" not in ids and set(ids) <= {"p_s0", "p_s1", "p_s3"}
    assert all(i["source"] == "given" for i in body["items"])


def test_arm_is_deterministic_and_returned(api, feed) -> None:
    arms = {_rank(api, feed, viewer_id=f"viewer-{i}")["arm"] for i in range(3)}
    assert arms <= {"control", "fresh"}
    for viewer in ("v", "viewer-7"):
        first = _rank(api, feed, viewer_id=viewer)["arm"]
        assert first == _rank(api, feed, viewer_id=viewer)["arm"] == assign_arm(viewer).name


def test_unknown_viewer_is_ranked_cold_start(api, feed) -> None:
    body = _rank(api, feed, viewer_id="never-seen")
    assert body["items"] and all(i["trust_level"] != 1 for i in body["items"])


def test_unknown_circle_is_404(api, feed) -> None:
    response = api.post(URL, json={"viewer_id": "v", "circle_id": "nope"}, headers=feed["feed"])
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"viewer_id": "v", "circle_id": "c1", "limit": 0}, "greater than or equal to 1"),
        ({"viewer_id": "v", "circle_id": "c1", "limit": 201}, "less than or equal to 200"),
        ({"viewer_id": "v", "circle_id": "c1", "candidate_ids": ["p"] * 2001}, "at most 2000"),
        (
            {"viewer_id": "v", "circle_id": "c1", "params": {"w_qualty": 1}},
            "unknown ranking params",
        ),
        ({"viewer_id": "v", "circle_id": "c1", "params": {"w_quality": -1}}, "greater than or eq"),
        ({"viewer_id": "v", "circle_id": "c1", "phase": "someday"}, "warmup"),
        ({"viewer_id": "", "circle_id": "c1"}, "at least 1 character"),
        ({"circle_id": "c1"}, "Field required"),
        ({"viewer_id": "v", "circle_id": "c1", "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_requests_are_422_saying_what_is_wrong(api, feed, body, message) -> None:
    response = api.post(URL, json=body, headers=feed["feed"])
    assert response.status_code == 422
    assert message in json.dumps(response.json()["detail"])


def test_param_overrides_change_the_ranking(api, feed) -> None:
    plain = _rank(api, feed)
    no_trust = _rank(api, feed, params={"w_trust": 0.0, "w_freshness": 0.0, "w_quality": 0.0})
    friend = next(i for i in plain["items"] if i["post_id"] == "p_friend")
    friend2 = next(i for i in no_trust["items"] if i["post_id"] == "p_friend")
    assert friend2["score"] < friend["score"]


def test_no_key_is_401_and_wrong_role_is_403(api, feed) -> None:
    body = {"viewer_id": "v", "circle_id": "c1"}
    assert api.post(URL, json=body).status_code == 401
    response = api.post(URL, json=body, headers=feed["editor"])
    assert response.status_code == 403
    assert "feed-service" in response.json()["detail"]


def test_each_served_list_is_logged_with_its_request_id(api, feed, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="quanzi.feed.served"):
        body = _rank(api, feed)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "quanzi.feed.served"]
    assert lines[-1]["request_id"] == body["request_id"]
    assert lines[-1]["viewer_id"] == "v" and lines[-1]["arm"] == body["arm"]
    assert lines[-1]["post_ids"] == [i["post_id"] for i in body["items"]]


@pytest.fixture
def fast_answers(monkeypatch) -> list[bool]:
    """Records, per feed request, whether the fast path answered it (True) or the route."""
    from quanzi.serving.api.feed_fast_path import FeedFastPath

    seen: list[bool] = []
    real = FeedFastPath._answer

    def spy(self, scope, body):
        payload = real(self, scope, body)
        seen.append(payload is not None)
        return payload

    monkeypatch.setattr(FeedFastPath, "_answer", spy)
    return seen


def test_the_fast_path_answers_like_the_route(api, feed, fast_answers) -> None:
    slow = _rank(api, feed)  # first: the key and the viewer are not cached yet → the route
    fast = _rank(api, feed)
    assert fast_answers == [False, True]
    for body in (slow, fast):
        body.pop("request_id")
    assert fast == slow
    metrics = api.get("/metrics").text  # both counted under the route's template
    assert 'quanzi_requests_total{method="POST",route="/v1/feed/rank",status="200"} 2.0' in metrics


def test_the_fast_path_leaves_every_error_to_the_route(api, feed, fast_answers) -> None:
    _rank(api, feed)  # the feed key and the viewer are cached from here on
    bad = {"viewer_id": "v", "circle_id": "c1", "limit": 0}
    assert api.post(URL, json=bad, headers=feed["feed"]).status_code == 422
    unknown = {"viewer_id": "v", "circle_id": "nope", "as_of": feed["as_of"]}
    assert api.post(URL, json=unknown, headers=feed["feed"]).status_code == 404
    body = {"viewer_id": "v", "circle_id": "c1", "as_of": feed["as_of"]}
    for _ in range(2):  # the editor key gets cached by the first 403: still 403
        assert api.post(URL, json=body, headers=feed["editor"]).status_code == 403
    assert api.post(URL, content=b"{not json", headers=feed["feed"]).status_code == 422
    assert fast_answers[0] is False and not any(fast_answers[1:])
