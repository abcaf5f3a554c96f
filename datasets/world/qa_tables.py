"""A built world's topic and Q&A tables, read for offline work (training the ask-the-buyer
ranker and the answer model, evaluating topics and Q&A). ``read_qa_truth`` opens the
hidden traits and is for the offline evaluation only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from quanzi.datasets.world.build import world_dir
from quanzi.datasets.world.qa_world import BuyerTraits, QAConfig
from quanzi.settings import Settings

QA_TABLES = (
    "circles",
    "items",
    "orders",
    "posts",
    "topics",
    "post_topics",
    "questions",
    "answers",
    "question_invites",
)


def _folder(settings: Settings, name: str) -> Path:
    folder = world_dir(settings, name)
    if not (folder / "questions.parquet").is_file():
        raise FileNotFoundError(
            f"world {name!r} has no Q&A tables (built before issue 17 or not built): run "
            f"`quanzi world build --posts 5000 --seed 7 --force`"
        )
    return folder


def read_qa_world(settings: Settings, name: str) -> dict[str, pd.DataFrame]:
    """The public tables Q&A and topics read (``hidden/`` is not opened)."""
    folder = _folder(settings, name)
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in QA_TABLES}


def read_qa_truth(settings: Settings, name: str) -> tuple[pd.DataFrame, QAConfig]:
    """Buyers' hidden traits (``user_id``, ``answer_propensity``, ``helpfulness``) and the
    simulation's config: for the offline evaluation, never for training or serving."""
    folder = _folder(settings, name)
    cfg = json.loads((folder / "hidden/qa_config.json").read_text())
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return pd.read_parquet(folder / "hidden/qa_truth.parquet"), QAConfig(**cfg)


def traits_of(truth: pd.DataFrame, user_ids: list[str]) -> tuple[BuyerTraits, dict[str, int]]:
    """The traits as arrays with a user id → row map."""
    index = {u: i for i, u in enumerate(truth["user_id"].tolist())}
    del user_ids
    return (
        BuyerTraits(truth["answer_propensity"].to_numpy(), truth["helpfulness"].to_numpy()),
        index,
    )


def world_answer_rows(settings: Settings, name: str) -> list[tuple[str, str, str]]:
    """The world's distinct (question, answer, label) triples, labels from the generator
    (``hidden/answers_truth.parquet``): extra training rows for the answer model, like the
    trust model's provenance labels. Never evaluation rows."""
    folder = _folder(settings, name)
    truth = pd.read_parquet(folder / "hidden/answers_truth.parquet")
    answers = pd.read_parquet(folder / "answers.parquet", columns=["id", "question_id", "text"])
    questions = pd.read_parquet(folder / "questions.parquet", columns=["id", "text"])
    rows = answers.merge(truth, left_on="id", right_on="answer_id").merge(
        questions, left_on="question_id", right_on="id", suffixes=("", "_q")
    )
    return sorted(set(zip(rows.text_q, rows.text, rows.label, strict=True)))
