"""Similar-post search over the worker's FAISS index, and the collection-suggestion hook.

Filters (circle, minimum quality, statuses, excluded ids) are handed to the index, which
applies them *inside* the FAISS search (a bitmap selector), so ``k`` passing neighbours
come back without over-fetching. Diversity re-orders a larger pool (``MMR_POOL``) by
maximal marginal relevance (``ranking.selectors.mmr_selector.mmr_order``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.models.index import SearchFilter
from quanzi.models.ranking.selectors.mmr_selector import mmr_order
from quanzi.serving.editorial.errors import EditorialError, NotFound
from quanzi.serving.editorial.suggestion_neighbours import (
    DEFAULT_QUALITY,
    Neighbours,
    stored_score_similarity,
)
from quanzi.serving.worker_models import ModelRegistry, ModelSet
from quanzi.storage.orm import Post, PostEmbedding

MMR_POOL_MIN, MMR_POOL_MAX = 50, 500  # candidates MMR chooses among: max(4k, 50) ≤ 500
SUGGESTION_QUALITY_WEIGHT = 0.25  # collection suggestions: ¾ similarity, ¼ quality


class ServiceUnavailable(EditorialError):
    """A model the request needs is not loaded; the message says how to provide it."""

    status_code = 503


@dataclass(frozen=True)
class SimilarHit:
    post_id: str
    similarity: float
    circle_id: str
    author_id: str
    status: str
    quality: float | None
    text: str
    created_at: datetime


def require_index(models: ModelSet) -> Any:
    """The worker's index, or a 503 saying why there is none."""
    if models.embedder is None or models.index is None:
        why = models.degraded.get("encoder", "no encoder loaded")
        raise ServiceUnavailable(
            f"similar search needs the encoder, which is unavailable "
            f"({why}); set QUANZI_ENCODER or run `quanzi train encoder`, "
            "then POST /v1/admin/reload"
        )
    return models.index


def post_vectors(
    session: Session, models: ModelSet, post_ids: Sequence[str]
) -> dict[str, np.ndarray]:
    """Vectors of stored posts: from the index, else the store, else embedded now."""
    index = require_index(models)
    out: dict[str, np.ndarray] = {}
    for pid in post_ids:
        if pid in index:
            with contextlib.suppress(KeyError):  # removed by the sync thread just now
                out[pid] = index.vector(pid)
    rest = [pid for pid in post_ids if pid not in out]
    if rest:
        for pid, blob in session.execute(
            select(PostEmbedding.post_id, PostEmbedding.vector).where(
                PostEmbedding.encoder_version == models.encoder_version,
                PostEmbedding.post_id.in_(rest),
            )
        ):
            out[pid] = np.frombuffer(blob, dtype="<f4").copy()
    rest = [pid for pid in post_ids if pid not in out]
    if rest:  # stored before the encoder existed (e.g. a loaded world): embed on the fly
        texts = dict(session.execute(select(Post.id, Post.text).where(Post.id.in_(rest))).all())
        ids = [pid for pid in rest if pid in texts]
        if ids:
            vectors = models.embedder([texts[pid] for pid in ids])  # type: ignore[misc]
            out.update(zip(ids, np.asarray(vectors, dtype=np.float32), strict=True))
    return out


