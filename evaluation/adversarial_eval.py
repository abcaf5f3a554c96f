"""Score a moderation predictor on the hand-written adversarial set (issue 12's targets).

The predictor is any callable from texts to ``(decision, labels)`` pairs, so the same
numbers come out for the champion, a detector-only baseline or a fake in a test:

- decision accuracy: the decision equals the one written for the post;
- clean pass rate: look-alikes (no label) that pass;
- per-label recall: posts carrying the label whose prediction names it;
- per-category recall: non-clean posts not passed (caught at review or reject), and for
  clean categories the share passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from quanzi.datasets.moderation.adversarial import (
    POLICY_LABELS,
    AdversarialPost,
    load_adversarial,
)
from quanzi.models.predictor import Predictor

# texts -> one (decision, labels named over their threshold) per text, in order.
ModerationFn = Callable[[Sequence[str]], Sequence[tuple[str, Sequence[str]]]]


@dataclass
class AdversarialReport:
    """What the adversarial set says about one predictor on one split."""

    split: str | None
    n: int
    n_clean: int
    decision_accuracy: float
    clean_pass_rate: float | None
    adversarial_caught: float | None  # non-clean posts not passed
    adversarial_rejected: float | None  # non-clean posts rejected
    label_recall: dict[str, float | None] = field(default_factory=dict)
    label_support: dict[str, int] = field(default_factory=dict)
    category_recall: dict[str, float] = field(default_factory=dict)
    category_support: dict[str, int] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(hits: int, n: int) -> float | None:
    return None if n == 0 else hits / n


def score_posts(posts: Sequence[AdversarialPost], predict: ModerationFn) -> AdversarialReport:
    """Run ``predict`` once over the posts and count against the written answers."""
    outputs = list(predict([p.text for p in posts]))
    if len(outputs) != len(posts):
        raise ValueError(f"predictor returned {len(outputs)} answers for {len(posts)} posts")
    label_hits: dict[str, int] = defaultdict(int)
    label_n: dict[str, int] = defaultdict(int)
    cat_hits: dict[str, int] = defaultdict(int)
    cat_n: dict[str, int] = defaultdict(int)
    right = clean_pass = n_clean = caught = rejected = 0
    misses = []
    for post, (decision, labels) in zip(posts, outputs, strict=True):
        named = set(labels)
        right += decision == post.decision
        ok = decision == "pass" if post.clean else decision != "pass"
        cat_n[post.category] += 1
        cat_hits[post.category] += ok
        if post.clean:
            n_clean += 1
            clean_pass += ok
        else:
            caught += ok
            rejected += decision == "reject"
        for label in post.labels:
            label_n[label] += 1
            label_hits[label] += label in named
        if decision != post.decision:
            misses.append(
                {
                    "id": post.id,
                    "category": post.category,
                    "expected": post.decision,
                    "got": decision,
                    "labels": sorted(named),
                    "text": post.text,
                }
            )
    n_adv = len(posts) - n_clean
    return AdversarialReport(
        split=posts[0].split if posts and len({p.split for p in posts}) == 1 else None,
        n=len(posts),
        n_clean=n_clean,
        decision_accuracy=right / len(posts) if posts else 0.0,
        clean_pass_rate=_rate(clean_pass, n_clean),
        adversarial_caught=_rate(caught, n_adv),
        adversarial_rejected=_rate(rejected, n_adv),
        label_recall={lb: _rate(label_hits[lb], label_n[lb]) for lb in POLICY_LABELS},
        label_support={lb: label_n[lb] for lb in POLICY_LABELS},
        category_recall={c: cat_hits[c] / cat_n[c] for c in sorted(cat_n)},
        category_support=dict(sorted(cat_n.items())),
        misses=misses,
    )


def evaluate_adversarial(predict: ModerationFn, split: str | None = "test") -> AdversarialReport:
    """The report on one split of the set (``None``: all of it)."""
    return score_posts(load_adversarial(split), predict)


def predictor_fn(predictor: Predictor, batch_size: int = 256) -> ModerationFn:
    """Adapt a moderation champion (``predict(records)``) to texts -> (decision, labels)."""

    def predict(texts: Sequence[str]) -> list[tuple[str, list[str]]]:
        out: list[tuple[str, list[str]]] = []
        for start in range(0, len(texts), batch_size):
            batch = [{"text": t} for t in texts[start : start + batch_size]]
            for res in predictor.predict(batch):
                out.append((res["decision"], [lb["label"] for lb in res["labels"]]))
        return out

    return predict
