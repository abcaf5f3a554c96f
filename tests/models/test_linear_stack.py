"""One pass for every label's logit gives each classifier's own logits, whatever its
blocks, term weighting and vocabulary; the moderation answers keep their explanations."""

from __future__ import annotations

import numpy as np
import pytest

from quanzi.models.moderation.linear import FeatureBlock, LinearConfig, LinearTextClassifier
from quanzi.models.moderation.linear_stack import LinearStack
from quanzi.models.moderation.policy import LabelThresholds
from quanzi.models.moderation.predictor import LEARNED, ModerationPredictor
from quanzi.models.ngram_union import NgramUnion

TRAIN = ["加我微信领券", "物流很快，包装完好", "私聊有优惠 加V", "味道不错", "Hello  World!"] * 4
LABELS = [1, 0, 1, 0, 0] * 4
# Unseen n-grams, repeated ones, case, white space, an empty text, an emoji, nothing known.
TEXTS = ["加我微信微信微信", "", "  物流  很快\t\n包装", "HELLO world", "😀😀 好评", "全新的字"]

CONFIGS = [
    LinearConfig(blocks=(FeatureBlock(min_df=1),)),  # sublinear tf, idf
    LinearConfig(blocks=(FeatureBlock(min_df=1, ngram_max=4),), tf="binary", nb=True),
    # two blocks sharing n-grams of length 2 and 3: their weights add up per n-gram
    LinearConfig(blocks=(FeatureBlock(min_df=1), FeatureBlock(min_df=1, ngram_min=2, ngram_max=4))),
    LinearConfig(blocks=(FeatureBlock(min_df=1, ngram_max=2),), idf=False),
]


def _classifiers() -> dict[str, LinearTextClassifier]:
    return {
        label: LinearTextClassifier(CONFIGS[i % len(CONFIGS)]).fit(
            TRAIN, LABELS if i % 3 else [1 - y for y in LABELS]
        )
        for i, label in enumerate(LEARNED)
    }


def test_the_stack_gives_each_classifiers_own_logits() -> None:
    classifiers = _classifiers()
    union = NgramUnion([v for c in classifiers.values() for v in c.vectorizers])
    stack = LinearStack(union, classifiers)
    for batch in (TEXTS, TEXTS[:1], TEXTS[1:2], TRAIN[:7]):
        got = stack.logits(batch)
        assert list(got) == list(classifiers)
        for label, classifier in classifiers.items():
            want = classifier.decision_function(batch)
            assert got[label].shape == (len(batch),)
            assert np.allclose(got[label], want, rtol=0, atol=1e-5), label
    empty = stack.logits([""])  # no n-gram at all: the intercept
    for label, classifier in classifiers.items():
        assert empty[label][0] == pytest.approx(classifier.intercept)


def test_an_unfitted_classifier_is_refused() -> None:
    fitted = LinearTextClassifier(CONFIGS[0]).fit(TRAIN, LABELS)
    union = NgramUnion(fitted.vectorizers)
    with pytest.raises(ValueError, match="fitted"):
        LinearStack(union, {"offensive": LinearTextClassifier(CONFIGS[0], fitted.vectorizers)})


def test_moderation_through_the_stack_still_explains_its_learned_labels() -> None:
    classifiers = _classifiers()
    thresholds = {label: LabelThresholds(0.3, 0.6) for label in LEARNED}
    predictor = ModerationPredictor(classifiers, thresholds)
    assert predictor.linear_stack() is not None
    records = [{"text": t} for t in ("领券加我微信", "物流很快包装完好")]
    flagged = [
        label
        for answer in predictor.predict(records)
        for label in answer["labels"]
        if label["spans"] and label["spans"][0]["subtype"] == "ngram"
    ]
    assert flagged, "a learned label's band without rule spans is explained by its n-grams"
    for label in flagged:
        assert label["spans"][0]["evidence"].startswith("logit +")
