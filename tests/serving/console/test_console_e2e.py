"""The editor console in a real browser: one editor's day, from sign-in to sign-out.

A uvicorn server on a free loopback port serves the app on the console test world
(``tests/utils/console_world.py``: posts ingested through the API with the small models);
Debian's chromium, driven by Playwright, walks: sign in (a wrong key and an ingest key are
refused first) → filter the banner candidates → semantic search → open a post → open one
of its similar posts → build a collection (add, reorder by keyboard and by drag, a
near-duplicate warning, remove) → publish and read it back through ``/v1/collections`` →
approve and reject queued posts (stored as training feedback) → pin a post in the hot
list and see the list change → sign out. A POST without the CSRF token is refused.
Every step leaves a screenshot (1280 px wide; the candidates and the collection builder
also at 390 px) under ``test-artifacts/console/<test name>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm
from sqlalchemy import select

from quanzi.datasets.moderation.editor_decisions import review_training_rows
from quanzi.settings import Settings
from quanzi.storage.orm import ConsoleSession

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(settings: Settings, keys: dict[str, str], seed: Any) -> Iterator[SimpleNamespace]:
    """The console world behind a real server: posts ingested, engagement logged, indexed."""
    with cw.console_server(settings) as (base, app):
        results = cw.load_posts(base, keys["ingest"])
        seed(cw.add_engagement)
        sm.wait_indexed(
            SimpleNamespace(app=app), [r["post_id"] for r in results if r["status"] != "reject"]
        )
        yield SimpleNamespace(
            base=base, app=app, keys=keys, status={r["post_id"]: r["status"] for r in results}
        )


class Walk:
    """The page plus numbered screenshots, so the artifacts read in the walk's order."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.step = page, folder, 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=str(self.folder / f"{self.step:02d}-{name}.png"), full_page=True)


def _order(page: Any) -> list[str]:
    return page.locator("#item-list li").evaluate_all("items => items.map(li => li.dataset.postId)")


