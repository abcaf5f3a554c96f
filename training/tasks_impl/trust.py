"""The trust ``Task`` (issue 4): circle-world data, fit, evaluation, load.

Reads top to bottom in the order the pipeline runs it: config → data → fit → evaluate →
load. The labelling procedure is documented in ``models/trust_README.md``.

- **Data**: a circle world (``datasets/world``) built once into the data directory
  (20k posts, seed 41; ``small``: 2k posts). Each post is a real text (review, SMS) or a
  template, written by an account whose provenance the platform knows; its label is the
  world's hidden true base level L2–L6 (``hidden/posts_truth.parquet``), which follows
  from who wrote what (creator's genuine share → L2, user's → L3, publicity → L4,
  merchant promotion → L5, disguised ad by anyone → L6; filler by users → L3).
  Inputs are only what serving can know: text, verified purchase, author kind,
  certification, followers, brand account, account age, and the author's history
  *before* the post (earlier posts, share verified).
- **Split** by the source text: the corpus hash split of the real text a post was made
  from (``source_split``), or of the post's own normalised text for template posts, so
  one real text never sits in two splits.
- **Fit**: char TF-IDF + provenance → multinomial logistic regression on train; C chosen
  on dev macro-F1. A share of training rows has its history hidden, because the service
  may not send it (``history_dropout``).
- **Evaluate**: accuracy, macro-F1, per-level precision/recall/F1 on dev and test, the
  same test with history withheld, and two baselines on the same rows: char TF-IDF + LR
  on the text alone, and LR on provenance alone.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import StandardScaler

from quanzi.datasets.corpora import hash_split
from quanzi.datasets.normalize import normalize
from quanzi.datasets.world.build import build_world, world_dir
from quanzi.models.baseline import fit_multiclass_baseline
from quanzi.models.text_linear import CharTfidf, SoftmaxHead, TfidfConfig
from quanzi.models.trust import LEVELS, PROVENANCE, REGISTERED_MODEL, TrustPredictor, provenance_row
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.evaluators.figures import confusion_figure, pr_curves_figure
from quanzi.training.evaluators.speed import measure_speed
from quanzi.training.tasks import Evaluation, TaskData

log = logging.getLogger(__name__)

HISTORY_KEYS = ("post_count", "verified_share")


# ---------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrustConfig:
    """Every default of the trust task in one place (logged as MLflow params)."""

    tfidf: TfidfConfig = field(default_factory=TfidfConfig)
    provenance_weight: float = 1.0  # standardised provenance × this, next to unit TF-IDF rows
    C_grid: tuple[float, ...] = (3.0, 10.0, 30.0)  # chosen on dev macro-F1
    history_dropout: float = 0.25  # share of training rows whose history is withheld
    world_posts: int = 20_000
    small_world_posts: int = 2_000
    world_seed: int = 41
    seed: int = 7


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
def world_name(posts: int, seed: int) -> str:
    return f"trust-p{posts}-s{seed}"


def ensure_world(settings: Settings, posts: int, seed: int) -> Path:
    """The task's world folder, built on first use (deterministic for posts and seed)."""
    name = world_name(posts, seed)
    path = world_dir(settings, name)
    if not (path / "manifest.json").is_file():
        log.info("trust: building circle world %s", name)
        build_world(settings, posts, seed, name=name)
    return path


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    digest.update(path.read_bytes())
    return digest.hexdigest()


