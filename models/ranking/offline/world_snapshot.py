"""A world's posts as the service would hold them at a cutoff: scores, vectors, engagement.

Post scores come from the champion models when they exist; otherwise from documented
fallbacks (moderation: the rule detectors; quality: neutral ``UNKNOWN_QUALITY``; trust:
provenance, ``base_levels.default_base_level``), and embeddings from the encoder, else
from a TF-IDF character n-gram + SVD model fit on posts created before the cutoff. Each
result says which was used. Engagement counts only interactions before the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from quanzi.datasets.world.tables import World
from quanzi.models.content_type import CODE as CONTENT_CODE
from quanzi.models.content_type import infer_content_type
from quanzi.models.loading import load_models
from quanzi.models.moderation.detectors import detect
from quanzi.models.ranking.base_levels import resolve_base_levels
from quanzi.models.ranking.feed_snapshot import UNKNOWN_QUALITY, SnapshotFeedStore
from quanzi.models.scoring import Scorer, validate_record
from quanzi.settings import Settings


@dataclass
class PostScores:
    """Per-post model outputs (or fallbacks) and a label saying where each came from."""

    frame: pd.DataFrame  # id, status, quality, tier, scored_level
    sources: dict[str, str]


def _fallback_status(texts: pd.Series) -> list[str]:
    return ["reject" if detect(t) else "pass" for t in texts]


def score_posts(
    settings: Settings,
    posts: pd.DataFrame,
    users: pd.DataFrame,
    verified: pd.Series,
    progress: Callable[[int], None] | None = None,
    models: Any | None = None,
) -> PostScores:
    """Moderation, quality and trust per post from the champions, else the fallbacks."""
    if models is None:
        models = load_models(settings)
    preds = models.predictors
    frame = pd.DataFrame({"id": posts["id"]})
    sources = {
        "moderation": f"champion {models.versions['moderation']}"
        if preds.get("moderation")
        else "fallback: rule detectors (contact/privacy hit → reject)",
        "quality": f"champion {models.versions['quality']}"
        if preds.get("quality")
        else f"fallback: neutral {UNKNOWN_QUALITY}",
        "trust": f"champion {models.versions['trust']}"
        if preds.get("trust")
        else "fallback: provenance (merchant L5, verified L3/L2, else L4)",
    }
    if not any(preds.get(t) for t in ("moderation", "quality", "trust")):
        frame["status"] = _fallback_status(posts["text"])
        if progress:
            progress(len(posts))
        return PostScores(frame, sources)
    author = users.set_index("id")
    records = [
        validate_record(
            {
                "id": pid,
                "text": text,
                "circle_id": cid,
                "verified_purchase": bool(v),
                "author": {
                    "kind": author.at[a, "kind"],
                    "creator_certified": bool(author.at[a, "creator_certified"]),
                    "follower_count": int(author.at[a, "follower_count"]),
                },
            }
        )
        for pid, text, cid, a, v in zip(
            posts["id"],
            posts["text"],
            posts["circle_id"],
            posts["author_id"],
            verified,
            strict=True,
        )
    ]
    scorer = Scorer(
        moderation=preds.get("moderation"), quality=preds.get("quality"), trust=preds.get("trust")
    )
    status, quality, tier, level = [], [], [], []
    for start in range(0, len(records), 512):
        for out in scorer.score(records[start : start + 512]):
            mod, q, t = out["moderation"], out["quality"], out["trust"]
            status.append(mod["decision"] if mod else None)
            quality.append(q["score"] if q else np.nan)
            tier.append(q["tier"] if q else np.nan)
            level.append(t["level"] if t else np.nan)
        if progress:
            progress(min(512, len(records) - start))
    frame["status"] = status
    if frame["status"].isna().any():
        frame.loc[frame["status"].isna(), "status"] = _fallback_status(
            posts.loc[frame["status"].isna().to_numpy(), "text"]
        )
    frame["quality"], frame["tier"] = quality, tier
    frame["scored_level"] = [
        int(str(x).upper().removeprefix("L")) if pd.notna(x) else np.nan for x in level
    ]
    return PostScores(frame, sources)


@dataclass
class Embeddings:
    ids: list[str]
    matrix: np.ndarray
    source: str


def embed_posts(
    settings: Settings,
    posts: pd.DataFrame,
    fit_mask: np.ndarray,
    models: Any | None = None,
    dim: int = 64,
    seed: int = 0,
) -> Embeddings:
    """Post vectors from the encoder, else TF-IDF char 1–2-grams + SVD fit on ``fit_mask``."""
    embedder = getattr(models, "embedder", None)
    if embedder is not None:
        matrix = np.asarray(embedder(posts["text"].tolist()), dtype=np.float32)
        return Embeddings(
            posts["id"].tolist(), matrix, f"encoder {getattr(models, 'encoder_version', '?')}"
        )
    vectorizer = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50_000
    )
    fitted = vectorizer.fit_transform(posts["text"][fit_mask])
    svd = TruncatedSVD(n_components=min(dim, max(2, fitted.shape[1] - 1)), random_state=seed)
    svd.fit(fitted)
    matrix = normalize(svd.transform(vectorizer.transform(posts["text"]))).astype(np.float32)
    return Embeddings(
        posts["id"].tolist(),
        matrix,
        f"fallback: TF-IDF char 1-2-grams + SVD-{svd.n_components} fit on "
        "posts created before the cutoff (no encoder)",
    )


def verified_purchase(posts: pd.DataFrame, orders: pd.DataFrame) -> pd.Series:
    """Whether each post's order was placed by its author before the post (order matched)."""
    o = orders.set_index("id")
    buyer = posts["order_id"].map(o["user_id"])
    ordered = posts["order_id"].map(o["created_at"])
    return ((buyer == posts["author_id"]) & (ordered <= posts["created_at"])).fillna(False)


