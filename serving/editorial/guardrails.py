"""The editors' guardrails: what a post must be to go into a collection or a hot list.

The banner rules (trust-levels.md, quality-rubric.md): moderation ``pass``, base trust
level L2–L3, quality tier ≥ 2, and not a copy (a near-duplicate flagged at ingest,
``post_ingest/duplicates.py``). A collection also refuses a near-duplicate of an item
already in it. An editor may still put such a post in with an explicit override — who
and why are stored with the item (``collection_items.override_by`` / ``override_reason``)
— except a post that has not passed moderation, which never goes on a published
collection. Hot lists pin only passed posts and never list a flagged copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.serving.banner import BANNER_LEVELS, DUP_COSINE  # one notion of the rules
from quanzi.serving.editorial.suggestion_neighbours import text_vectors
from quanzi.serving.post_ingest.persistence import tier_of
from quanzi.storage.orm import Post
from quanzi.storage.queries import latest_scores

BANNER_MIN_TIER = 2  # banner picks' default min_tier (serving/banner.py)

# post ids → unit vectors of those it can embed (the service: the index's vectors).
VectorsOf = Callable[[Sequence[str]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class PostFacts:
    """What the guardrails and the editors' lists show of a post."""

    post_id: str
    author_id: str
    text: str
    status: str
    tier: int | None
    level: str | None  # "L2".."L6" (base level, the trust model's)
    near_duplicate_of: str | None  # flagged at ingest

    def banner_failures(self) -> list[str]:
        """Why the post fails the banner rules (empty: it meets them)."""
        why = []
        if self.status != "pass":
            why.append(f"moderation status is {self.status}, not pass")
        if self.level not in BANNER_LEVELS:
            why.append(f"trust {self.level or 'unscored'} is not L2–L3")
        if self.tier is None or self.tier < BANNER_MIN_TIER:
            tier = "unscored" if self.tier is None else f"tier {self.tier}"
            why.append(f"quality {tier} is below tier {BANNER_MIN_TIER}")
        if self.near_duplicate_of:
            why.append(f"a copy of {self.near_duplicate_of} (flagged at ingest)")
        return why


def post_facts(session: Session, post_ids: Sequence[str]) -> dict[str, PostFacts]:
    """Facts of the stored posts among ``post_ids`` (two queries)."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return {}
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(ids)))}
    scores = latest_scores(session, list(posts))
    out = {}
    for pid, post in posts.items():
        by_model = {s.model_name: s for s in scores.get(pid, [])}
        quality, trust, moderation = (by_model.get(m) for m in ("quality", "trust", "moderation"))
        tier = None
        if quality is not None:
            tier = tier_of(quality.payload) if quality.payload else None
            if tier is None and quality.label is not None and quality.label.isdigit():
                tier = int(quality.label)
        if post.status == "reject":
            tier = 0  # quality-rubric.md: what moderation rejects is tier 0
        out[pid] = PostFacts(
            post_id=pid,
            author_id=post.author_id,
            text=post.text,
            status=post.status,
            tier=tier,
            level=None if trust is None else trust.label,
            near_duplicate_of=(moderation.payload or {}).get("near_duplicate_of")
            if moderation is not None
            else None,
        )
    return out


def near_duplicate_pairs(
    new: Sequence[PostFacts], existing: Sequence[PostFacts], vectors_of: VectorsOf | None = None
) -> list[tuple[str, str, float | None]]:
    """``(new id, existing id, cosine)`` for each new post that nearly copies an item
    already in (or an earlier new one): flagged at ingest (cosine None), or within
    ``DUP_COSINE`` by the encoder's vectors (hashed character n-grams without them)."""
    everyone = [*existing, *new]
    ids = [f.post_id for f in everyone]
    vectors = vectors_of(ids) if vectors_of is not None else {}
    rest = [f for f in everyone if f.post_id not in vectors]
    if rest:
        vectors.update(
            zip([f.post_id for f in rest], text_vectors([f.text for f in rest]), strict=True)
        )
    out: list[tuple[str, str, float | None]] = []
    seen = list(existing)
    for f in new:
        for other in seen:
            if f.near_duplicate_of == other.post_id or other.near_duplicate_of == f.post_id:
                out.append((f.post_id, other.post_id, None))
                break
            sim = float(np.dot(vectors[f.post_id], vectors[other.post_id]))
            if sim >= DUP_COSINE:
                out.append((f.post_id, other.post_id, round(sim, 3)))
                break
        seen.append(f)
    return out
