"""Batch schemas of the feed service's writes: users, relations, interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from quanzi.models.ranking.params import InteractionKind
from quanzi.serving.api.schemas.common import ID_MAX_LENGTH, JSON_INTEGER, StrictBool, StrictInt
from quanzi.serving.api.schemas.post_ingest import in_utc, not_after_now

MAX_USERS = 1000
MAX_RELATIONS = 5000
MAX_INTERACTIONS = 5000

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH)]
UserKind = Literal["user", "creator", "merchant"]
UserRelationKind = Literal["friend", "follow"]
BrandRelationKind = Literal["fan", "member", "past_buyer"]


class UserUpsert(BaseModel):
    """A user as the feed service knows it; sending it again replaces the stored fields."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    kind: UserKind = "user"
    display_name: str = Field("", max_length=200)
    follower_count: StrictInt = Field(0, ge=0, le=10**10)
    creator_certified: StrictBool = False
    account_created_at: AwareDatetime
    merchant_circle_id: Id | None = Field(None, description="For merchants: their circle.")

    @field_validator("account_created_at")
    @classmethod
    def _stored_in_utc(cls, value: datetime) -> datetime:
        return in_utc(value) or value


class UserBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[UserUpsert] = Field(
        min_length=1,
        max_length=MAX_USERS,
        description="A user id sent twice in one batch: the later copy wins, as if sent after.",
    )


class UserRelationEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    other_id: Id
    kind: UserRelationKind
    deleted: StrictBool = Field(False, description="True removes the edge (unfollow, unfriend).")


class BrandRelationEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    circle_id: Id
    kind: BrandRelationKind
    active: StrictBool = Field(True, description="False: a silent fan / member / past buyer.")


class RelationBatch(BaseModel):
    """User edges and brand relations; an empty batch writes nothing. An edge from a user to
    themself is skipped (not counted); the last copy of a repeated edge wins."""

    model_config = ConfigDict(extra="forbid")

    user_relations: list[UserRelationEdge] = Field(default_factory=list, max_length=MAX_RELATIONS)
    brand_relations: list[BrandRelationEdge] = Field(default_factory=list, max_length=MAX_RELATIONS)


class InteractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    post_id: Id
    kind: InteractionKind
    created_at: AwareDatetime = Field(
        description="UTC or with offset; more than 5 minutes ahead of the service's clock "
        "is taken as now."
    )
    position: Annotated[int, Field(ge=0, le=100_000), JSON_INTEGER] | None = Field(
        None, description="Slot in the served list."
    )
    request_id: str | None = Field(
        None, max_length=64, description="The `request_id` of the ranked list served."
    )

    @field_validator("created_at")
    @classmethod
    def _not_future(cls, value: datetime) -> datetime:
        return not_after_now(value) or value


class InteractionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactions: list[InteractionCreate] = Field(min_length=1, max_length=MAX_INTERACTIONS)


class BatchResult(BaseModel):
    accepted: int = Field(description="Rows the batch wrote (upserts count once per row sent).")


class RelationBatchResult(BaseModel):
    user_relations: int
    brand_relations: int
