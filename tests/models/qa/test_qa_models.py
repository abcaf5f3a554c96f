"""Answer ordering and the buyer log's as-of counts."""

from __future__ import annotations

import numpy as np

from quanzi.models.qa.answer_ranking import answer_order
from quanzi.models.qa.buyer_log import BuyerLog
from quanzi.models.qa.invitee_ranker import pick_invitees


def test_non_answers_sink_and_friends_rise() -> None:
    order, _ = answer_order(
        np.array([2.0, 0.5, 1.5, 1.8]),
        np.array([0.9, 0.1, 0.1, 0.2]),
        threshold=0.5,
        bought=np.array([1, 0, 1, 1]),
        friend=np.array([False, True, False, False]),
    )
    assert order.tolist() == [1, 3, 2, 0]


def test_buyer_log_counts_only_the_past() -> None:
    log = BuyerLog.build(
        (["u1", "u2", "u1"], ["i1", "i1", "i2"], np.array([10, 20, 30])),
        (["u1", "u1"], np.array([15, 50])),
        (["u1"], np.array([16]), np.array([True])),
        ([], np.array([], dtype=np.int64)),
    )
    codes, bought = log.buyers("i1", 25)
    assert sorted(log.user_ids[c] for c in codes.tolist()) == ["u1", "u2"]
    h = log.history(codes, bought, 40)
    u1 = [log.user_ids[c] for c in codes.tolist()].index("u1")
    assert h.invites[u1] == 1 and h.answers[u1] == 1 and h.helpful_answers[u1] == 1


def test_invite_cap_skips_people_asked_too_often() -> None:
    pick = pick_invitees(np.array([0.9, 0.8, 0.1]), np.array([3, 0, 0]), k=2, cap=3)
    assert pick.tolist() == [1, 2]
