"""Users: read one account with its relation counts."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.users import UserPublic
from quanzi.storage import queries

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("/{user_id}", responses={404: {"description": "No such user"}})
def read_user(user_id: ResourceId, session: SessionDep) -> UserPublic:
    """One user with certification, account age and friend / follow / brand relation counts."""
    detail = queries.get_user(session, user_id)
    if detail is None:
        raise HTTPException(404, detail=f"user {user_id!r} not found")
    return UserPublic.from_detail(detail)
