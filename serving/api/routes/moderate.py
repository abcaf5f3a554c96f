"""Moderation of a text on its own (stateless: nothing is stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from quanzi.serving.api.deps import ModelsDep, SessionDep, require_role
from quanzi.serving.api.schemas.moderate import ModerateRequest, ModerateResponse
from quanzi.serving.editorial.errors import NotFound
from quanzi.serving.post_ingest.decision import RuleLookup, moderate
from quanzi.storage.api_keys import Principal
from quanzi.storage.orm import Circle

router = APIRouter(prefix="/v1/moderate", tags=["moderate"])
ModerateKey = Annotated[Principal, Depends(require_role("ingest", "feed-service", "editor"))]


@router.post("", responses={404: {"description": "Unknown circle"}})
def moderate_text(
    body: ModerateRequest, session: SessionDep, _: ModerateKey, registry: ModelsDep
) -> ModerateResponse:
    """Decision (pass/review/reject) and every label over its threshold, with spans."""
    if body.circle_id is not None and session.get(Circle, body.circle_id) is None:
        raise NotFound(f"unknown circle {body.circle_id!r}: omit circle_id or use a stored one")
    models = registry.current()
    record = {"text": body.text, "circle_id": body.circle_id}
    result = moderate(models, [record], RuleLookup(session))[0]
    versions = models.model_versions()
    return ModerateResponse.model_validate(
        {**result, "model_versions": {"moderation": versions["moderation"]}}
    )
