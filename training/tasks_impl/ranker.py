"""The learned feed ranker (issue 5): logged impressions → a linear scorer that beats recency.

Reads top to bottom in the order it runs: config → data → fit → evaluate → task.

- **Data**: a circle world's public tables (``hidden/`` is never read). A *request* is one
  (viewer, China day) of logged impressions, exactly as ``quanzi eval ranking`` defines it
  (label = the viewer's strongest action on the post: share / favourite / comment 3, like
  2, click 1, else 0). Each day's requests are hydrated through the serving pipeline's own
  sources, hydrators and filters, against a store cut at the *start of that day*
  (engagement, viewer history, interest vector from before the day only, so a request's
  own clicks never leak into its features), and the features are taken by the scorer
  stage itself (``ranker_features``): train and serve cannot drift.
  Splits by day: train = ``train_days`` days before the dev days; dev = the ``dev_days``
  days before the cutoff (the same dev days ``ranking_eval`` tunes on); test = the
  world's held-out days (never used for fitting or choices).
- **Fit**: standardised features; RankNet-style pairwise logistic regression on
  within-request feature differences (every pair with different labels, weighted by the
  label gap), or pointwise logistic regression on "any positive action"; optionally each
  example weighted by the inverse examination propensity of its logged position
  (estimated from pre-dev CTR by position; the position is a logged field, never a
  feature). The objective, C, IPW and the feature set are chosen on dev NDCG@10.
- **Exploration** (worlds built with ``--explore``): the training rows are either every
  request or only the exploration requests (shown in random order, so their labels carry
  no position-order bias) — one more choice made on dev. Dev is then scored on the dev
  days' exploration requests only (the same unbiased protocol as the headline of
  ``quanzi eval ranking``), and the IPW propensities come from the exploration requests'
  CTR by position (there the position is independent of the post).
- **Evaluate**: NDCG@10 of the full pipeline with the learned scorer (author cap and MMR
  included) vs recency and popularity on dev and test, overall and per viewer segment,
  plus the position-debiased variant (``models/ranking/offline/`` does the scoring).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from quanzi.datasets.world.build import default_name
from quanzi.datasets.world.tables import World, circle_activity, friends_of, read_world
from quanzi.models.loading import LoadedModels, load_models
from quanzi.models.ranker import FEATURES, REGISTERED_MODEL, LinearRanker
from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.offline.metrics import (
    examination_logs,
    exploration_only,
    ndcg_at_k,
    paired_difference,
    position_propensity,
    summarise,
)
from quanzi.models.ranking.offline.replay import (
    KeptRecorder,
    Split,
    evaluate_split,
    recording_pipeline,
    request_query,
    restrict_split,
)
from quanzi.models.ranking.offline.requests import EvalRequest, make_requests, viewer_contexts
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
from quanzi.training.tasks import Comparison, Evaluation, TaskData

log = logging.getLogger(__name__)

# Feature sets tried on dev: all, and all but the within-request age ranks (which mirror
# the newest-first logging order) — the report says which one won.
# ``--small`` and ``use_encoder=False``: no champion, no encoder (rule detectors, TF-IDF).
NO_MODELS = LoadedModels(predictors={}, versions={}, embedder=None, encoder_version=None)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": FEATURES,
    "no_age_rank": tuple(f for f in FEATURES if f not in ("age_rank", "top_rank")),
}


# ---------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankerConfig:
    """Every default of the ranker task in one place (logged as MLflow params)."""

    world: str | None = None  # None: the demo world p<QUANZI_DEMO_POSTS>-s<QUANZI_DEMO_SEED>
    train_days: int = 14  # days before the dev days
    dev_days: int = 3  # the days before the cutoff (ranking_eval tunes on the same)
    objectives: tuple[str, ...] = ("pairwise", "pointwise")
    C_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    ipw_grid: tuple[bool, ...] = (False, True)
    feature_sets: tuple[str, ...] = ("all", "no_age_rank")
    # Training rows tried on dev: every request, or the exploration requests only ("explore"
    # is skipped on worlds without an exploration bucket).
    train_sets: tuple[str, ...] = ("all", "explore")
    use_encoder: bool = True  # False: TF-IDF + SVD post vectors (fast, for --small)
    embedding_dim: int = 64  # of the TF-IDF fallback
    seed: int = 0

    def world_name(self, settings: Settings) -> str:
        """The world this config trains on (the demo world unless it names one)."""
        return self.world or default_name(settings.demo_posts, settings.demo_seed)

    def small(self) -> RankerConfig:
        """CI-sized: fewer days and choices, no encoder."""
        return replace(self, train_days=min(self.train_days, 6), C_grid=(0.1,),
                       ipw_grid=(False,), objectives=("pairwise",), feature_sets=("all",),
                       use_encoder=False, embedding_dim=16)


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
class FeatureRecorder(KeptRecorder):
    """A scorer stage that records what the learned scorer would see and scores zero."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.rows: np.ndarray = np.zeros((0, len(FEATURES)))

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        self.rows = ranker_features(query, candidates)
        return super().score(query, candidates)


