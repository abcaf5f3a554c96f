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


def _open_days_before(
    end: pd.Timestamp, days: int, held: Sequence[pd.Timestamp]
) -> list[pd.Timestamp]:
    """The ``days`` China-calendar midnights before ``end`` that are not held out, oldest
    first (a per-phase world holds out days between training days: they are skipped)."""
    skip = set(held)
    out: list[pd.Timestamp] = []
    day = end.tz_convert(CHINA).normalize()
    while len(out) < days:
        day = day - pd.Timedelta(days=1)
        if day.tz_convert("UTC") not in skip:
            out.append(day.tz_convert("UTC"))
    return out[::-1]


def build_days(
    world: World,
    starts: Sequence[pd.Timestamp],
    interactions: pd.DataFrame,
    scores: Any,
    embeddings: Any,
    verified: pd.Series,
    step: Callable[[int], None] | None = None,
    cuts: Sequence[pd.Timestamp] | None = None,
) -> DaySplit:
    """Hydrate each day's requests against the store and viewer contexts of its start
    (``cuts``: of the instant given per day instead, e.g. the first day of its held-out
    run, as the held-out evaluation does)."""
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
    store, store_cut = None, None
    for i, start in enumerate(starts):
        end = start + pd.Timedelta(days=1)
        day = interactions[
            (interactions["created_at"] >= start) & (interactions["created_at"] < end)
        ]
        requests = make_requests(day, posts, friends, relations, world.policy, kinds)
        cut = start if cuts is None else cuts[i]
        if store is None or cut != store_cut:
            store, store_cut = build_store(world, cut, scores, embeddings, verified), cut
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
    held, windows = world.held_day_starts, world.holdout_windows
    # Dev: the ``dev_days`` days before the last held-out run; train: the ``train_days``
    # days before those that are not held out (every training day precedes the cutoff of
    # a default world; a per-phase world's may lie between its held-out runs).
    dev_starts = _open_days_before(windows[-1][0], config.dev_days, held)
    train_starts = _open_days_before(dev_starts[0], config.train_days, held)
    dev_start, train_start = dev_starts[0], train_starts[0]
    sim_start = pd.Timestamp(world.manifest["sim_start"])
    if train_start < sim_start:
        raise ValueError(
            f"world {name!r} has too few days that are not held out before its last "
            f"held-out days for --train-days {config.train_days} + dev {config.dev_days}"
        )
    if models is None:
        models = load_models(settings) if config.use_encoder else NO_MODELS
    verified = verified_purchase(posts, t["orders"])
    step("score posts", 0, len(posts))
    scores = score_posts(settings, posts, t["users"], verified, models=models)
    step("score posts", len(posts), len(posts))
    # The fallback embedding is fit on posts before the training days and the first held-out
    # day: valid for all three.
    embeddings = embed_posts(
        settings,
        posts,
        (posts["created_at"] < min(train_start, cutoff)).to_numpy(),
        models=models,
        dim=config.embedding_dim,
        seed=config.seed,
    )
    inter = t["interactions"]
    starts_of = {
        "train": train_starts,
        "dev": dev_starts,
        "test": held,
    }
    # Test days are scored against the store of their held-out run's first day.
    test_cuts = [run[0] for run in windows for _ in run]
    out: dict[str, DaySplit] = {
        label: DaySplit([], pd.DataFrame(columns=["req", "post_id", "rel", "position", *FEATURES]))
        for label in ("train", "dev")
    }
    for label, logs, cuts in (
        ("train", inter, None),
        ("dev", inter, None),
        ("test", world.holdout, test_cuts),
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
            cuts=cuts,
        )
    days = {k: [str(s.tz_convert(CHINA).date()) for s in starts] for k, starts in starts_of.items()}
    sources = {
        **scores.sources,
        "embeddings": embeddings.source,
        "engagement": (
            "interactions before each request's day (test: before its held-out run), "
            "held-out days excluded"
        ),
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
