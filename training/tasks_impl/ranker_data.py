"""The ranker task's data: a world's logged requests, hydrated day by day through the
serving pipeline, as one feature row per kept candidate (the task's module docstring).

Each day's requests are hydrated against a store cut at the *start of that day*
(engagement, viewer history, interest vector from before the day only), and the features
are taken by the scorer stage itself (``FeatureRecorder`` calls ``ranker_features``, the
function the ``LearnedScorer`` calls per request): train and serve cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quanzi.datasets.world.tables import (
    World,
    brand_relations_of,
    circle_activity,
    friends_of,
    read_world,
)
from quanzi.models.loading import LoadedModels, load_models
from quanzi.models.ranker import FEATURES
from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.offline.metrics import examination_logs, position_propensity
from quanzi.models.ranking.offline.replay import (
    KeptRecorder,
    Split,
    recording_pipeline,
    request_query,
    restrict_split,
)
from quanzi.models.ranking.offline.requests import (
    EvalRequest,
    make_requests,
    relation_kinds,
    viewer_contexts,
)
from quanzi.models.ranking.offline.world_snapshot import (
    build_store,
    embed_posts,
    score_posts,
    verified_purchase,
)
from quanzi.models.ranking.params import CHINA, RankingParams
from quanzi.models.ranking.pipeline import RankingPipeline
from quanzi.models.ranking.query import FeedQuery
from quanzi.models.ranking.ranker_features import ranker_features
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.tasks_impl.ranker_config import RankerConfig

# ``--small`` and ``use_encoder=False``: no champion, no encoder (rule detectors, TF-IDF).
NO_MODELS = LoadedModels(predictors={}, versions={}, embedder=None, encoder_version=None)


class FeatureRecorder(KeptRecorder):
    """A scorer stage that records what the learned scorer would see and scores zero."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.rows: np.ndarray = np.zeros((0, len(FEATURES)))

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        self.rows = ranker_features(query, candidates)
        return super().score(query, candidates)


def request_features(
    req: EvalRequest, split: Split, pipeline: RankingPipeline, recorder: FeatureRecorder
) -> tuple[list[str], np.ndarray]:
    """The candidates that survive the pipeline's filters and their feature rows."""
    recorder.post_ids, recorder.rows = [], np.zeros((0, len(FEATURES)))
    pipeline.rank(request_query(req, split.contexts[req.viewer_id], RankingParams()), split.store)
    return recorder.post_ids, recorder.rows


@dataclass
class DaySplit:
    """Requests of some days, each scored against the store of its own day's start."""

    splits: list[Split]  # one per day
    frame: pd.DataFrame  # one row per kept candidate: req, post_id, rel, position, features
    # ``eligible_split`` of each day: every eligible-set view (test, debiased, exploration,
    # each version promotion compares) reads these; ``build_days`` derives them from the
    # candidates its feature pass kept, so the policy filters run once per request
    eligible: list[Split] = field(default_factory=list)

    @property
    def requests(self) -> list[EvalRequest]:
        return [r for s in self.splits for r in s.requests]

    def explore_rows(self) -> np.ndarray:
        """Bool per frame row: its request was an exploration (random-order) request."""
        random_order = np.array([r.policy == "random" for r in self.requests], dtype=bool)
        return (
            random_order[self.frame["req"].to_numpy(dtype=np.int64)]
            if len(self.frame)
            else np.zeros(0, dtype=bool)
        )


@dataclass
class RankerData:
    world: World
    train: DaySplit
    dev: DaySplit
    test: DaySplit
    propensity: np.ndarray  # examination propensity per logged position, pre-dev logs
    sources: dict[str, str]
    days: dict[str, list[str]]

    @property
    def explores(self) -> bool:
        """The world logged exploration requests: dev choices use those (module docstring)."""
        return self.world.explores


def _day_starts(first: pd.Timestamp, days: int) -> list[pd.Timestamp]:
    """UTC instants of ``days`` China-calendar midnights from ``first`` on."""
    local = first.tz_convert(CHINA).normalize()
    return [(local + pd.Timedelta(days=i)).tz_convert("UTC") for i in range(days)]


