"""The feed keeps the domain's rules on every path (issue 14), through POST /v1/feed/rank on
a small world: two circles, cross-circle friends, a copy, every brand relation, content
types, and the learned scorer in force."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

from quanzi.models.ranker import LinearRanker
from quanzi.models.ranking.params import assign_arm
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key

URL = "/v1/feed/rank"
VIEWERS = ("v_fan", "v_member", "v_buyer", "v_silent", "v_none")


@pytest.fixture
def world(seed: Any) -> dict[str, Any]:
    """c_shampoo and c_hotels; viewer v_fan has a friend posting in both; a copy in review."""

    def build(f: Any) -> dict[str, Any]:
        shampoo, hotels = f.circle(id="c_shampoo"), f.circle(id="c_hotels")
        viewers = {v: f.user(id=v) for v in VIEWERS}
        friend = f.user(id="u_friend")
        f.friends(viewers["v_fan"], friend)
        f.brand_relation(viewers["v_fan"], shampoo, "fan")
        f.brand_relation(viewers["v_member"], shampoo, "member")
        f.brand_relation(viewers["v_buyer"], shampoo, "past_buyer")
        f.brand_relation(viewers["v_silent"], shampoo, "fan", active=False)
        posts = {
            # (circle, author, content type, verified-like level)
            "p_guide": (shampoo, "u_a", "guide"),
            "p_usage": (shampoo, "u_b", "usage"),
            "p_share": (shampoo, "u_c", "share"),
            "p_friend_here": (shampoo, "u_friend", "share"),
            "p_friend_hotel": (hotels, "u_friend", "share"),
            "p_hotel": (hotels, "u_d", "usage"),
        }
        for pid, (circle, author, ctype) in posts.items():
            user = friend if author == "u_friend" else f.user(id=author)
            post = f.post(circle, user, id=pid, text=f"{pid} 的真实体验")
            f.score(post, model_name="trust", model_version="3", score=None, payload={"level": 3})
            f.score(post, model_name="quality", model_version="2", score=0.7, payload={"tier": 2})
            f.score(
                post, model_name="content_type", model_version="rules-v1", score=None, label=ctype
            )
        copy = f.post(shampoo, f.user(id="u_copier"), id="p_copy", status="review")
        f.score(
            copy,
            model_name="moderation",
            label="pass",
            payload={"decision": "pass", "labels": [], "near_duplicate_of": "p_hotel"},
        )
        return {
            "as_of": (f.tick() + timedelta(hours=1)).isoformat(),
            "feed": {"Authorization": f"Bearer {create_key(f.session, 'feed-service')[1]}"},
        }

    return seed(build)


def _ranker(features: tuple[str, ...], weights: tuple[float, ...]) -> LinearRanker:
    f = len(features)
    return LinearRanker(
        features=features, mean=np.zeros(f), scale=np.ones(f), weights=np.array(weights)
    )


def _api(settings: Settings, ranker: LinearRanker | None) -> TestClient:
    app = create_app(settings)
    client = TestClient(app)
    client.__enter__()
    base = sm.fake_loader()

    def load(s: Settings) -> Any:
        loaded = base(s)
        loaded.ranker = ranker
        return loaded

    sm.use_models(client, load)
    client.app.state.quanzi.models.current()  # load now: the feed reads the ranker by peeking
    return client


@pytest.fixture
def api(settings: Settings, world: dict) -> Iterator[TestClient]:
    """The service with a learned ranker in force (quality and freshness)."""
    client = _api(settings, _ranker(("quality", "fresh_24h"), (1.0, 1.0)))
    yield client
    client.__exit__(None, None, None)


def _rank(api: TestClient, world: dict, expect: int = 200, **body: Any) -> dict:
    body = {"viewer_id": "v_fan", "circle_id": "c_shampoo", "as_of": world["as_of"], **body}
    response = api.post(URL, json=body, headers=world["feed"])
    assert response.status_code == expect, response.text
    return response.json()


# --------------------------------------------------------------------------- scope
def test_a_brand_circles_feed_serves_only_its_own_posts(api: TestClient, world: dict) -> None:
    body = _rank(api, world)
    ids = {i["post_id"] for i in body["items"]}
    assert "p_friend_here" in ids  # the friend's post of this circle, as L1
    assert ids.isdisjoint({"p_friend_hotel", "p_hotel"})  # no other circle's post
    assert "p_copy" not in ids  # the copy waits in review
    assert body["model_versions"]["ranker"].startswith("learned")


def test_given_candidates_keep_to_the_circle_and_unknown_ids_are_reported(
    api: TestClient, world: dict
) -> None:
    body = _rank(
        api, world, candidate_ids=["p_guide", "p_hotel", "p_friend_hotel", "p_never", "p_copy"]
    )
    assert [i["post_id"] for i in body["items"]] == ["p_guide"]
    assert body["removed"]["unknown"] == 1
    assert body["removed"]["other_circle"] == 2
    assert body["removed"]["moderation"] == 1  # the copy in review, not the unknown id


def test_friends_any_circle_lets_the_friends_other_circle_post_in(
    api: TestClient, world: dict
) -> None:
    body = _rank(api, world, params={"friends_any_circle": True})
    items = {i["post_id"]: i for i in body["items"]}
    assert items["p_friend_hotel"]["trust_level"] == 1
    assert "p_hotel" not in items  # only a friend's post may cross


# --------------------------------------------------------------------------- experiments
def test_a_source_param_with_given_candidates_is_refused(api: TestClient, world: dict) -> None:
    body = _rank(
        api, world, expect=422, candidate_ids=["p_guide"], params={"circle_recent_limit": 5}
    )
    assert "cannot apply to this request" in str(body["detail"])
    assert "circle_recent_limit" in str(body["detail"])


def test_score_params_move_the_learned_ranking(api: TestClient, world: dict) -> None:
    plain = _rank(api, world, viewer_id="v_none")
    assert plain["model_versions"]["ranker"].startswith("learned")
    changed = _rank(api, world, viewer_id="v_none", params={"w_quality": 0.0})
    before = {i["post_id"]: i["score"] for i in plain["items"]}
    after = {i["post_id"]: i["score"] for i in changed["items"]}
    assert all(after[p] == pytest.approx(before[p] - 0.7, abs=1e-4) for p in before)
    reasons = {r["feature"] for i in changed["items"] for r in i["reasons"]}
    assert "adjust_quality" in reasons


def test_arms_are_by_viewer_hash_in_the_response_and_in_metrics(
    api: TestClient, world: dict
) -> None:
    arms = [_rank(api, world, viewer_id=v)["arm"] for v in VIEWERS]
    assert arms == [assign_arm(v).name for v in VIEWERS]
    metrics = api.get("/metrics").text
    for arm in set(arms):
        line = f'quanzi_feed_arm_requests_total{{arm="{arm}"}} {float(arms.count(arm))}'
        assert line in metrics


# --------------------------------------------------------------------------- phase
def test_phase_favours_guides_before_the_peak_and_usage_after_it(
    api: TestClient, world: dict
) -> None:
    ids = ["p_guide", "p_usage"]
    before = _rank(api, world, viewer_id="v_none", candidate_ids=ids, phase="preheat")
    after = _rank(api, world, viewer_id="v_none", candidate_ids=ids, phase="after_sales")
    assert [i["post_id"] for i in before["items"]] == ["p_guide", "p_usage"]
    assert [i["post_id"] for i in after["items"]] == ["p_usage", "p_guide"]
    assert before["items"][0]["content_type"] == "guide"
    texts = [r["text"] for r in after["items"][0]["reasons"]]
    assert "usage experience suits the after-sales weeks" in texts


# --------------------------------------------------------------------------- relations
def test_brand_relations_are_features_of_the_learned_ranker(
    settings: Settings, world: dict
) -> None:
    ranker = _ranker(
        ("buyer_x_usage", "fan_x_guide", "silent_x_engagement", "norel_x_quality"),
        (1.0, 1.0, 1.0, 1.0),
    )
    client = _api(settings, ranker)
    try:
        given = ["p_guide", "p_usage", "p_share"]
        params = {"w_content_type": 0.0}
        scores = {
            v: {
                i["post_id"]: i
                for i in _rank(client, world, viewer_id=v, candidate_ids=given, params=params)[
                    "items"
                ]
            }
            for v in VIEWERS
        }
    finally:
        client.__exit__(None, None, None)

    def part(viewer: str, post: str, feature: str) -> float:
        """The feature's contribution to the viewer's score of the post (0: not a reason)."""
        reasons = scores[viewer][post]["reasons"]
        return next((r["contribution"] for r in reasons if r["feature"] == feature), 0.0)

    assert part("v_buyer", "p_usage", "buyer_x_usage") == pytest.approx(1.0)
    assert part("v_fan", "p_usage", "buyer_x_usage") == 0.0
    assert part("v_fan", "p_guide", "fan_x_guide") == pytest.approx(1.0)
    assert part("v_buyer", "p_guide", "fan_x_guide") == 0.0
    assert part("v_none", "p_share", "norel_x_quality") == pytest.approx(0.7)
    assert part("v_member", "p_share", "norel_x_quality") == 0.0
    assert part("v_silent", "p_share", "silent_x_engagement") > 0  # a silent fan
    assert part("v_fan", "p_share", "silent_x_engagement") == 0.0
    why = [r["text"] for r in scores["v_buyer"]["p_usage"]["reasons"]]
    assert "you bought from this brand: experience of using it" in why


# --------------------------------------------------------------------------- explanations
def test_trust_level_and_ranking_reasons_read_as_phrases(api: TestClient, world: dict) -> None:
    items = {i["post_id"]: i for i in _rank(api, world)["items"]}
    friend = items["p_friend_here"]
    assert friend["trust_level"] == 1
    assert friend["trust_reasons"][0] == "friend of the viewer"
    assert items["p_guide"]["trust_reasons"] == ["buyer's first-hand share"]
    for item in items.values():
        for reason in item["reasons"]:
            assert reason["text"] and "_" not in reason["text"]
            assert isinstance(reason["contribution"], float)
    texts = {r["text"] for i in items.values() for r in i["reasons"]}
    assert any(t.startswith("posted ") and t.endswith(" ago") for t in texts)
    assert any("useful" in t and "quality tier 2" in t for t in texts)