def request_features(req: EvalRequest, split: Split, pipeline: RankingPipeline,
                     recorder: FeatureRecorder) -> tuple[list[str], np.ndarray]:
    """The candidates that survive the pipeline's filters and their feature rows."""
    recorder.post_ids, recorder.rows = [], np.zeros((0, len(FEATURES)))
    pipeline.rank(request_query(req, split.contexts[req.viewer_id], RankingParams()),
                  split.store)
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
        return random_order[self.frame["req"].to_numpy(dtype=np.int64)] \
            if len(self.frame) else np.zeros(0, dtype=bool)


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


def build_days(world: World, starts: Sequence[pd.Timestamp], interactions: pd.DataFrame,
               scores: Any, embeddings: Any, verified: pd.Series,
               step: Callable[[int], None] | None = None, store_per_day: bool = True
               ) -> DaySplit:
    """Hydrate each day's requests against the store and viewer contexts of its start
    (``store_per_day`` False: one store cut at the first day, as the held-out evaluation
    does)."""
    posts = world.tables["posts"]
    friends, follows = friends_of(world), friends_of(world, "follow")
    relations = circle_activity(world)
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
        day = interactions[(interactions["created_at"] >= start)
                           & (interactions["created_at"] < end)]
        requests = make_requests(day, posts, friends, relations, world.policy)
        cut = start if store_per_day else starts[0]
        if store is None or store_per_day:
            store = build_store(world, cut, scores, embeddings, verified)
        contexts = viewer_contexts(world, cut, {r.viewer_id for r in requests}, store,
                                   friends, follows)
        split = Split(requests, store, contexts, position_propensity(
            examination_logs(world, inter[inter["created_at"] < cut])))
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