def build_days(
    world: World,
    starts: Sequence[pd.Timestamp],
    interactions: pd.DataFrame,
    scores: Any,
    embeddings: Any,
    verified: pd.Series,
    step: Callable[[int], None] | None = None,
    store_per_day: bool = True,
) -> DaySplit:
    """Hydrate each day's requests against the store and viewer contexts of its start
    (``store_per_day`` False: one store cut at the first day, as the held-out evaluation
    does)."""
    posts = world.tables["posts"]
    friends, follows = friends_of(world), friends_of(world, "follow")
    relations = circle_activity(world)
    kinds = relation_kinds(brand_relations_of(world))
    inter = world.tables["interactions"]
    recorder = FeatureRecorder()
    pipeline = recording_pipeline(recorder)
    splits: list[Split] = []
    eligible: list[Split] = []
    parts: list[pd.DataFrame] = []
    offset = 0
    store = None
    for i, start in enumerate(starts):
        end = start + pd.Timedelta(days=1)
        day = interactions[
            (interactions["created_at"] >= start) & (interactions["created_at"] < end)
        ]
        requests = make_requests(day, posts, friends, relations, world.policy, kinds)
        cut = start if store_per_day else starts[0]
        if store is None or store_per_day:
            store = build_store(world, cut, scores, embeddings, verified)
        contexts = viewer_contexts(
            world,
            cut,
            {r.viewer_id for r in requests},
            store,
            friends,
            follows,
            brand_relations_of(world, cut),
        )
        split = Split(
            requests,
            store,
            contexts,
            position_propensity(examination_logs(world, inter[inter["created_at"] < cut])),
        )
        kept = []
        for j, req in enumerate(requests):
            ids, rows = request_features(req, split, pipeline, recorder)
            kept.append(ids)
            if not ids:
                continue
            frame = pd.DataFrame(rows, columns=list(FEATURES))
            frame.insert(0, "req", offset + j)
            frame.insert(1, "post_id", ids)
            frame.insert(2, "rel", [req.relevance[p] for p in ids])
            frame.insert(3, "position", [req.position[p] for p in ids])
            parts.append(frame)
        offset += len(requests)
        splits.append(split)
        eligible.append(restrict_split(split, kept))
        if step:
            step(i + 1)
    columns = ["req", "post_id", "rel", "position", *FEATURES]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return DaySplit(splits, frame, eligible)


def load_ranker_data(
    settings: Settings,
    config: RankerConfig,
    models: Any | None = None,
    progress: ProgressCallback | None = None,
    test_only: bool = False,
) -> RankerData:
    """Train / dev / test request features from a world's public tables (module docstring).
    ``test_only``: the held-out days alone (train and dev left empty), all that evaluating
    a trained version needs — the training days are most of the hydration time."""

    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    name = config.world_name(settings)
    world = read_world(settings, name)
    t = world.tables
    posts = t["posts"]
    cutoff = world.cutoff
    dev_start = cutoff - pd.Timedelta(days=config.dev_days)
    train_start = dev_start - pd.Timedelta(days=config.train_days)
    sim_start = pd.Timestamp(world.manifest["sim_start"])
    if train_start < sim_start:
        raise ValueError(
            f"world {name!r} logs {(cutoff - sim_start).days} days before its "
            f"cutoff; --train-days {config.train_days} + dev "
            f"{config.dev_days} do not fit"
        )
    if models is None:
        models = load_models(settings) if config.use_encoder else NO_MODELS
    verified = verified_purchase(posts, t["orders"])
    step("score posts", 0, len(posts))
    scores = score_posts(settings, posts, t["users"], verified, models=models)
    step("score posts", len(posts), len(posts))
    # The fallback embedding is fit on posts before the training days: valid for all three.
    embeddings = embed_posts(
        settings,
        posts,
        (posts["created_at"] < train_start).to_numpy(),
        models=models,
        dim=config.embedding_dim,
        seed=config.seed,
    )
    inter = t["interactions"]
    starts_of = {
        "train": _day_starts(train_start, config.train_days),
        "dev": _day_starts(dev_start, config.dev_days),
        "test": _day_starts(cutoff, len(world.manifest["holdout_days"])),
    }
    out: dict[str, DaySplit] = {
        label: DaySplit([], pd.DataFrame(columns=["req", "post_id", "rel", "position", *FEATURES]))
        for label in ("train", "dev")
    }
    for label, logs, per_day in (
        ("train", inter, True),
        ("dev", inter, True),
        ("test", world.holdout, False),
    ):
        starts = starts_of[label]
        if test_only and label != "test":
            continue
        step(f"hydrate {label} days", 0, len(starts))
        out[label] = build_days(
            world,
            starts,
            logs,
            scores,
            embeddings,
            verified,
            lambda n, lb=label, k=len(starts): step(f"hydrate {lb} days", n, k),
            store_per_day=per_day,
        )
    days = {k: [str(s.tz_convert(CHINA).date()) for s in starts] for k, starts in starts_of.items()}
    sources = {
        **scores.sources,
        "embeddings": embeddings.source,
        "engagement": "interactions before each request's day (test: before the cutoff)",
    }
    if world.explores:
        sources["dev"] = (
            "exploration requests of the dev days (random order: no "
            "position-order bias), as the headline of `quanzi eval ranking`"
        )
        sources["propensity"] = "CTR by position on the pre-dev exploration requests"
    return RankerData(
        world,
        out["train"],
        out["dev"],
        out["test"],
        position_propensity(examination_logs(world, inter[inter["created_at"] < dev_start])),
        sources,
        days,
    )
