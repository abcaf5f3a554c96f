"""Offline evaluation of topics and Q&A against the issue's targets, each beside simple
baselines on the same rows (``quanzi eval qa``):

- non-answer detection F1 on the hand-written set's **test** split (baseline: keywords);
- answer ranking NDCG@3 on the test split (baselines: newest first, longest first);
- similar-question R@5 on the labelled pairs (baseline: char TF-IDF);
- topic assignment accuracy on the demo world's tagged posts held out by hash, tag hidden
  (baseline: TF-IDF centroids);
- ask-the-buyer answer rate and helpful share, top 5 invited vs 5 random past buyers, on
  the world's last questions, scored with the buyers' hidden traits (which the ranker
  never read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from quanzi.datasets.qa.eval_set import EvalPair, EvalQuestion
from quanzi.datasets.world.qa_world import BuyerTraits, QAConfig, answer_probabilities
from quanzi.models.qa.answer_model import AnswerModel, answer_rows, keyword_non_answer
from quanzi.models.qa.buyer_log import buyer_log_of, epoch_seconds, time_split
from quanzi.models.qa.invitee_ranker import InviteeRanker
from quanzi.models.qa.metrics import answer_ndcg, f1_of, non_answer_f1
from quanzi.models.qa.similar_recall import embed_scorer, similar_recall, tfidf_scorer
from quanzi.models.topics.assignment import (
    DEFAULT_ENCODER_WEIGHT,
    DEFAULT_THRESHOLD,
    ENCODER_ONLY_THRESHOLD,
    TopicCentroids,
    lexical_vectors,
)

Embed = Callable[[Sequence[str]], np.ndarray]
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def non_answer_report(
    model: AnswerModel, embed: Embed | None, test: Sequence[EvalQuestion]
) -> dict[str, dict[str, float]]:
    rows, y, _ = answer_rows(test)
    return {
        "model": non_answer_f1(model, embed, test),
        "keywords": {**f1_of(keyword_non_answer([r.text for r in rows]), y), "n": float(len(y))},
    }


def answer_ranking_report(
    model: AnswerModel, embed: Embed | None, test: Sequence[EvalQuestion]
) -> dict[str, float]:
    """Mean NDCG@3 over test questions that have a helpful or partial answer."""
    return answer_ndcg(model, embed, test)


def similar_question_report(
    embed: Embed,
    pairs: Sequence[EvalPair],
    questions: Sequence[EvalQuestion],
    k: int = 5,
    question_embed: Embed | None = None,
) -> dict[str, float]:
    """R@k on the labelled pairs (``models/qa/similar_recall.py``): the champion's question
    encoder (when it has one: what the service searches with), the shared encoder (the
    previous model) and char TF-IDF (the baseline), on the same pools, over all pairs and
    per the pairs' own split (``dev`` may be looked at while choosing; ``test`` never)."""
    scorers = {"encoder": embed_scorer(embed), "tfidf": tfidf_scorer}
    if question_embed is not None:
        scorers = {"question_encoder": embed_scorer(question_embed), **scorers}
    return similar_recall(scorers, pairs, questions, k)


