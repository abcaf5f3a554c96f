"""A post's trust base level for the feed: the trust model's level, else provenance alone.

The feed's snapshot (``serving/feed_snapshot_sync.py``) and the offline replay of a world
(``models/ranking/offline/``) resolve it the same way, so a post unscored by the trust
model ranks the same in both: merchant account → L5; verified purchase by a certified
creator → L2, by anyone else → L3; otherwise L4 (not trusted, demoted but not dropped,
never lifted to L1).
"""

from __future__ import annotations

import pandas as pd

from quanzi.models.ranking.feed_snapshot import UNKNOWN_QUALITY


def default_base_level(author_kind: str, certified: bool, verified: bool) -> int:
    """Trust base level from provenance alone, for posts the trust model has not scored."""
    if author_kind == "merchant":
        return 5
    if verified:
        return 2 if certified else 3
    return 4


def resolve_base_levels(posts: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Posts joined with their scores; trust base level from the model, else provenance."""
    merged = posts.merge(scores, on="id", how="left")
    fallback = [
        default_base_level(k, c, v)
        for k, c, v in zip(
            merged["author_kind"], merged["certified"], merged["verified"], strict=True
        )
    ]
    merged["base_level"] = merged["scored_level"].fillna(pd.Series(fallback, index=merged.index))
    merged["base_level"] = merged["base_level"].astype(int)
    merged["quality"] = merged["quality"].astype(float).fillna(UNKNOWN_QUALITY)
    merged["tier"] = merged["tier"].fillna(0).astype(int)
    if "ctype" in merged:  # content type code (models/content_type.py; 0 = not inferred)
        merged["ctype"] = merged["ctype"].fillna(0).astype(int)
    return merged