def labelled_posts(world: Path) -> pd.DataFrame:
    """One row per world post: scoring-record fields, label, post kind and split."""
    posts = pd.read_parquet(
        world / "posts.parquet",
        columns=["id", "circle_id", "author_id", "order_id", "text", "created_at"],
    )
    users = pd.read_parquet(
        world / "users.parquet",
        columns=[
            "id",
            "kind",
            "follower_count",
            "creator_certified",
            "account_created_at",
            "merchant_circle_id",
        ],
    )
    truth = pd.read_parquet(
        world / "hidden" / "posts_truth.parquet",
        columns=["post_id", "kind", "trust_level", "source_split"],
    )
    frame = posts.merge(
        users.rename(columns={"id": "author_id", "kind": "author_kind"}),
        on="author_id",
        how="left",
        validate="many_to_one",
    ).merge(
        truth.rename(columns={"post_id": "id", "kind": "post_kind"}),
        on="id",
        how="left",
        validate="one_to_one",
    )
    if frame["trust_level"].isna().any():
        raise ValueError(f"{world}: posts without hidden truth; rebuild the world")
    frame = frame.sort_values(["created_at", "id"]).reset_index(drop=True)
    frame["verified_purchase"] = frame["order_id"].notna()
    # History strictly before each post (what the platform knew when it was written).
    by_author = frame.groupby("author_id", sort=False)
    prior_posts = by_author.cumcount()
    prior_verified = by_author["verified_purchase"].cumsum() - frame["verified_purchase"]
    share = np.where(prior_posts > 0, prior_verified / prior_posts.clip(lower=1), 0.0)
    age_days = (frame["created_at"] - frame["account_created_at"]).dt.total_seconds() / 86400
    frame["author"] = [
        {
            "kind": k,
            "follower_count": int(f),
            "creator_certified": bool(c),
            "account_age_days": round(max(float(a), 0.0), 2),
            "is_brand_account": bool(k == "merchant" and m == circle),
            "post_count": int(n),
            "verified_share": round(float(s), 4),
        }
        for k, f, c, a, m, circle, n, s in zip(
            frame["author_kind"],
            frame["follower_count"],
            frame["creator_certified"],
            age_days,
            frame["merchant_circle_id"],
            frame["circle_id"],
            prior_posts,
            share,
            strict=True,
        )
    ]
    split = frame["source_split"].copy()
    missing = split.isna() | (split == "")
    split[missing] = [hash_split(normalize(t)) for t in frame.loc[missing, "text"]]
    frame["split"] = split
    frame["level"] = frame["trust_level"].astype(int)
    return frame[
        [
            "id",
            "text",
            "circle_id",
            "author",
            "verified_purchase",
            "level",
            "post_kind",
            "author_kind",
            "split",
        ]
    ]


def without_history(frame: pd.DataFrame, mask: np.ndarray | None = None) -> pd.DataFrame:
    """A copy whose ``author`` dicts lack the history keys (all rows or ``mask``)."""
    out = frame.copy()
    rows = np.ones(len(out), dtype=bool) if mask is None else mask
    out["author"] = [
        {k: v for k, v in a.items() if k not in HISTORY_KEYS} if drop else a
        for a, drop in zip(out["author"], rows, strict=True)
    ]
    return out


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Scoring records (``quanzi score`` input fields) of a frame's rows."""
    return [
        {"text": t, "circle_id": c, "author": a, "verified_purchase": bool(v)}
        for t, c, a, v in zip(
            frame["text"],
            frame["circle_id"],
            frame["author"],
            frame["verified_purchase"],
            strict=True,
        )
    ]


# ---------------------------------------------------------------------------------------
# metrics and figures
# ---------------------------------------------------------------------------------------
def level_metrics(prefix: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    out = {
        f"{prefix}_accuracy": float(accuracy_score(y, pred)),
        f"{prefix}_macro_f1": float(
            f1_score(y, pred, labels=list(LEVELS), average="macro", zero_division=0)
        ),
    }
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=list(LEVELS), zero_division=0)
    for level, pi, ri, fi in zip(LEVELS, p, r, f, strict=True):
        out.update(
            {
                f"{prefix}_precision_L{level}": float(pi),
                f"{prefix}_recall_L{level}": float(ri),
                f"{prefix}_f1_L{level}": float(fi),
            }
        )
    return out


def level_confusion(y: np.ndarray, pred: np.ndarray, title: str) -> Figure:
    return confusion_figure(
        y,
        pred,
        LEVELS,
        title,
        display_labels=[f"L{k}" for k in LEVELS],
        truth="true base level (world)",
        prediction="predicted base level",
    )


