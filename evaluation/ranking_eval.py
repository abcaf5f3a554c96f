"""Offline ranking evaluation on a circle world's held-out days (``quanzi eval ranking``).

Protocol:
- a *request* is one (viewer, China-calendar day) of the held-out interactions; its
  candidates are the posts the viewer was shown that day (impressions), its relevance is
  graded by the viewer's strongest action on each: share / favourite / comment 3, like 2,
  click 1, nothing / hide / report 0. Requests with fewer than 2 candidates or no relevant
  post are skipped (NDCG is undefined for them);
- the pipeline ranks the candidates with everything the service would know *before the
  cutoff*: the store is built from the world's public tables (posts, users, orders, friends)
  with engagement counts from interactions before the cutoff only, and each viewer's
  history (seen, hidden, engaged → interest vector) from before the cutoff. The hidden
  truth (``hidden/``: true quality, trust, interests) is never read;
- post scores come from the champion models when they exist; otherwise from documented
  fallbacks (moderation: the rule detectors; quality: neutral 0.5; trust: provenance as in
  ``serving/feed_store.default_base_level``) and embeddings from the encoder, else from a
  TF-IDF character n-gram + SVD model fit on posts created before the cutoff. The report
  says which were used;
- **eligible-set protocol** (the headline, ``protocol="eligible"``): a ranker orders the
  posts the service may serve; moderation is a separate policy. So each request is first
  restricted to the candidates that pass the pipeline's policy filters with the default
  params (moderation, negative feedback, age, the trust-level drop: ``eligible_split``),
  and *every* method — pipeline, learned, recency, popularity — ranks that same set, with
  the ideal DCG over the same set. Requests left with fewer than 2 eligible candidates or
  no relevant one are skipped for every method. The second view (``unfiltered``) keeps
  every shown post: the pipelines rank what they filter last (in shown order) while the
  baselines rank everything, which charges the pipeline for the moderation policy (users
  of the world still click disguised ads);
- metric: NDCG@10 with gain 2^rel − 1, against a recency baseline (newest first) and a
  popularity baseline (positive weighted engagement before the cutoff, then newest), over
  all requests and per viewer segment: friend-rich (≥ 5 friends) / some friends /
  friendless, and the viewer's relation to the circle: active / silent / none.
- tuning (``tune_trials`` > 0): random search over the main weights on *dev* days (the
  ``dev_days`` days before the cutoff, scored with a store cut at the start of those days),
  never on the held-out days; the best dev params are then evaluated once on the test days.
- **exploration requests** (worlds built with ``--explore``): the world logs each request's
  policy (``requests.parquet``: ``newest`` first, or ``random`` for the exploration
  bucket). The logged labels of newest-first requests are position-biased towards exactly
  the recency order (examination decays with position), so the tables over all requests
  partly measure agreement with the logging policy. On random-order requests a post's
  position is independent of the post, so the eligible-set NDCG on the held-out
  exploration requests is the unbiased headline (``test_explore``, with paired bootstrap
  gains vs recency and popularity); tuning then uses the dev days' exploration requests
  too. The all-requests tables are kept beside it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanzi.progress import ProgressCallback
from quanzi.serving.feed_service import campaign_phase
from quanzi.serving.feed_snapshot import UNKNOWN_QUALITY, SnapshotFeedStore
from quanzi.serving.feed_store import resolve_base_levels
from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.components import Scored
from quanzi.serving.ranking.params import RankingParams
from quanzi.serving.ranking.pipeline import RankingPipeline
from quanzi.serving.ranking.query import FeedQuery, ViewerContext
from quanzi.serving.ranking.viewer_loader import build_viewer_context
from quanzi.settings import Settings

log = logging.getLogger(__name__)

GRADES = {"share": 3, "favourite": 3, "comment": 3, "like": 2, "click": 1}
FRIEND_RICH = 5
K = 10
PUBLIC_TABLES = ("circles", "users", "user_relations", "brand_relations", "orders", "posts",
                 "interactions")
METHODS = ("pipeline", "recency", "popularity")
# Random-search ranges for tuning (only weights the world's public data can inform).
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {  # name → (low, high, log-scale)
    "w_quality": (0.0, 2.0, False),
    "w_trust": (0.0, 3.0, False),
    "w_engagement": (0.0, 4.0, False),
    "w_freshness": (0.2, 4.0, False),
    "freshness_half_life_hours": (6.0, 240.0, True),
    "w_interest": (0.0, 2.0, False),
    "w_phase": (0.0, 1.0, False),
    "engagement_prior_b": (5.0, 100.0, True),
    "mmr_lambda": (0.5, 1.0, False),
}


# ---------------------------------------------------------------------------- metric
def dcg(gains: Sequence[float], k: int = K) -> float:
    g = np.asarray(gains, dtype=np.float64)[:k]
    return float(np.sum(g / np.log2(np.arange(2, len(g) + 2))))


def ndcg_at_k(ranked_relevances: Sequence[float], k: int = K,
              weights: Sequence[float] | None = None) -> float | None:
    """NDCG@k (gain 2^rel − 1) of relevances in ranked order; None when nothing is relevant.

    ``weights`` (same order) multiply each item's gain: inverse examination propensities
    for the position-debiased variant.
    """
    gains = 2.0 ** np.asarray(ranked_relevances, dtype=np.float64) - 1.0
    if weights is not None:
        gains = gains * np.asarray(weights, dtype=np.float64)
    ideal = dcg(np.sort(gains)[::-1], k)
    return None if ideal == 0 else dcg(gains, k) / ideal


def position_propensity(interactions: pd.DataFrame, max_position: int = 50,
                        floor: float = 0.05) -> np.ndarray:
    """Relative examination probability per logged position, from public logs: CTR at each
    position divided by CTR at position 0 (made non-increasing, floored)."""
    shown = interactions[interactions["kind"] == "impression"]
    clicked = interactions[interactions["kind"] == "click"]
    imp = np.bincount(shown["position"].fillna(0).astype(int).clip(0, max_position),
                      minlength=max_position + 1).astype(float)
    clk = np.bincount(clicked["position"].fillna(0).astype(int).clip(0, max_position),
                      minlength=max_position + 1).astype(float)
    ctr = (clk + 1.0) / (imp + 20.0)
    prop = np.minimum.accumulate(ctr / ctr[0])
    return np.clip(prop, floor, 1.0)


def examination_logs(world: World, interactions: pd.DataFrame) -> pd.DataFrame:
    """The logs to estimate examination by position from: on a world with exploration
    requests only those (there a post's position is independent of the post, so CTR by
    position is examination alone, not freshness too); else all of ``interactions``."""
    if not world.explores:
        return interactions
    return interactions[interactions["request_id"].map(world.policy).eq("random").to_numpy()]


# ---------------------------------------------------------------------------- data
@dataclass
class World:
    """A world's public tables and held-out interactions (``hidden/`` is never opened)."""

    name: str
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    holdout: pd.DataFrame
    # request_id → logging policy ("newest" / "random"), train and held-out days; empty for
    # worlds without an exploration bucket (every request was newest first).
    policy: dict[str, str] = field(default_factory=dict)

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest["cutoff"])

    @property
    def explores(self) -> bool:
        """Whether the world logged exploration (random-order) requests."""
        return "random" in self.policy.values()