def test_an_editor_walks_the_console(
    browser: Any, server: SimpleNamespace, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    base, keys = server.base, server.keys
    context = browser.new_context(viewport=DESKTOP, base_url=base, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    walk = Walk(page, artifacts)
    api = httpx.Client(
        base_url=base, timeout=30, headers={"Authorization": f"Bearer {keys['editor']}"}
    )

    # --- sign in: a wrong key, then an ingest key, are refused --------------------------
    page.goto("/console/candidates")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    walk.shot("sign-in")
    page.fill("#key", "qz_000000000000_" + "x" * 43)
    page.click("button[type=submit]")
    expect(page.locator(".notice.error")).to_contain_text("not valid")
    walk.shot("wrong-key-refused")
    page.fill("#key", keys["ingest"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Not allowed")
    expect(page.locator("main")).to_contain_text("ingest")
    walk.shot("ingest-key-not-allowed")
    assert "quanzi_console" not in {c["name"] for c in context.cookies()}
    page.goto("/console/sign-in")
    page.fill("#key", keys["editor"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Banner candidates", timeout=20_000)
    session_cookie = next(c for c in context.cookies() if c["name"] == "quanzi_console")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
    assert keys["editor"] not in session_cookie["value"]
    # every banner-eligible post but p-dup-a, which banner picks drop as p-dup-b's copy
    expect(page.locator("#results .card")).to_have_count(7)
    walk.shot("candidates")
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / f"{walk.step:02d}-candidates-390px.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    # --- filter: creators only, then the campaign's preheat phase ----------------------
    page.select_option("#f-trust", "L2")
    page.click("#filters button[type=submit]")
    expect(page.locator("#results .card")).to_have_count(1)
    expect(page.locator("#results .card")).to_contain_text("p-creator")
    expect(page).to_have_url(re.compile(r"trust=L2"))
    page.select_option("#f-trust", "")
    page.select_option("#f-phase", "preheat")
    page.click("#filters button[type=submit]")
    shown = page.locator("#results .card a strong").all_inner_texts()
    assert shown and set(shown) <= {"p-dup-b", "p-creator", "p-mask"}, shown  # Nov 1–10
    walk.shot("candidates-filtered")

    # --- semantic search ------------------------------------------------------------------
    page.select_option("#f-phase", "")
    page.fill("#f-q", "保湿面霜 冬天不干")
    page.click("#filters button[type=submit]")
    expect(page.locator("#search-results")).to_be_visible()
    first = page.locator("#search-results .card a strong").first.inner_text()
    assert first in {"p-dup-a", "p-dup-b", "p-creator"}  # the posts about 保湿面霜
    walk.shot("semantic-search")

    # --- a post, its scores, its similar posts -----------------------------------------
    page.goto("/console/posts/p-dup-a")
    expect(page.locator("#scores-h")).to_be_visible()
    expect(page.locator(".scores")).to_contain_text("L3")
    expect(page.locator(".scores")).to_contain_text("first-hand share")  # a trust reason
    similar = page.locator("#similar-list .card")
    expect(similar.first).to_be_visible()  # loaded after the page, through htmx
    near = page.locator("#card-p-dup-b")
    expect(near).to_contain_text("near-duplicate")
    walk.shot("post")
    near.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("p-dup-b")
    walk.shot("similar-post-opened")
    page.goto("/console/posts/p-ad-1")
    expect(page.locator("#post-text mark.ad")).to_have_text("进店")  # the span, highlighted
    walk.shot("post-with-spans")

    # --- build a collection around p-dup-a ---------------------------------------------------
    page.goto("/console/posts/p-dup-a")
    page.fill("#new-title", "冬季保湿合集")
    page.click("text=Start collection")
    expect(page.locator("h1")).to_contain_text("冬季保湿合集")
    collection_id = int(re.search(r"/collections/(\d+)", page.url).group(1))
    page.fill("#add-post", "p-nope")  # an error answer lands in the flash area
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/items")) as sent:
        page.click("#add-form button[type=submit]")
    token = page.locator("#add-form input[name=csrf_token]").get_attribute("value")
    assert sent.value.headers.get("x-csrf-token") == token  # htmx sends it as a header
    assert sent.value.headers.get("hx-request") == "true"
    expect(page.locator("#flash")).to_contain_text("unknown posts: p-nope")
    expect(page.locator("#item-list li")).to_have_count(1)
    for post_id in ("p-dup-b", "p-serum"):
        page.fill("#add-post", post_id)
        page.click("#add-form button[type=submit]")
        expect(page.locator(f"#item-list li[data-post-id={post_id}]")).to_be_visible()
    expect(page.locator("#flash")).to_be_empty()  # cleared by the next request
    warnings = page.locator("#warnings")
    expect(warnings).to_contain_text("near-duplicate")
    expect(warnings).to_contain_text("repeated author")
    walk.shot("collection-near-duplicate-warning")
    page.click("#suggest")
    suggestion = page.locator("#suggestion-list .card").first
    expect(suggestion).to_be_visible()
    suggested = suggestion.get_attribute("data-post-id")
    suggestion.locator("button").click()
    expect(page.locator(f"#item-list li[data-post-id={suggested}]")).to_be_visible()
    assert _order(page) == ["p-dup-a", "p-dup-b", "p-serum", suggested]
    # by keyboard: focus p-serum and press Alt+↑; focus stays on it
    page.locator("#item-list li[data-post-id=p-serum]").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#item-list li").nth(1)).to_have_attribute("data-post-id", "p-serum")
    expect(page.locator("#move-up-p-serum")).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")  # focus is on p-serum's Move up button: once more
    expect(page.locator("#item-list li").first).to_have_attribute("data-post-id", "p-serum")
    # by drag: the suggested post onto the first place
    page.drag_and_drop(
        f"#item-list li[data-post-id={suggested}]",
        "#item-list li[data-post-id=p-serum]",
        target_position={"x": 20, "y": 5},
    )
    expect(page.locator("#item-list li").first).to_have_attribute("data-post-id", suggested)
    assert _order(page) == [suggested, "p-serum", "p-dup-a", "p-dup-b"]
    walk.shot("collection-reordered")
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / f"{walk.step:02d}-collection-390px.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    page.click("#item-list li[data-post-id=p-dup-b] button:has-text('Remove')")
    expect(page.locator("#item-list li[data-post-id=p-dup-b]")).to_have_count(0)
    expect(warnings.locator("li")).to_have_count(0)  # no near-duplicate, no repeated author
    walk.shot("collection-near-duplicate-removed")
    page.click("#publish")
    expect(page.locator("h1 .badge")).to_have_text("published")
    walk.shot("collection-published")
    published = api.get(f"/v1/collections/{collection_id}").json()
    assert published["status"] == "published"
    assert [i["post_id"] for i in published["items"]] == [suggested, "p-serum", "p-dup-a"]
    listed = api.get("/v1/collections", params={"status": "published"}).json()
    assert collection_id in [c["id"] for c in listed["data"]]

    # --- a POST without the CSRF token is refused; the API ignores the session ------------
    refused = context.request.post(
        f"{base}/console/collections", form={"circle_id": cw.CIRCLE, "title": "no token"}
    )
    assert refused.status == 403
    assert context.request.get(f"{base}/v1/collections").status == 401

    # --- the review queue: approve by keyboard, reject with a reason and a label ----------
    page.goto("/console/review?order=riskiest")
    cards = page.locator(".review-card")
    expect(cards).to_have_count(2)
    expect(cards.first.locator("mark.ad")).to_have_text("进店")
    walk.shot("review-queue")
    items = {c["post_id"]: c["id"] for c in api.get("/v1/review").json()["data"]}
    page.locator(f"#review-{items['p-ad-2']}").focus()
    page.keyboard.press("a")
    expect(page.locator(f"#review-{items['p-ad-2']}")).to_contain_text("approved")
    page.fill(f"#reason-{items['p-ad-1']}", "引导进店，属于广告")
    page.click(f"#review-{items['p-ad-1']} button[value=reject]")
    expect(page.locator(f"#review-{items['p-ad-1']}")).to_contain_text("rejected")
    walk.shot("review-decided")
    decided = {pid: api.get(f"/v1/review/{rid}").json() for pid, rid in items.items()}
    assert decided["p-ad-2"]["decisions"][0]["decision"] == "pass"
    rejected = decided["p-ad-1"]["decisions"][0]
    assert (rejected["decision"], rejected["labels"], rejected["reason"], rejected["editor"]) == (
        "reject",
        ["ad"],
        "引导进店，属于广告",
        "editor-1",
    )
    with server.app.state.quanzi.sessions() as db:  # what the next training run reads
        feedback = {row.text: row.decision for row in review_training_rows(db)}
    assert sorted(feedback.values()) == ["pass", "reject"]

    # --- hot list: pin the last post to the top ---------------------------------------------
    page.goto(f"/console/hotlists?circle_id={cw.CIRCLE}")
    rows = page.locator("#hotlist tbody tr")
    expect(rows.first).to_have_attribute("data-post-id", "p-serum")
    expect(rows.last).to_have_attribute("data-post-id", "p-creator")
    walk.shot("hotlist")
    page.click("#row-p-creator button:has-text('Pin')")  # its position field says 1
    expect(rows.first).to_have_attribute("data-post-id", "p-creator")
    expect(rows.first).to_contain_text("pin 1")
    walk.shot("hotlist-pinned")
    hot = api.get(f"/v1/hotlists/{cw.CIRCLE}").json()["items"]
    assert hot[0]["post_id"] == "p-creator" and hot[0]["override"]["action"] == "pin"

    # --- sign out: the session row is gone, the console asks to sign in again -------------
    page.click("text=Sign out")
    expect(page.locator(".notice.ok")).to_contain_text("signed out")
    walk.shot("signed-out")
    with server.app.state.quanzi.sessions() as db:
        assert db.scalars(select(ConsoleSession)).all() == []
    page.goto("/console/review")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    assert errors == [], errors
    context.close()
    api.close()