# ---------------------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------------------
class TrustTask:
    """Base trust level L2–L6 from text and provenance, labelled by a circle world."""

    name = "trust"
    registered_model = REGISTERED_MODEL
    primary_metric = "test_macro_f1"
    gate: dict[str, tuple[bool, float]] = {  # noqa: RUF012
        "test_macro_f1": (True, 0.02),
        "test_accuracy": (True, 0.02),
    }

    def __init__(self, config: TrustConfig | None = None) -> None:
        self.config = config or TrustConfig()
        self._baselines: dict[str, Any] = {}

    def config_for(self, small: bool) -> TrustConfig:
        """The config a run uses (``--small`` shrinks the data, not the config)."""
        return self.config

    def using(self, config: TrustConfig) -> TrustTask:
        """A copy that trains with ``config`` (``quanzi train trust --config/--set``)."""
        return TrustTask(config)

    # ------------------------------------------------------------------------- data
    def load_data(
        self, settings: Settings, small: bool, progress: ProgressCallback | None = None
    ) -> TaskData:
        cfg = self.config
        posts = cfg.small_world_posts if small else cfg.world_posts
        world = ensure_world(settings, posts, cfg.world_seed)
        frame = labelled_posts(world)
        splits = {
            s: frame[frame["split"] == s].reset_index(drop=True) for s in ("train", "dev", "test")
        }
        return TaskData(
            train=splits["train"],
            dev=splits["dev"],
            test=splits["test"],
            hashes={
                "world_posts": _file_sha256(world / "posts.parquet"),
                "world_users": _file_sha256(world / "users.parquet"),
                "world_truth": _file_sha256(world / "hidden" / "posts_truth.parquet"),
            },
        )

    # -------------------------------------------------------------------------- fit
    def fit(self, data: TaskData, settings: Settings, small: bool) -> TrustPredictor:
        """Fit on train (history withheld for a share of rows); C on dev macro-F1."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        train = without_history(data.train, rng.random(len(data.train)) < cfg.history_dropout)
        norms_tr = [normalize(t) for t in train["text"]]
        tfidf = CharTfidf(cfg.tfidf).fit(norms_tr)
        X_tr = tfidf.transform(norms_tr)
        P_tr = np.array([provenance_row(r) for r in records_of(train)])
        y = train["level"].to_numpy(int)
        dev_records, y_dev = records_of(data.dev), data.dev["level"].to_numpy(int)
        best: tuple[float, TrustPredictor | None, float] = (-1.0, None, 0.0)
        scores = {}
        for C in cfg.C_grid:
            head = SoftmaxHead(dense_names=list(PROVENANCE))
            head.fit(X_tr, P_tr, y, C=C, weight=cfg.provenance_weight)
            predictor = TrustPredictor(tfidf=tfidf, head=head)
            pred = np.asarray(head.classes)[predictor.proba(dev_records).argmax(axis=1)]
            score = (
                float(f1_score(y_dev, pred, labels=list(LEVELS), average="macro", zero_division=0))
                if len(y_dev)
                else 0.0
            )
            scores[str(C)] = round(score, 4)
            if score > best[0]:
                best = (score, predictor, C)
        log.info("trust: dev macro-F1 by C %s", scores)
        predictor = best[1]
        assert predictor is not None
        predictor.config = {
            "C": best[2],
            "dev_macro_f1": round(best[0], 4),
            "dev_macro_f1_by_C": scores,
            "train_rows": len(train),
            "history_dropout": cfg.history_dropout,
        }
        return predictor

    # --------------------------------------------------------------------- evaluate
    def _fit_baselines(self, train: pd.DataFrame) -> tuple[Any, Any]:
        """Text-only char TF-IDF + LR and provenance-only LR on the same rows (cached)."""
        key = hashlib.sha256("\x00".join(train["id"]).encode()).hexdigest()
        if key not in self._baselines:
            text = fit_multiclass_baseline(
                pd.Series([normalize(t) for t in train["text"]]), train["level"]
            )
            prov_x = np.array([provenance_row(r) for r in records_of(train)])
            scaler = StandardScaler().fit(prov_x)
            prov = LogisticRegression(C=1.0, solver="newton-cg", max_iter=3000).fit(
                scaler.transform(prov_x), train["level"].to_numpy(int)
            )
            self._baselines[key] = (text, (scaler, prov))
        return self._baselines[key]

    def evaluate(self, predictor: TrustPredictor, data: TaskData) -> Evaluation:
        metrics: dict[str, float] = {}
        figures: dict[str, Any] = {}
        tables: dict[str, pd.DataFrame] = {}
        text_model, (scaler, prov_model) = self._fit_baselines(data.train)
        for set_name, frame in (("dev", data.dev), ("test", data.test)):
            if frame.empty:
                continue
            y = frame["level"].to_numpy(int)
            records = records_of(frame)
            probs = predictor.proba(records)
            classes = predictor.head.classes
            pred = np.asarray(classes)[probs.argmax(axis=1)]
            metrics.update(level_metrics(set_name, y, pred))
            metrics[f"{set_name}_log_loss"] = float(log_loss(y, probs, labels=classes))
            base_text = text_model.predict([normalize(t) for t in frame["text"]])
            base_prov = prov_model.predict(
                scaler.transform(np.array([provenance_row(r) for r in records]))
            )
            for name, base in (("baseline_text", base_text), ("baseline_provenance", base_prov)):
                m = level_metrics(f"{name}_{set_name}", y, base)
                metrics.update(
                    {
                        k: v
                        for k, v in m.items()
                        if k.endswith(("_accuracy", "_macro_f1")) or "_f1_L" in k
                    }
                )
            if set_name != "test":
                continue
            nohist = predictor.proba(records_of(without_history(frame)))
            metrics.update(
                {
                    k.replace("test_", "test_nohistory_", 1): v
                    for k, v in level_metrics(
                        "test", y, np.asarray(classes)[nohist.argmax(1)]
                    ).items()
                    if k.endswith(("_accuracy", "_macro_f1"))
                }
            )
            figures["confusion_test.png"] = level_confusion(
                y, pred, f"trust model, world test (macro-F1 {metrics['test_macro_f1']:.3f})"
            )
            figures["confusion_test_baseline_text.png"] = level_confusion(
                y, base_text, "baseline: text-only TF-IDF + LR"
            )
            figures["confusion_test_baseline_provenance.png"] = level_confusion(
                y, base_prov, "baseline: provenance-only LR"
            )
            figures["pr_per_level_test.png"] = pr_curves_figure(
                {f"L{level}": y == level for level in classes},
                {f"L{level}": probs[:, j] for j, level in enumerate(classes)},
                "trust, test: precision–recall per level",
            )
            p, r, f, n = precision_recall_fscore_support(
                y, pred, labels=list(LEVELS), zero_division=0
            )
            bt = f1_score(y, base_text, labels=list(LEVELS), average=None, zero_division=0)
            bp = f1_score(y, base_prov, labels=list(LEVELS), average=None, zero_division=0)
            tables["per_level_test"] = pd.DataFrame(
                {
                    "level": [f"L{k}" for k in LEVELS],
                    "n": n,
                    "precision": p,
                    "recall": r,
                    "f1": f,
                    "baseline_text_f1": bt,
                    "baseline_provenance_f1": bp,
                }
            )
            tables["per_kind_test"] = (
                pd.DataFrame(
                    {
                        "post_kind": frame["post_kind"],
                        "author_kind": frame["author_kind"],
                        "correct": pred == y,
                    }
                )
                .groupby(["post_kind", "author_kind"])
                .agg(n=("correct", "size"), accuracy=("correct", "mean"))
                .reset_index()
            )
            metrics["test_posts_per_s"] = measure_speed(predictor, records)[0]
        return Evaluation(metrics=metrics, figures=figures, tables=tables)

    # ------------------------------------------------------------------------- load
    def load(self, path: Path) -> TrustPredictor:
        return TrustPredictor.load(path)


TASK = TrustTask()