def require_world(settings: Settings, name: str) -> Path:
    """The world's manifest path, or a FileNotFoundError saying how to build the world
    (callers check this before creating anything, e.g. an MLflow store)."""
    from quanzi.datasets.world.build import world_dir

    manifest_path = world_dir(settings, name) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"world {name!r} not found in {settings.worlds_dir}: run "
                                f"`quanzi world build` (or `quanzi world list`)")
    return manifest_path


def load_world(settings: Settings, name: str) -> World:
    """Read the public tables named in the manifest and the held-out interactions."""
    manifest_path = require_world(settings, name)
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in PUBLIC_TABLES}
    holdout = pd.read_parquet(folder / manifest["eval"]["file"])
    policy: dict[str, str] = {}
    if "requests" in manifest:  # the request log of a world with an exploration bucket
        for key in ("file", "holdout_file"):
            log_ = pd.read_parquet(folder / manifest["requests"][key],
                                   columns=["request_id", "policy"])
            policy.update(zip(log_["request_id"], log_["policy"], strict=True))
    return World(name, manifest, tables, holdout, policy)


@dataclass
class PostScores:
    """Per-post model outputs (or fallbacks) and a label saying where each came from."""

    frame: pd.DataFrame  # id, status, quality, tier, scored_level
    sources: dict[str, str]


def _fallback_status(texts: pd.Series) -> list[str]:
    from quanzi.models.moderation.detectors import detect

    return ["reject" if detect(t) else "pass" for t in texts]


