"""Similar-question retrieval R@k on the hand-labelled pairs, shared by training (what a
``quanzi-qa`` version logs) and ``quanzi eval qa`` (beside the baselines).

For each same-question pair, both directions: is the other question among the k nearest of
the pool, the pool being every question text of the pair's category in the set (the
not-the-same pairs' texts included as hard negatives). Reported over all pairs and per
the pairs' own split (``dev`` may be looked at while choosing; ``test`` never)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from quanzi.datasets.qa.eval_set import EvalPair, EvalQuestion

Embed = Callable[[Sequence[str]], np.ndarray]
Scorer = Callable[[list[str]], np.ndarray]  # a pool's texts → their (n, n) similarities


def embed_scorer(embed: Embed) -> Scorer:
    """Cosine similarities of an encoder's unit vectors."""

    def score(pool: list[str]) -> np.ndarray:
        v = np.asarray(embed(pool), dtype=np.float32)
        return v @ v.T

    return score


def tfidf_scorer(pool: list[str]) -> np.ndarray:
    """The baseline: char 1–3-gram TF-IDF cosine, fitted on the pool itself."""
    v = normalize(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform(pool))
    return np.asarray((v @ v.T).toarray())


def pools_by_category(
    pairs: Sequence[EvalPair], questions: Sequence[EvalQuestion]
) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for q in questions:
        pools.setdefault(q.category, []).append(q.question)
    for p in pairs:
        pools.setdefault(p.category, []).extend([p.a, p.b])
    return {c: list(dict.fromkeys(t)) for c, t in pools.items()}


def similar_recall(
    scorers: Mapping[str, Scorer],
    pairs: Sequence[EvalPair],
    questions: Sequence[EvalQuestion],
    k: int = 5,
) -> dict[str, float]:
    """``{name}_r@{k}`` over all pairs and ``{name}_r@{k}_{split}`` per split, for each
    scorer, plus ``n`` / ``n_{split}`` (directed pairs scored)."""
    hits: dict[tuple[str, str], list[float]] = {}
    for cat, pool in pools_by_category(pairs, questions).items():
        same = [p for p in pairs if p.category == cat and p.same]
        if not same:
            continue
        pos = {t: i for i, t in enumerate(pool)}
        for name, scorer in scorers.items():
            sims = np.array(scorer(pool), dtype=np.float64)
            np.fill_diagonal(sims, -np.inf)
            for p in same:
                for a, b in ((p.a, p.b), (p.b, p.a)):
                    top = np.argsort(-sims[pos[a]], kind="stable")[:k]
                    for part in ("all", p.split):
                        hits.setdefault((name, part), []).append(float(pos[b] in top))
    out: dict[str, float] = {}
    first = next(iter(scorers), None)
    for (name, part), h in sorted(hits.items()):
        suffix = "" if part == "all" else f"_{part}"
        out[f"{name}_r@{k}{suffix}"] = float(np.mean(h))
        if name == first:
            out[f"n{suffix}"] = float(len(h))
    return out
