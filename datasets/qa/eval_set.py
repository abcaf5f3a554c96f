"""Load the hand-written Q&A evaluation set (``datasets/qa/eval``): questions with labelled
answers, and labelled question pairs. The data card is ``eval/README.md``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent / "eval"
CATEGORIES = (
    "书籍",
    "平板",
    "手机",
    "水果",
    "洗发水",
    "热水器",
    "蒙牛",
    "衣服",
    "计算机",
    "酒店",
    "外卖",
)
LABELS = ("helpful", "partial", "non_answer", "off_topic")
NON_ANSWER_LABELS = frozenset({"non_answer", "off_topic"})  # what "a non-answer" means
GAIN = {"helpful": 2.0, "partial": 1.0, "non_answer": 0.0, "off_topic": 0.0}  # NDCG gains
SPLITS = ("dev", "test")


class EvalSetError(ValueError):
    """A row of the evaluation set that breaks its format (the message names it)."""


@dataclass(frozen=True)
class EvalAnswer:
    id: str
    text: str
    label: str
    author_bought: bool
    days_since_purchase: int | None

    @property
    def is_non_answer(self) -> bool:
        return self.label in NON_ANSWER_LABELS


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    category: str
    product: str
    question: str
    split: str
    answers: tuple[EvalAnswer, ...]


@dataclass(frozen=True)
class EvalPair:
    id: str
    category: str
    a: str
    b: str
    same: bool
    split: str


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{path.name}:{n}: not JSON ({exc})") from exc
    return out


def _check(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise EvalSetError(f"{where}: {what}")


def load_questions(root: Path = EVAL_DIR, split: str | None = None) -> list[EvalQuestion]:
    """The questions (optionally one split), each with its labelled answers."""
    out: list[EvalQuestion] = []
    for r in _rows(root / "questions.jsonl"):
        where = f"questions.jsonl {r.get('id')}"
        _check(r.get("category") in CATEGORIES, where, f"unknown category {r.get('category')!r}")
        _check(r.get("split") in SPLITS, where, f"split must be one of {SPLITS}")
        answers = []
        for a in r.get("answers", []):
            _check(a.get("label") in LABELS, where, f"answer {a.get('id')}: label not in {LABELS}")
            answers.append(
                EvalAnswer(
                    id=str(a["id"]),
                    text=str(a["text"]),
                    label=a["label"],
                    author_bought=bool(a.get("author_bought")),
                    days_since_purchase=a.get("days_since_purchase"),
                )
            )
        if split is None or r["split"] == split:
            out.append(
                EvalQuestion(
                    id=str(r["id"]),
                    category=r["category"],
                    product=str(r.get("product", "")),
                    question=str(r["question"]),
                    split=r["split"],
                    answers=tuple(answers),
                )
            )
    return out


def load_pairs(root: Path = EVAL_DIR, split: str | None = None) -> list[EvalPair]:
    """The labelled question pairs (optionally one split)."""
    out = []
    for r in _rows(root / "pairs.jsonl"):
        where = f"pairs.jsonl {r.get('id')}"
        _check(r.get("split") in SPLITS, where, f"split must be one of {SPLITS}")
        _check(isinstance(r.get("same"), bool), where, "same must be true or false")
        if split is None or r["split"] == split:
            out.append(
                EvalPair(
                    id=str(r["id"]),
                    category=str(r.get("category", "")),
                    a=str(r["a"]),
                    b=str(r["b"]),
                    same=r["same"],
                    split=r["split"],
                )
            )
    return out
