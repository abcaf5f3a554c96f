"""Schemas of ``/v1/admin``: model reloads and what each worker serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import StrictBool


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wait: StrictBool = Field(
        False, description="Answer after the load (200) instead of at once (202)."
    )


class ReloadStatusPublic(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    generation: int = Field(description="Model-set generation being (or last) loaded.")
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why the last load failed (old models kept).")
    trigger: str


class DegradedModel(BaseModel):
    model: str
    reason: str = Field(description="Why it is not the champion (or missing).")
    serving: str = Field(description="What answers instead: its last good version, or a rule.")


class ModelsPublic(BaseModel):
    """What this worker serves now."""

    model_config = ConfigDict(protected_namespaces=())

    generation: int
    model_versions: dict[str, str]
    degraded: list[DegradedModel]
    loaded_at: datetime
    index: dict[str, Any] | None = Field(description="Index stats (null without an encoder).")
    reload: ReloadStatusPublic


class ReloadResponse(BaseModel):
    reload: ReloadStatusPublic
    models: ModelsPublic | None = Field(description="The set in force after a waited reload.")
