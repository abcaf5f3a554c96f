"""SKU Q&A (问大家) per worker: ask (moderated, with similar answered questions and the
buyers to invite), answer (moderated, non-answer scored), read a question's answers ranked
(friends first, non-answers last), delete. The answered-question index and the buyer log
are built on first use and rebuilt after a write (a few hundred ms on the demo world)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.models.qa.answer_model import AnswerRow
from quanzi.models.qa.answer_ranking import answer_order
from quanzi.models.qa.buyer_log import BuyerLog, buyer_log_of
from quanzi.models.qa.invitee_ranker import pick_invitees
from quanzi.models.qa.similar_questions import QuestionIndex
from quanzi.serving.editorial.errors import Invalid, NotFound
from quanzi.serving.post_ingest.decision import RuleLookup, moderate
from quanzi.serving.worker_models import ModelSet
from quanzi.settings import Settings
from quanzi.storage.orm import (
    Answer,
    Circle,
    Item,
    Order,
    Post,
    Question,
    QuestionInvite,
    User,
    UserRelation,
)

INVITE_CAP = 3  # at most this many invites per person per INVITE_WINDOW
INVITE_WINDOW = timedelta(days=1)

log = logging.getLogger(__name__)


def _family(circle: Circle) -> str:
    """Questions are searched within the SKU's brand circle (its family)."""
    return circle.parent_id if circle.kind == "sku_qa" and circle.parent_id else circle.id


