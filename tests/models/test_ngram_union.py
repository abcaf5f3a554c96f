"""One n-gram analysis for several vectorizers gives exactly each vectorizer's own counts,
and moderation answers the same with it as without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from quanzi.models.moderation.linear import FeatureBlock, LinearConfig, LinearTextClassifier
from quanzi.models.moderation.policy import LabelThresholds
from quanzi.models.moderation.predictor import LEARNED, ModerationPredictor
from quanzi.models.ngram_union import NgramUnion
from quanzi.models.text_linear import CharTfidf, TfidfConfig

TRAIN = ["加我微信领券", "物流很快，包装完好", "私聊有优惠 加V", "味道不错", "Hello  World!"] * 4
LABELS = [1, 0, 1, 0, 0] * 4
# Unseen n-grams, repeated ones, case, runs of white space, an empty text, an emoji.
TEXTS = ["加我微信微信微信", "", "  物流  很快\t\n包装", "HELLO world", "😀😀 好评", "全新的字"]


def _fitted(ngram_range: tuple[int, int], texts: list[str] = TRAIN) -> CountVectorizer:
    return CountVectorizer(analyzer="char", ngram_range=ngram_range, dtype=np.float32).fit(texts)


def _same(a: object, b: object) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape  # type: ignore[attr-defined]
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(a, part), getattr(b, part)), part


def test_each_matrix_is_the_vectorizers_own_transform() -> None:
    vectorizers = [_fitted((1, 3)), _fitted((1, 4), TRAIN[:3]), _fitted((2, 3), TRAIN[2:])]
    # A loaded model's vectorizers have the vocabulary as a parameter, not fitted.
    vectorizers.append(
        CountVectorizer(
            analyzer="char",
            ngram_range=(1, 2),
            vocabulary={"微": 0, "信": 1, "hello": 2, " ": 3, "很快": 4},
            dtype=np.float64,
        )
    )
    union = NgramUnion(vectorizers)
    for batch in (TEXTS, TEXTS[:1], TEXTS[1:2], []):
        for vectorizer, matrix in zip(vectorizers, union.transform(batch), strict=True):
            _same(matrix, vectorizer.transform(batch))


def test_vectorizers_that_preprocess_differently_are_refused() -> None:
    unlike = CountVectorizer(analyzer="char", lowercase=False).fit(TRAIN)
    with pytest.raises(ValueError, match="preprocess alike"):
        NgramUnion([_fitted((1, 3)), unlike])
    with pytest.raises(ValueError, match="char analyzers"):
        NgramUnion([CountVectorizer(analyzer="word").fit(TRAIN)])


def test_moderation_scores_and_answers_the_same_with_and_without_it(tmp_path: Path) -> None:
    configs = [LinearConfig(blocks=(FeatureBlock(min_df=1, ngram_max=n),)) for n in (3, 4)]
    classifiers = {
        label: LinearTextClassifier(configs[i % 2]).fit(TRAIN, LABELS)
        for i, label in enumerate(LEARNED)
    }
    thresholds = {label: LabelThresholds(0.3, 0.6) for label in LEARNED}
    ModerationPredictor(classifiers, thresholds).save(tmp_path)
    shared = ModerationPredictor.load(tmp_path)
    alone = ModerationPredictor.load(tmp_path)
    alone._union = False  # each classifier counts on its own, as before the union
    assert shared.ngram_union() is not None and alone.ngram_union() is None
    records = [{"text": t or "空"} for t in TEXTS + TRAIN[:5]]
    probs_shared, _, _ = shared.scores([r["text"] for r in records])
    probs_alone, _, _ = alone.scores([r["text"] for r in records])
    assert probs_shared.keys() == probs_alone.keys()
    for key in probs_shared:  # the shared path sums in float64 (``linear_stack.py``)
        assert np.allclose(probs_shared[key], probs_alone[key], rtol=0, atol=1e-6), key
    assert shared.predict(records) == alone.predict(records)


def test_one_vectorizer_counts_through_its_own_vocabulary() -> None:
    vectorizer = _fitted((1, 3))
    union = NgramUnion([vectorizer])
    assert union.union is vectorizer.vocabulary_  # no copy of a lone vocabulary
    _same(union.transform(TEXTS)[0], vectorizer.transform(TEXTS))


def test_char_tfidf_rows_are_unchanged() -> None:
    tfidf = CharTfidf(TfidfConfig(min_df=1)).fit(TRAIN)
    got = tfidf.transform(TEXTS)
    assert tfidf.vectorizer is not None and tfidf.idf is not None
    counts = tfidf.vectorizer.transform(TEXTS).astype(np.float32)
    counts.data = 1.0 + np.log(counts.data)
    want = normalize(counts.multiply(tfidf.idf).tocsr())
    assert np.allclose(got.toarray(), want.toarray(), atol=1e-6)
    tfidf.fit(TRAIN[:2])  # refitted: counted with the new vocabulary
    assert tfidf.transform(TEXTS).shape[1] == len(tfidf.vectorizer.vocabulary_)
