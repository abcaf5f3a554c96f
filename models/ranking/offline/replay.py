"""Replaying logged requests through the production ranking pipeline, and the baselines.

- ``request_query`` rebuilds the feed query of a logged request: exactly its candidates,
  at its time, seen posts kept (the log says what was shown);
- the **eligible-set protocol**: a ranker orders the posts the service may serve;
  moderation is a separate policy. So each request is first restricted to the candidates
  that pass the pipeline's policy filters with the default params (moderation, negative
  feedback, age, the trust-level drop: ``eligible_split``, run through the production
  pipeline with ``KeptRecorder`` as its scorer), and *every* method — the pipeline with the
  weighted or the learned scorer, recency, popularity — ranks that same set, with the ideal
  DCG over the same set. The ``unfiltered`` view keeps every shown post: the pipelines
  rank what they filter last (in shown order) while the baselines rank everything;
- baselines: recency (newest first) and popularity (positive weighted engagement before
  the cutoff, then newest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.offline.metrics import ndcg_at_k
from quanzi.models.ranking.offline.requests import EvalRequest
from quanzi.models.ranking.params import RankingParams, campaign_phase
from quanzi.models.ranking.pipeline import RankingPipeline
from quanzi.models.ranking.query import FeedQuery, ViewerContext

METHODS = ("pipeline", "recency", "popularity")  # "pipeline": the weighted scorer


def request_query(req: EvalRequest, ctx: ViewerContext, params: RankingParams) -> FeedQuery:
    """The feed query that replays ``req``: exactly its logged candidates, at its time, seen
    posts kept (the log says what was shown, not what the viewer had seen before)."""
    return FeedQuery(
        viewer=ctx,
        circle_id=req.circle_id,
        limit=len(req.candidates),
        now=req.now,
        phase=campaign_phase(req.now),
        params=params,
        candidate_ids=tuple(req.candidates),
        exclude_seen=False,
    )


def rank_pipeline(
    req: EvalRequest,
    ctx: ViewerContext,
    store: SnapshotFeedStore,
    params: RankingParams,
    pipeline: RankingPipeline,
) -> list[str]:
    ranked = [it.post_id for it in pipeline.rank(request_query(req, ctx, params), store).items]
    kept = set(ranked)
    return ranked + [p for p in req.candidates if p not in kept]


def rank_recency(req: EvalRequest, store: SnapshotFeedStore) -> list[str]:
    created = store.created_ts_of(req.candidates)
    return [req.candidates[i] for i in np.argsort(-created, kind="stable")]


def rank_popularity(req: EvalRequest, store: SnapshotFeedStore, positive: np.ndarray) -> list[str]:
    pop = store.counts_of(req.candidates) @ positive
    created = store.created_ts_of(req.candidates)
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
    return EvalRequest(
        req.viewer_id,
        req.circle_id,
        req.now,
        candidates,
        req.relevance,
        req.position,
        req.segments,
        req.policy,
    )


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
    return Split(
        requests, split.store, split.contexts, split.propensity, removed / shown if shown else 0.0
    )


def evaluate_split(
    split: Split,
    params: RankingParams,
    methods: Sequence[str] = METHODS,
    debiased: bool = False,
    ranker: Any | None = None,
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
                ranked = rank_pipeline(
                    req, split.contexts[req.viewer_id], split.store, params, pipeline
                )
            elif m == "learned":
                ranked = rank_pipeline(
                    req, split.contexts[req.viewer_id], split.store, learned_params, learned
                )
            elif m == "recency":
                ranked = rank_recency(req, split.store)
            else:
                assert positive is not None
                ranked = rank_popularity(req, split.store, positive)
            weights = (
                [1.0 / prop[min(req.position[p], len(prop) - 1)] for p in ranked]
                if debiased
                else None
            )
            out[m].append(ndcg_at_k([req.relevance[p] for p in ranked], weights=weights))
    return out


def evaluate_splits(
    splits: Sequence[Split], params: RankingParams, **kwargs: Any
) -> dict[str, list[float | None]]:
    """``evaluate_split`` over several splits (e.g. one per held-out window, each with the
    store cut at its own start), per method in the order of ``requests_of(splits)``."""
    out: dict[str, list[float | None]] = {}
    for split in splits:
        for m, values in evaluate_split(split, params, **kwargs).items():
            out.setdefault(m, []).extend(values)
    return out


def requests_of(splits: Sequence[Split]) -> list[EvalRequest]:
    """The requests of ``splits``, in order (matching ``evaluate_splits``)."""
    return [r for s in splits for r in s.requests]


def filtered_share_of(eligible: Sequence[Split], shown: Sequence[Split]) -> float:
    """Share of the shown candidates that the policy filters removed, over several splits."""
    n = [sum(len(r.candidates) for r in s.requests) for s in shown]
    total = sum(n)
    return (
        sum((e.filtered_share or 0.0) * k for e, k in zip(eligible, n, strict=True)) / total
        if total
        else 0.0
    )
