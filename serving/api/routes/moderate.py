"""Moderation of a text on its own (stateless: nothing is stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from quanzi.serving.api.deps import BatchersDep, require_role
from quanzi.serving.api.schemas.moderate import ModerateRequest, ModerateResponse
from quanzi.storage.api_keys import Principal

router = APIRouter(prefix="/v1/moderate", tags=["moderate"])
ModerateKey = Annotated[Principal, Depends(require_role("ingest", "feed-service", "editor"))]


@router.post(
    "",
    responses={
        404: {"description": "Unknown circle"},
        429: {"description": "The moderation queue is full: retry after `Retry-After` seconds"},
        503: {"description": "Overloaded: retry after `Retry-After` seconds"},
    },
)
async def moderate_text(
    body: ModerateRequest, _: ModerateKey, batchers: BatchersDep
) -> ModerateResponse:
    """Decision (pass/review/reject) and every label over its threshold, with spans."""
    record = {"text": body.text, "circle_id": body.circle_id}
    result, models = await batchers.moderate.submit(record)  # with other requests' texts
    versions = models.model_versions()
    return ModerateResponse.model_validate(
        {**result, "model_versions": {"moderation": versions["moderation"]}}
    )
