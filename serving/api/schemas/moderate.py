"""Schemas of ``POST /v1/moderate``: one text in, the moderation decision out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import NON_BLANK
from quanzi.serving.api.schemas.post_ingest import MAX_POST_CHARS, Id, ModerationResult


class ModerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_POST_CHARS, pattern=NON_BLANK)
    circle_id: Id | None = Field(
        None, description="Also apply this circle's own terms (404 if unknown)."
    )


class ModerateResponse(ModerationResult):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model_versions: dict[str, str]
