"""The moderation predictor: label probabilities → pass / review / reject, explained.

Why one object: the service, ``quanzi score`` and the MLflow pipeline all need the same
decision from the same scores (``moderation-policy.md``). Per record it
1. normalises the text once (the classifiers score normalised text; spans point into the
   original);
2. scores the learned labels (``offensive``, ``ad``, ``spam``, ``contact`` and, in models
   trained since issue 12, ``fraud``, ``gambling``, ``sexual``, ``privacy``) with linear
   char n-gram classifiers (``linear.py``), and every label with the policy's rules
   (detectors and lexicon, ``policy.rule_hits``); ``spam`` is also raised to
   1 when the text nearly copies one of ``recent_texts``;
3. compares each learned score with its two thresholds, chosen on dev for stated
   precision targets (and a cap on the share of real dev reviews flagged) and saved with
   the model: at or over ``reject`` the label rejects, at or over ``review`` it sends the
   post to the editors' queue. Detector confidences have the policy's fixed thresholds;
4. applies the record's own circle's blocked / review-only terms (``circle_rules``), never
   another circle's.

What a band means for the post — the detectors' thresholds, circle rules, the decision
and its risk level — is the moderation policy (``policy.py``); this predictor produces
the scores and labels it decides on.

The predictor holds no state between calls: the circle's terms and recent posts come with
each call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from quanzi.datasets.normalize import normalize, normalize_with_offsets, source_span
from quanzi.models.moderation.detectors import Hit
from quanzi.models.moderation.linear import LinearTextClassifier
from quanzi.models.moderation.linear_stack import LinearStack
from quanzi.models.moderation.policy import (
    BANDS,
    DETECTOR_THRESHOLDS,
    LABELS,
    PRIVACY_THRESHOLDS,
    LabelThresholds,
    circle_rule_label,
    decision_of,
    level_of,
    risk_of,
    rule_hits,
    rule_scores,
    span_of,
)
from quanzi.models.module_stack import load_modules, save_modules
from quanzi.models.ngram_union import NgramUnion

# Labels a trained classifier may score; models saved before issue 12 have the first four,
# and models saved before its third data pass have no ``privacy`` (rules only there).
LEARNED = ("offensive", "ad", "spam", "contact", "fraud", "gambling", "sexual", "privacy")
CORE_LEARNED = LEARNED[:4]
FORMAT_VERSION = 2  # 2: modules.json (models/module_stack.py); 1: fixed folders, still read
REGISTERED_MODEL = "quanzi-moderation"
_UNION_LOCK = threading.Lock()  # two batch threads of a worker may ask for it at once

Rules = Sequence[tuple[str, str]]  # (normalised term, "block" | "review"), as serving stores
CircleRules = Mapping[str, Rules] | Callable[[str], Rules]


@dataclass
class ModerationPredictor:
    """Batch moderation with per-label thresholds (see the module docstring)."""

    classifiers: dict[str, LinearTextClassifier]
    thresholds: dict[str, LabelThresholds]
    dup_threshold: float = 0.9  # char n-gram cosine to a recent post that counts as a copy
    explain_top: int = 3  # n-grams shown as the evidence of a learned label
    meta: dict[str, Any] = field(default_factory=dict)  # training facts saved with it
    name: str = REGISTERED_MODEL
    _union: NgramUnion | bool | None = field(default=None, init=False, repr=False, compare=False)
    _stack: LinearStack | bool | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = set(CORE_LEARNED) - set(self.classifiers)
        if missing:
            raise ValueError(f"moderation needs classifiers for {sorted(missing)}")
        unknown = set(self.classifiers) - set(LEARNED)
        if unknown:
            raise ValueError(f"no policy label {sorted(unknown)}: labels are {LEARNED}")
        self.thresholds = {"privacy": PRIVACY_THRESHOLDS, **self.thresholds}
        lacking = set(self.classifiers) - set(self.thresholds)
        if lacking:
            raise ValueError(f"no thresholds for labels {sorted(lacking)}")

    @property
    def learned(self) -> tuple[str, ...]:
        """The labels this model has a classifier for, in policy order."""
        return tuple(label for label in LEARNED if label in self.classifiers)

    # -------------------------------------------------------------------------- scores
    def scores(
        self,
        texts: Sequence[str],
        recent_texts: Sequence[str] | None = None,
        rules: bool = True,
    ) -> tuple[dict[str, np.ndarray], list[list[Hit]], list[tuple[float, int]]]:
        """Per-label probabilities ``(n,)``, detector hits and (best copy cosine, index).

        The learned labels' logits come from one ``LinearStack`` pass (each classifier on
        its own when their vectorizers cannot share an n-gram union). ``rules=False`` skips
        the rules (their scores are 0): choosing a classifier's thresholds needs only its
        own scores.
        """
        texts = [t if isinstance(t, str) else "" for t in texts]
        norms = [normalize(t) for t in texts]
        probs: dict[str, np.ndarray] = {}
        hits = [rule_hits(t) if rules else [] for t in texts]
        zeros = np.zeros(len(texts))
        stack = self.linear_stack()
        logits = (
            stack.logits(norms)
            if stack is not None
            else {label: c.decision_function(norms) for label, c in self.classifiers.items()}
        )
        for label in LABELS:
            probs[f"{label}_rules"] = rule_scores(hits, label)
            model = 1.0 / (1.0 + np.exp(-logits[label])) if label in logits else zeros
            probs[f"{label}_model"] = model
            probs[label] = np.maximum(model, probs[f"{label}_rules"])
        copies = near_duplicates(norms, [normalize(t) for t in recent_texts or ()])
        copy_sim = np.array([sim for sim, _ in copies])
        probs["spam_classifier"] = probs["spam_model"]
        probs["spam_copy"] = np.where(copy_sim >= self.dup_threshold, 1.0, 0.0)
        probs["spam"] = np.maximum(probs["spam"], probs["spam_copy"])
        return probs, hits, copies

    def ngram_union(self) -> NgramUnion | None:
        """Every classifier's vectorizers as one ``NgramUnion`` (built once, on first use
        or at ``load``); None when they do not preprocess alike (each then counts alone)."""
        with _UNION_LOCK:
            if self._union is None:
                try:
                    self._union = NgramUnion(
                        [v for c in self.classifiers.values() for v in c.vectorizers]
                    )
                except ValueError:
                    self._union = False
            return self._union or None

    def linear_stack(self) -> LinearStack | None:
        """Every classifier's logits from one analysis (``linear_stack.py``), built once;
        None when the classifiers cannot share an n-gram union."""
        with _UNION_LOCK:
            stack = self._stack
        if stack is None:
            union = self.ngram_union()
            stack = LinearStack(union, self.classifiers) if union is not None else False
            with _UNION_LOCK:
                self._stack = stack
        return stack or None

    def bands(self, probs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per label, 0 (below review), 1 (review band) or 2 (reject band), (n,) int."""
        out = {}
        for label in LABELS:
            level = level_of(probs[f"{label}_rules"], DETECTOR_THRESHOLDS)
            if label in self.classifiers:
                model = probs[f"{label}_model"]
                if label == "spam":
                    model = np.maximum(model, probs["spam_copy"])
                level = np.maximum(level, level_of(model, self.thresholds[label]))
            out[label] = level
        return out

    # ------------------------------------------------------------------------- predict
    def predict(
        self,
        records: list[dict[str, Any]],
        *,
        circle_rules: CircleRules | None = None,
        recent_texts: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One ``{"decision", "risk", "labels"}`` per record, in order.

        ``circle_rules`` maps a circle id to its (term, action) pairs (or is a callable
        doing that); a record's own ``circle_id`` selects them. ``recent_texts`` are the
        posts a copy would be copied from (e.g. the circle's latest posts).
        """
        for i, record in enumerate(records):
            if not isinstance(record, Mapping) or not isinstance(record.get("text"), str):
                raise ValueError(f"record {i} needs a string 'text'")
        texts = [r["text"] for r in records]
        if not texts:
            return []
        probs, hits, copies = self.scores(texts, recent_texts)
        bands = self.bands(probs)
        out = []
        for i, record in enumerate(records):
            labels = self._labels(i, texts[i], probs, bands, hits[i], copies[i], recent_texts)
            rule_entry = self._circle_rule_entry(record, circle_rules)
            if rule_entry is not None:
                labels.append(rule_entry)
            out.append({"decision": decision_of(labels), "risk": risk_of(labels), "labels": labels})
        return out

    def _labels(
        self,
        i: int,
        text: str,
        probs: dict[str, np.ndarray],
        bands: dict[str, np.ndarray],
        hits: list[Hit],
        copy: tuple[float, int],
        recent_texts: Sequence[str] | None,
    ) -> list[dict[str, Any]]:
        labels = []
        for label in LABELS:
            prob = float(probs[label][i])
            band = BANDS[int(bands[label][i])]
            if band is None:
                continue
            spans = [
                span_of(h)
                for h in hits
                if h.label == label and h.confidence >= DETECTOR_THRESHOLDS.review
            ]
            if label == "spam" and copy[0] >= self.dup_threshold and recent_texts:
                source = recent_texts[copy[1]]
                spans.append(
                    {
                        "start": 0,
                        "end": len(text),
                        "text": text,
                        "subtype": "near_duplicate",
                        "evidence": f"cosine {copy[0]:.2f} to recent post #{copy[1]}: "
                        f"{source[:40]}",
                    }
                )
            if not spans and label in self.classifiers:  # the row of a flagged label only
                row = self.classifiers[label].features([normalize(text)])
                spans = self._ngram_spans(label, text, row)
            labels.append({"label": label, "prob": round(prob, 4), "band": band, "spans": spans})
        return labels

    def _ngram_spans(self, label: str, text: str, row: Any) -> list[dict[str, Any]]:
        """The n-grams that raised a learned label most, located in the original text."""
        norm, offsets = normalize_with_offsets(text)
        folded = norm.lower() if len(norm.lower()) == len(norm) else norm
        spans = []
        for gram, weight in self.classifiers[label].explain(row, self.explain_top):
            at = folded.find(gram.lower())
            if at < 0 or not gram.strip():
                continue
            start, end = source_span(text, offsets, at, at + len(gram))
            spans.append(
                {
                    "start": start,
                    "end": end,
                    "text": text[start:end],
                    "subtype": "ngram",
                    "evidence": f"logit +{weight:.2f}",
                }
            )
        return spans

    @staticmethod
    def _circle_rule_entry(
        record: Mapping[str, Any],
        circle_rules: CircleRules | None,
    ) -> dict[str, Any] | None:
        circle_id = record.get("circle_id")
        if circle_rules is None or not circle_id:
            return None
        rules = (
            circle_rules(circle_id) if callable(circle_rules) else circle_rules.get(circle_id, ())
        )
        return circle_rule_label(tuple(rules), record["text"]) if rules else None

    # ---------------------------------------------------------------------- save/load
    def save(self, path: Path) -> None:
        """One module per learned label (``modules.json``, ``models/module_stack.py``) and
        ``moderation.json`` (thresholds, settings, training facts)."""
        path = Path(path)
        save_modules(path, self.classifiers)
        (path / "moderation.json").write_text(
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "name": self.name,
                    "labels": list(LABELS),
                    "learned": sorted(self.classifiers),
                    "thresholds": {k: asdict(v) for k, v in self.thresholds.items()},
                    "dup_threshold": self.dup_threshold,
                    "explain_top": self.explain_top,
                    "meta": self.meta,
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> ModerationPredictor:
        """Rebuild from a folder written by ``save``."""
        path = Path(path)
        manifest = path / "moderation.json"
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest} is missing: not a saved moderation model")
        raw = json.loads(manifest.read_text(encoding="utf-8"))
        version = raw.get("format_version")
        if version == FORMAT_VERSION:
            classifiers = load_modules(path)
        elif version == 1:  # versions registered before the module list: one folder per label
            classifiers = {
                label: LinearTextClassifier.load(path / label) for label in raw["learned"]
            }
        else:
            raise ValueError(
                f"{manifest}: format version {version} is not {FORMAT_VERSION} (nor the older 1)"
            )
        if sorted(classifiers) != sorted(raw["learned"]) or not all(
            isinstance(c, LinearTextClassifier) for c in classifiers.values()
        ):
            raise ValueError(f"{path}: the modules are not the learned labels {raw['learned']}")
        predictor = cls(
            classifiers=classifiers,
            thresholds={k: LabelThresholds(**v) for k, v in raw["thresholds"].items()},
            dup_threshold=float(raw["dup_threshold"]),
            explain_top=int(raw["explain_top"]),
            meta=raw.get("meta", {}),
            name=raw.get("name", REGISTERED_MODEL),
        )
        predictor.linear_stack()  # built while loading, not in the first request
        for classifier in classifiers.values():
            classifier.prepare_explanations()
        return predictor


_HASHER = HashingVectorizer(
    analyzer="char", ngram_range=(1, 3), n_features=2**20, alternate_sign=False, norm="l2"
)


def near_duplicates(texts: Sequence[str], recent: Sequence[str]) -> list[tuple[float, int]]:
    """For each text, the highest char 1–3-gram cosine to any of ``recent`` and its index.

    Hashed n-grams need no fitted vocabulary, so any text can be compared with any other
    (a copy with a 👍 appended or ，。 swapped for ,. stays above 0.9; different reviews of
    the same product stay well below).
    """
    if not texts:
        return []
    if not recent:
        return [(0.0, -1)] * len(texts)
    sims = (_HASHER.transform(list(texts)) @ _HASHER.transform(list(recent)).T).toarray()
    best = sims.argmax(axis=1)
    return [(float(sims[i, j]), int(j)) for i, j in enumerate(best)]


def stream_near_duplicates(texts: Sequence[str], order: Sequence[int]) -> np.ndarray:
    """Best cosine of each text to any text posted EARLIER (by ``order``): the evaluation's
    stand-in for "recent posts", (n,) float. Meant for test-sized sets."""
    if len(texts) == 0:
        return np.zeros(0)
    vectors = _HASHER.transform(list(texts))
    sims = (vectors @ vectors.T).toarray()
    rank = np.argsort(np.argsort(np.asarray(order)))
    earlier = rank[None, :] < rank[:, None]
    return np.where(earlier, sims, 0.0).max(axis=1)
