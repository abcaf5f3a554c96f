"""Banner picks: the circle's best trusted posts, de-duplicated, spread over authors, grouped.

Eligibility (trust-levels.md, quality-rubric.md): moderation ``pass``; base trust level L2
or L3 only (L1 is viewer-relative and cannot apply to a banner; L4–L6 never); quality tier
≥ 2; not flagged as a near-duplicate at ingest. Selection walks the eligible posts best
first (quality score, then trust probability, then recency) and drops a post whose
embedding is within ``dup_cosine`` of a post already picked, or whose author already has
``per_author`` picks. The picks are then grouped into suggested collections (合集) by
agglomerative clustering of their embeddings (cosine, average linkage), each group titled
by its most distinctive character n-grams (TF-IDF against the other picks) and, when most
of its posts are about one item, that item's title.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.datasets.normalize import normalize
from quanzi.serving.editorial.errors import NotFound
from quanzi.serving.index_search import post_vectors, require_index
from quanzi.serving.post_ingest.persistence import tier_of
from quanzi.serving.worker_models import ModelSet
from quanzi.storage.orm import Circle, Item, Post
from quanzi.storage.queries import circle_posts_clause, latest_scores

BANNER_LEVELS = ("L2", "L3")
CANDIDATE_POOL = 2000  # newest passed posts of the circle considered
DUP_COSINE = 0.9  # a pick this close to a better pick is the same content
TITLE_TERMS = 2
_TERM_OK = re.compile(r"^[\w]+$")  # no punctuation or spaces inside a title term


@dataclass
class BannerPick:
    post_id: str
    author_id: str
    item_id: str | None
    text: str
    quality: float
    tier: int
    trust_level: str
    trust_prob: float | None
    created_at: datetime


@dataclass
class BannerGroup:
    title: str
    terms: list[str]
    picks: list[BannerPick] = field(default_factory=list)


@dataclass
class BannerResult:
    groups: list[BannerGroup]
    eligible: int  # posts that met every condition before de-duplication and the cap
    dropped: dict[str, int]  # reason → posts dropped


def _eligible(session: Session, circle_id: str, min_tier: int) -> tuple[list[BannerPick], int]:
    """Passed L2–L3 posts of tier ≥ ``min_tier``, best first, and how many were looked at."""
    posts = list(
        session.scalars(
            select(Post)
            .where(circle_posts_clause(session, circle_id), Post.status == "pass")
            .order_by(Post.created_at.desc(), Post.id.desc())
            .limit(CANDIDATE_POOL)
        )
    )
    scores = latest_scores(session, [p.id for p in posts])
    picks = []
    for post in posts:
        by_model = {s.model_name: s for s in scores.get(post.id, [])}
        quality, trust, moderation = (
            by_model.get("quality"),
            by_model.get("trust"),
            by_model.get("moderation"),
        )
        if quality is None or trust is None or quality.score is None:
            continue
        if trust.label not in BANNER_LEVELS:
            continue
        tier = tier_of(quality.payload) if quality.payload else None
        if tier is None and quality.label is not None and quality.label.isdigit():
            tier = int(quality.label)
        if tier is None or tier < min_tier:
            continue
        if moderation is not None and (moderation.payload or {}).get("near_duplicate_of"):
            continue
        picks.append(
            BannerPick(
                post.id,
                post.author_id,
                post.item_id,
                post.text,
                float(quality.score),
                tier,
                str(trust.label),
                trust.score,
                post.created_at,
            )
        )
    picks.sort(
        key=lambda p: (-p.quality, -(p.trust_prob or 0.0), -p.created_at.timestamp(), p.post_id)
    )
    return picks, len(posts)


def _select(
    picks: Sequence[BannerPick],
    vectors: dict[str, np.ndarray],
    limit: int,
    per_author: int,
    dup_cosine: float,
) -> tuple[list[BannerPick], Counter[str]]:
    chosen: list[BannerPick] = []
    chosen_vecs: list[np.ndarray] = []
    authors: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for pick in picks:
        if len(chosen) >= limit:
            break
        vec = vectors.get(pick.post_id)
        if vec is None:
            dropped["no_embedding"] += 1
            continue
        if authors[pick.author_id] >= per_author:
            dropped["author_cap"] += 1
            continue
        if chosen_vecs and float(np.max(np.stack(chosen_vecs) @ vec)) >= dup_cosine:
            dropped["near_duplicate"] += 1
            continue
        chosen.append(pick)
        chosen_vecs.append(vec)
        authors[pick.author_id] += 1
    return chosen, dropped


def _clusters(vectors: np.ndarray, groups: int | None) -> np.ndarray:
    """Cluster label per row: agglomerative, cosine distance, average linkage."""
    n = len(vectors)
    k = groups if groups is not None else max(1, min(8, round(n / 5)))
    k = min(k, n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)

    return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(
        vectors
    )


def _titles(
    picks: Sequence[BannerPick], labels: np.ndarray, item_titles: dict[str, str], fallback: str
) -> dict[int, tuple[str, list[str]]]:
    """Per cluster: a title and its distinctive terms (char 2–4-grams by mean TF-IDF)."""

    texts = [normalize(p.text) for p in picks]
    out: dict[int, tuple[str, list[str]]] = {}
    try:
        tfidf = TfidfVectorizer(analyzer="char", ngram_range=(2, 4), sublinear_tf=True)
        matrix = tfidf.fit_transform(texts)
        vocab = tfidf.get_feature_names_out()
    except ValueError:  # texts too short for any n-gram
        matrix, vocab = None, np.array([])
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        terms: list[str] = []
        if matrix is not None:
            weights = np.asarray(matrix[rows].mean(axis=0)).ravel()
            for j in np.argsort(-weights):
                term = str(vocab[j])
                if weights[j] <= 0 or len(terms) >= TITLE_TERMS:
                    break
                if not _TERM_OK.match(term) or any(term in t or t in term for t in terms):
                    continue
                terms.append(term)
        items = Counter(picks[i].item_id for i in rows if picks[i].item_id)
        title = "·".join(terms) or fallback
        if items:
            item_id, n = items.most_common(1)[0]
            if n * 2 >= len(rows) and item_id in item_titles:
                title = f"{item_titles[item_id]}：{title}"
        out[label] = (title, terms)
    return out


def banner_picks(
    session: Session,
    models: ModelSet,
    circle_id: str,
    *,
    limit: int = 20,
    per_author: int = 2,
    min_tier: int = 2,
    dup_cosine: float = DUP_COSINE,
    groups: int | None = None,
) -> BannerResult:
    """Banner candidates of a circle grouped into suggested collections (module docstring)."""
    circle = session.get(Circle, circle_id)
    if circle is None:
        raise NotFound(f"circle {circle_id!r} not found")
    require_index(models)
    eligible, _ = _eligible(session, circle_id, min_tier)
    # Enough candidates for the cap and de-duplication to still fill ``limit``.
    head = eligible[: max(limit * 10, 200)]
    vectors = post_vectors(session, models, [p.post_id for p in head])
    chosen, dropped = _select(head, vectors, limit, per_author, dup_cosine)
    if not chosen:
        return BannerResult([], len(eligible), dict(dropped))
    matrix = np.stack([vectors[p.post_id] for p in chosen])
    labels = _clusters(matrix, groups)
    item_ids = {p.item_id for p in chosen if p.item_id}
    item_titles = (
        dict(
            session.execute(select(Item.id, Item.title).where(Item.id.in_(sorted(item_ids)))).all()
        )
        if item_ids
        else {}
    )
    titles = _titles(chosen, labels, item_titles, fallback=circle.name)
    result: dict[int, BannerGroup] = {}
    for pick, label in zip(chosen, labels.tolist(), strict=True):  # best pick first
        if label not in result:
            result[label] = BannerGroup(title=titles[label][0], terms=titles[label][1])
        result[label].picks.append(pick)
    return BannerResult(list(result.values()), len(eligible), dict(dropped))