def score_posts(settings: Settings, posts: pd.DataFrame, users: pd.DataFrame,
                verified: pd.Series, progress: Callable[[int], None] | None = None,
                models: Any | None = None) -> PostScores:
    """Moderation, quality and trust per post from the champions, else the fallbacks."""
    from quanzi.models.scoring import Scorer, validate_record

    if models is None:
        from quanzi.serving.model_registry import load_models

        models = load_models(settings)
    preds = models.predictors
    frame = pd.DataFrame({"id": posts["id"]})
    sources = {
        "moderation": f"champion {models.versions['moderation']}" if preds.get("moderation")
        else "fallback: rule detectors (contact/privacy hit → reject)",
        "quality": f"champion {models.versions['quality']}" if preds.get("quality")
        else f"fallback: neutral {UNKNOWN_QUALITY}",
        "trust": f"champion {models.versions['trust']}" if preds.get("trust")
        else "fallback: provenance (merchant L5, verified L3/L2, else L4)",
    }
    if not any(preds.get(t) for t in ("moderation", "quality", "trust")):
        frame["status"] = _fallback_status(posts["text"])
        if progress:
            progress(len(posts))
        return PostScores(frame, sources)
    author = users.set_index("id")
    records = [validate_record({
        "id": pid, "text": text, "circle_id": cid, "verified_purchase": bool(v),
        "author": {"kind": author.at[a, "kind"],
                   "creator_certified": bool(author.at[a, "creator_certified"]),
                   "follower_count": int(author.at[a, "follower_count"])},
    }) for pid, text, cid, a, v in zip(posts["id"], posts["text"], posts["circle_id"],
                                       posts["author_id"], verified, strict=True)]
    scorer = Scorer(moderation=preds.get("moderation"), quality=preds.get("quality"),
                    trust=preds.get("trust"))
    status, quality, tier, level = [], [], [], []
    for start in range(0, len(records), 512):
        for out in scorer.score(records[start:start + 512]):
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
            posts.loc[frame["status"].isna().to_numpy(), "text"])
    frame["quality"], frame["tier"] = quality, tier
    frame["scored_level"] = [
        int(str(x).upper().removeprefix("L")) if pd.notna(x) else np.nan for x in level]
    return PostScores(frame, sources)


@dataclass
class Embeddings:
    ids: list[str]
    matrix: np.ndarray
    source: str


def embed_posts(settings: Settings, posts: pd.DataFrame, fit_mask: np.ndarray,
                models: Any | None = None, dim: int = 64, seed: int = 0) -> Embeddings:
    """Post vectors from the encoder, else TF-IDF char 1–2-grams + SVD fit on ``fit_mask``."""
    embedder = getattr(models, "embedder", None)
    if embedder is not None:
        matrix = np.asarray(embedder(posts["text"].tolist()), dtype=np.float32)
        return Embeddings(posts["id"].tolist(), matrix,
                          f"encoder {getattr(models, 'encoder_version', '?')}")
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2,
                                 sublinear_tf=True, max_features=50_000)
    fitted = vectorizer.fit_transform(posts["text"][fit_mask])
    svd = TruncatedSVD(n_components=min(dim, max(2, fitted.shape[1] - 1)), random_state=seed)
    svd.fit(fitted)
    matrix = normalize(svd.transform(vectorizer.transform(posts["text"]))).astype(np.float32)
    return Embeddings(posts["id"].tolist(), matrix,
                      f"fallback: TF-IDF char 1-2-grams + SVD-{svd.n_components} fit on "
                      "posts created before the cutoff (no encoder)")


def verified_purchase(posts: pd.DataFrame, orders: pd.DataFrame) -> pd.Series:
    """Whether each post's order was placed by its author before the post (order matched)."""
    o = orders.set_index("id")
    buyer = posts["order_id"].map(o["user_id"])
    ordered = posts["order_id"].map(o["created_at"])
    return ((buyer == posts["author_id"]) & (ordered <= posts["created_at"])).fillna(False)


def build_store(world: World, cutoff: pd.Timestamp, scores: PostScores,
                embeddings: Embeddings, verified: pd.Series) -> SnapshotFeedStore:
    """A snapshot as the service would hold it at ``cutoff`` (engagement before it only)."""
    t = world.tables
    posts = t["posts"]
    users = t["users"].set_index("id")
    frame = pd.DataFrame({
        "id": posts["id"], "author_id": posts["author_id"], "circle_id": posts["circle_id"],
        "created_ts": posts["created_at"].map(pd.Timestamp.timestamp),
        "author_kind": posts["author_id"].map(users["kind"]),
        "certified": posts["author_id"].map(users["creator_certified"]).astype(bool),
        "verified": verified.astype(bool),
    })
    frame["creator"] = (frame["author_kind"] == "creator") | frame["certified"]
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


