"""Banner candidates: a circle's suggested collections, filtered, or a semantic search."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quanzi.models.ranking.params import Phase
from quanzi.serving.api.deps import ModelsDep, SessionDep
from quanzi.serving.console import views, web
from quanzi.serving.editorial.errors import EditorialError

router = APIRouter(prefix=web.PREFIX, route_class=web.ConsoleRoute, include_in_schema=False)


class CandidateQuery(BaseModel):
    """The filter form as the browser sends it: empty fields mean "any"."""

    model_config = ConfigDict(extra="ignore")

    circle_id: str | None = Field(None, max_length=64)
    min_tier: int = Field(views.BANNER_MIN_TIER, ge=views.BANNER_MIN_TIER, le=3)
    trust: Literal["L2", "L3"] | None = None
    date_from: date | None = None
    date_to: date | None = None
    phase: Phase | None = None
    q: str = Field("", max_length=200)

    @field_validator("circle_id", "trust", "date_from", "date_to", "phase", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


@router.get("")
def read_console_home() -> Response:
    """The console opens on the banner candidates."""
    return RedirectResponse(f"{web.PREFIX}/candidates", status_code=303)


@router.get("/candidates")
def read_candidates(
    request: Request,
    query: Annotated[CandidateQuery, Query()],
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorPage,
) -> Response:
    """Suggested banner collections of one circle (or search results), with every filter."""
    circles = views.circle_list(db)
    circle_id = query.circle_id or (circles[0].id if circles else None)
    context: dict[str, Any] = {
        "circles": circles,
        "query": query,
        "circle_id": circle_id,
        "candidates": None,
        "hits": None,
        "models_loading": False,
        "error": None,
    }
    if circle_id is not None:
        models = web.ready_models(registry)
        if models is None:
            context["models_loading"] = True
        else:
            filters = views.CandidateFilters(
                circle_id=circle_id,
                min_tier=query.min_tier,
                trust_level=query.trust,
                date_from=query.date_from,
                date_to=query.date_to,
                phase=query.phase,
                query=query.q.strip(),
            )
            try:
                if filters.query:
                    context["hits"] = views.semantic_search(db, models, filters)
                else:
                    context["candidates"] = views.banner_candidates(db, models, filters)
            except EditorialError as exc:  # e.g. no encoder: keep the filters usable
                context["error"] = exc
    template = "_candidates.html" if web.is_htmx(request) else "candidates.html"
    return web.render(request, template, **context)
