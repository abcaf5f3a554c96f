"""A circle's topics (rename / merge / hide / create) and its Q&A with non-answers marked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import or_, select

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.console import web
from quanzi.serving.editorial import topics as logic
from quanzi.serving.editorial.errors import NotFound
from quanzi.serving.qa_service import qa_service
from quanzi.storage.orm import TOPIC_NAME_MAX, Circle, Item, Question

router = APIRouter(prefix=web.PREFIX, route_class=web.ConsoleRoute, include_in_schema=False)
TopicId = Annotated[int, Path(ge=1, le=2**31 - 1)]
QUESTIONS_SHOWN = 8


def _back(circle_id: str) -> RedirectResponse:
    return RedirectResponse(f"{web.PREFIX}/circles/{circle_id}/topics", status_code=303)


@router.get("/circles/{circle_id}/topics")
def read_circle_topics(
    request: Request, circle_id: ResourceId, db: SessionDep, _: web.EditorPage
) -> Response:
    """The circle's topics with their editors' tools, and its latest answered questions."""
    circle = db.get(Circle, circle_id)
    if circle is None:
        raise NotFound(f"circle {circle_id!r} not found")
    topics = logic.list_topics(db, circle_id, include_hidden=True)
    items = select(Item.id).where(Item.circle_id == circle_id)
    questions = list(
        db.scalars(
            select(Question)
            .where(
                or_(Question.circle_id == circle_id, Question.item_id.in_(items)),
                Question.deleted_at.is_(None),
            )
            .order_by(Question.created_at.desc(), Question.id)
            .limit(QUESTIONS_SHOWN * 4)
        )
    )
    qa = qa_service(request)
    shown = []
    for q in questions:
        _, answers = qa.ranked_answers(db, q.id, None)
        if answers:
            shown.append((q, answers))
        if len(shown) == QUESTIONS_SHOWN:
            break
    return web.render(
        request,
        "topics.html",
        circle=circle,
        topics=topics,
        questions=shown,
        name_max=TOPIC_NAME_MAX,
    )


@router.post("/topics/{topic_id}/rename")
def rename_topic(
    topic_id: TopicId,
    db: SessionDep,
    editor: web.EditorAction,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    topic = logic.update_topic(db, topic_id, editor.actor, name, None)
    return _back(topic.circle_id)


@router.post("/topics/{topic_id}/visibility")
def set_topic_visibility(
    topic_id: TopicId,
    db: SessionDep,
    editor: web.EditorAction,
    hidden: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    topic = logic.update_topic(db, topic_id, editor.actor, None, hidden == "1")
    return _back(topic.circle_id)


@router.post("/topics/{topic_id}/merge")
def merge_topic(
    topic_id: TopicId,
    db: SessionDep,
    editor: web.EditorAction,
    into: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> Response:
    topic = logic.merge_topic(db, topic_id, into, editor.actor)
    return _back(topic.circle_id)


@router.post("/circles/{circle_id}/topics")
def create_topic(
    circle_id: ResourceId,
    db: SessionDep,
    editor: web.EditorAction,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    logic.create_topic(db, circle_id, name, editor.actor)
    return _back(circle_id)
