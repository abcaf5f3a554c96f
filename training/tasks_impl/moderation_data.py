"""The moderation task's data: every learned label's rows, one long frame per split.

(The task's module docstring says what each label's rows are and where they come from.)
Each row has a ``task`` column naming the label it teaches; ``build_task_frames`` also
returns the source frames by name, whose hashes the run logs, and the real review test
texts the collateral check reads.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError
from tqdm.auto import tqdm

from quanzi.datasets.moderation.abuse import build_abuse_dataset
from quanzi.datasets.moderation.ads import build_ad_dataset
from quanzi.datasets.moderation.adversarial import load_adversarial
from quanzi.datasets.moderation.contact import build_contact_dataset
from quanzi.datasets.moderation.editor_decisions import review_training_rows
from quanzi.datasets.moderation.gold import load_offensive_review_labels
from quanzi.datasets.moderation.hosts import load_sources
from quanzi.datasets.moderation.spam import build_spam_dataset
from quanzi.datasets.moderation.written import written_frame
from quanzi.datasets.normalize import normalize
from quanzi.models.moderation.predictor import LEARNED
from quanzi.settings import Settings
from quanzi.storage.db import settings_session
from quanzi.training.tasks_impl.moderation_config import ModerationConfig

log = logging.getLogger(__name__)

COLUMNS = (
    "text",
    "norm",
    "task",
    "label",
    "kind",
    "group",
    "source",
    "transform",
    "order",
    "category",
    "corpus",
)


def frame_of(df: pd.DataFrame, task: str, **defaults: Any) -> pd.DataFrame:
    """Project a builder's frame onto the common columns."""
    out = pd.DataFrame(index=df.index)
    for col in COLUMNS:
        if col == "task":
            out[col] = task
        elif col in df.columns:
            out[col] = df[col]
        else:
            out[col] = defaults.get(col, "" if col != "order" else -1)
    out["label"] = out["label"].astype(int)
    out["order"] = out["order"].fillna(-1).astype(int)
    for col in ("kind", "group", "source", "transform", "category", "corpus"):
        out[col] = out[col].fillna("").astype(str)
    return out


def digest(df: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=False).values.tobytes()).hexdigest()


def ad_splits(ad: pd.DataFrame) -> pd.Series:
    """The moderation split of each ``ad`` row (see the module docstring)."""
    split = ad["split"].copy()
    sms = ad["source"] == "sms"
    strat = ad["strat_split"]
    split[sms & (strat == "test")] = "test"
    split[sms & (strat == "train")] = np.where(
        ad.loc[sms & (strat == "train"), "split"] == "dev", "dev", "train"
    )
    return split