# ---------------------------------------------------------------------------- requests
@dataclass
class EvalRequest:
    viewer_id: str
    circle_id: str
    now: datetime
    candidates: list[str]  # in shown order
    relevance: dict[str, int]
    position: dict[str, int]  # logged position (for the debiased metric)
    segments: tuple[str, str]  # (friends segment, relation segment)
    policy: str = "newest"  # logging policy: "random" = exploration bucket (random order)


def make_requests(interactions: pd.DataFrame, posts: pd.DataFrame, friends: dict[str, set[str]],
                  relation: dict[tuple[str, str], bool],
                  policy: Mapping[str, str] | None = None) -> list[EvalRequest]:
    """One request per (viewer, China day): shown posts, graded by the strongest action.

    ``policy`` (request_id → logging policy) marks a request ``random`` when every logged
    request behind its impressions was an exploration request."""
    df = interactions.copy()
    df["day"] = df["created_at"].dt.tz_convert("Asia/Shanghai").dt.date
    circle_of = dict(zip(posts["id"], posts["circle_id"], strict=True))
    out: list[EvalRequest] = []
    for (viewer, _day), g in df.groupby(["user_id", "day"], sort=True):
        shown = g[g["kind"] == "impression"].sort_values(["created_at", "position"])
        candidates = list(dict.fromkeys(shown["post_id"]))
        position = {p: int(x) if pd.notna(x) else 0
                    for p, x in zip(shown["post_id"], shown["position"], strict=True)}
        if len(candidates) < 2:
            continue
        rel: dict[str, int] = dict.fromkeys(candidates, 0)
        for pid, kind in zip(g["post_id"], g["kind"], strict=True):
            if pid in rel:
                rel[pid] = max(rel[pid], GRADES.get(kind, 0))
        if max(rel.values()) == 0:
            continue
        circle = Counter(circle_of[p] for p in candidates).most_common(1)[0][0]
        n_friends = len(friends.get(viewer, ()))
        fseg = "friend-rich" if n_friends >= FRIEND_RICH else (
            "friendless" if n_friends == 0 else "some-friends")
        active = relation.get((viewer, circle))
        rseg = "active" if active else ("silent" if active is not None else "no-relation")
        logged = {policy.get(r, "newest") for r in shown["request_id"]} if policy else set()
        out.append(EvalRequest(str(viewer), circle, shown["created_at"].min().to_pydatetime(),
                               candidates, rel, position, (fseg, rseg),
                               "random" if logged == {"random"} else "newest"))
    return out


def viewer_contexts(world: World, cutoff: pd.Timestamp, viewers: set[str],
                    store: SnapshotFeedStore, friends: dict[str, set[str]],
                    follows: dict[str, set[str]] | None = None
                    ) -> dict[str, ViewerContext]:
    """Each viewer's context from history before ``cutoff`` (newest first)."""
    inter = world.tables["interactions"]
    before = inter[(inter["created_at"] < cutoff) & inter["user_id"].isin(viewers)]
    before = before.sort_values(["created_at", "id"], ascending=False)
    author = dict(zip(world.tables["posts"]["id"], world.tables["posts"]["author_id"],
                      strict=True))
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for uid, pid, kind in zip(before["user_id"], before["post_id"], before["kind"], strict=True):
        history[uid].append((pid, kind, author.get(pid, "")))
    follows = follows or {}
    return {v: build_viewer_context(v, friends.get(v, set()), history.get(v, []), store,
                                    follows=follows.get(v, set()))
            for v in viewers}


# ---------------------------------------------------------------------------- scoring
def request_query(req: EvalRequest, ctx: ViewerContext, params: RankingParams) -> FeedQuery:
    """The feed query that replays ``req``: exactly its logged candidates, at its time, seen
    posts kept (the log says what was shown, not what the viewer had seen before)."""
    return FeedQuery(viewer=ctx, circle_id=req.circle_id, limit=len(req.candidates),
                     now=req.now, phase=campaign_phase(req.now), params=params,
                     candidate_ids=tuple(req.candidates), exclude_seen=False)


def rank_pipeline(req: EvalRequest, ctx: ViewerContext, store: SnapshotFeedStore,
                  params: RankingParams, pipeline: RankingPipeline) -> list[str]:
    ranked = [it.post_id for it in pipeline.rank(request_query(req, ctx, params),
                                                 store).items]
    kept = set(ranked)
    return ranked + [p for p in req.candidates if p not in kept]


def rank_recency(req: EvalRequest, store: SnapshotFeedStore) -> list[str]:
    rows = store.rows_of(req.candidates)
    created = np.where(rows >= 0, store._c.cols["created_ts"][rows], 0.0)
    return [req.candidates[i] for i in np.argsort(-created, kind="stable")]


