"""Relations: the feed service keeps friendships, follows and brand relations current."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.serving.api.deps import IngestKey, SessionDep
from quanzi.serving.api.schemas.batches import RelationBatch, RelationBatchResult
from quanzi.serving.batch_upserts import upsert_relations

router = APIRouter(prefix="/v1/relations", tags=["relations"])


@router.post("", responses={404: {"description": "Unknown user or circle ids (listed)"}})
def upsert_relation_batch(
    body: RelationBatch, session: SessionDep, _: IngestKey
) -> RelationBatchResult:
    """Add (or with `deleted`, remove) user edges and upsert brand relations; idempotent."""
    users, brands = upsert_relations(
        session,
        [e.model_dump() for e in body.user_relations],
        [e.model_dump() for e in body.brand_relations],
    )
    return RelationBatchResult(user_relations=users, brand_relations=brands)
