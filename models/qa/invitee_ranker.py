"""Ask-the-buyer: which past buyers of a SKU to ask, by a model of who answers and who
answers well, learned from the logged history only (invites, answers and their helpful
votes, purchase time, activity) — never from anyone's hidden traits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

FEATURES = (
    "log_days_since_purchase",
    "answer_rate",  # smoothed: (answers + 1) / (invites + 4)
    "helpful_share",  # smoothed: (helpful answers + 1) / (answers + 2)
    "log_invites",
    "log_answers",
    "log_posts",
    "never_invited",
    "bought_this_week",  # just bought: often "还没用" rather than an answer
)


@dataclass
class BuyerHistory:
    """What the log says about candidate buyers at ask time (one entry per buyer)."""

    days_since_purchase: np.ndarray
    invites: np.ndarray
    answers: np.ndarray
    helpful_answers: np.ndarray  # answers with at least one helpful vote
    posts: np.ndarray

    def matrix(self) -> np.ndarray:
        """(n, len(FEATURES)) float64."""
        inv = self.invites.astype(np.float64)
        ans = self.answers.astype(np.float64)
        return np.column_stack(
            [
                np.log1p(np.maximum(self.days_since_purchase, 0.0)),
                (ans + 1.0) / (inv + 4.0),
                (self.helpful_answers + 1.0) / (ans + 2.0),
                np.log1p(inv),
                np.log1p(ans),
                np.log1p(self.posts.astype(np.float64)),
                (inv == 0).astype(np.float64),
                (self.days_since_purchase < 7).astype(np.float64),
            ]
        )


@dataclass
class InviteeRanker:
    """P(answers | asked) × P(helpful | answers)^w: with w = 1 the expected helpful answers
    of asking this buyer (two logistic models). A larger ``helpful_weight`` trades some
    answer rate for answers that help: the issue asks for both (top 5 answer at ≥ 2× the
    rate of random buyers, and more helpfully), and w = 1 let the answer rate dominate
    (just-bought buyers answer most and help least)."""

    answer: LogisticRegression
    helpful: LogisticRegression
    helpful_weight: float = 1.0

    @classmethod
    def fit(
        cls,
        x_invites: np.ndarray,
        answered: np.ndarray,
        x_answers: np.ndarray,
        helpful: np.ndarray,
        helpful_weight: float = 1.0,
    ) -> InviteeRanker:
        a = LogisticRegression(C=1.0, max_iter=1000).fit(x_invites, answered)
        h = LogisticRegression(C=1.0, max_iter=1000).fit(x_answers, helpful)
        return cls(a, h, helpful_weight)

    def score(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        p_answer = self.answer.predict_proba(x)[:, 1]
        return p_answer * self.helpful.predict_proba(x)[:, 1] ** self.helpful_weight

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        doc: dict[str, object] = {
            "kind": "quanzi-invitee-ranker",
            "features": list(FEATURES),
            "helpful_weight": self.helpful_weight,
        }
        for name, m in (("answer", self.answer), ("helpful", self.helpful)):
            doc[name] = {
                "coef": m.coef_.tolist(),
                "intercept": m.intercept_.tolist(),
                "classes": m.classes_.tolist(),
            }
        (folder / "invitee_ranker.json").write_text(json.dumps(doc, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> InviteeRanker:
        doc = json.loads((folder / "invitee_ranker.json").read_text())
        if doc.get("features") != list(FEATURES):
            raise ValueError(f"{folder}: saved with other features; retrain (quanzi train qa)")
        heads = []
        for name in ("answer", "helpful"):
            m = LogisticRegression()
            m.coef_ = np.array(doc[name]["coef"])
            m.intercept_ = np.array(doc[name]["intercept"])
            m.classes_ = np.array(doc[name]["classes"])
            heads.append(m)
        return cls(*heads, helpful_weight=float(doc.get("helpful_weight", 1.0)))


def pick_invitees(
    scores: np.ndarray, asked_recently: np.ndarray, *, k: int, cap: int
) -> np.ndarray:
    """Positions of the top ``k`` by score among buyers asked fewer than ``cap`` times in
    the cap's window (the rest are skipped, so nobody is pestered)."""
    ok = np.flatnonzero(np.asarray(asked_recently) < cap)
    return ok[np.argsort(-scores[ok], kind="stable")][:k]
