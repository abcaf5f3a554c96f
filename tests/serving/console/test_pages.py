"""The console's pages and what they compute: warnings, queue order, spans, filters, and the
empty, loading and error states an editor must be able to tell apart."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm
from quanzi_tests.console_world import csrf_of

from quanzi.serving.console import views
from quanzi.serving.editorial import review as review_logic
from quanzi.serving.post_ingest.batch import ingest_posts
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.storage.orm import Post

TEXTS = {p[0]: (p[1], p[2]) for p in cw.POSTS}


@pytest.fixture
def world(editor: TestClient) -> TestClient:
    """The console world's posts ingested in the app behind ``editor`` (in process)."""
    state = editor.app.state.quanzi
    models = state.models.current()
    with state.sessions.begin() as db:
        ingest_posts(
            db,
            models,
            [
                PostInput(
                    id=pid,
                    circle_id=cw.CIRCLE,
                    author_id=author,
                    text=text,
                    created_at=cw.DAY - timedelta(days=days),
                )
                for pid, author, text, days in cw.POSTS
            ],
        )
    sm.wait_indexed(editor, [pid for pid in TEXTS if pid != "p-coupon"])
    return editor


def _card(db: Any, post_id: str) -> views.Card:
    return views.cards(db, [post_id])[post_id]


def test_collection_warnings_name_copies_repeated_authors_and_banner_rules(
    world: TestClient,
) -> None:
    state = world.app.state.quanzi
    with state.sessions() as db:
        found = views.cards(db, ["p-dup-a", "p-dup-b", "p-lipstick", "p-ad-1", "p-short"])
        warnings = views.collection_warnings(db, state.models.current(), list(found.values()))
    kinds = {(w.kind, w.post_ids) for w in warnings}
    assert ("near_duplicate", ("p-dup-a", "p-dup-b")) in kinds
    assert ("repeated_author", ("p-dup-a", "p-dup-b")) in kinds
    assert ("banner_rules", ("p-ad-1",)) in kinds  # waiting in review, not passed
    assert ("banner_rules", ("p-short",)) in kinds  # tier 0
    assert not any("p-lipstick" in w.post_ids for w in warnings)
    copy = views.Card(
        post=Post(
            id="p-copy",
            circle_id=cw.CIRCLE,
            author_id="u-8",
            text=found["p-dup-a"].post.text + "！！",
            status="pass",
        ),
        author=None,
    )
    with state.sessions() as db:  # without an encoder, hashed n-grams still see a copy
        without = views.collection_warnings(db, None, [found["p-dup-a"], copy])
    assert [(w.kind, w.post_ids) for w in without] == [
        ("near_duplicate", ("p-dup-a", "p-copy")),
        ("banner_rules", ("p-copy",)),
    ]


def test_review_queue_orders_newest_riskiest_oldest(world: TestClient) -> None:
    with world.app.state.quanzi.sessions() as db:
        newest, total = views.review_queue(db, order="newest")
        oldest, _ = views.review_queue(db, order="oldest")
        riskiest, _ = views.review_queue(db, order="riskiest")
    assert total == 2
    assert [q.card.id for q in newest] == ["p-ad-2", "p-ad-1"]
    assert [q.card.id for q in oldest] == ["p-ad-1", "p-ad-2"]
    assert {q.risk for q in riskiest} == {0.8}
    assert [m.text for m in newest[0].segments if m.mark] == ["进店"]
    assert newest[0].flagged == ["ad"]


def test_risk_is_the_strongest_signal() -> None:
    assert review_logic.risk_of({"labels": [{"prob": 0.4}, {"prob": 0.9}]}) == 0.9
    assert review_logic.risk_of({"labels": [], "near_duplicate_cosine": 0.97}) == 0.97
    assert review_logic.risk_of({}) == 0.0


def test_segments_mark_overlapping_spans_in_the_original_text() -> None:
    spans = [(2, 6, "contact", "vx → 微信"), (4, 8, "ad", "")]
    out = views.segments("加我vx12345好吗", spans)
    assert "".join(s.text for s in out) == "加我vx12345好吗"
    assert [(s.text, s.mark) for s in out] == [
        ("加我", None),
        ("vx", "contact"),
        ("12", "ad contact"),
        ("34", "ad"),
        ("5好吗", None),
    ]
    assert out[1].title == "contact: vx → 微信"


