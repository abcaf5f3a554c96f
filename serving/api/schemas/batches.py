"""Batch schemas of the feed service's writes: users, relations, interactions."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from quanzi.models.ranking.params import InteractionKind
from quanzi.serving.api.schemas.common import ID_MAX_LENGTH

MAX_USERS = 1000
MAX_RELATIONS = 5000
MAX_INTERACTIONS = 5000
CLOCK_SKEW = timedelta(minutes=5)  # interactions may be this far in our future, no further

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
    follower_count: int = Field(0, ge=0, le=10**10)
    creator_certified: bool = False
    account_created_at: AwareDatetime
    merchant_circle_id: Id | None = Field(None, description="For merchants: their circle.")


class UserBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[UserUpsert] = Field(min_length=1, max_length=MAX_USERS)

    @model_validator(mode="after")
    def _unique_ids(self) -> UserBatch:
        dupes = sorted(i for i, n in Counter(u.id for u in self.users).items() if n > 1)
        if dupes:
            raise ValueError(f"user ids repeat in the batch: {', '.join(dupes[:20])}")
        return self


class UserRelationEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    other_id: Id
    kind: UserRelationKind
    deleted: bool = Field(False, description="True removes the edge (unfollow, unfriend).")

    @model_validator(mode="after")
    def _not_self(self) -> UserRelationEdge:
        if self.user_id == self.other_id:
            raise ValueError(f"a user cannot {self.kind} themself ({self.user_id!r})")
        return self


class BrandRelationEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    circle_id: Id
    kind: BrandRelationKind
    active: bool = Field(True, description="False: a silent fan / member / past buyer.")


class RelationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_relations: list[UserRelationEdge] = Field(default_factory=list, max_length=MAX_RELATIONS)
    brand_relations: list[BrandRelationEdge] = Field(default_factory=list, max_length=MAX_RELATIONS)

    @model_validator(mode="after")
    def _something(self) -> RelationBatch:
        if not self.user_relations and not self.brand_relations:
            raise ValueError("send `user_relations` and/or `brand_relations`")
        if len(self.user_relations) + len(self.brand_relations) > MAX_RELATIONS:
            raise ValueError(f"at most {MAX_RELATIONS} relations per batch")
        return self


class InteractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    post_id: Id
    kind: InteractionKind
    created_at: AwareDatetime
    position: int | None = Field(None, ge=0, le=100_000, description="Slot in the served list.")
    request_id: str | None = Field(
        None, max_length=64, description="The `request_id` of the ranked list served."
    )


class InteractionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactions: list[InteractionCreate] = Field(min_length=1, max_length=MAX_INTERACTIONS)

    @model_validator(mode="after")
    def _not_future(self) -> InteractionBatch:
        limit = datetime.now(UTC) + CLOCK_SKEW
        late = [i for i, x in enumerate(self.interactions) if x.created_at > limit]
        if late:
            raise ValueError(
                f"interactions {late[:10]} are dated in the future: send "
                "`created_at` in UTC or with its offset"
            )
        return self


class BatchResult(BaseModel):
    accepted: int = Field(description="Rows the batch wrote (upserts count once per row sent).")


class RelationBatchResult(BaseModel):
    user_relations: int
    brand_relations: int
