"""Admin: swap in the current champion models without dropping requests; inspect them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from quanzi.serving.api.deps import AdminKey, ModelsDep
from quanzi.serving.api.schemas.admin import (
    ModelsPublic,
    ReloadRequest,
    ReloadResponse,
    ReloadStatusPublic,
)
from quanzi.serving.worker_models import ModelRegistry

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _models(registry: ModelRegistry) -> ModelsPublic:
    models = registry.current()
    return ModelsPublic(
        generation=models.generation,
        model_versions=models.model_versions(),
        degraded=models.degraded_list(),
        loaded_at=models.loaded_at,
        index=None if models.index is None else models.index.stats(),
        reload=ReloadStatusPublic(**registry.status.as_dict()),
    )


@router.post("/reload", status_code=202, responses={200: {"description": "Reloaded (with `wait`)"}})
def reload_models(
    response: Response, principal: AdminKey, registry: ModelsDep, body: ReloadRequest | None = None
) -> ReloadResponse:
    """Load the `champion` models and the encoder in the background, then swap them in.

    Requests keep being served by the models in force until the swap; the other workers on
    this data dir reload within 2 s. A failed load keeps the old models (see `error`).
    """
    wait = body is not None and body.wait
    registry.request_reload_everywhere(by=principal.name)
    status = registry.reload(trigger=f"admin {principal.name}", wait=wait)
    if wait:
        response.status_code = 200
        return ReloadResponse(
            reload=ReloadStatusPublic(**status.as_dict()), models=_models(registry)
        )
    return ReloadResponse(reload=ReloadStatusPublic(**status.as_dict()), models=None)


@router.get("/models")
def read_models(_: AdminKey, registry: ModelsDep) -> ModelsPublic:
    """Versions served by this worker, what is degraded, the index and the last reload."""
    return _models(registry)
