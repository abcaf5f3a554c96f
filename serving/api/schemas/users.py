"""User schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from quanzi.storage.queries import UserDetail


class BrandRelationCounts(BaseModel):
    active: int
    silent: int


class UserRelationCounts(BaseModel):
    friends: int
    following: int
    followers: int = Field(description="Follow edges towards this user stored here.")
    brands: dict[str, BrandRelationCounts] = Field(
        description="Brand circles this user is a fan / member / past buyer of, by state."
    )


class UserPublic(BaseModel):
    """An account with its provenance signals (certification, account age, audience)."""

    id: str
    kind: str
    display_name: str
    follower_count: int = Field(description="Followers the platform reports (can exceed edges).")
    creator_certified: bool
    account_created_at: datetime
    account_age_days: int
    merchant_circle_id: str | None
    post_count: int
    relations: UserRelationCounts

    @classmethod
    def from_detail(cls, detail: UserDetail, now: datetime | None = None) -> UserPublic:
        u = detail.user
        now = now or datetime.now(UTC)
        return cls(
            id=u.id,
            kind=u.kind,
            display_name=u.display_name,
            follower_count=u.follower_count,
            creator_certified=u.creator_certified,
            account_created_at=u.account_created_at,
            account_age_days=max(0, (now - u.account_created_at).days),
            merchant_circle_id=u.merchant_circle_id,
            post_count=detail.post_count,
            relations=UserRelationCounts(
                friends=detail.friends,
                following=detail.following,
                followers=detail.followers,
                brands={
                    k: BrandRelationCounts(active=v.active, silent=v.silent)
                    for k, v in detail.brand_relations.items()
                },
            ),
        )
