"""The hand-written adversarial and look-alike moderation set (``adversarial/posts.jsonl``).

Original posts that try to slip past moderation (obfuscated contact, soft ads, pinyin
insults, fraud, gambling, sexual solicitation…) and clean posts that only look like them.
Nobody trains on it: the ``test`` split is kept out of every training run and threshold
choice, the ``dev`` split may guide thresholds. ``adversarial/README.md`` is its data card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quanzi.datasets.gold import jsonl_records

ADVERSARIAL_FILE = Path(__file__).resolve().parent / "adversarial" / "posts.jsonl"
POLICY_LABELS = (
    "contact",
    "ad",
    "offensive",
    "spam",
    "privacy",
    "fraud",
    "gambling",
    "sexual",
)
DECISIONS = ("pass", "review", "reject")
SPLITS = ("dev", "test")
FIELDS = ("id", "text", "labels", "decision", "category", "split", "note")


@dataclass(frozen=True)
class AdversarialPost:
    """One post with the labels and the decision counted correct for it."""

    id: str
    text: str
    labels: tuple[str, ...]
    decision: str
    category: str
    split: str
    note: str

    @property
    def clean(self) -> bool:
        """A look-alike that must pass (no label)."""
        return not self.labels


def _post(name: str, n: int, rec: dict) -> AdversarialPost:
    """Validate one line; every error names the file and line so it can be fixed by hand."""
    where = f"{name}:{n}"
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        raise ValueError(f"{where}: 'text' must be a non-empty string")
    if not isinstance(rec["labels"], list):
        raise ValueError(f"{where}: 'labels' must be a list")
    unknown = [x for x in rec["labels"] if x not in POLICY_LABELS]
    if unknown:
        raise ValueError(f"{where}: unknown label(s) {unknown}; known: {POLICY_LABELS}")
    if rec["decision"] not in DECISIONS:
        raise ValueError(f"{where}: decision {rec['decision']!r} not one of {DECISIONS}")
    if rec["split"] not in SPLITS:
        raise ValueError(f"{where}: split {rec['split']!r} not one of {SPLITS}")
    if (not rec["labels"]) != (rec["decision"] == "pass"):
        raise ValueError(f"{where}: a post passes exactly when it has no label")
    return AdversarialPost(
        id=str(rec["id"]),
        text=rec["text"],
        labels=tuple(rec["labels"]),
        decision=rec["decision"],
        category=str(rec["category"]),
        split=rec["split"],
        note=str(rec["note"]),
    )


def load_adversarial(
    split: str | None = None, path: Path = ADVERSARIAL_FILE
) -> list[AdversarialPost]:
    """Every post (or one split's), validated; duplicate ids or texts are an error."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split {split!r} not one of {SPLITS}")
    posts = [_post(path.name, n, rec) for n, rec in jsonl_records(path)]
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    for post in posts:
        if post.id in seen_ids:
            raise ValueError(f"{path.name}: duplicate id {post.id}")
        if post.text in seen_texts:
            raise ValueError(f"{path.name}: duplicate text in {post.id}")
        seen_ids.add(post.id)
        seen_texts.add(post.text)
    return [p for p in posts if split is None or p.split == split]
