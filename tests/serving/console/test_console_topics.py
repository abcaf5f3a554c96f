"""The console's circle view: topics (rename / merge / hide) and Q&A with non-answers
marked, walked in Debian's chromium (screenshots in test-artifacts/console/<test>/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from quanzi.datasets.qa.eval_set import EvalAnswer, EvalQuestion
from quanzi.models.qa.invitee_ranker import InviteeRanker
from quanzi.models.qa.predictor import QAPredictor
from quanzi.settings import Settings
from quanzi.storage.orm import Answer, PostTopic, Question, Topic
from quanzi.training.qa import fit_answer_model

NOW = datetime.now(UTC)
HELPFUL = ["用了两周不脱妆，油皮下午才有点出油", "遮瑕力不错，痘印能盖住", "持妆八小时左右"]
NON = ["不知道", "还没用，不清楚", "同问", "帮朋友买的不清楚", "我也想知道"]


def _qa_champion() -> QAPredictor:
    """A small answer model (no encoder) from hand-made rows, served as the Q&A champion."""
    qs = [
        EvalQuestion(
            f"q{i}",
            "衣服",
            "",
            "持妆久吗？",
            "dev",
            tuple(
                EvalAnswer(f"a{i}{j}", t, "helpful" if t in HELPFUL else "non_answer", True, 30)
                for j, t in enumerate(HELPFUL + NON)
            ),
        )
        for i in range(4)
    ]
    x = np.array([[0.0], [1.0], [0.0], [1.0]])
    y = np.array([0, 1, 0, 1])
    ranker = InviteeRanker(LogisticRegression().fit(x, y), LogisticRegression().fit(x, y))
    return QAPredictor(fit_answer_model(qs, None), ranker)


def _seed_topics_qa(f: Any) -> None:
    for name in ("持妆", "遮瑕", "控油"):
        f._add(Topic(circle_id=cw.CIRCLE, name=name, status="active", source="tag"))
    f._add(
        Question(
            id="q-1",
            circle_id=cw.CIRCLE,
            item_id="i-1",
            author_id="u-creator",
            text="油皮用会脱妆吗？",
            status="pass",
            moderation={},
            created_at=NOW,
        )
    )
    for i, text in enumerate(["用了两周不脱妆，油皮下午才有点出油", "不知道", "同问"]):
        f._add(
            Answer(
                id=f"a-{i}",
                question_id="q-1",
                author_id="u-1",
                text=text,
                status="pass",
                moderation={},
                helpful_votes=2 - i,
                created_at=NOW + timedelta(minutes=i),
            )
        )


def test_an_editor_renames_merges_and_hides_topics_and_sees_non_answers(
    browser: Any, settings: Settings, keys: dict[str, str], seed: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    seed(_seed_topics_qa)
    with cw.console_server(settings, sm.fake_loader(qa=_qa_champion())) as (base, app):
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=base, locale="zh-CN"
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/console/sign-in")
        page.fill("#key", keys["editor"])
        page.click("button[type=submit]")
        # the session cookie comes with the sign-in's answer: wait for it before leaving
        # (up to 20 s: once it took longer than the default 5 s with other work on the cores)
        expect(page.locator("h1")).to_contain_text("Banner candidates", timeout=20_000)
        page.goto("/console/circles")
        page.click(f"a[href='/console/circles/{cw.CIRCLE}/topics']")
        expect(page.locator("h2#topics-h")).to_be_visible()
        page.screenshot(path=str(artifacts / "01-topics-and-qa.png"), full_page=True)
        # non-answers are marked and sit below the real answer
        answers = page.locator("#q-q-1 li.answer")
        expect(answers.first).not_to_have_class("answer non-answer")
        expect(page.locator("#q-q-1 li.non-answer")).to_have_count(2)
        # rename, merge, hide
        row = page.locator("#topic-1")
        row.locator("input[name=name]").fill("持妆力")
        row.locator("button", has_text="Rename").click()
        expect(page.locator("#topic-1")).to_contain_text("#持妆力#")
        row = page.locator("#topic-2")
        row.locator("select[name=into]").select_option("3")
        row.locator("button", has_text="Merge").click()
        expect(page.locator("#topic-2")).to_have_count(0)
        page.locator("#topic-3 button", has_text="Hide").click()
        expect(page.locator("#topic-3")).to_contain_text("hidden")
        page.screenshot(path=str(artifacts / "02-after-edits.png"), full_page=True)
        # merging a topic into itself is refused with the service's message
        resp = page.request.post(
            "/console/topics/1/merge",
            form={"into": "1", "csrf_token": cw.csrf_of(page.content())},
        )
        assert resp.status == 409
        assert errors == []
        context.close()
        with app.state.quanzi.sessions() as db:
            topics = {t.id: t for t in db.scalars(select(Topic))}
            assert topics[1].name == "持妆力" and topics[1].edited
            assert topics[2].status == "merged" and topics[2].merged_into == 3
            assert topics[3].status == "hidden"
            assert db.scalars(select(PostTopic)).all() == []
