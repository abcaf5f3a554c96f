"""Feed ranking: ``FeedRankRequest`` in, ``FeedRankResponse`` out; limits live here."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from quanzi.models.ranking.params import SOURCE_PARAMS, Phase, RankingParams, not_applicable
from quanzi.serving.api.schemas.common import ID_MAX_LENGTH, StrictBool, StrictInt

MAX_CANDIDATES = 2_000
MAX_LIMIT = 200
MAX_EXCLUDE = 5_000

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH)]


def _params_schema() -> dict[str, Any]:
    """``RankingParams`` as the OpenAPI shows ``params``: its fields, none required."""
    schema = RankingParams.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # RankingParams nests no model today; refuse to hide one
    for field in schema["properties"].values():
        field.pop("default", None)  # an override has no default: omitted = not overridden
    schema["title"] = "RankingParamsOverride"
    return schema


def _whole_floats_as_ints(value: Any) -> Any:
    """``2.0`` → ``2`` through lists and dicts (JSON Schema counts it an integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v) for k, v in value.items()}
    return value


ParamsOverride = Annotated[dict[str, Any], WithJsonSchema(_params_schema())]


def _no_source_params_with_candidates(schema: dict[str, Any]) -> None:
    """The OpenAPI states what ``_params_apply`` refuses: with ``candidate_ids`` no source
    runs, so ``params`` may not size the sources (a schema-valid request is never a 422)."""
    schema["if"] = {
        "required": ["candidate_ids"],
        "properties": {"candidate_ids": {"type": "array"}},
    }
    schema["then"] = {"properties": {"params": {"properties": dict.fromkeys(SOURCE_PARAMS, False)}}}


class FeedRankRequest(BaseModel):
    """One viewer's feed request; without ``candidate_ids`` the service sources candidates."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_source_params_with_candidates)

    viewer_id: Id = Field(description="The viewer; an unknown viewer is ranked cold-start.")
    circle_id: Id = Field(description="The circle whose feed this is (404 if unknown).")
    candidate_ids: list[Id] | None = Field(
        None,
        max_length=MAX_CANDIDATES,
        description="Posts to rank. Omit to let the service source them (fresh posts of the "
        "circle, friends' posts, posts similar to the viewer's interests).",
    )
    limit: StrictInt = Field(20, ge=1, le=MAX_LIMIT, description="How many posts to return.")
    topic_id: int | None = Field(
        None, ge=1, description="Only posts in this topic (话题); see `/v1/topics`."
    )
    phase: Phase | None = Field(
        None, description="Campaign phase; default: today's on the Double 11 calendar."
    )
    exclude_seen: StrictBool = Field(True, description="Drop posts the viewer already saw.")
    exclude_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_EXCLUDE,
        description="Posts never to return (e.g. just shown).",
    )
    params: ParamsOverride | None = Field(
        None,
        description="Ranking parameter overrides (RankingParams fields); unknown keys "
        "are rejected.",
    )
    as_of: AwareDatetime | None = Field(
        None, description="Rank as of this time (replays and tests); default: now."
    )

    @field_validator("params")
    @classmethod
    def _known_params(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if not value:
            return value
        unknown = sorted(set(value) - set(RankingParams.model_fields))
        if unknown:
            raise ValueError(
                f"unknown ranking params {unknown}; known: {sorted(RankingParams.model_fields)}"
            )
        # Types and bounds with their own messages; strict JSON, as the schema says ("5" is
        # not a number), where 2.0 is an integer.
        RankingParams.model_validate_json(json.dumps(_whole_floats_as_ints(value)), strict=True)
        return value

    @model_validator(mode="after")
    def _params_apply(self) -> FeedRankRequest:
        idle = not_applicable(self.params or {}, self.candidate_ids is not None)
        if idle:
            raise ValueError(
                f"ranking params {idle} cannot apply to this request: they size the "
                "candidate sources, and a request with `candidate_ids` runs no source "
                "(drop them, or drop `candidate_ids`)"
            )
        return self


class Reason(BaseModel):
    feature: str = Field(description="A scoring feature (quality, trust, freshness, …).")
    contribution: float = Field(description="Its additive contribution to the score.")
    text: str = Field(description='The reason as a short phrase ("posted 3 hours ago").')


class FeedItem(BaseModel):
    post_id: str
    score: float
    trust_level: int = Field(ge=1, le=6, description="Viewer-relative: L1 for friends' posts.")
    trust_reasons: list[str] = Field(
        description="Why this level: friend of the viewer, verified purchase, creator, …"
    )
    content_type: str = Field(description="guide, share, usage, question (or unknown).")
    source: str = Field(description="The candidate source that proposed it.")
    reasons: list[Reason] = Field(description="Top contributions, largest magnitude first.")


class FeedRankResponse(BaseModel):
    items: list[FeedItem]
    arm: str = Field(description="The experiment arm of this viewer (deterministic).")
    phase: Phase
    model_versions: dict[str, str]
    request_id: str = Field(
        description="Log it with interactions (`request_id`) to join clicks to this served list."
    )
    n_candidates: int = Field(description="Candidates considered before filtering.")
    removed: dict[str, int] = Field(description="Candidates each filter removed.")