def _hash_share(post_id: str, salt: str = "") -> float:
    return int(hashlib.sha256((salt + post_id).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _held_out(post_id: str, share: float = 0.2) -> bool:
    return _hash_share(post_id) < share


def _fold(post_id: str, folds: int = 5) -> int:
    """The cross-validation fold of a non-held-out post (another hash than ``_held_out``)."""
    return min(int(_hash_share(post_id, "fold:") * folds), folds - 1)


def _topic_accuracy(
    pt: pd.DataFrame,
    fit: np.ndarray,
    scored: np.ndarray,
    vectors: np.ndarray,
    lexical: Any,
    weight: float,
    threshold: float,
) -> tuple[int, int, list[float]]:
    """Right answers, posts scored and each scored post's best score: per circle,
    centroids of the ``fit`` rows' tags, the ``scored`` rows assigned with tags hidden."""
    right, n, best = 0, 0, []
    for _, g in pt.groupby("circle_id"):
        idx = g.index.to_numpy()
        tr, te = idx[fit[idx]], idx[scored[idx]]
        if len(te) == 0:
            continue
        labels = pt.topic_id.to_numpy()
        cents = TopicCentroids.from_members(
            sorted(set(labels[tr])),
            vectors[tr],
            labels[tr],
            None if lexical is None else lexical[tr],
            weight,
        )
        got, score = cents.assign(vectors[te], threshold, None if lexical is None else lexical[te])
        right += sum(int(a == b) for a, b in zip(got, labels[te], strict=True))
        n += len(te)
        best += score.tolist()
    return right, n, best


def topic_assignment_report(
    tables: dict[str, pd.DataFrame], embed: Embed, weights: Sequence[float] = WEIGHT_GRID
) -> dict[str, Any]:
    """Tagged brand-circle posts, 20 % held out by a hash of the id: centroids from the
    rest's tags, each held-out post assigned with its tag hidden; accuracy = own tag.

    The served blend's encoder weight and threshold are chosen on the rest only, by
    5-fold cross-validation (``_fold``; each fold scored with the other folds'
    centroids): the weight with the best accuracy (ties: the smaller), the threshold at
    the 5th percentile of those posts' best score. Reported beside the served defaults,
    the encoder alone (threshold ``ENCODER_ONLY_THRESHOLD`` and none) and char TF-IDF
    centroids (no threshold)."""
    topics = tables["topics"]
    circles = tables["circles"].set_index("id").kind.to_dict()
    pt = tables["post_topics"].merge(topics, left_on="topic_id", right_on="id")
    pt = pt[pt.circle_id.map(circles) == "brand"]
    posts = tables["posts"].set_index("id")
    pt = pt.assign(text=posts.text.reindex(pt.post_id).to_numpy()).reset_index(drop=True)
    test = pt.post_id.map(_held_out).to_numpy(dtype=bool)
    fold = pt.post_id.map(_fold).to_numpy()
    vectors = embed(pt.text.tolist())
    lexical = lexical_vectors(pt.text.tolist())

    def cross_validated(weight: float) -> tuple[float, list[float]]:
        right, n, best = 0, 0, []
        for f in range(5):
            scored = ~test & (fold == f)
            r, m, b = _topic_accuracy(
                pt, ~test & ~scored, scored, vectors, lexical, weight, -np.inf
            )
            right, n, best = right + r, n + m, best + b
        return right / max(n, 1), best

    sweep = {f"{w:g}": cross_validated(w)[0] for w in weights}
    chosen = min(weights, key=lambda w: (-sweep[f"{w:g}"], w))
    dev_best = cross_validated(chosen)[1]
    chosen_threshold = float(np.percentile(dev_best, 5)) if dev_best else 0.0

    def acc(lex: Any, weight: float, threshold: float, vecs: np.ndarray = vectors) -> float:
        r, n, _ = _topic_accuracy(pt, ~test, test, vecs, lex, weight, threshold)
        return r / max(n, 1)

    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(pt.text[~test])
    tf = normalize(tfidf.transform(pt.text)).toarray().astype(np.float32)
    return {
        "blend_served": acc(lexical, DEFAULT_ENCODER_WEIGHT, DEFAULT_THRESHOLD),
        "blend_served_no_threshold": acc(lexical, DEFAULT_ENCODER_WEIGHT, -np.inf),
        "blend_dev_chosen": acc(lexical, chosen, chosen_threshold),
        "encoder_accuracy": acc(None, 1.0, ENCODER_ONLY_THRESHOLD),
        "encoder_no_threshold": acc(None, 1.0, -np.inf),
        "tfidf_accuracy": acc(None, 1.0, -np.inf, tf),
        "served_weight": DEFAULT_ENCODER_WEIGHT,
        "served_threshold": DEFAULT_THRESHOLD,
        "dev_chosen_weight": chosen,
        "dev_chosen_threshold": round(chosen_threshold, 4),
        "dev_sweep": sweep,
        "dev_posts": int((~test).sum()),
        "n": float(test.sum()),
    }


@dataclass
class AskReport:
    top_rate: float
    random_rate: float
    top_helpful: float
    random_helpful: float
    n: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.top_rate / self.random_rate if self.random_rate > 0 else float("nan")


def ask_the_buyer_report(
    tables: dict[str, pd.DataFrame],
    traits: BuyerTraits,
    trait_row: dict[str, int],
    qcfg: QAConfig,
    ranker: InviteeRanker,
    *,
    train_share: float = 0.8,
    until_share: float = 1.0,
    k: int = 5,
    min_buyers: int = 10,
) -> AskReport:
    """Expected answer rate (and helpful share of answers) of the ranker's top ``k`` past
    buyers against ``k`` random ones (the expectation over all buyers), per held-out
    question with at least ``min_buyers`` buyers, from the hidden traits. The questions are
    those from the ``train_share`` to the ``until_share`` quantile of time (a validation
    window when ``until_share`` < 1)."""
    _, test_q, _ = time_split(tables, train_share)
    if until_share < 1.0:
        test_q -= time_split(tables, until_share)[1]
    log = buyer_log_of(tables)
    q = tables["questions"]
    q = q[q.id.isin(test_q)]
    tops, rands, top_h, rand_h = [], [], [], []
    for qid, item, t in zip(q.id, q.item_id, epoch_seconds(q.created_at), strict=True):
        buyers, bought = log.buyers(item, int(t))
        if len(buyers) < min_buyers:
            continue
        x = log.history(buyers, bought, int(t)).matrix()
        top = np.argsort(-ranker.score(x), kind="stable")[:k]
        rows = np.array([trait_row[log.user_ids[c]] for c in buyers.tolist()])
        p_ans, p_help = answer_probabilities(traits, rows, (t - bought) / 86_400.0, qcfg)
        tops.append(p_ans[top].mean())
        rands.append(p_ans.mean())
        top_h.append((p_ans[top] * p_help[top]).sum() / max(p_ans[top].sum(), 1e-12))
        rand_h.append((p_ans * p_help).sum() / max(p_ans.sum(), 1e-12))
        del qid
    return AskReport(
        top_rate=float(np.mean(tops)) if tops else float("nan"),
        random_rate=float(np.mean(rands)) if rands else float("nan"),
        top_helpful=float(np.mean(top_h)) if top_h else float("nan"),
        random_helpful=float(np.mean(rand_h)) if rand_h else float("nan"),
        n=len(tops),
        extra=paired_bootstrap_ci(np.array(top_h) - np.array(rand_h), "helpful_share_diff"),
    )


def paired_bootstrap_ci(
    diff: np.ndarray, name: str, resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Mean of per-question differences with a 95 % bootstrap interval over questions:
    is the difference beyond noise?"""
    if len(diff) == 0:
        return {}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {name: float(diff.mean()), f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}