def rank_popularity(req: EvalRequest, store: SnapshotFeedStore,
                    positive: np.ndarray) -> list[str]:
    rows = store.rows_of(req.candidates)
    c = store._c
    pop = np.where(rows >= 0, c.counts[rows] @ positive, 0.0)
    created = np.where(rows >= 0, c.cols["created_ts"][rows], 0.0)
    order = np.lexsort((-created, -pop))
    return [req.candidates[i] for i in order]


@dataclass
class Split:
    """Requests of some days, the store cut before them, and the viewers' contexts."""

    requests: list[EvalRequest]
    store: SnapshotFeedStore
    contexts: dict[str, ViewerContext]
    propensity: np.ndarray  # relative examination probability per logged position
    filtered_share: float | None = None  # eligible splits: share of shown posts filtered


class KeptRecorder:
    """A scorer stage that records which candidates survived the filters (scores zero)."""

    name = "kept"

    def __init__(self) -> None:
        self.post_ids: list[str] = []

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        self.post_ids = [str(p) for p in candidates.post_ids]
        return Scored(np.zeros(len(candidates), dtype=np.float32), {})


def recording_pipeline(recorder: KeptRecorder) -> RankingPipeline:
    """The default pipeline up to its filters, ``recorder`` as the scorer and no
    selectors: what survives the policy filters, as the service would filter it."""
    pipeline = RankingPipeline.default()
    pipeline.scorer = recorder
    pipeline.selectors = []
    return pipeline


def restrict(req: EvalRequest, kept: Sequence[str]) -> EvalRequest | None:
    """``req`` with only the ``kept`` candidates (shown order); None when fewer than 2
    remain or none is relevant (NDCG is undefined or trivially 1 for every method)."""
    keep = set(kept)
    candidates = [p for p in req.candidates if p in keep]
    if len(candidates) < 2 or max(req.relevance[p] for p in candidates) == 0:
        return None
    return EvalRequest(req.viewer_id, req.circle_id, req.now, candidates, req.relevance,
                       req.position, req.segments, req.policy)


def eligible_split(split: Split, params: RankingParams | None = None) -> Split:
    """The same split with each request restricted to the candidates the pipeline's policy
    filters keep (module docstring: the eligible-set protocol). The filters run once per
    request through the production pipeline, so "eligible" means what the service would
    actually serve."""
    params = params or RankingParams()
    recorder = KeptRecorder()
    pipeline = recording_pipeline(recorder)
    kept = []
    for req in split.requests:
        recorder.post_ids = []
        pipeline.rank(request_query(req, split.contexts[req.viewer_id], params), split.store)
        kept.append(recorder.post_ids)
    return restrict_split(split, kept)


def restrict_split(split: Split, kept: Sequence[Sequence[str]]) -> Split:
    """``split`` with each request restricted to its ``kept`` candidates (one list per
    request, in order), and the share of shown candidates that were not kept."""
    requests = []
    shown = removed = 0
    for req, ids in zip(split.requests, kept, strict=True):
        shown += len(req.candidates)
        removed += len(req.candidates) - len(ids)
        restricted = restrict(req, ids)
        if restricted is not None:
            requests.append(restricted)
    return Split(requests, split.store, split.contexts, split.propensity,
                 removed / shown if shown else 0.0)


def evaluate_split(split: Split, params: RankingParams, methods: Sequence[str] = METHODS,
                   debiased: bool = False, ranker: Any | None = None
                   ) -> dict[str, list[float | None]]:
    """NDCG@10 per request for each method, in request order (``debiased``: each gain
    divided by the examination propensity of the post's logged position). Method
    ``learned``: the pipeline with ``ranker`` (a ``LinearRanker``) as its scorer."""
    pipeline = RankingPipeline.default()
    learned = RankingPipeline.default(ranker=lambda: ranker)
    learned_params = params.model_copy(update={"scorer": "learned"})
    params = params.model_copy(update={"scorer": "weighted"})  # "pipeline" = weighted scorer
    if "learned" in methods and ranker is None:
        raise ValueError("method 'learned' needs a ranker")
    positive = np.clip(split.store.weights, 0.0, None) if "popularity" in methods else None
    prop = split.propensity
    out: dict[str, list[float | None]] = {m: [] for m in methods}
    for req in split.requests:
        for m in methods:
            if m == "pipeline":
                ranked = rank_pipeline(req, split.contexts[req.viewer_id], split.store, params,
                                       pipeline)
            elif m == "learned":
                ranked = rank_pipeline(req, split.contexts[req.viewer_id], split.store,
                                       learned_params, learned)
            elif m == "recency":
                ranked = rank_recency(req, split.store)
            else:
                assert positive is not None
                ranked = rank_popularity(req, split.store, positive)
            weights = [1.0 / prop[min(req.position[p], len(prop) - 1)] for p in ranked] \
                if debiased else None
            out[m].append(ndcg_at_k([req.relevance[p] for p in ranked], weights=weights))
    return out


