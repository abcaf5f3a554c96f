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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from quanzi.datasets.world.tables import require_world
from quanzi.models.ranker import FEATURES, REGISTERED_MODEL, LinearRanker
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.evaluators.ranker_evaluator import RankerEvaluator
from quanzi.training.pipeline import ModelFormat
from quanzi.training.tasks import Comparison, Evaluation, TaskData
from quanzi.training.tasks_impl.ranker_config import RankerConfig
from quanzi.training.tasks_impl.ranker_data import RankerData, load_ranker_data
from quanzi.training.tasks_impl.ranker_fit import choose_and_fit


def _frame_digest(frame: pd.DataFrame) -> str:
    keys = frame[["req", "post_id", "rel"]].to_numpy().astype(str)
    return hashlib.sha256("\n".join(",".join(r) for r in keys).encode()).hexdigest()


def _task_data(d: RankerData) -> TaskData:
    """The feature frames as ``TaskData``, hashed by world and held-out requests."""
    return TaskData(
        train=d.train.frame,
        dev=d.dev.frame,
        test=d.test.frame,
        hashes={
            "world": d.world.manifest["world_id"],
            "test_requests": _frame_digest(d.test.frame),
        },
    )


# The ranker's model: feature rows in (``ranker_pyfunc.py``), the saved-model check on a
# few held-out rows, no text signature.
RANKER_MODEL = ModelFormat(
    code=Path(__file__).parent.parent / "ranker_pyfunc.py",
    requirements=("quanzi", "mlflow", "numpy", "pandas"),
    example=lambda data: data.test[list(FEATURES)].head(5).reset_index(drop=True),
    records=lambda rows: rows.to_dict("records"),
    signature=False,
)


def explore_gate(gate: dict[str, tuple[bool, float]]) -> dict[str, tuple[bool, float]]:
    """The gate on a world with exploration requests: each ``test_…`` metric becomes its
    ``test_explore_…`` twin (the same NDCG on the held-out exploration requests only, the
    headline there), with the same direction and tolerance."""
    return {"test_explore_" + metric.removeprefix("test_"): rule for metric, rule in gate.items()}


@dataclass
class RankerTask:
    """``Task`` for the ranker: TaskData frames are the per-candidate feature rows (no
    ``text``), so ``quanzi promote quanzi-ranker`` can compare and re-evaluate versions
    (``comparison_for``: on the challenger's world). ``quanzi train ranker`` runs it
    through the common ``training/pipeline.train``; its hooks add the world's params and
    the model's choices, and log the model from ``ranker_pyfunc.py`` (feature rows in, no
    text signature)."""

    config: RankerConfig = field(default_factory=RankerConfig)
    name: str = "ranker"
    registered_model: str = REGISTERED_MODEL
    primary_metric: str = "test_ndcg10_learned"
    gate: dict[str, tuple[bool, float]] = field(
        default_factory=lambda: {
            "test_ndcg10_learned": (True, 0.005),
            "test_ndcg10_learned_friendless": (True, 0.02),
            "test_ndcg10_learned_silent": (True, 0.02),
        }
    )
    model_format: ModelFormat = RANKER_MODEL
    _data: RankerData | None = None

    def config_for(self, small: bool) -> RankerConfig:
        """The config a run uses (``--small``: ``RankerConfig.small``)."""
        return self.config.small() if small else self.config

    def preflight(self, settings: Settings) -> None:
        """A missing world is the user's to fix: say so before creating the MLflow store."""
        require_world(settings, self.world_name(settings))

    def load_data(
        self, settings: Settings, small: bool, progress: ProgressCallback | None = None
    ) -> TaskData:
        self._data = load_ranker_data(settings, self.config_for(small), progress=progress)
        return _task_data(self._data)

    def run_params(self, data: TaskData) -> dict[str, str]:
        """The world, its days per split and where each input came from."""
        d = self.data()
        return {
            "world": d.world.name,
            **{f"days.{k}": ",".join(v) for k, v in d.days.items()},
            **{f"source.{k}": v[:500] for k, v in d.sources.items()},
        }

    def fit_params(self, predictor: LinearRanker) -> dict[str, Any]:
        """The choices made on dev."""
        return {
            f"chosen.{k}": predictor.config[k]
            for k in ("objective", "C", "ipw", "feature_set", "train_set", "dev_requests")
        }

    def comparison_for(
        self,
        settings: Settings,
        run_params: dict[str, str],
        small: bool,
        load: bool,
        progress: ProgressCallback | None = None,
    ) -> Comparison:
        """Promotion compares on the challenger's training world (run param ``world``), on
        its held-out days, under the protocol of the challenger's headline: the held-out
        exploration requests when that world logged some (``explore_gate``), else every
        request. Worlds are independent simulations, so a champion trained on another
        world is a fair contestant there (it never saw those days)."""
        world = run_params.get("world") or self.world_name(settings)
        if not load:  # same test sets: the logged metrics; the run says if the world explores
            if run_params.get("chosen.dev_requests") == "exploration":
                return Comparison(
                    f"logged test metrics: world {world}, held-out "
                    "exploration requests, eligible set",
                    explore_gate(self.gate),
                )
            return Comparison(
                f"logged test metrics: world {world}, all held-out requests, eligible set",
                dict(self.gate),
            )
        config = replace(
            self.config,
            world=world,
            **{
                key: int(run_params[f"cfg.{key}"])
                for key in ("train_days", "dev_days")
                if f"cfg.{key}" in run_params
            },
        )
        config = config.small() if small else config
        try:
            self._data = load_ranker_data(settings, config, progress=progress, test_only=True)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"the challenger was trained on world {world!r}, where promotion compares it: {exc}"
            ) from exc
        d = self._data
        days = d.days["test"]
        where = (
            f"world {world} (the challenger's training world), held-out days {days[0]}…{days[-1]}, "
        )
        data = _task_data(d)
        if d.explores:
            return Comparison(
                where + "exploration requests only (random order), eligible set",
                explore_gate(self.gate),
                data,
            )
        return Comparison(where + "all requests, eligible set", dict(self.gate), data)

    def world_name(self, settings: Settings) -> str:
        """The world this task trains on (the demo world unless the config names one)."""
        return self.config.world_name(settings)

    def data(self) -> RankerData:
        if self._data is None:
            raise RuntimeError("load_data first")
        return self._data

    def fit(self, data: TaskData, settings: Settings, small: bool) -> LinearRanker:
        ranker, trials = choose_and_fit(self.data(), self.config_for(small))
        ranker.config["trials"] = trials
        return ranker

    def evaluate(self, predictor: LinearRanker, data: TaskData) -> Evaluation:
        """``RankerEvaluator`` on the loaded days, with the fast dev score of the chosen
        model and every trial of the dev search (saved with the model)."""
        evaluation = RankerEvaluator()(predictor, self.data())
        if "dev_ndcg10" in predictor.config:  # a model this code chose on dev
            evaluation.metrics["dev_ndcg10_chosen_fast"] = predictor.config["dev_ndcg10"]
        evaluation.tables["dev_trials"] = pd.DataFrame(predictor.config.get("trials", []))
        return evaluation

    def load(self, path: Path) -> LinearRanker:
        return LinearRanker.load(path)


TASK = RankerTask()
