"""Near-duplicate detection at ingest: the most similar other post anywhere in the store.

Copy-paste (搬运) across circles is the common case — a hotel review pasted into the
shampoo circle — so the search runs over the whole index, not the post's own circle.
Three places hold the posts a new one may copy: the worker's vector index, this worker's
recent ingests its index does not have yet (``RecentVectors``), and the earlier posts of
the same batch (the first of two copies is the original). What a near-duplicate means
for the post is the moderation policy's (``policy.post_status``: review, so an editor
sees which post it copies); the result is its one input from here. A near embedding is a
copy only when the texts overlap too (``policy.is_copy``): two buyers' short praise of the
same trousers embeds as close as a copy does, and a stock phrase is nobody's copy. Banner
picks and hot lists never take a post flagged here (``serving/banner.py``,
``editorial/hotlists.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from quanzi.models.index import SearchFilter
from quanzi.models.moderation.policy import NEAR_DUPLICATE_COSINE, is_copy
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.serving.worker_models import ModelSet


def near_duplicates(
    models: ModelSet,
    posts: Sequence[PostInput],
    vectors: np.ndarray,
    texts_of: Callable[[list[str]], dict[str, str]],
) -> list[tuple[str, float] | None]:
    """For each post, the most similar *other* post of any circle at ≥ the threshold, if
    its text is a copy of that post's (``texts_of``: stored posts' texts by id; a post
    whose text is not found keeps the flag, as the embedding alone says)."""
    own = {p.id for p in posts}
    best: list[tuple[str, float] | None] = [None] * len(posts)

    def offer(i: int, pid: str, sim: float) -> None:
        if sim >= NEAR_DUPLICATE_COSINE and (best[i] is None or sim > best[i][1]):
            best[i] = (pid, sim)

    index = models.index
    if index is not None and len(index) and len(posts):
        flt = SearchFilter.of(exclude_ids=own)
        for i, hits in enumerate(index.search_batch(vectors, 1, flt)):
            for pid, sim in hits:
                offer(i, pid, sim)
    for i, hit in enumerate(models.recent.best_many(None, vectors, own)):
        if hit is not None:
            offer(i, *hit)
    # Earlier posts of the same batch: the first of two copies is the original.
    if len(posts) > 1:
        sims = vectors @ vectors.T
        for a in range(1, len(posts)):
            b = int(sims[a, :a].argmax())
            offer(a, posts[b].id, float(sims[a, b]))
    texts = {p.id: p.text for p in posts}
    texts = texts_of(sorted({hit[0] for hit in best if hit and hit[0] not in texts})) | texts
    return [
        hit if hit is None or hit[0] not in texts or is_copy(p.text, texts[hit[0]]) else None
        for p, hit in zip(posts, best, strict=True)
    ]
