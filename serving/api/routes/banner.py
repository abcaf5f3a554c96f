"""Banner picks: trusted, high-quality posts of a circle grouped into suggested collections."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from quanzi.serving.api.deps import EditorKey, ModelsDep, SessionDep
from quanzi.serving.api.schemas.banner import (
    BannerGroupPublic,
    BannerPickPublic,
    BannerPicks,
    BannerQuery,
)
from quanzi.serving.banner import banner_picks

router = APIRouter(prefix="/v1/banner", tags=["banner"])


@router.get(
    "/picks",
    responses={404: {"description": "No such circle"}, 503: {"description": "No encoder loaded"}},
)
def read_banner_picks(
    query: Annotated[BannerQuery, Query()], session: SessionDep, _: EditorKey, registry: ModelsDep
) -> BannerPicks:
    """Passed L2–L3 posts of quality tier ≥ 2, no near-duplicates, capped per author, grouped."""
    result = banner_picks(
        session,
        registry.current(),
        query.circle_id,
        limit=query.limit,
        per_author=query.per_author,
        min_tier=query.min_tier,
        groups=query.groups,
    )
    groups = [
        BannerGroupPublic(
            title=g.title, terms=g.terms, posts=[BannerPickPublic(**asdict(p)) for p in g.picks]
        )
        for g in result.groups
    ]
    return BannerPicks(
        circle_id=query.circle_id,
        groups=groups,
        count=sum(len(g.posts) for g in groups),
        eligible=result.eligible,
        dropped=result.dropped,
    )