def search_similar(
    session: Session,
    models: ModelSet,
    *,
    post_id: str | None = None,
    text: str | None = None,
    k: int = 10,
    circle_id: str | None = None,
    min_quality: float | None = None,
    statuses: Collection[str] | None = None,
    exclude_ids: Collection[str] = (),
    diversity: float = 0.0,
    vector: np.ndarray | None = None,
) -> list[SimilarHit]:
    """Up to ``k`` neighbours of a stored post or a text, filtered inside the search
    (``vector``: the text already embedded by ``models``' encoder, e.g. in a batch)."""
    index = require_index(models)
    excluded = set(exclude_ids)
    if post_id is not None:
        vector = post_vectors(session, models, [post_id]).get(post_id)
        if vector is None:
            raise NotFound(f"post {post_id!r} not found")
        excluded.add(post_id)
    elif vector is None:
        vector = np.asarray(models.embedder([text or ""]), dtype=np.float32)[0]  # type: ignore[misc]
    flt = SearchFilter.of(
        circle_id=circle_id, min_quality=min_quality, statuses=statuses, exclude_ids=excluded
    )
    pool = k if diversity <= 0 else min(max(4 * k, MMR_POOL_MIN), MMR_POOL_MAX)
    hits = index.search(vector, pool, flt)
    if diversity > 0 and len(hits) > 1:
        vectors = post_vectors(session, models, [pid for pid, _ in hits])
        hits = [(pid, sim) for pid, sim in hits if pid in vectors]
        picked = mmr_order(
            np.array([sim for _, sim in hits]),
            np.stack([vectors[pid] for pid, _ in hits]),
            k,
            1.0 - diversity,
        )
        hits = [hits[i] for i in picked]
    return _hydrate(session, index, hits[:k])


def _hydrate(session: Session, index: Any, hits: Sequence[tuple[str, float]]) -> list[SimilarHit]:
    """Attach the stored post to each hit (a post deleted meanwhile is dropped)."""
    if not hits:
        return []
    posts = {
        p.id: p for p in session.scalars(select(Post).where(Post.id.in_([pid for pid, _ in hits])))
    }
    out = []
    for pid, sim in hits:
        post = posts.get(pid)
        if post is None:
            continue
        try:
            quality = index.meta(pid).quality
        except KeyError:
            quality = None
        out.append(
            SimilarHit(
                pid,
                round(float(sim), 6),
                post.circle_id,
                post.author_id,
                post.status,
                quality,
                post.text,
                post.created_at,
            )
        )
    return out


class IndexSimilarPosts:
    """``SimilarPosts`` (collection suggestions) backed by the FAISS index.

    Relevance is ¾ the best cosine to a seed post and ¼ the quality score; while no models
    are loaded, without an encoder, or for a collection with no items yet, the store-only
    fallback answers.
    """

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def __call__(
        self,
        session: Session,
        *,
        circle_id: str,
        seed_ids: Sequence[str],
        k: int,
        exclude_ids: Collection[str],
    ) -> Neighbours:
        models = self.registry.peek()  # never waits for (or triggers) a model load
        if models is None or models.index is None or models.embedder is None or not seed_ids:
            return stored_score_similarity(
                session, circle_id=circle_id, seed_ids=seed_ids, k=k, exclude_ids=exclude_ids
            )
        seeds = post_vectors(session, models, list(seed_ids))
        if not seeds:
            return stored_score_similarity(
                session, circle_id=circle_id, seed_ids=seed_ids, k=k, exclude_ids=exclude_ids
            )
        flt = SearchFilter.of(
            circle_id=circle_id, statuses=["pass"], exclude_ids=set(exclude_ids) | set(seed_ids)
        )
        best: dict[str, float] = {}
        for hits in models.index.search_batch(np.stack(list(seeds.values())), k, flt):
            for pid, sim in hits:
                best[pid] = max(sim, best.get(pid, -1.0))
        vectors = post_vectors(session, models, list(best))
        ids = [pid for pid in best if pid in vectors]
        if not ids:
            return Neighbours([], np.zeros(0), np.zeros((0, models.embedder.dim), np.float32))
        quality = []
        for pid in ids:
            try:
                q = models.index.meta(pid).quality
            except KeyError:
                q = None
            quality.append(DEFAULT_QUALITY if q is None else q)
        relevance = (1 - SUGGESTION_QUALITY_WEIGHT) * np.array(
            [best[p] for p in ids]
        ) + SUGGESTION_QUALITY_WEIGHT * np.clip(np.array(quality), 0.0, 1.0)
        order = np.argsort(-relevance, kind="stable")[:k]
        return Neighbours(
            [ids[i] for i in order], relevance[order], np.stack([vectors[ids[i]] for i in order])
        )