def load_ranker_data(settings: Settings, config: RankerConfig, models: Any | None = None,
                     progress: ProgressCallback | None = None,
                     test_only: bool = False) -> RankerData:
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
        raise ValueError(f"world {name!r} logs {(cutoff - sim_start).days} days before its "
                         f"cutoff; --train-days {config.train_days} + dev "
                         f"{config.dev_days} do not fit")
    if models is None:
        models = load_models(settings) if config.use_encoder else NO_MODELS
    verified = verified_purchase(posts, t["orders"])
    step("score posts", 0, len(posts))
    scores = score_posts(settings, posts, t["users"], verified, models=models)
    step("score posts", len(posts), len(posts))
    # The fallback embedding is fit on posts before the training days: valid for all three.
    embeddings = embed_posts(settings, posts, (posts["created_at"] < train_start).to_numpy(),
                             models=models, dim=config.embedding_dim, seed=config.seed)
    inter = t["interactions"]
    starts_of = {"train": _day_starts(train_start, config.train_days),
                 "dev": _day_starts(dev_start, config.dev_days),
                 "test": _day_starts(cutoff, len(world.manifest["holdout_days"]))}
    out: dict[str, DaySplit] = {
        label: DaySplit([], pd.DataFrame(columns=["req", "post_id", "rel", "position",
                                                  *FEATURES]))
        for label in ("train", "dev")}
    for label, logs, per_day in (("train", inter, True), ("dev", inter, True),
                                 ("test", world.holdout, False)):
        starts = starts_of[label]
        if test_only and label != "test":
            continue
        step(f"hydrate {label} days", 0, len(starts))
        out[label] = build_days(world, starts, logs, scores, embeddings, verified,
                                lambda n, lb=label, k=len(starts): step(
                                    f"hydrate {lb} days", n, k),
                                store_per_day=per_day)
    days = {k: [str(s.tz_convert(CHINA).date()) for s in starts]
            for k, starts in starts_of.items()}
    sources = {**scores.sources, "embeddings": embeddings.source,
               "engagement": "interactions before each request's day (test: before the "
                             "cutoff)"}
    if world.explores:
        sources["dev"] = ("exploration requests of the dev days (random order: no "
                          "position-order bias), as the headline of `quanzi eval ranking`")
        sources["propensity"] = "CTR by position on the pre-dev exploration requests"
    return RankerData(world, out["train"], out["dev"], out["test"], position_propensity(
        examination_logs(world, inter[inter["created_at"] < dev_start])), sources, days)