class QAService:
    def __init__(self, settings: Settings, models: Callable[[], ModelSet]) -> None:
        self.settings = settings
        self.models = models
        self._lock = threading.Lock()
        self._index: QuestionIndex | None = None
        self._log: BuyerLog | None = None
        self._built_for: tuple[int, int] | None = None  # the models the index was built with

    @property
    def answer_model(self) -> Any | None:
        """The ``quanzi-qa`` champion's answer model in force (None without a champion)."""
        qa = self.models().qa
        return None if qa is None else qa.answer_model

    @property
    def ranker(self) -> Any | None:
        """The ``quanzi-qa`` champion's ask-the-buyer ranker (None without a champion)."""
        qa = self.models().qa
        return None if qa is None else qa.ranker

    def _question_embedder(self) -> Callable[[Sequence[str]], np.ndarray] | None:
        """The champion's question encoder when it has one, else the shared encoder."""
        models = self.models()
        return (
            models.embedder if models.qa is None else models.qa.question_embedder(models.embedder)
        )

    def invalidate(self) -> None:
        self._index, self._log = None, None

    # --- in-memory state -------------------------------------------------------------
    def _build(self, session: Session) -> tuple[QuestionIndex | None, BuyerLog]:
        with self._lock:
            models = self.models()
            key = (id(models.qa), id(models.embedder))  # a reload may change the vector space
            if self._log is not None and key == self._built_for:
                return self._index, self._log
            self._built_for = key
            frames = {
                "orders": pd.read_sql(
                    select(Order.user_id, Order.item_id, Order.created_at), session.connection()
                ),
                "question_invites": pd.read_sql(
                    select(QuestionInvite.user_id, QuestionInvite.created_at), session.connection()
                ),
                "answers": pd.read_sql(
                    select(Answer.author_id, Answer.created_at, Answer.helpful_votes),
                    session.connection(),
                ),
                "posts": pd.read_sql(select(Post.author_id, Post.created_at), session.connection()),
            }
            self._log = buyer_log_of(frames)
            embedder = self._question_embedder()
            if embedder is not None:
                answered = select(Answer.question_id).where(Answer.status == "pass")
                rows = session.execute(
                    select(Question.id, Question.item_id, Question.text, Circle)
                    .join(Circle, Circle.id == Question.circle_id)
                    .where(
                        Question.deleted_at.is_(None),
                        Question.status == "pass",
                        Question.id.in_(answered),
                    )
                ).all()
                index = QuestionIndex(0)  # no answered question yet: searches find none
                if rows:
                    vectors = embedder([r[2] for r in rows])
                    index = QuestionIndex(vectors.shape[1])
                    by_family: dict[str, list[int]] = {}
                    for i, r in enumerate(rows):
                        by_family.setdefault(_family(r[3]), []).append(i)
                    for fam, idx in by_family.items():
                        index.add(
                            fam, [rows[i][0] for i in idx], [rows[i][1] for i in idx], vectors[idx]
                        )
                self._index = index
            return self._index, self._log

    def similar(
        self,
        session: Session,
        circle: Circle,
        item_id: str,
        text: str,
        k: int,
        exclude: str | None = None,
    ) -> list[dict[str, Any]]:
        index, _ = self._build(session)
        embedder = self._question_embedder()
        if index is None or embedder is None:
            return []
        hits = index.search(embedder([text])[0], _family(circle), item_id, k, exclude)
        return [
            {"question_id": h.question_id, "score": h.score, "same_item": h.same_item} for h in hits
        ]

    def invitees(
        self, session: Session, item_id: str, now: datetime, k: int, exclude: set[str]
    ) -> list[dict[str, Any]]:
        _, log = self._build(session)
        t = int(now.timestamp())
        codes, bought = log.buyers(item_id, t)
        keep = [i for i, c in enumerate(codes.tolist()) if log.user_ids[c] not in exclude]
        codes, bought = codes[keep], bought[keep]
        if len(codes) == 0:
            return []
        x = log.history(codes, bought, t).matrix()
        ranker = self.ranker
        scores = ranker.score(x) if ranker is not None else -x[:, 0]
        asked = log.asked_since(codes, int((now - INVITE_WINDOW).timestamp()), t + 1)
        pick = pick_invitees(scores, asked, k=k, cap=INVITE_CAP)
        return [
            {
                "user_id": log.user_ids[int(codes[i])],
                "score": round(float(scores[i]), 5),
                "days_since_purchase": round(float((t - bought[i]) / 86_400), 1),
            }
            for i in pick.tolist()
        ]

    # --- writes ----------------------------------------------------------------------
    def _moderate(self, session: Session, circle: Circle, text: str) -> dict[str, Any]:
        lookup = RuleLookup(session)

        def rules_for(cid: str) -> Any:  # a SKU Q&A circle also obeys its brand's rules
            own = list(lookup(cid))
            return own + list(lookup(circle.parent_id)) if circle.parent_id else own

        return moderate(self.models(), [{"text": text, "circle_id": circle.id}], rules_for)[0]

    def ask(
        self, session: Session, body: dict[str, Any], k_similar: int, k_invite: int
    ) -> dict[str, Any]:
        circle = session.get(Circle, body["circle_id"])
        if circle is None:
            raise NotFound(f"circle {body['circle_id']!r} not found")
        item = session.get(Item, body["item_id"])
        if item is None:
            raise NotFound(
                f"SKU {body['item_id']!r} not found: ask about a product the store "
                "knows (`GET /v1/circles/{id}` lists its circle)"
            )
        if circle.kind == "sku_qa" and circle.item_id != item.id:
            raise Invalid(
                f"circle {circle.id!r} is the Q&A of SKU {circle.item_id!r}, not of {item.id!r}"
            )
        if circle.kind in ("brand",) and item.circle_id != circle.id:
            raise Invalid(
                f"SKU {item.id!r} is sold in circle {item.circle_id!r}, not {circle.id!r}"
            )
        if session.get(User, body["author_id"]) is None:
            raise NotFound(f"user {body['author_id']!r} not found")
        qid = body.get("id") or f"q-{uuid.uuid4().hex[:16]}"
        if session.get(Question, qid) is not None:
            raise Invalid(f"question {qid!r} already exists")
        moderation = self._moderate(session, circle, body["text"])
        now = datetime.now(UTC)
        status = {"pass": "pass", "review": "review", "reject": "reject"}[moderation["decision"]]
        q = Question(
            id=qid,
            circle_id=circle.id,
            item_id=item.id,
            author_id=body["author_id"],
            text=body["text"],
            status=status,
            moderation=moderation,
            created_at=now,
        )
        session.add(q)
        similar = self.similar(session, circle, item.id, body["text"], k_similar)
        invites = []
        if status == "pass":
            invites = self.invitees(session, item.id, now, k_invite, {body["author_id"]})
            for rank, inv in enumerate(invites, 1):
                session.add(
                    QuestionInvite(
                        question_id=qid,
                        user_id=inv["user_id"],
                        rank=rank,
                        score=inv["score"],
                        policy="model",
                        created_at=now,
                    )
                )
        session.flush()
        self.invalidate()
        return {"question": q, "similar": similar, "invitees": invites}

    def answer(self, session: Session, question_id: str, body: dict[str, Any]) -> Answer:
        q = session.get(Question, question_id)
        if q is None:
            raise NotFound(f"question {question_id!r} not found")
        if q.deleted_at is not None:
            raise NotFound(f"question {question_id!r} was deleted; it takes no more answers")
        if session.get(User, body["author_id"]) is None:
            raise NotFound(f"user {body['author_id']!r} not found")
        aid = body.get("id") or f"a-{uuid.uuid4().hex[:16]}"
        if session.get(Answer, aid) is not None:
            raise Invalid(f"answer {aid!r} already exists")
        circle = session.get(Circle, q.circle_id)
        moderation = self._moderate(session, circle, body["text"])
        p_na = None
        model = self.answer_model
        if model is not None:
            bought = session.scalar(
                select(Order.created_at)
                .where(Order.user_id == body["author_id"], Order.item_id == q.item_id)
                .order_by(Order.created_at.desc())
                .limit(1)
            )
            row = AnswerRow(q.text, body["text"], bought is not None, None)
            p_na = float(model.predict([row], self.models().embedder)[0][0])
        a = Answer(
            id=aid,
            question_id=q.id,
            author_id=body["author_id"],
            text=body["text"],
            status=moderation["decision"],
            moderation=moderation,
            non_answer=p_na,
            created_at=datetime.now(UTC),
        )
        session.add(a)
        session.flush()
        self.invalidate()
        return a

    def delete(self, session: Session, question_id: str) -> Question:
        q = session.get(Question, question_id)
        if q is None:
            raise NotFound(f"question {question_id!r} not found")
        if q.deleted_at is None:
            q.deleted_at = datetime.now(UTC)
            q.status = "removed"
        self.invalidate()
        return q

    def ranked_answers(
        self, session: Session, question_id: str, viewer_id: str | None
    ) -> tuple[Question, list[dict[str, Any]]]:
        q = session.get(Question, question_id)
        if q is None:
            raise NotFound(f"question {question_id!r} not found")
        answers = list(
            session.scalars(
                select(Answer)
                .where(Answer.question_id == q.id, Answer.status == "pass")
                .order_by(Answer.created_at, Answer.id)
            )
        )
        if not answers:
            return q, []
        buyers = set(
            session.scalars(
                select(Order.user_id).where(
                    Order.item_id == q.item_id, Order.user_id.in_([a.author_id for a in answers])
                )
            )
        )
        friends: set[str] = set()
        if viewer_id:
            friends = set(
                session.scalars(
                    select(UserRelation.other_id).where(
                        UserRelation.user_id == viewer_id, UserRelation.kind == "friend"
                    )
                )
            )
        rows = [AnswerRow(q.text, a.text, a.author_id in buyers, None) for a in answers]
        model = self.answer_model
        if model is not None:
            p_na, helpful = model.predict(rows, self.models().embedder)
            threshold = model.threshold
        else:  # no model trained yet: votes and purchase only
            p_na, helpful, threshold = np.zeros(len(rows)), np.zeros(len(rows)), 1.0
        order, score = answer_order(
            helpful,
            p_na,
            threshold=threshold,
            bought=np.array([a.author_id in buyers for a in answers]),
            votes=np.array([a.helpful_votes for a in answers]),
            friend=np.array([a.author_id in friends for a in answers]),
        )
        out = []
        for rank, i in enumerate(order.tolist(), 1):
            a = answers[i]
            out.append(
                {
                    "answer_id": a.id,
                    "author_id": a.author_id,
                    "text": a.text,
                    "rank": rank,
                    "score": round(float(score[i]), 4),
                    "non_answer": round(float(p_na[i]), 4),
                    "is_non_answer": bool(p_na[i] >= threshold),
                    "friend": a.author_id in friends,
                    "bought": a.author_id in buyers,
                    "helpful_votes": a.helpful_votes,
                    "created_at": a.created_at,
                }
            )
        return q, out


def qa_service(request: Any) -> QAService:
    """The app's Q&A service, made on first use (the API routes and the console share it)."""
    return qa_service_of(request.app)


def qa_service_of(app: Any) -> QAService:
    """The Q&A service on ``app.state`` (made once)."""
    qa = getattr(app.state, "qa", None)
    if qa is None:
        state = app.state.quanzi
        qa = app.state.qa = QAService(state.settings, state.models.current)
    return qa


def preload_qa(app: Any) -> None:
    """Build the question index at start-up, not in the first question's request: with
    the champion's 12-layer question encoder that build loads (first time: exports) the
    encoder and embeds every answered question, seconds of work. A failure is logged; the
    first question then builds it."""
    state = app.state.quanzi
    if state.models.current().qa is None:
        return
    try:
        with state.sessions() as session:
            qa_service_of(app)._build(session)
    except Exception:
        log.exception("Q&A preload failed; the first question builds the index")
