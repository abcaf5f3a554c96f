"""Similar-post search behind collection suggestions: a protocol and an in-process fallback.

The service wires the FAISS index in as ``app.state.similar_posts``; until then (and in
tests) ``stored_score_similarity`` answers from the store alone: candidates are the
circle's recent passed posts, relevance mixes the stored quality score with text
overlap to the seed posts, and vectors are hashed character n-grams, good enough for
MMR to keep near-duplicates apart.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.datasets.normalize import normalize
from quanzi.storage.orm import Post
from quanzi.storage.queries import latest_scores

FALLBACK_POOL = 500  # newest passed posts of the circle the fallback considers
HASH_FEATURES = 2**12  # dimensions of the hashed n-gram vectors
DEFAULT_QUALITY = 0.5  # for posts no quality model has scored yet


@dataclass(frozen=True)
class Neighbours:
    """Candidate posts for a seed set, best first, with unit vectors for MMR."""

    post_ids: list[str]
    relevance: np.ndarray  # (n,) higher is more relevant
    vectors: np.ndarray  # (n, d) L2-normalised rows

    def __post_init__(self) -> None:
        n = len(self.post_ids)
        if self.relevance.shape != (n,) or self.vectors.shape[0] != n:
            raise ValueError(
                f"Neighbours of {n} posts got relevance {self.relevance.shape} "
                f"and vectors {self.vectors.shape}"
            )


class SimilarPosts(Protocol):
    """Up to ``k`` passed posts of ``circle_id`` like ``seed_ids``, none in ``exclude_ids``."""

    def __call__(
        self,
        session: Session,
        *,
        circle_id: str,
        seed_ids: Sequence[str],
        k: int,
        exclude_ids: Collection[str],
    ) -> Neighbours: ...


def text_vectors(texts: Sequence[str]) -> np.ndarray:
    """Hashed character 1–3-gram counts of the normalised texts, L2-normalised rows.

    CRC32 (not Python's salted ``hash``) so every worker gets the same vectors; plain
    numpy, because importing scikit-learn on the first request costs seconds.
    """
    out = np.zeros((len(texts), HASH_FEATURES), dtype=np.float32)
    for row, text in enumerate(texts):
        norm = normalize(text).lower()
        grams = [norm[i : i + n] for n in (1, 2, 3) for i in range(len(norm) - n + 1)]
        buckets = [zlib.crc32(g.encode()) % HASH_FEATURES for g in grams]
        np.add.at(out[row], buckets, 1.0)
    lengths = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(lengths > 0, lengths, 1.0)


def stored_score_similarity(
    session: Session,
    *,
    circle_id: str,
    seed_ids: Sequence[str],
    k: int,
    exclude_ids: Collection[str],
) -> Neighbours:
    """Fallback search: ½ stored quality + ½ best cosine to a seed, over recent passed posts."""
    excluded = set(exclude_ids) | set(seed_ids)
    rows = session.execute(
        select(Post.id, Post.text)
        .where(Post.circle_id == circle_id, Post.status == "pass")
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(FALLBACK_POOL + len(excluded))
    ).all()
    rows = [r for r in rows if r.id not in excluded][:FALLBACK_POOL]
    seeds = session.execute(select(Post.text).where(Post.id.in_(list(seed_ids)))).scalars().all()
    ids = [r.id for r in rows]
    vectors = text_vectors([r.text for r in rows])
    scores = latest_scores(session, ids)
    quality = np.array(
        [
            next(
                (
                    s.score
                    for s in scores.get(pid, [])
                    if s.model_name == "quality" and s.score is not None
                ),
                DEFAULT_QUALITY,
            )
            for pid in ids
        ],
        dtype=np.float64,
    )
    closeness = np.zeros(len(ids))
    if seeds and ids:
        closeness = (vectors @ text_vectors(list(seeds)).T).max(axis=1)
    relevance = 0.5 * np.clip(quality, 0.0, 1.0) + 0.5 * closeness
    top = np.argsort(-relevance, kind="stable")[:k]
    return Neighbours(
        post_ids=[ids[i] for i in top], relevance=relevance[top], vectors=vectors[top]
    )