def build_store(
    world: World,
    cutoff: pd.Timestamp,
    scores: PostScores,
    embeddings: Embeddings,
    verified: pd.Series,
) -> SnapshotFeedStore:
    """A snapshot as the service would hold it at ``cutoff`` (engagement before it only)."""
    t = world.tables
    posts = t["posts"]
    users = t["users"].set_index("id")
    frame = pd.DataFrame(
        {
            "id": posts["id"],
            "author_id": posts["author_id"],
            "circle_id": posts["circle_id"],
            "created_ts": posts["created_at"].map(pd.Timestamp.timestamp),
            "author_kind": posts["author_id"].map(users["kind"]),
            "certified": posts["author_id"].map(users["creator_certified"]).astype(bool),
            "verified": verified.astype(bool),
        }
    )
    frame["creator"] = (frame["author_kind"] == "creator") | frame["certified"]
    # The content type as ingest stores it: the same rules on the same text.
    frame["ctype"] = [CONTENT_CODE[infer_content_type(text)] for text in posts["text"]]
    frame = frame.merge(scores.frame, on="id", how="left")
    for col in ("quality", "tier", "scored_level"):
        if col not in frame:
            frame[col] = np.nan
    store = SnapshotFeedStore()
    store.upsert_posts(_with_levels(frame))
    store.circles = frozenset(t["circles"]["id"])
    inter = t["interactions"]
    before = inter[inter["created_at"] < cutoff]
    agg = before.groupby(["post_id", "kind"]).size().reset_index(name="n")
    store.add_counts(agg["post_id"].tolist(), agg["kind"].tolist(), agg["n"].astype(float).tolist())
    store.set_embeddings(embeddings.ids, embeddings.matrix)
    store.encoder_version = embeddings.source
    return store


def _with_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """``resolve_base_levels`` on a frame that already carries its score columns."""
    scores = frame[["id", "quality", "tier", "scored_level"]]
    return resolve_base_levels(frame.drop(columns=["quality", "tier", "scored_level"]), scores)
