"""The logged history the ask-the-buyer ranker reads: who bought which SKU when, who was
asked, who answered and whether the answer earned a helpful vote, who posts — as sorted
arrays, so any buyer's history *as of a time* is a few binary searches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quanzi.models.qa.invitee_ranker import BuyerHistory

_SHIFT = np.int64(1) << np.int64(34)  # key = user code × 2^34 + epoch seconds
DAY = 86_400.0


def _keys(codes: np.ndarray, ts: np.ndarray) -> np.ndarray:
    keys = codes.astype(np.int64) * _SHIFT + ts.astype(np.int64)
    keys.sort()
    return keys


def _count_before(keys: np.ndarray, codes: np.ndarray, t: np.ndarray | int) -> np.ndarray:
    base = codes.astype(np.int64) * _SHIFT
    return np.searchsorted(keys, base + np.asarray(t, dtype=np.int64)) - np.searchsorted(keys, base)


@dataclass
class BuyerLog:
    """Sorted event keys per kind; ``users`` maps a user id to its code."""

    users: dict[str, int]
    user_ids: list[str]
    order_item: np.ndarray  # orders sorted by (item, time): item codes
    order_user: np.ndarray
    order_ts: np.ndarray
    items: dict[str, int]
    invite_keys: np.ndarray
    answer_keys: np.ndarray
    helpful_keys: np.ndarray
    post_keys: np.ndarray

    @classmethod
    def build(
        cls,
        orders: tuple[list[str], list[str], np.ndarray],  # user ids, item ids, epoch s
        invites: tuple[list[str], np.ndarray],  # user ids, epoch s
        answers: tuple[list[str], np.ndarray, np.ndarray],  # user ids, epoch s, helpful?
        posts: tuple[list[str], np.ndarray],  # author ids, epoch s
    ) -> BuyerLog:
        users: dict[str, int] = {}
        for seq in (orders[0], invites[0], answers[0], posts[0]):
            for u in seq:
                users.setdefault(u, len(users))
        items: dict[str, int] = {}
        for it in orders[1]:
            items.setdefault(it, len(items))

        def codes(seq: list[str]) -> np.ndarray:
            return np.fromiter((users[u] for u in seq), np.int64, len(seq))

        o_user, o_ts = codes(orders[0]), np.asarray(orders[2], dtype=np.int64)
        o_item = np.fromiter((items[i] for i in orders[1]), np.int64, len(orders[1]))
        o = np.lexsort((o_ts, o_item))
        a_helpful = np.asarray(answers[2], dtype=bool)
        a_user, a_ts = codes(answers[0]), np.asarray(answers[1], dtype=np.int64)
        return cls(
            users=users,
            user_ids=list(users),
            order_item=o_item[o],
            order_user=o_user[o],
            order_ts=o_ts[o],
            items=items,
            invite_keys=_keys(codes(invites[0]), np.asarray(invites[1], dtype=np.int64)),
            answer_keys=_keys(a_user, a_ts),
            helpful_keys=_keys(a_user[a_helpful], a_ts[a_helpful]),
            post_keys=_keys(codes(posts[0]), np.asarray(posts[1], dtype=np.int64)),
        )

    def buyers(self, item_id: str, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Codes of the SKU's buyers before ``t`` and each one's latest purchase time."""
        code = self.items.get(item_id)
        if code is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo, hi = np.searchsorted(self.order_item, [code, code + 1])
        users, ts = self.order_user[lo:hi], self.order_ts[lo:hi]
        keep = ts < t
        users, ts = users[keep], ts[keep]
        if len(users) == 0:
            return users, ts
        # latest purchase per buyer: orders are time-sorted, so keep each user's last
        last = np.unique(users[::-1], return_index=True)[1]
        idx = len(users) - 1 - last
        return users[idx], ts[idx]

    def history(self, codes: np.ndarray, bought_ts: np.ndarray, t: int) -> BuyerHistory:
        """The features' raw counts for buyers ``codes`` as of ``t``."""
        return BuyerHistory(
            days_since_purchase=(t - bought_ts) / DAY,
            invites=_count_before(self.invite_keys, codes, t),
            answers=_count_before(self.answer_keys, codes, t),
            helpful_answers=_count_before(self.helpful_keys, codes, t),
            posts=_count_before(self.post_keys, codes, t),
        )

    def asked_since(self, codes: np.ndarray, since: int, now: int) -> np.ndarray:
        """Invites of each buyer in ``[since, now)`` (the per-person cap's window)."""
        return _count_before(self.invite_keys, codes, now) - _count_before(
            self.invite_keys, codes, since
        )


def epoch_seconds(col: pd.Series) -> np.ndarray:
    """A timestamp column as integer epoch seconds (whatever its stored unit)."""
    ts = pd.to_datetime(col, utc=True).dt.tz_localize(None)
    return ts.to_numpy().astype("datetime64[s]").astype(np.int64)


def buyer_log_of(tables: dict[str, pd.DataFrame], before: int | None = None) -> BuyerLog:
    """The log from a world's (or the store's) tables, optionally only events before."""
    o, inv, ans, posts = (
        tables["orders"],
        tables["question_invites"],
        tables["answers"],
        tables["posts"],
    )
    o_t, i_t, a_t, p_t = (
        epoch_seconds(o.created_at),
        epoch_seconds(inv.created_at),
        epoch_seconds(ans.created_at),
        epoch_seconds(posts.created_at),
    )
    if before is not None:
        o, o_t = o[o_t < before], o_t[o_t < before]
        inv, i_t = inv[i_t < before], i_t[i_t < before]
        ans, a_t = ans[a_t < before], a_t[a_t < before]
        posts, p_t = posts[p_t < before], p_t[p_t < before]
    return BuyerLog.build(
        (o.user_id.tolist(), o.item_id.tolist(), o_t),
        (inv.user_id.tolist(), i_t),
        (ans.author_id.tolist(), a_t, (ans.helpful_votes > 0).to_numpy()),
        (posts.author_id.tolist(), p_t),
    )


def time_split(
    tables: dict[str, pd.DataFrame], train_share: float
) -> tuple[set[str], set[str], int]:
    """Questions before / after the ``train_share`` quantile of time, and that time."""
    q = tables["questions"]
    t = epoch_seconds(q.created_at)
    cut = int(np.quantile(t, train_share))
    return set(q.id[t < cut]), set(q.id[t >= cut]), cut
