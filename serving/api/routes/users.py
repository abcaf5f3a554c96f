"""Users: read one account with its relation counts; the feed service upserts batches."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from quanzi.serving.api.deps import READ_ROLES, IngestKey, SessionDep
from quanzi.serving.api.schemas.batches import BatchResult, UserBatch
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.users import UserPublic
from quanzi.serving.batch_upserts import upsert_users
from quanzi.storage import queries

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[READ_ROLES])


@router.get("/{user_id}", responses={404: {"description": "No such user"}})
def read_user(user_id: ResourceId, session: SessionDep) -> UserPublic:
    """One user with certification, account age and friend / follow / brand relation counts."""
    detail = queries.get_user(session, user_id)
    if detail is None:
        raise HTTPException(404, detail=f"user {user_id!r} not found")
    return UserPublic.from_detail(detail)


@router.post("", responses={404: {"description": "Unknown merchant circle ids (listed)"}})
def upsert_users_batch(body: UserBatch, session: SessionDep, _: IngestKey) -> BatchResult:
    """Insert or update up to 1,000 users by id (idempotent: resending changes nothing)."""
    return BatchResult(accepted=upsert_users(session, [u.model_dump() for u in body.users]))
