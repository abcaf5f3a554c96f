"""Hot-list schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import ID_MAX_LENGTH, MAX_PAGE, StrictFloat
from quanzi.storage.orm import HotListOverride

OverrideAction = Literal["pin", "boost", "remove"]


class HotListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=MAX_PAGE)
    at: AwareDatetime | None = Field(
        None, description="Rank as of this instant (default now), e.g. to replay a past day."
    )


MAX_BOOST = 100.0  # HotListParams.max_boost's default: what the route allows

# What `value` must be for each action, in the schema as well as in the check.
_VALUE_BY_ACTION = {
    "oneOf": [
        {
            "properties": {"action": {"const": "pin"}, "value": {"type": "integer", "minimum": 1}},
            "required": ["value"],
        },
        {
            "properties": {
                "action": {"const": "boost"},
                "value": {"exclusiveMinimum": 0, "maximum": MAX_BOOST},
            },
            "required": ["value"],
        },
        {"properties": {"action": {"const": "remove"}}},
    ]
}


class OverrideCreate(BaseModel):
    """Pin a post at a position, boost its heat, or remove it; replaces its previous override."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_VALUE_BY_ACTION)

    post_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    action: OverrideAction
    value: StrictFloat = Field(
        0.0,
        allow_inf_nan=False,
        description="pin: the 1-based position (a whole number ≥ 1); boost: the heat "
        f"multiplier in (0, {MAX_BOOST:g}]; remove: unused.",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="Ignored after this instant (409 when already past)."
    )


class OverridePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    post_id: str
    action: OverrideAction
    value: float
    editor: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def from_row(cls, row: HotListOverride) -> OverridePublic:
        return cls.model_validate(row)


class OverrideList(BaseModel):
    circle_id: str
    data: list[OverridePublic]


class HotListItem(BaseModel):
    post_id: str
    rank: int = Field(description="1-based.")
    heat: float = Field(description="Decayed engagement after a boost (a pin keeps its own).")
    base_heat: float = Field(description="Decayed engagement before any override.")
    override: OverridePublic | None
    author_id: str
    text: str
    tier: int | None = Field(description="Quality tier 0–3 (null: not scored).")
    trust_level: str | None = Field(description="Base trust level, L2–L6 (null: not scored).")


class HotListPublic(BaseModel):
    circle_id: str
    at: datetime
    decay_hours: float
    window_hours: float
    items: list[HotListItem]