def test_candidate_filters_use_china_days_and_campaign_phases(world: TestClient) -> None:
    with world.app.state.quanzi.sessions() as db:
        card = _card(db, "p-creator")
    created = card.post.created_at  # 2025-11-03 04:00 UTC = 12:00 in China
    assert created == datetime(2025, 11, 3, 4, 0, tzinfo=UTC)
    base = views.CandidateFilters(circle_id=cw.CIRCLE)
    assert base.admits(card)
    assert not views.CandidateFilters(cw.CIRCLE, trust_level="L3").admits(card)
    assert views.CandidateFilters(
        cw.CIRCLE, date_from=date(2025, 11, 3), date_to=date(2025, 11, 3)
    ).admits(card)
    assert not views.CandidateFilters(cw.CIRCLE, date_to=date(2025, 11, 2)).admits(card)
    assert views.CandidateFilters(cw.CIRCLE, phase="preheat").admits(card)
    assert not views.CandidateFilters(cw.CIRCLE, phase="after_sales").admits(card)
    assert not views.CandidateFilters(cw.CIRCLE, min_tier=3).admits(_card_with(card, tier=2))


def _card_with(card: views.Card, **changes: Any) -> views.Card:
    return views.Card(**{**card.__dict__, **changes})


def test_candidates_page_shows_groups_filters_and_search(world: TestClient) -> None:
    page = world.get("/console/candidates", params={"circle_id": cw.CIRCLE})
    assert page.status_code == 200
    assert "Suggested collection" in page.text and "p-creator" in page.text
    assert "p-coupon" not in page.text  # rejected, L5
    partial = world.get(
        "/console/candidates",
        headers={"HX-Request": "true"},
        params={"circle_id": cw.CIRCLE, "trust": "L2"},
    )
    assert "<html" not in partial.text and partial.text.count('class="card"') == 1
    search = world.get("/console/candidates", params={"circle_id": cw.CIRCLE, "q": "口红 显白"})
    assert "Search results" in search.text and "p-lipstick" in search.text
    bad = world.get("/console/candidates", params={"circle_id": cw.CIRCLE, "min_tier": "1"})
    assert bad.status_code == 422 and "Check the input" in bad.text


def test_post_page_shows_spans_scores_and_similar_posts(world: TestClient) -> None:
    page = world.get("/console/posts/p-ad-1")
    assert page.status_code == 200
    assert '<mark class="ad"' in page.text and "band review" in page.text
    similar = world.get("/console/posts/p-dup-a/similar", headers={"HX-Request": "true"})
    assert "p-dup-b" in similar.text and "near-duplicate 近似重复" in similar.text
    missing = world.get("/console/posts/p-nope")
    assert missing.status_code == 404 and "not found" in missing.text


