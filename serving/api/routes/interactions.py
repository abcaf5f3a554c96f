"""Interactions: the feed service logs what viewers did with served posts."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.serving.api.deps import IngestKey, SessionDep
from quanzi.serving.api.schemas.batches import BatchResult, InteractionBatch
from quanzi.serving.batch_upserts import add_interactions

router = APIRouter(prefix="/v1/interactions", tags=["interactions"])


@router.post(
    "", status_code=201, responses={404: {"description": "Unknown user or post ids (listed)"}}
)
def create_interactions(body: InteractionBatch, session: SessionDep, _: IngestKey) -> BatchResult:
    """Append a batch of interactions (impressions, clicks, likes, hides, reports…)."""
    n = add_interactions(session, [i.model_dump() for i in body.interactions])
    return BatchResult(accepted=n)
