"""The ask-the-buyer ranker's weight on P(helpful | answers): what it changes, and that it
is saved with the model (old saves load with the neutral weight)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from quanzi.models.qa.invitee_ranker import FEATURES, InviteeRanker


def _ranker(weight: float) -> InviteeRanker:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES)))
    answered = x[:, 0] > 0  # feature 0 drives answering
    helpful = x[:, 1] > 0  # feature 1 drives helpfulness
    return InviteeRanker.fit(x, answered, x, helpful, helpful_weight=weight)


def test_a_larger_weight_prefers_the_helpful_buyer_over_the_eager_one() -> None:
    eager = np.zeros(len(FEATURES))
    eager[0], eager[1] = 3.0, -0.5  # answers almost surely, rarely helps
    helpful = np.zeros(len(FEATURES))
    helpful[0], helpful[1] = 1.0, 3.0  # answers less often, helps
    x = np.vstack([eager, helpful])
    neutral, heavy = _ranker(1.0), _ranker(3.0)
    ratio_neutral = neutral.score(x)[1] / neutral.score(x)[0]
    ratio_heavy = heavy.score(x)[1] / heavy.score(x)[0]
    assert ratio_heavy > ratio_neutral  # the weight moves the helpful buyer up


def test_the_weight_is_saved_and_an_old_save_loads_neutral(tmp_path: Path) -> None:
    ranker = _ranker(2.0)
    loaded = InviteeRanker.load(ranker.save(tmp_path / "new"))
    assert loaded.helpful_weight == 2.0
    x = np.random.default_rng(1).normal(size=(5, len(FEATURES)))
    assert np.allclose(loaded.score(x), ranker.score(x))
    old = tmp_path / "old"
    ranker.save(old)
    doc = json.loads((old / "invitee_ranker.json").read_text())
    del doc["helpful_weight"]  # saved before the weight existed
    (old / "invitee_ranker.json").write_text(json.dumps(doc))
    assert InviteeRanker.load(old).helpful_weight == 1.0
