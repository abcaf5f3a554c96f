"""SKU Q&A (问大家) schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import ID_MAX_LENGTH

TEXT_MAX = 2000


class QuestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=ID_MAX_LENGTH)
    circle_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    item_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH, description="The SKU asked about.")
    author_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    k_similar: int = Field(5, ge=0, le=20)
    k_invite: int = Field(5, ge=0, le=20)


class AnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=ID_MAX_LENGTH)
    author_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class QuestionPublic(BaseModel):
    id: str
    circle_id: str
    item_id: str
    author_id: str
    text: str
    status: str
    moderation: dict[str, Any]
    created_at: datetime
    deleted_at: datetime | None = None


class AskResponse(BaseModel):
    question: QuestionPublic
    similar: list[dict[str, Any]] = Field(
        description="Answered questions like it (same SKU first)."
    )
    invitees: list[dict[str, Any]] = Field(description="Past buyers asked to answer, best first.")


class AnswerPublic(BaseModel):
    id: str
    question_id: str
    author_id: str
    text: str
    status: str
    non_answer: float | None
    created_at: datetime


class RankedAnswers(BaseModel):
    question: QuestionPublic
    answers: list[dict[str, Any]]