def build_task_frames(
    cfg: ModerationConfig, corpora_dir: Path, progress: bool = True
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """All rows of all learned labels (with ``split``), and the source frames by name."""
    steps = tqdm(total=6, desc="moderation data", disable=not progress, leave=False)
    sources = load_sources(corpora_dir, cfg.cold_limit, cfg.seed)
    hosts, reviews, sms, cold = sources.hosts, sources.reviews, sources.sms, sources.cold
    steps.update()
    ad = build_ad_dataset(sms, reviews, cfg.ad)
    ad = ad.assign(split=ad_splits(ad))
    steps.update()
    spam = build_spam_dataset(reviews, cfg.spam)
    steps.update()
    contact = build_contact_dataset(hosts, cfg.contact)
    steps.update()
    abuse = build_abuse_dataset(reviews, cfg.abuse)
    labelled = (
        load_offensive_review_labels(corpora_dir)
        if cfg.annotated_offensive
        else pd.DataFrame(columns=["text", "norm", "label", "corpus"])
    )
    steps.update()
    frames = [
        frame_of(cold, "offensive", kind="cold", source="cold", corpus="cold").assign(
            split=cold["split"].to_numpy()
        ),
        frame_of(ad, "ad").assign(split=ad["split"].to_numpy()),
        frame_of(spam, "spam", source="review").assign(split=spam["split"].to_numpy()),
        frame_of(contact, "contact").assign(
            source=contact["corpus"].to_numpy(), split=contact["split"].to_numpy()
        ),
        frame_of(abuse, "offensive", source="review").assign(split=abuse["split"].to_numpy()),
        frame_of(
            pd.concat([labelled] * cfg.annotated_repeat, ignore_index=True),
            "offensive",
            kind="annotated_review",
            source="review",
        ).assign(split="train"),
    ]
    train_reviews = reviews[(reviews["split"] == "train") & ~reviews["norm"].isin(labelled["norm"])]
    for task, n in cfg.review_negatives.items():
        negatives = train_reviews.sample(n=min(len(train_reviews), n), random_state=cfg.seed)
        frames.append(
            frame_of(
                negatives.assign(label=0), task, kind="review_negative", source="review"
            ).assign(split="train")
        )
    if cfg.written:
        frames.extend(_written_frames(cfg, train_reviews))
    background = reviews[reviews["split"] == "dev"]
    background = background.sample(
        n=min(len(background), cfg.background_dev), random_state=cfg.seed
    )
    frames.append(
        frame_of(
            background.assign(label=0), "background", kind="background", source="review"
        ).assign(split="dev")
    )
    rows = pd.concat(frames, ignore_index=True)
    reviews_test = reviews[reviews["split"] == "test"].reset_index(drop=True)
    if cfg.collateral_limit is not None and len(reviews_test) > cfg.collateral_limit:
        reviews_test = reviews_test.sample(n=cfg.collateral_limit, random_state=cfg.seed)
    steps.update()
    steps.close()
    return rows, {
        "cold": cold,
        "ad": ad,
        "spam": spam,
        "contact": contact,
        "abuse": abuse,
        "offensive_labelled": labelled[["corpus", "row", "label"]],
        "collateral_reviews": reviews_test.reset_index(drop=True),
    }


NEW_LABELS = ("fraud", "gambling", "sexual", "privacy")


def _written_frames(cfg: ModerationConfig, train_reviews: pd.DataFrame) -> list[pd.DataFrame]:
    """The hand-written rows for every learned label (train + dev by their hash split);
    for the labels of issue 12 also real reviews as negatives, the adversarial set's
    ``dev`` split as dev rows and, as their test rows, its held-out ``test`` split."""
    frames = []
    adversarial = load_adversarial(split="test")
    # The set's dev split guides these labels' thresholds beside the written dev rows (its
    # data card allows it); its test split is read for evaluation only.
    adversarial_dev = load_adversarial(split="dev")
    for task in LEARNED:
        written = repeat_train_rows(
            written_frame(task, copies=cfg.written_copies, seed=cfg.seed),
            cfg.written_repeat.get(task, 1),
        )
        frames.append(
            frame_of(written, task, source="written", corpus="written").assign(
                split=written["split"].to_numpy()
            )
        )
        if task not in NEW_LABELS:
            continue
        negatives = train_reviews.sample(
            n=min(len(train_reviews), cfg.new_label_review_negatives), random_state=cfg.seed
        )
        frames.append(
            frame_of(
                negatives.assign(label=0), task, kind="review_negative", source="review"
            ).assign(split="train")
        )
        for split, posts in (("test", adversarial), ("dev", adversarial_dev)):
            rows = pd.DataFrame(
                {
                    "text": [p.text for p in posts],
                    "norm": [normalize(p.text) for p in posts],
                    "label": [int(task in p.labels) for p in posts],
                    "category": [p.category for p in posts],
                }
            )
            frames.append(
                frame_of(
                    rows, task, kind="adversarial", source="adversarial", corpus="adversarial"
                ).assign(split=split)
            )
    return frames


def repeat_train_rows(frame: pd.DataFrame, times: int) -> pd.DataFrame:
    """``frame`` with each ``train`` row present ``times`` times (dev rows once: the
    thresholds count every dev row once)."""
    if times < 1:
        raise ValueError(f"written_repeat must be ≥ 1, not {times}")
    train = frame[frame["split"] == "train"]
    return pd.concat([frame] + [train] * (times - 1), ignore_index=True)


def editor_rows(settings: Settings) -> pd.DataFrame:
    """Editors' decided review items as training rows (empty without a database)."""
    empty = pd.DataFrame(columns=[*COLUMNS, "split"])
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return empty
    try:
        with settings_session(settings) as session:
            decided = review_training_rows(session)
    except SQLAlchemyError as exc:  # no schema yet, or no server: train without them
        log.info("no editor decisions used (%s)", str(exc).splitlines()[0])
        return empty
    rows = []
    for item in decided:
        for task in LEARNED:
            rows.append(
                {
                    "text": item.text,
                    "norm": normalize(item.text),
                    "task": task,
                    "label": int(item.decision == "reject" and task in item.labels),
                    "kind": "editor",
                    "group": "",
                    "source": "editor",
                    "transform": "",
                    "order": -1,
                    "category": "",
                    "corpus": "editor",
                    "split": "train",
                }
            )
    return pd.DataFrame(rows, columns=[*COLUMNS, "split"]) if rows else empty
