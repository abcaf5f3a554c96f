"""The Q&A question index is built at start-up (``preload_qa``), so the first question
does not pay for loading the question encoder and embedding every answered question."""

from __future__ import annotations

import contextlib
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from quanzi.serving import qa_service as qa_module
from quanzi.settings import Settings


def _app(qa: Any) -> Any:
    models = SimpleNamespace(qa=qa, embedder=None)
    state = SimpleNamespace(
        settings=Settings(env="test"),
        models=SimpleNamespace(current=lambda: models),
        sessions=lambda: contextlib.nullcontext("session"),
    )
    return SimpleNamespace(state=SimpleNamespace(quanzi=state))


def test_preload_builds_the_index_once_on_the_service_requests_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[tuple[Any, Any]] = []
    monkeypatch.setattr(
        qa_module.QAService, "_build", lambda self, session: built.append((self, session))
    )
    app = _app(qa=object())
    qa_module.preload_qa(app)
    service = qa_module.qa_service_of(app)
    assert built == [(service, "session")]  # the instance requests get, with a session
    assert qa_module.qa_service(SimpleNamespace(app=app)) is service


def test_no_qa_champion_nothing_to_preload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa_module.QAService, "_build", lambda self, session: pytest.fail())
    app = _app(qa=None)
    qa_module.preload_qa(app)
    assert not hasattr(app.state, "qa")


def test_a_failing_preload_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any, session: Any) -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(qa_module.QAService, "_build", broken)
    with caplog.at_level(logging.ERROR):
        qa_module.preload_qa(_app(qa=object()))
    assert "first question builds the index" in caplog.text
