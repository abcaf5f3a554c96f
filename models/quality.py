"""The quality predictor: rubric tier 0–3 and a score in [0, 1] for a post's text.

Features (``quality-rubric.md``: "how much does this post help another shopper decide?"):

- char 1–3-gram TF-IDF of the normalised text (aspects, defect words, filler patterns);
- a few text statistics, each a rubric cue (``TEXT_STATS``): length, number of clauses,
  checkable specifics (numbers with units, comparisons, named aspects and defects), how
  repetitive the text is, digits, exclamation marks, very short text, share of Chinese;
- optionally the sentence encoder's vector of the raw text (``models/encoder.py``), kept
  only when it improves dev QWK (the task decides). Those are the vectors ingest computes
  for the index anyway, so the service and ``quanzi score`` hand them in (``vectors=``)
  and a post goes through the transformer once; without them the predictor embeds the
  texts itself with the configured encoder, loaded on first need.

Head: a multinomial logistic regression over the four tiers. The **score** is the
expected tier / 3 (so it moves smoothly between tiers and never collapses to the argmax);
the **tier** is the score cut at three points tuned on the gold dev split for QWK.
Sentiment is deliberately not a feature: a detailed complaint is tier 3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from quanzi.datasets.normalize import normalize
from quanzi.models.encoder_identity import encoder_version_of
from quanzi.models.module_stack import load_tfidf_head, save_modules
from quanzi.models.text_linear import CharTfidf, SoftmaxHead
from quanzi.settings import get_settings

REGISTERED_MODEL = "quanzi-quality"
TIERS = (0, 1, 2, 3)
FORMAT_VERSION = 2  # 2: modules.json (models/module_stack.py); 1: fixed folders, still read
# What the encoder embedded: "text" (the raw text, as ingest embeds it: shared vectors) or
# "norm" (the normalised text; models saved before the shared pass, embed their own).
VECTOR_INPUTS = ("text", "norm")

# Checkable specifics (quality-rubric.md, tier 2/3): numbers with units, durations,
# comparisons with alternatives, named aspects and defects. Counted on normalised text.
SPECIFICS = re.compile(
    r"\d+(?:\.\d+)?\s*(?:天|小时|分钟|周|个月|月|年|次|寸|英寸|斤|公斤|克|kg|g|毫升|ml|升|元|块|"
    r"gb|t|mah|码|cm|厘米|米|度|℃|层|晚|间|页|本|核|瓶|箱|盒|个|分)"
    r"|[一二三四五六七八九十两几半]+(?:天|小时|分钟|周|个月|年|次|斤|瓶|箱|盒|晚)"
    r"|比[^,。!?]{0,8}(?:好|差|强|弱|快|慢|大|小|贵|便宜)|相比|对比|之前|以前|换了"
    r"|缺点|不足|问题|毛病|做工|续航|屏幕|尺码|面料|口感|味道|隔音|早餐|前台|卫生间|房间|"
    r"发热|散热|电池|信号|头皮|头屑|泡沫|温度|安装|内容|翻译|印刷|纸张|情节|但是|不过",
    re.IGNORECASE,
)
CLAUSE_SPLIT = re.compile(r"[,。!?;~、\s…]+")
CJK = re.compile(r"[\u4e00-\u9fff]")
DIGITS = re.compile(r"\d+")
# Name → why it is a rubric cue (documented on the model card and in the saved config).
TEXT_STATS: dict[str, str] = {
    "log_chars": "length: a hint, not the rule (rubric notes)",
    "log_clauses": "several clauses usually carry several observations",
    "log_specifics": "checkable specifics: numbers with units, comparisons, named defects",
    "distinct_char_share": "low for filler such as 好好好好好",
    "log_numbers": "numbers are the most checkable detail",
    "log_exclamations": "exclamation-heavy text is usually generic praise",
    "very_short": "under 6 characters: filler or a bare verdict",
    "cjk_share": "random characters and non-review chatter have little Chinese",
}


def text_stats(norms: Sequence[str]) -> np.ndarray:
    """(n, len(TEXT_STATS)) float64 statistics of normalised texts, in ``TEXT_STATS`` order."""
    out = np.zeros((len(norms), len(TEXT_STATS)), dtype=np.float64)
    for i, t in enumerate(norms):
        n = len(t)
        clauses = sum(1 for c in CLAUSE_SPLIT.split(t) if c)
        out[i] = (
            np.log1p(n),
            np.log1p(clauses),
            np.log1p(len(SPECIFICS.findall(t))),
            len(set(t)) / n if n else 0.0,
            np.log1p(len(DIGITS.findall(t))),
            np.log1p(t.count("!")),
            float(n < 6),
            len(CJK.findall(t)) / n if n else 0.0,
        )
    return out


def texts_of(records: Sequence[dict[str, Any]]) -> list[str]:
    """The ``text`` of each record, or a ValueError naming the first bad record."""
    texts = []
    for i, record in enumerate(records):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"record {i}: 'text' must be a string")
        texts.append(text)
    return texts


def tier_from_score(score: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Tier 0–3 of scores in [0, 1]: the expected tier (3 × score) cut at ``cuts``."""
    return np.digitize(np.asarray(score) * 3.0, np.asarray(cuts, dtype=np.float64))


