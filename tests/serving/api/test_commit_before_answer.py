"""A write is committed before the client hears it succeeded: a 201 or a 303 means stored.

FastAPI ends a ``yield`` dependency after the response is sent unless it is scoped to the
function; the request's session must be, or a client that reads right after its write can
miss it (the console's merge-then-reload once did) and a failed commit still answers 2xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from quanzi.serving.app import create_app
from quanzi.settings import Settings


def _world(f: Any) -> None:
    f.circle(id="c-1")


def test_a_failed_commit_is_an_error_answer_not_a_201(
    settings: Settings, keys: dict, seed: Callable[[Callable[[Any], Any]], Any]
) -> None:
    seed(_world)
    editor = keys["editor"]
    body = {"circle_id": "c-1", "title": "秋冬保湿"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        sessions = api.app.state.quanzi.sessions  # type: ignore[attr-defined]

        def refuse(session: Session) -> None:
            raise RuntimeError("disk full (test)")

        event.listen(sessions, "before_commit", refuse)
        try:
            failed = api.post("/v1/collections", headers=editor, json=body)
        finally:
            event.remove(sessions, "before_commit", refuse)
        assert failed.status_code >= 500, failed.text
        listed = api.get("/v1/collections?circle_id=c-1", headers=editor).json()
        assert listed["count"] == 0
        # and once the database takes commits again, the same request is stored and answered
        created = api.post("/v1/collections", headers=editor, json=body)
        assert created.status_code == 201, created.text
        listed = api.get("/v1/collections?circle_id=c-1", headers=editor).json()
        assert [c["id"] for c in listed["data"]] == [created.json()["id"]]
