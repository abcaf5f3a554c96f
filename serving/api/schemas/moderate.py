"""Schemas of ``POST /v1/moderate``: one text in, the moderation decision out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quanzi.serving.api.schemas.post_ingest import MAX_POST_CHARS, Id, ModerationResult


class ModerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_POST_CHARS)
    circle_id: Id | None = Field(None, description="Also apply this circle's own terms.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is blank")
        return text


class ModerateResponse(ModerationResult):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model_versions: dict[str, str]
