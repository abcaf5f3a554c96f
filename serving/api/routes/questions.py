"""SKU Q&A (问大家): ask on a SKU (moderated; similar answered questions and the buyers to
invite come back at once), answer, read the answers ranked, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request

from quanzi.serving.api.deps import READ_ROLES, IngestKey, SessionDep
from quanzi.serving.api.schemas.questions import (
    AnswerCreate,
    AnswerPublic,
    AskResponse,
    QuestionCreate,
    QuestionPublic,
    RankedAnswers,
)
from quanzi.serving.qa_service import QAService, qa_service

router = APIRouter(prefix="/v1/questions", tags=["questions"])
NOT_FOUND = {404: {"description": "Unknown circle, SKU, user or question"}}


def _service(request: Request) -> QAService:
    return qa_service(request)


def _q(q: object) -> QuestionPublic:
    return QuestionPublic.model_validate(q, from_attributes=True)


@router.post("", status_code=201, responses=NOT_FOUND)
def ask_question(
    body: QuestionCreate, request: Request, session: SessionDep, _: IngestKey
) -> AskResponse:
    """Ask a question on a SKU."""
    out = _service(request).ask(session, body.model_dump(), body.k_similar, body.k_invite)
    return AskResponse(
        question=_q(out["question"]), similar=out["similar"], invitees=out["invitees"]
    )


@router.post("/{question_id}/answers", status_code=201, responses=NOT_FOUND)
def answer_question(
    question_id: str, body: AnswerCreate, request: Request, session: SessionDep, _: IngestKey
) -> AnswerPublic:
    """Answer a question (404 if it is unknown or was deleted)."""
    a = _service(request).answer(session, question_id, body.model_dump())
    return AnswerPublic.model_validate(a, from_attributes=True)


@router.get("/{question_id}", responses=NOT_FOUND, dependencies=[READ_ROLES])
def read_question(
    question_id: str, request: Request, session: SessionDep, viewer_id: str | None = None
) -> RankedAnswers:
    """A question with its answers ranked: the viewer's friends first, non-answers last."""
    q, answers = _service(request).ranked_answers(session, question_id, viewer_id)
    return RankedAnswers(question=_q(q), answers=answers)


@router.delete("/{question_id}", responses=NOT_FOUND)
def delete_question(
    question_id: str, request: Request, session: SessionDep, _: IngestKey
) -> QuestionPublic:
    """Delete a question (it stays readable, marked removed; it takes no more answers)."""
    return _q(_service(request).delete(session, question_id))