def test_an_editorial_refusal_is_shown_and_writes_nothing(world: TestClient) -> None:
    token = csrf_of(world.get("/console/collections").text)
    created = world.post(
        "/console/collections",
        data={"circle_id": cw.CIRCLE, "title": "空合集", "csrf_token": token},
    )
    url = created.headers["location"]
    refused = world.post(f"{url}/publish", data={"csrf_token": token})
    assert refused.status_code == 409 and "empty" in refused.text  # an HTML page
    flash = world.post(
        f"{url}/items",
        data={"post_id": "p-nope", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert flash.status_code == 404
    assert flash.headers["HX-Retarget"] == "#flash" and "p-nope" in flash.text
    with world.app.state.quanzi.sessions() as db:
        from quanzi.serving.editorial import collections as logic

        collection = logic.get_collection(db, int(url.rsplit("/", 1)[1]))
        assert collection.status == "draft" and logic.collection_items(db, collection.id) == []


def test_a_model_not_loaded_is_said_on_the_page(editor: TestClient) -> None:
    degraded = sm.fake_loader(with_models=False)

    def no_encoder(settings: Any) -> Any:
        loaded = degraded(settings)
        loaded.embedder, loaded.encoder_version = None, None
        loaded.degraded["encoder"] = "no encoder configured"
        return loaded

    editor.app.state.quanzi.models.loader = no_encoder  # before the first use
    page = editor.get("/console/candidates", params={"circle_id": cw.CIRCLE})
    assert page.status_code == 200  # the page and its filters stay usable
    assert "A model is not loaded (503)" in page.text and "no encoder configured" in page.text


def test_models_still_loading_is_said_not_waited_for(
    console: TestClient, keys: dict[str, str]
) -> None:
    registry = console.app.state.quanzi.models
    registry.loader = sm.fake_loader(delay_s=3.0)
    registry.reload(trigger="test")  # the first load, in the background
    assert cw.sign_in(console, keys["editor"]).status_code == 303
    start = time.monotonic()
    page = console.get("/console/candidates", params={"circle_id": cw.CIRCLE})
    assert time.monotonic() - start < 2.0
    assert "still loading" in page.text
    registry.wait(10)


def test_empty_states(editor: TestClient) -> None:
    assert "The queue is empty" in editor.get("/console/review").text
    assert "No collections yet" in editor.get("/console/collections").text
    assert "No applications yet" in editor.get("/console/applications").text
    hot = editor.get("/console/hotlists", params={"circle_id": cw.CIRCLE}).text
    assert "the list is empty" in hot


def test_rules_and_applications_round_trip(editor: TestClient) -> None:
    token = csrf_of(editor.get(f"/console/circles/{cw.CIRCLE}/rules").text)
    saved = editor.post(
        f"/console/circles/{cw.CIRCLE}/rules",
        data={"blocked": "加微信\nＶＸ\n", "review": "代購", "csrf_token": token},
    )
    assert saved.status_code == 200 and "Saved" in saved.text
    assert "vx" in saved.text and "代购" in saved.text  # stored normalised
    api = editor.get(f"/console/circles/{cw.CIRCLE}/rules").text
    assert "加微信" in api
    repeated = editor.post(
        f"/console/circles/{cw.CIRCLE}/rules", data={"blocked": "vx\nＶＸ", "csrf_token": token}
    )
    assert (
        repeated.status_code == 200 and "Left out" in repeated.text and "repeats" in repeated.text
    )
    applied = editor.post(
        "/console/applications",
        data={
            "brand": "小林制药",
            "has_tmall_flagship": "on",
            "well_known": "on",
            "weibo_fans": "60,000",
            "csrf_token": token,
        },
    )
    assert applied.status_code == 303
    shown = editor.get(applied.headers["location"]).text
    assert "eligible 符合" in shown and "60,000" in shown


def test_hot_list_as_of_a_past_day(world: TestClient, seed: Any) -> None:
    seed(lambda f: cw.add_engagement(f, now=cw.DAY))  # engagement on 2025-11-05 only
    now = world.get("/console/hotlists", params={"circle_id": cw.CIRCLE}).text
    assert "the list is empty" in now and "at=2025-11-05" in now  # points at the last day
    then = world.get("/console/hotlists", params={"circle_id": cw.CIRCLE, "at": "2025-11-05"})
    assert "as of 2025-11-05" in then.text
    ranked = [m for m in ("p-serum", "p-lipstick", "p-creator") if f'id="row-{m}"' in then.text]
    assert ranked == ["p-serum", "p-lipstick", "p-creator"]
    assert then.text.index('id="row-p-serum"') < then.text.index('id="row-p-lipstick"')
    bad = world.get("/console/hotlists", params={"circle_id": cw.CIRCLE, "at": "11/05"})
    assert bad.status_code == 422


def test_decoded_evidence_is_shown_with_its_span(console: TestClient, keys: dict[str, str]) -> None:
    """Without champions the detectors moderate: a spelled-out phone number is decoded."""
    sm.use_models(console, sm.fake_loader(with_models=False))
    state = console.app.state.quanzi
    with state.sessions.begin() as db:
        ingest_posts(
            db,
            state.models.current(),
            [
                PostInput(
                    id="p-phone",
                    circle_id=cw.CIRCLE,
                    author_id="u-2",
                    text="有问题可以v我 一三八零零一三八零零零",
                ),
                PostInput(
                    id="p-address",
                    circle_id=cw.CIRCLE,
                    author_id="u-3",
                    text="我住在北京市朝阳区建国路88号",
                ),
            ],
        )
    assert cw.sign_in(console, keys["editor"]).status_code == 303
    post = console.get("/console/posts/p-phone").text
    assert '<mark class="contact"' in post and "evidence: 13800138000" in post
    queue = console.get("/console/review").text
    assert "p-address" in queue and '<mark class="privacy"' in queue
    assert "evidence: 北京市朝阳区建国路88号" in queue
