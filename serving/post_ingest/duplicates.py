"""Near-duplicate detection at ingest: the most similar other post of the same circle.

Three places hold the posts a new one may copy: the worker's vector index, this worker's
recent ingests its index does not have yet (``RecentVectors``), and the earlier posts of
the same batch (the first of two copies is the original). What a near-duplicate means
for the post is the moderation policy's (``policy.post_status``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quanzi.models.index import SearchFilter
from quanzi.models.moderation.policy import NEAR_DUPLICATE_COSINE
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.serving.worker_models import ModelSet


def near_duplicates(
    models: ModelSet, posts: Sequence[PostInput], vectors: np.ndarray
) -> list[tuple[str, float] | None]:
    """For each post, the most similar *other* post of its circle at ≥ the threshold."""
    own = {p.id for p in posts}
    best: list[tuple[str, float] | None] = [None] * len(posts)

    def offer(i: int, pid: str, sim: float) -> None:
        if sim >= NEAR_DUPLICATE_COSINE and (best[i] is None or sim > best[i][1]):
            best[i] = (pid, sim)

    index = models.index
    recent = models.recent
    by_circle: dict[str, list[int]] = {}
    for i, post in enumerate(posts):
        by_circle.setdefault(post.circle_id, []).append(i)
    for circle_id, rows in by_circle.items():
        if index is not None and len(index):
            flt = SearchFilter.of(circle_id=circle_id, exclude_ids=own)
            for i, hits in zip(rows, index.search_batch(vectors[rows], 1, flt), strict=True):
                for pid, sim in hits:
                    offer(i, pid, sim)
        for i in rows:
            hit = recent.best(circle_id, vectors[i], own)
            if hit is not None:
                offer(i, *hit)
        # Earlier posts of the same batch: the first of two copies is the original.
        sims = vectors[rows] @ vectors[rows].T
        for a, i in enumerate(rows):
            for b in range(a):
                offer(i, posts[rows[b]].id, float(sims[a, b]))
    return best
