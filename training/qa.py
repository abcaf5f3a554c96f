"""Train the Q&A models: the answer model (non-answer + helpfulness heads) on the
hand-written set's **dev** split (the test split stays held out), and the ask-the-buyer
ranker on a world's logged invites (its first ``train_share`` of questions by time).

Both fit in seconds; ``training/tasks_impl/qa.py`` runs them as the ``qa`` task (one
MLflow run, registered as ``quanzi-qa``), for ``quanzi train qa`` and ``quanzi bootstrap``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from quanzi.datasets.qa.eval_set import GAIN, NON_ANSWER_LABELS, EvalQuestion
from quanzi.models.qa.answer_model import AnswerModel, AnswerRow, answer_rows, best_threshold
from quanzi.models.qa.buyer_log import BuyerLog, buyer_log_of, epoch_seconds, time_split
from quanzi.models.qa.invitee_ranker import InviteeRanker

Embed = Callable[[Sequence[str]], np.ndarray]


# --- the answer model ----------------------------------------------------------------
def cached(embed: Embed | None, texts: Sequence[str]) -> Embed | None:
    """``embed`` with every text of ``texts`` embedded once up front (the folds reuse it)."""
    if embed is None:
        return None
    unique = list(dict.fromkeys(texts))
    table = dict(zip(unique, embed(unique), strict=True))

    def lookup(batch: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(batch) if t not in table]
        if missing:
            table.update(zip(missing, embed(missing), strict=True))
        return np.array([table[t] for t in batch], dtype=np.float32)

    return lookup


def fit_answer_model(
    questions: Sequence[EvalQuestion],
    embed: Embed | None,
    extra: Sequence[tuple[str, str, str]] = (),
) -> AnswerModel:
    """Fit on ``questions`` (the dev split) plus ``extra`` (question, answer, label) rows
    (the demo world's, so the served world's own phrasing is known); the non-answer
    threshold maximises F1 over 5-fold cross-validated predictions, so no test answer is
    ever looked at."""
    rows, na, grade = answer_rows(questions)
    if extra:
        rows = rows + [AnswerRow(q, a, True, None) for q, a, _ in extra]
        na = np.concatenate([na, [int(lab in NON_ANSWER_LABELS) for _, _, lab in extra]])
        grade = np.concatenate([grade, [int(GAIN[lab]) for _, _, lab in extra]])
    if len(rows) < 20 or len(set(na.tolist())) < 2:
        raise ValueError(
            f"the Q&A dev split has {len(rows)} labelled answers; at least 20 of both kinds "
            "are needed (datasets/qa/eval/questions.jsonl)"
        )
    embed = cached(embed, [t for r in rows for t in (r.question, r.text)])
    folds = min(5, int(np.bincount(na).min()))
    oof = np.zeros(len(rows))
    if folds >= 2:
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(rows, na):
            m = AnswerModel.fit([rows[i] for i in tr], na[tr], grade[tr], embed)
            oof[te] = m.predict([rows[i] for i in te], embed)[0]
    model = AnswerModel.fit(rows, na, grade, embed)
    model.threshold = best_threshold(oof, na) if folds >= 2 else 0.5
    return model


# --- the ask-the-buyer ranker ---------------------------------------------------------
@dataclass
class InviteRows:
    x: np.ndarray
    answered: np.ndarray
    x_answered: np.ndarray
    helpful: np.ndarray


def invite_rows(
    tables: dict[str, pd.DataFrame], log: BuyerLog, question_ids: set[str]
) -> InviteRows:
    """One row per logged invite of ``question_ids``: features as of the question's time
    (history strictly before it), label = did they answer, and was it voted helpful."""
    q = tables["questions"].set_index("id")
    q_t = dict(zip(q.index, epoch_seconds(q.created_at), strict=True))
    q_item = q.item_id.to_dict()
    inv = tables["question_invites"]
    inv = inv[inv.question_id.isin(question_ids)]
    ans = tables["answers"]
    answered = {(r.question_id, r.author_id): r.helpful_votes > 0 for r in ans.itertuples()}
    xs, ys, xa, ya = [], [], [], []
    for qid, group in inv.groupby("question_id", sort=True):
        t = int(q_t[qid])
        buyers, bought = log.buyers(q_item[qid], t)
        pos = {int(c): i for i, c in enumerate(buyers.tolist())}
        codes = [log.users.get(u) for u in group.user_id]
        keep = [i for i, c in enumerate(codes) if c is not None and c in pos]
        if not keep:
            continue
        rows = np.array([pos[codes[i]] for i in keep])
        x = log.history(buyers[rows], bought[rows], t).matrix()
        users = group.user_id.to_numpy()[keep]
        y = np.array([(qid, u) in answered for u in users])
        xs.append(x)
        ys.append(y)
        xa.append(x[y])
        ya.append(np.array([answered[(qid, u)] for u in users[y]], dtype=bool))
    return InviteRows(np.vstack(xs), np.concatenate(ys), np.vstack(xa), np.concatenate(ya))


# The ranker's weight on P(helpful | answers) (``InviteeRanker``), chosen on a validation
# window — fitted on the first 60 % of the world's questions, measured on 60–80 %, the
# test questions (last 20 %) unread — by `quanzi eval ask-weights`: the largest weight of
# 1, 2, 3 whose top-5 answer rate stays ≥ 2× random's with a margin (2: ratio 2.12, helpful
# share +0.055 over random; 3: ratio 1.94). Figures in the README (issue 17).
HELPFUL_WEIGHT = 2.0


def fit_invitee_ranker(
    tables: dict[str, pd.DataFrame],
    train_share: float = 0.8,
    helpful_weight: float = HELPFUL_WEIGHT,
) -> InviteeRanker:
    """Fit on the invites of the questions before the split time (log before it only)."""
    train_q, _, cut = time_split(tables, train_share)
    log = buyer_log_of(tables, before=cut + 1)
    rows = invite_rows(tables, log, train_q)
    return InviteeRanker.fit(rows.x, rows.answered, rows.x_answered, rows.helpful, helpful_weight)