def summarise(requests: Sequence[EvalRequest], ndcg: dict[str, list[float | None]]
              ) -> dict[str, dict[str, Any]]:
    """Mean NDCG@10 per method, overall and per segment, with request counts."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        groups["all"].append(i)
        for seg in req.segments:
            groups[seg].append(i)
    order = ["all", "friend-rich", "some-friends", "friendless", "active", "silent",
             "no-relation"]
    out: dict[str, dict[str, Any]] = {}
    for seg in order:
        idx = groups.get(seg, [])
        row: dict[str, Any] = {"requests": len(idx)}
        for m, values in ndcg.items():
            vals = [values[i] for i in idx if values[i] is not None]
            row[m] = float(np.mean(vals)) if vals else None
        out[seg] = row
    return out


def exploration_only(requests: Sequence[EvalRequest], ndcg: dict[str, list[float | None]]
                     ) -> tuple[list[EvalRequest], dict[str, list[float | None]]]:
    """The exploration (random-order) requests and their NDCG values, in the same order:
    the subset whose labels carry no position-order bias (module docstring)."""
    idx = [i for i, r in enumerate(requests) if r.policy == "random"]
    return [requests[i] for i in idx], {m: [v[i] for i in idx] for m, v in ndcg.items()}


def paired_difference(requests: Sequence[EvalRequest], ndcg: dict[str, list[float | None]],
                      a: str, b: str, n_boot: int = 2000, seed: int = 0
                      ) -> dict[str, tuple[float, float, float]]:
    """Mean NDCG@10 of ``a`` minus ``b`` per segment with a 95 % paired bootstrap interval
    (requests resampled with replacement): whether a gain is more than request noise."""
    rng = np.random.default_rng(seed)
    diffs = np.array([np.nan if x is None or y is None else x - y
                      for x, y in zip(ndcg[a], ndcg[b], strict=True)], dtype=np.float64)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        if np.isfinite(diffs[i]):
            for seg in ("all", *req.segments):
                groups[seg].append(i)
    out: dict[str, tuple[float, float, float]] = {}
    for seg, idx in groups.items():
        d = diffs[idx]
        boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        out[seg] = (float(d.mean()), float(lo), float(hi))
    return out


# ---------------------------------------------------------------------------- orchestration
@dataclass
class EvalConfig:
    world: str
    dev_days: int = 3
    tune_trials: int = 30
    seed: int = 0
    embedding_dim: int = 64


@dataclass
class EvalReport:
    world: str
    cutoff: str
    holdout_days: list[str]
    dev_days: list[str]
    sources: dict[str, str]
    test: dict[str, dict[str, Any]]  # eligible-set protocol (the headline)
    test_debiased: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every shown post, filtered ones ranked last by the pipelines (the second view).
    test_unfiltered: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Eligible set, held-out exploration (random-order) requests only: the unbiased
    # headline when the world has an exploration bucket (empty otherwise).
    test_explore: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "learned − recency", "learned − popularity", … on the exploration requests
    gains_explore: dict[str, dict[str, tuple[float, float, float]]] = field(
        default_factory=dict)
    explore_fraction: float | None = None  # of the world's requests (None: no bucket)
    dev_requests: str = "all"  # which dev requests tuning scored: "all" or "exploration"
    protocol: str = "eligible: every method ranks the posts that pass the policy filters"
    filtered_share: float | None = None  # of the held-out shown posts
    # "learned − recency" etc. → segment → (mean gain, 95 % paired bootstrap low, high)
    gains: dict[str, dict[str, tuple[float, float, float]]] = field(default_factory=dict)
    dev: dict[str, dict[str, Any]] = field(default_factory=dict)
    tuned_params: dict[str, float] = field(default_factory=dict)
    trials: list[dict[str, Any]] = field(default_factory=list)
    hidden_truth_used: bool = False

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _friends(world: World, kind: str = "friend") -> dict[str, set[str]]:
    """Viewer → the other ends of its ``user_relations`` of ``kind`` (friend / follow)."""
    rel = world.tables["user_relations"]
    rel = rel[rel["kind"] == kind]
    out: dict[str, set[str]] = defaultdict(set)
    for u, o in zip(rel["user_id"], rel["other_id"], strict=True):
        out[u].add(o)
    return out


def _relations(world: World) -> dict[tuple[str, str], bool]:
    br = world.tables["brand_relations"]
    out: dict[tuple[str, str], bool] = {}
    for u, c, a in zip(br["user_id"], br["circle_id"], br["active"], strict=True):
        out[(u, c)] = out.get((u, c), False) or bool(a)
    return out


FRESHNESS_SEED = {"w_freshness": 3.0, "freshness_half_life_hours": 48.0, "w_quality": 0.2,
                  "w_trust": 0.3, "w_engagement": 0.3, "w_interest": 0.1, "w_phase": 0.0,
                  "mmr_lambda": 1.0}


def perturb(rng: np.random.Generator, params: RankingParams) -> RankingParams:
    """A neighbour of ``params``: each searched value × e^U(−0.7, 0.7), kept in its range."""
    values: dict[str, float] = {}
    for name, (lo, hi, _) in SEARCH_SPACE.items():
        value = getattr(params, name) * float(np.exp(rng.uniform(-0.7, 0.7)))
        if value == 0 and rng.random() < 0.3:
            value = lo + 0.05 * (hi - lo)
        values[name] = float(np.clip(value, lo, hi))
    return params.model_copy(update=values)


def sample_params(rng: np.random.Generator, base: RankingParams) -> RankingParams:
    values: dict[str, float] = {}
    for name, (lo, hi, log_scale) in SEARCH_SPACE.items():
        u = rng.uniform(np.log(lo), np.log(hi)) if log_scale else rng.uniform(lo, hi)
        values[name] = float(np.exp(u) if log_scale else u)
    return base.model_copy(update=values)


def usable_ranker(ranker: Any | None, world: World) -> tuple[Any | None, str]:
    """The loaded ``quanzi-ranker`` champion if it was trained on this world's pre-cutoff
    days only (its saved config lists them), with a line saying what was used."""
    if ranker is None:
        return None, ("none: no quanzi-ranker champion (`quanzi train ranker`, then "
                      "`quanzi promote quanzi-ranker`)")
    cfg = getattr(ranker, "config", {}) or {}
    days = sorted([*cfg.get("train_days", []), *cfg.get("dev_days", [])])
    holdout = sorted(world.manifest["holdout_days"])
    label = f"champion quanzi-ranker v{getattr(ranker, 'version', '?')}"
    if cfg.get("world") != world.name or not days or days[-1] >= holdout[0]:
        return None, (f"{label} not used: trained on world {cfg.get('world')!r} days "
                      f"{days[:1]}..{days[-1:]}, not on {world.name}'s pre-cutoff days")
    return ranker, (f"{label} ({cfg.get('objective')}, C={cfg.get('C')}, "
                    f"ipw={cfg.get('ipw')}, features={cfg.get('feature_set')}, "
                    f"rows={cfg.get('train_set', 'all')}), trained on "
                    f"{world.name} days {days[0]}..{days[-1]} (before the cutoff)")


def run_eval(settings: Settings, config: EvalConfig,
             progress: ProgressCallback | None = None,
             models: Any | None = None) -> EvalReport:
    """The whole protocol (module docstring); ``progress(stage, done, total)`` if given."""
    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    world = load_world(settings, config.world)
    t = world.tables
    posts = t["posts"]
    cutoff = world.cutoff
    dev_start = cutoff - pd.Timedelta(days=config.dev_days)
    if models is None:
        from quanzi.serving.model_registry import load_models

        models = load_models(settings)
    verified = verified_purchase(posts, t["orders"])
    step("score posts", 0, len(posts))
    scores = score_posts(settings, posts, t["users"], verified,
                         lambda n: step("score posts", n, len(posts)), models=models)
    step("embed posts", 0, 1)
    # Fit the fallback embedding on what existed before the dev window: valid for both splits.
    embeddings = embed_posts(settings, posts, (posts["created_at"] < dev_start).to_numpy(),
                             models=models, dim=config.embedding_dim, seed=config.seed)
    step("embed posts", 1, 1)
    sources = {**scores.sources, "embeddings": embeddings.source,
               "engagement": "interactions before the cutoff (dev: before the dev days)"}
    friends, relations = _friends(world), _relations(world)
    follows = _friends(world, "follow")  # the learned ranker reads them, as in training

    def split_for(start: pd.Timestamp, interactions: pd.DataFrame) -> Split:
        store = build_store(world, start, scores, embeddings, verified)
        requests = make_requests(interactions, posts, friends, relations, world.policy)
        contexts = viewer_contexts(world, start, {r.viewer_id for r in requests}, store,
                                   friends, follows)
        inter = t["interactions"]
        return Split(requests, store, contexts, position_propensity(
            examination_logs(world, inter[inter["created_at"] < start])))

    ranker, sources["ranker"] = usable_ranker(getattr(models, "ranker", None), world)
    step("build test split", 0, 1)
    test_all = split_for(cutoff, world.holdout)
    test = eligible_split(test_all)
    step("build test split", 1, 1)
    base = RankingParams()
    methods = (*METHODS, "learned") if ranker is not None else METHODS
    step("evaluate test", 0, 3)
    test_ndcg = evaluate_split(test, base, methods=methods, ranker=ranker)
    step("evaluate test", 1, 3)
    debiased = evaluate_split(test, base, methods=methods, debiased=True, ranker=ranker)
    step("evaluate test", 2, 3)
    unfiltered = evaluate_split(test_all, base, methods=methods, ranker=ranker)
    step("evaluate test", 3, 3)
    report = EvalReport(
        world=world.name, cutoff=str(cutoff), holdout_days=list(world.manifest["holdout_days"]),
        dev_days=[str(d.date()) for d in pd.date_range(
            dev_start.tz_convert("Asia/Shanghai").normalize(), periods=config.dev_days)],
        sources=sources, test=summarise(test.requests, test_ndcg),
        filtered_share=test.filtered_share,
        explore_fraction=(world.manifest["requests"]["explore_fraction"]
                          if world.explores else None))
    if config.tune_trials > 0:
        inter = t["interactions"]
        dev_inter = inter[(inter["created_at"] >= dev_start) & (inter["created_at"] < cutoff)]
        dev = eligible_split(split_for(dev_start, dev_inter))  # tuned under the headline
        if world.explores:  # the headline is the exploration requests: tune on theirs
            dev = replace(dev, requests=[r for r in dev.requests if r.policy == "random"])
            report.dev_requests = "exploration"
        rng = np.random.default_rng(config.seed)
        best_params, best = base, -1.0
        n_random = max(1, config.tune_trials // 2)
        n_local = config.tune_trials - n_random
        total = 2 + n_random + n_local
        done = 0

        def trial(params: RankingParams) -> None:
            nonlocal best_params, best, done
            ndcg = evaluate_split(dev, params, methods=("pipeline",))
            vals = [v for v in ndcg["pipeline"] if v is not None]
            score = float(np.mean(vals)) if vals else 0.0
            report.trials.append({"dev_ndcg": score, **{k: getattr(params, k)
                                                        for k in SEARCH_SPACE}})
            if score > best:
                best_params, best = params, score
            done += 1
            step("tune on dev days", done, total)

        # Stage 1: the defaults, a freshness-led seed, random points of the box;
        # stage 2: local perturbations of the best so far (×0.5–2 per weight).
        for params in [base, base.model_copy(update=FRESHNESS_SEED)] + [
                sample_params(rng, base) for _ in range(n_random)]:
            trial(params)
        for _ in range(n_local):
            trial(perturb(rng, best_params))
        report.tuned_params = {k: getattr(best_params, k) for k in SEARCH_SPACE}
        dev_ndcg = evaluate_split(dev, best_params)
        report.dev = summarise(dev.requests, dev_ndcg)
        tuned = evaluate_split(test, best_params, methods=("pipeline",))["pipeline"]
        test_ndcg["pipeline-tuned"] = tuned
        report.test = summarise(test.requests, test_ndcg)
        debiased["pipeline-tuned"] = evaluate_split(test, best_params, methods=("pipeline",),
                                                    debiased=True)["pipeline"]
        unfiltered["pipeline-tuned"] = evaluate_split(test_all, best_params,
                                                      methods=("pipeline",))["pipeline"]
    report.test_debiased = summarise(test.requests, debiased)
    report.test_unfiltered = summarise(test_all.requests, unfiltered)
    for method in ("learned", "pipeline-tuned", "pipeline"):
        if method in test_ndcg:
            report.gains[f"{method} − recency"] = paired_difference(
                test.requests, test_ndcg, method, "recency")
    if world.explores:
        ex_requests, ex_ndcg = exploration_only(test.requests, test_ndcg)
        report.test_explore = summarise(ex_requests, ex_ndcg)
        for method in ("learned", "pipeline-tuned", "pipeline"):
            for baseline in ("recency", "popularity"):
                if method in ex_ndcg and ex_requests:
                    report.gains_explore[f"{method} − {baseline}"] = paired_difference(
                        ex_requests, ex_ndcg, method, baseline)
    return report


def write_report(report: EvalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str))