# ---------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    objective: str
    C: float
    ipw: bool
    feature_set: str
    train_set: str = "all"  # "all" requests or "explore" (exploration requests only)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def _pairs(frame: pd.DataFrame, z: np.ndarray, weight: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Within-request differences x_i − x_j for rel_i > rel_j, both signs, weighted by the
    label gap × the example weight of the better item."""
    rel = frame["rel"].to_numpy()
    diffs, ws = [], []
    for idx in frame.groupby("req", sort=False).indices.values():
        r = rel[idx]
        gap = r[:, None] - r[None, :]
        i, j = np.nonzero(gap > 0)
        if not len(i):
            continue
        diffs.append(z[idx[i]] - z[idx[j]])
        ws.append(gap[i, j] * weight[idx[i]])
    if not diffs:
        raise ValueError("no request has two differently labelled candidates to learn from")
    d = np.concatenate(diffs)
    w = np.concatenate(ws).astype(np.float64)
    return np.concatenate([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], np.r_[w, w]


def fit_ranker(frame: pd.DataFrame, choice: Choice, propensity: np.ndarray,
               seed: int = 0) -> LinearRanker:
    """One linear ranker on training rows (``frame``: see ``build_days``)."""
    features = FEATURE_SETS[choice.feature_set]
    x = frame[list(features)].to_numpy(dtype=np.float64)
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    pos = frame["position"].to_numpy().clip(0, len(propensity) - 1)
    weight = 1.0 / propensity[pos] if choice.ipw else np.ones(len(frame))
    if choice.objective == "pairwise":
        xs, y, w = _pairs(frame, z, weight)
        model = LogisticRegression(C=choice.C, fit_intercept=False, max_iter=500,
                                   random_state=seed)
    elif choice.objective == "pointwise":
        xs, y, w = z, (frame["rel"].to_numpy() > 0).astype(int), weight
        model = LogisticRegression(C=choice.C, max_iter=500, random_state=seed)
    else:
        raise ValueError(f"unknown objective {choice.objective!r}: pairwise or pointwise")
    model.fit(xs, y, sample_weight=w / w.mean())
    return LinearRanker(features=features, mean=mean, scale=scale, weights=model.coef_[0],
                        config={"objective": choice.objective, "C": choice.C,
                                "ipw": choice.ipw, "feature_set": choice.feature_set,
                                "train_set": choice.train_set})


def frame_ndcg(frame: pd.DataFrame, requests: Sequence[EvalRequest],
               scores: np.ndarray) -> float:
    """Mean NDCG@10 of each request's eligible candidates (the rows the filters kept)
    ranked by ``scores``, under the eligible-set protocol (``offline/replay.py``; requests
    with < 2 eligible or no relevant one skipped): the pipeline without its diversity
    stages, fast, for choosing on dev."""
    values = []
    rel = frame["rel"].to_numpy()
    for idx in frame.groupby("req", sort=True).indices.values():
        if len(idx) < 2:
            continue
        v = ndcg_at_k(rel[idx[np.argsort(-scores[idx], kind="stable")]])
        if v is not None:
            values.append(v)
    return float(np.mean(values)) if values else 0.0


def _rows(days: DaySplit, train_set: str) -> pd.DataFrame:
    """The rows of ``days`` a choice trains on: every request, or the exploration ones."""
    if train_set == "all":
        return days.frame
    if train_set == "explore":
        return days.frame[days.explore_rows()]
    raise ValueError(f"unknown train set {train_set!r}: all or explore")


def choose_and_fit(data: RankerData, config: RankerConfig
                   ) -> tuple[LinearRanker, list[dict[str, Any]]]:
    """Every choice of the grid fit on train and scored on dev; the best one is refit on
    train + dev (more days of evidence, still no held-out day). On a world with
    exploration requests dev is scored on those only, and training on them only is one
    of the choices."""
    trials = []
    best: tuple[float, Choice] | None = None
    dev_frame = data.dev.frame[data.dev.explore_rows()] if data.explores else data.dev.frame
    dev_rows = dev_frame[list(FEATURES)].to_numpy(dtype=np.float64)
    train_sets = [t for t in config.train_sets if t == "all" or data.explores]
    for train_set in train_sets:
        train = _rows(data.train, train_set)
        for objective in config.objectives:
            for c in config.C_grid:
                for ipw in config.ipw_grid:
                    for fs in config.feature_sets:
                        choice = Choice(objective, c, ipw, fs, train_set)
                        ranker = fit_ranker(train, choice, data.propensity, config.seed)
                        score = frame_ndcg(dev_frame, data.dev.requests,
                                           ranker.score(dev_rows))
                        trials.append({**choice.__dict__, "dev_ndcg10": score})
                        if best is None or score > best[0]:
                            best = (score, choice)
    if best is None:
        raise ValueError("no choice to try: config.train_sets must include 'all'")
    dev = _rows(data.dev, best[1].train_set)
    both = pd.concat([_rows(data.train, best[1].train_set),
                      dev.assign(req=dev["req"] + len(data.train.requests))],
                     ignore_index=True)
    ranker = fit_ranker(both, best[1], data.propensity, config.seed)
    ranker.config.update({"dev_ndcg10": best[0], "world": data.world.name,
                          "train_days": data.days["train"], "dev_days": data.days["dev"],
                          "dev_requests": "exploration" if data.explores else "all"})
    return ranker, trials


# ---------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------
METHODS = ("learned", "pipeline", "recency", "popularity")  # pipeline: the weighted scorer


def evaluate_days(days: DaySplit, ranker: LinearRanker | None, debiased: bool = False,
                  protocol: str = "eligible", explore_only: bool = False
                  ) -> dict[str, dict[str, Any]]:
    """Summary per segment of the learned pipeline (if given), the weighted pipeline
    (default params), recency and popularity, under the ``eligible`` protocol (every method
    ranks the posts the policy filters keep) or ``unfiltered`` (every shown post; the
    pipelines rank the filtered ones last): ``models/ranking/offline/replay.py``.
    ``explore_only``: the exploration (random-order) requests only."""
    if protocol not in ("eligible", "unfiltered"):
        raise ValueError(f"unknown protocol {protocol!r}: eligible or unfiltered")
    methods = METHODS if ranker is not None else METHODS[1:]
    merged: dict[str, list[float | None]] = {m: [] for m in methods}
    requests: list[EvalRequest] = []
    for split in days.eligible if protocol == "eligible" else days.splits:
        ndcg = evaluate_split(split, RankingParams(), methods=methods, debiased=debiased,
                              ranker=ranker)
        for m in merged:
            merged[m].extend(ndcg[m])
        requests.extend(split.requests)
    if explore_only:
        requests, merged = exploration_only(requests, merged)
    summary = summarise(requests, merged)
    if ranker is not None and requests:  # learned minus each other, 95 % paired interval
        for other in METHODS[1:]:
            for seg, (gain, lo, hi) in paired_difference(requests, merged, "learned",
                                                         other).items():
                summary[seg].update({f"gain_vs_{other}": gain, f"gain_vs_{other}_lo": lo,
                                     f"gain_vs_{other}_hi": hi})
    return summary


def ranker_metrics(ranker: LinearRanker, data: RankerData) -> tuple[dict[str, float],
                                                                     pd.DataFrame]:
    """Flat metrics (``{set}_ndcg10_{method}[_{segment}]``, sets ``dev``, ``test`` and
    ``test_debiased`` under the eligible protocol, ``test_unfiltered``; on a world with
    exploration requests also ``dev_explore`` and ``test_explore``, the eligible protocol
    on those only) and the same as a table."""
    metrics: dict[str, float] = {}
    rows = []
    sets = [("dev", data.dev, False, "eligible", False),
            ("test", data.test, False, "eligible", False),
            ("test_debiased", data.test, True, "eligible", False),
            ("test_unfiltered", data.test, False, "unfiltered", False)]
    if data.explores:
        sets += [("dev_explore", data.dev, False, "eligible", True),
                 ("test_explore", data.test, False, "eligible", True)]
    for set_name, days, debiased, protocol, explore_only in sets:
        if not days.splits:  # not loaded (``load_ranker_data(test_only=True)``)
            continue
        summary = evaluate_days(days, ranker, debiased, protocol, explore_only)
        for seg, row in summary.items():
            rows.append({"set": set_name, "segment": seg, **row})
            suffix = "" if seg == "all" else "_" + seg.replace("-", "_")
            for m in METHODS:
                if row.get(m) is None:
                    continue
                metrics[f"{set_name}_ndcg10_{m}{suffix}"] = float(row[m])
            for key, value in row.items():
                if key.startswith("gain_vs_"):
                    metrics[f"{set_name}_{key}{suffix}"] = float(value)
            if row.get("learned") is not None and row["requests"]:
                metrics[f"{set_name}_requests{suffix}"] = float(row["requests"])
    return metrics, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# task (the adapter promotion needs: ``training/tasks.py``'s contract)
# ---------------------------------------------------------------------------------------
def _frame_digest(frame: pd.DataFrame) -> str:
    keys = frame[["req", "post_id", "rel"]].to_numpy().astype(str)
    return hashlib.sha256("\n".join(",".join(r) for r in keys).encode()).hexdigest()


def _task_data(d: RankerData) -> TaskData:
    """The feature frames as ``TaskData``, hashed by world and held-out requests."""
    return TaskData(train=d.train.frame, dev=d.dev.frame, test=d.test.frame,
                    hashes={"world": d.world.manifest["world_id"],
                            "test_requests": _frame_digest(d.test.frame)})


def explore_gate(gate: dict[str, tuple[bool, float]]) -> dict[str, tuple[bool, float]]:
    """The gate on a world with exploration requests: each ``test_…`` metric becomes its
    ``test_explore_…`` twin (the same NDCG on the held-out exploration requests only, the
    headline there), with the same direction and tolerance."""
    return {"test_explore_" + metric.removeprefix("test_"): rule
            for metric, rule in gate.items()}


@dataclass
class RankerTask:
    """``Task`` for the ranker: TaskData frames are the per-candidate feature rows (no
    ``text``), so ``quanzi promote quanzi-ranker`` can compare and re-evaluate versions
    (``comparison_for``: on the challenger's world). Training itself goes through
    ``training/ranker_run.py`` (the text-model pipeline's input example and signature do
    not fit a ranker)."""

    config: RankerConfig = field(default_factory=RankerConfig)
    name: str = "ranker"
    registered_model: str = REGISTERED_MODEL
    primary_metric: str = "test_ndcg10_learned"
    gate: dict[str, tuple[bool, float]] = field(default_factory=lambda: {
        "test_ndcg10_learned": (True, 0.005),
        "test_ndcg10_learned_friendless": (True, 0.02),
        "test_ndcg10_learned_silent": (True, 0.02),
    })
    _data: RankerData | None = None

    def load_data(self, settings: Settings, small: bool,
                  progress: ProgressCallback | None = None) -> TaskData:
        config = self.config.small() if small else self.config
        self._data = load_ranker_data(settings, config, progress=progress)
        return _task_data(self._data)

    def comparison_for(self, settings: Settings, run_params: dict[str, str], small: bool,
                       load: bool, progress: ProgressCallback | None = None) -> Comparison:
        """Promotion compares on the challenger's training world (run param ``world``), on
        its held-out days, under the protocol of the challenger's headline: the held-out
        exploration requests when that world logged some (``explore_gate``), else every
        request. Worlds are independent simulations, so a champion trained on another
        world is a fair contestant there (it never saw those days)."""
        world = run_params.get("world") or self.world_name(settings)
        if not load:  # same test sets: the logged metrics; the run says if the world explores
            if run_params.get("chosen.dev_requests") == "exploration":
                return Comparison(f"logged test metrics: world {world}, held-out "
                                  "exploration requests, eligible set", explore_gate(self.gate))
            return Comparison(f"logged test metrics: world {world}, all held-out requests, "
                              "eligible set", dict(self.gate))
        config = replace(self.config, world=world, **{
            key: int(run_params[f"cfg.{key}"]) for key in ("train_days", "dev_days")
            if f"cfg.{key}" in run_params})
        config = config.small() if small else config
        try:
            self._data = load_ranker_data(settings, config, progress=progress, test_only=True)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"the challenger was trained on world {world!r}, where "
                                    f"promotion compares it: {exc}") from exc
        d = self._data
        days = d.days["test"]
        where = (f"world {world} (the challenger's training world), held-out days "
                 f"{days[0]}…{days[-1]}, ")
        data = _task_data(d)
        if d.explores:
            return Comparison(where + "exploration requests only (random order), eligible "
                              "set", explore_gate(self.gate), data)
        return Comparison(where + "all requests, eligible set", dict(self.gate), data)

    def world_name(self, settings: Settings) -> str:
        """The world this task trains on (the demo world unless the config names one)."""
        return self.config.world_name(settings)

    def data(self) -> RankerData:
        if self._data is None:
            raise RuntimeError("load_data first")
        return self._data

    def fit(self, data: TaskData, settings: Settings, small: bool) -> LinearRanker:
        config = self.config.small() if small else self.config
        ranker, trials = choose_and_fit(self.data(), config)
        ranker.config["trials"] = trials
        return ranker

    def evaluate(self, predictor: LinearRanker, data: TaskData) -> Evaluation:
        metrics, table = ranker_metrics(predictor, self.data())
        weights = pd.DataFrame({"feature": predictor.features, "weight": predictor.weights,
                                "mean": predictor.mean, "scale": predictor.scale})
        return Evaluation(metrics=metrics, tables={"ndcg_by_segment": table,
                                                   "weights": weights})

    def load(self, path: Path) -> LinearRanker:
        return LinearRanker.load(path)


TASK = RankerTask()
