"""Offline ranking evaluation on a circle world's held-out days (``quanzi eval ranking``).

The protocol's parts live with the ranking core, where training uses them too
(``models/ranking/offline/``: requests, the world's snapshot, replay, metrics); this
module runs the whole of it, tunes the weighted scorer on dev days and writes the report.

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
  ``models/ranking/base_levels.py``) and embeddings from the encoder, else from a
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
from dataclasses import dataclass, field, replace
from pathlib import Path
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
from quanzi.models.loading import load_models
from quanzi.models.ranking.offline.metrics import (
    examination_logs,
    exploration_only,
    paired_difference,
    position_propensity,
    summarise,
)
from quanzi.models.ranking.offline.replay import (
    METHODS,
    Split,
    eligible_split,
    evaluate_split,
    evaluate_splits,
    filtered_share_of,
    requests_of,
)
from quanzi.models.ranking.offline.requests import (
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
from quanzi.models.ranking.params import RankingParams
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings

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
    gains_explore: dict[str, dict[str, tuple[float, float, float]]] = field(default_factory=dict)
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


FRESHNESS_SEED = {
    "w_freshness": 3.0,
    "freshness_half_life_hours": 48.0,
    "w_quality": 0.2,
    "w_trust": 0.3,
    "w_engagement": 0.3,
    "w_interest": 0.1,
    "w_phase": 0.0,
    "mmr_lambda": 1.0,
}


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
        return None, (
            "none: no quanzi-ranker champion (`quanzi train ranker`, then "
            "`quanzi promote quanzi-ranker`)"
        )
    cfg = getattr(ranker, "config", {}) or {}
    days = sorted([*cfg.get("train_days", []), *cfg.get("dev_days", [])])
    holdout = set(world.manifest["holdout_days"])
    label = f"champion quanzi-ranker v{getattr(ranker, 'version', '?')}"
    if cfg.get("world") != world.name or not days or holdout & set(days):
        return None, (
            f"{label} not used: trained on world {cfg.get('world')!r} days "
            f"{days[:1]}..{days[-1:]}, not on {world.name}'s non-held-out days only"
        )
    return ranker, (
        f"{label} ({cfg.get('objective')}, C={cfg.get('C')}, "
        f"ipw={cfg.get('ipw')}, features={cfg.get('feature_set')}, "
        f"rows={cfg.get('train_set', 'all')}), trained on "
        f"{world.name} days {days[0]}..{days[-1]} (no held-out day)"
    )


def run_eval(
    settings: Settings,
    config: EvalConfig,
    progress: ProgressCallback | None = None,
    models: Any | None = None,
) -> EvalReport:
    """The whole protocol (module docstring); ``progress(stage, done, total)`` if given."""

    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    world = read_world(settings, config.world)
    t = world.tables
    posts = t["posts"]
    cutoff = world.cutoff
    windows = world.holdout_windows
    # Dev: the ``dev_days`` days before the last held-out run (before the cutoff, for a
    # world holding out its last days); none of them may be held out.
    dev_end = windows[-1][0]
    dev_start = dev_end - pd.Timedelta(days=config.dev_days)
    if any(dev_start <= d < dev_end for d in world.held_day_starts):
        raise ValueError(
            f"--dev-days {config.dev_days} reaches back into a held-out day of {world.name}"
        )
    if models is None:
        models = load_models(settings)
    verified = verified_purchase(posts, t["orders"])
    step("score posts", 0, len(posts))
    scores = score_posts(
        settings,
        posts,
        t["users"],
        verified,
        lambda n: step("score posts", n, len(posts)),
        models=models,
    )
    step("embed posts", 0, 1)
    # Fit the fallback embedding on what existed before the first held-out day and the dev
    # window: valid for every split.
    embeddings = embed_posts(
        settings,
        posts,
        (posts["created_at"] < min(dev_start, cutoff)).to_numpy(),
        models=models,
        dim=config.embedding_dim,
        seed=config.seed,
    )
    step("embed posts", 1, 1)
    sources = {
        **scores.sources,
        "embeddings": embeddings.source,
        "engagement": (
            "interactions before each held-out run's first day, held-out days excluded "
            "(dev: before the dev days)"
        ),
    }
    friends, relations = friends_of(world), circle_activity(world)
    follows = friends_of(world, "follow")  # the learned ranker reads them, as in training
    kinds = relation_kinds(brand_relations_of(world))  # the per-relation segments

    def split_for(start: pd.Timestamp, interactions: pd.DataFrame) -> Split:
        store = build_store(world, start, scores, embeddings, verified)
        requests = make_requests(interactions, posts, friends, relations, world.policy, kinds)
        contexts = viewer_contexts(
            world,
            start,
            {r.viewer_id for r in requests},
            store,
            friends,
            follows,
            brand_relations_of(world, start),
        )
        inter = t["interactions"]
        return Split(
            requests,
            store,
            contexts,
            position_propensity(examination_logs(world, inter[inter["created_at"] < start])),
        )

    ranker, sources["ranker"] = usable_ranker(getattr(models, "ranker", None), world)
    step("build test split", 0, 1)
    hold = world.holdout
    tests_all = [  # one split per held-out run of days, the store cut at its first day
        split_for(
            run[0],
            hold[
                (hold["created_at"] >= run[0])
                & (hold["created_at"] < run[-1] + pd.Timedelta(days=1))
            ],
        )
        for run in windows
    ]
    tests = [eligible_split(s) for s in tests_all]
    test_requests, test_all_requests = requests_of(tests), requests_of(tests_all)
    step("build test split", 1, 1)
    base = RankingParams()
    methods = (*METHODS, "learned") if ranker is not None else METHODS
    step("evaluate test", 0, 3)
    test_ndcg = evaluate_splits(tests, base, methods=methods, ranker=ranker)
    step("evaluate test", 1, 3)
    debiased = evaluate_splits(tests, base, methods=methods, debiased=True, ranker=ranker)
    step("evaluate test", 2, 3)
    unfiltered = evaluate_splits(tests_all, base, methods=methods, ranker=ranker)
    step("evaluate test", 3, 3)
    report = EvalReport(
        world=world.name,
        cutoff=str(cutoff),
        holdout_days=list(world.manifest["holdout_days"]),
        dev_days=[
            str(d.date())
            for d in pd.date_range(
                dev_start.tz_convert("Asia/Shanghai").normalize(), periods=config.dev_days
            )
        ],
        sources=sources,
        test=summarise(test_requests, test_ndcg),
        filtered_share=filtered_share_of(tests, tests_all),
        explore_fraction=(
            world.manifest["requests"]["explore_fraction"] if world.explores else None
        ),
    )
    if config.tune_trials > 0:
        inter = t["interactions"]
        dev_inter = inter[(inter["created_at"] >= dev_start) & (inter["created_at"] < dev_end)]
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
            report.trials.append(
                {"dev_ndcg": score, **{k: getattr(params, k) for k in SEARCH_SPACE}}
            )
            if score > best:
                best_params, best = params, score
            done += 1
            step("tune on dev days", done, total)

        # Stage 1: the defaults, a freshness-led seed, random points of the box;
        # stage 2: local perturbations of the best so far (×0.5–2 per weight).
        for params in [base, base.model_copy(update=FRESHNESS_SEED)] + [
            sample_params(rng, base) for _ in range(n_random)
        ]:
            trial(params)
        for _ in range(n_local):
            trial(perturb(rng, best_params))
        report.tuned_params = {k: getattr(best_params, k) for k in SEARCH_SPACE}
        dev_ndcg = evaluate_split(dev, best_params)
        report.dev = summarise(dev.requests, dev_ndcg)
        tuned = evaluate_splits(tests, best_params, methods=("pipeline",))["pipeline"]
        test_ndcg["pipeline-tuned"] = tuned
        report.test = summarise(test_requests, test_ndcg)
        debiased["pipeline-tuned"] = evaluate_splits(
            tests, best_params, methods=("pipeline",), debiased=True
        )["pipeline"]
        unfiltered["pipeline-tuned"] = evaluate_splits(
            tests_all, best_params, methods=("pipeline",)
        )["pipeline"]
    report.test_debiased = summarise(test_requests, debiased)
    report.test_unfiltered = summarise(test_all_requests, unfiltered)
    for method in ("learned", "pipeline-tuned", "pipeline"):
        if method in test_ndcg:
            report.gains[f"{method} − recency"] = paired_difference(
                test_requests, test_ndcg, method, "recency"
            )
    if world.explores:
        ex_requests, ex_ndcg = exploration_only(test_requests, test_ndcg)
        report.test_explore = summarise(ex_requests, ex_ndcg)
        for method in ("learned", "pipeline-tuned", "pipeline"):
            for baseline in ("recency", "popularity"):
                if method in ex_ndcg and ex_requests:
                    report.gains_explore[f"{method} − {baseline}"] = paired_difference(
                        ex_requests, ex_ndcg, method, baseline
                    )
    return report


def write_report(report: EvalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str))


METHOD_COLUMNS = (
    ("pipeline", "pipeline (defaults)"),
    ("pipeline-tuned", "pipeline (tuned on dev)"),
    ("learned", "learned"),
    ("recency", "recency"),
    ("popularity", "popularity"),
)


def _signed(x: float) -> str:
    return f"{x:+.4f}".replace("-", "−")


def _segment_label(segment: str) -> str:
    if segment.startswith("phase:"):
        return "phase: " + segment.removeprefix("phase:").replace("_", "-")
    return segment.replace("-", " ")


def markdown_table(report: dict[str, Any]) -> str:
    """The headline table of ``docs/ranking.md`` from a report (``EvalReport.as_dict`` or its
    JSON): NDCG@10 per segment — relation and campaign-phase rows included — on the
    held-out exploration requests when the world has them (else all held-out requests),
    each method's column, and the best method's gain over recency with its 95 % interval."""
    explore = bool(report.get("test_explore"))
    summary = report["test_explore"] if explore else report["test"]
    gains = report["gains_explore"] if explore else report["gains"]
    methods = [(m, title) for m, title in METHOD_COLUMNS if m in summary["all"]]
    lead = next(m for m in ("learned", "pipeline-tuned", "pipeline") if m in summary["all"])
    gain = gains.get(f"{lead} − recency", {})
    head = ["segment", "requests", *(t for _, t in methods), f"{lead} − recency [95 % CI]"]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(methods) + "---|"]
    for segment, row in summary.items():
        if not row["requests"]:
            continue
        best = max((row[m] for m, _ in methods if row[m] is not None), default=None)
        cells = [
            "–" if row[m] is None else (f"**{row[m]:.4f}**" if row[m] == best else f"{row[m]:.4f}")
            for m, _ in methods
        ]
        g = gain.get(segment)
        ci = "–" if g is None else f"{_signed(g[0])} [{_signed(g[1])}, {_signed(g[2])}]"
        lines.append(
            f"| {_segment_label(segment)} | {row['requests']} | " + " | ".join(cells) + f" | {ci} |"
        )
    return "\n".join(lines)