@dataclass
class QualityPredictor:
    """TF-IDF + text statistics (+ embedding) → softmax over tiers → score and tier."""

    tfidf: CharTfidf
    head: SoftmaxHead
    cuts: list[float] = field(default_factory=lambda: [0.5, 1.5, 2.5])
    config: dict[str, Any] = field(default_factory=dict)
    encoder: Any = None  # a SentenceTransformer, loaded on first need when vectors are a feature
    encoder_name: str | None = None  # the encoder it was trained with (None: no vectors)
    # ``models.loading.encoder_version`` of that encoder (content hash + runtime): the
    # vectors a caller hands in must come from it.
    encoder_version: str | None = None
    vectors_of: str = "text"  # VECTOR_INPUTS
    name: str = REGISTERED_MODEL

    @property
    def uses_vectors(self) -> bool:
        """True when the caller's sentence vectors of the raw texts can be handed in."""
        return self.encoder_name is not None and self.vectors_of == "text"

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        from quanzi.models.encoder import embed_texts, load_encoder

        if self.encoder is None:
            self.encoder = load_encoder(get_settings())
        return embed_texts(self.encoder, texts)

    def features(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> sp.csr_matrix:
        """Design rows for raw texts (normalised here, as serving receives them);
        ``vectors`` are the encoder's vectors of ``texts`` when the caller has them."""
        norms = [normalize(t) for t in texts]
        dense = text_stats(norms)
        if self.encoder_name is not None:
            if vectors is None or not self.uses_vectors:
                vectors = self._embed(texts if self.vectors_of == "text" else norms)
            vectors = np.asarray(vectors, dtype=np.float64)
            expected = len(self.head.dense_names) - len(TEXT_STATS)
            if vectors.shape != (len(texts), expected):
                raise ValueError(
                    f"vectors of shape {vectors.shape} for {len(texts)} texts; this quality "
                    f"model reads {expected}-d vectors of {self.encoder_name}"
                )
            dense = np.hstack([dense, vectors])
        return self.head.design(self.tfidf.transform(norms), dense)

    def proba(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """(n, 4) tier probabilities."""
        if len(texts) == 0:
            return np.zeros((0, len(TIERS)))
        return self.head.predict_proba(self.features(texts, vectors))

    def score_texts(
        self, texts: Sequence[str], vectors: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores in [0, 1] (expected tier / 3) and tiers (dev-tuned cuts)."""
        probs = self.proba(texts, vectors)
        score = probs @ np.asarray(self.head.classes, dtype=np.float64) / 3.0
        return score, tier_from_score(score, self.cuts)

    def predict(
        self, records: list[dict[str, Any]], vectors: np.ndarray | None = None
    ) -> list[dict[str, Any]]:
        """``{"score", "tier"}`` per record, in order; ``vectors`` (one row per record) are
        the configured encoder's vectors of the records' texts, when the caller has them."""
        score, tier = self.score_texts(texts_of(records), vectors)
        return [
            {"score": round(float(s), 4), "tier": int(t)} for s, t in zip(score, tier, strict=True)
        ]

    def save(self, path: Path) -> None:
        """The ``tfidf`` and ``head`` modules (``modules.json``, ``models/module_stack.py``) and
        ``config.json`` (cuts, feature names, encoder)."""
        save_modules(path, {"tfidf": self.tfidf, "head": self.head})
        meta = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "cuts": self.cuts,
            "text_stats": TEXT_STATS,
            "encoder": self.encoder_name,
            "encoder_version": self.encoder_version,
            "vectors_of": self.vectors_of,
            "config": self.config,
        }
        (path / "config.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path, encoder: Any = None) -> QualityPredictor:
        """Rebuild from ``save``. A model that reads vectors is checked against the
        configured encoder here (the encoder itself loads on first need, so a caller that
        hands in vectors never loads a second copy)."""
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path / 'config.json'} is missing: not a quality model")
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
        tfidf, head = load_tfidf_head(path, meta.get("format_version"))
        if meta.get("text_stats") != TEXT_STATS:
            raise ValueError(f"{path}: saved with other text statistics than this code")
        cuts = [float(c) for c in meta["cuts"]]
        if len(cuts) != len(TIERS) - 1 or sorted(cuts) != cuts:
            raise ValueError(f"{path}: cut points {cuts} are not three increasing numbers")
        vectors_of = meta.get("vectors_of") or "norm"  # older models embedded normalised text
        if vectors_of not in VECTOR_INPUTS:
            raise ValueError(f"{path}: vectors_of {vectors_of!r} is not one of {VECTOR_INPUTS}")
        if meta.get("encoder_version") and encoder is None:
            check_encoder(path, meta["encoder_version"])
        return cls(
            tfidf=tfidf,
            head=head,
            cuts=cuts,
            config=meta.get("config", {}),
            encoder=encoder if meta.get("encoder") else None,
            encoder_name=meta.get("encoder"),
            encoder_version=meta.get("encoder_version"),
            vectors_of=vectors_of,
            name=meta.get("name", REGISTERED_MODEL),
        )


def check_encoder(path: Path, trained_with: str) -> None:
    """Refuse a model whose vectors came from another encoder than the configured one
    (the runtime may differ: onnx-int8 and torch vectors agree to cosine ≈ 0.99)."""
    from quanzi.models.encoder import resolve_encoder

    configured = encoder_version_of(resolve_encoder(get_settings()))
    if trained_with != configured and not trained_with.startswith(configured + "-"):
        raise ValueError(
            f"{path}: trained on the vectors of encoder {trained_with}, but QUANZI_ENCODER "
            f"gives {configured}: retrain with `quanzi train quality`"
        )


def rejected_quality(quality: dict[str, Any] | None, status: str) -> dict[str, Any] | None:
    """The quality a post reports under the moderation outcome: a rejected post is tier 0
    ("anything the moderation policy rejects", quality-rubric.md) whatever the model read
    in its text; the model's own tier stays as ``model_tier``."""
    if quality is None or status != "reject" or quality.get("tier") == 0:
        return quality
    return {**quality, "tier": 0, "model_tier": quality.get("tier"), "tier_reason": "rejected"}
