"""Group commit: the posts of many concurrent ``POST /v1/posts`` requests in one transaction,
each request acknowledged only after that transaction commits.

The dynamic batcher (``serving/batching.py``) hands ``GroupCommit`` the requests it gathered;
``GroupCommit`` checks each request on its own (an unknown author or a reused id fails that
request alone), runs every new post of the batch through ``process`` — one call of each
model and one encoder pass — and commits once. Only then are the results handed back, so
the response (the acknowledgement) always follows the commit: a post answered 2xx is in
the store, and ``kill -9`` right after cannot lose it. A commit that fails is never
acknowledged: every request of the transaction gets ``StoreUnavailable`` (503 with
``Retry-After``), nothing of it is kept, and a retry is safe (idempotency by post id).

On SQLite the worker runs one such transaction at a time (one writer per process; WAL lets
readers on); on PostgreSQL several (``QUANZI_INGEST_WRITERS``). Models run before the first
write, so the write lock is held only for the inserts and the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from quanzi.serving.batching import Backpressure
from quanzi.serving.editorial.errors import (
    Conflict,
    EditorialError,
    Invalid,
    NotFound,
    id_list,
)
from quanzi.serving.post_ingest.batch import Processed, concurrent_conflict, in_order, process
from quanzi.serving.post_ingest.persistence import PostInput, check_references, replays
from quanzi.serving.worker_models import ModelRegistry, ModelSet

IngestRequest = tuple[PostInput, ...]


class StoreUnavailable(Backpressure):
    """The batch's transaction did not commit (store busy, locked or down): nothing of it
    is kept and nothing acknowledged; a retry is safe."""

    status_code = 503
    code = "store_unavailable"


@dataclass(frozen=True)
class Ingested:
    """One request's results (input order) and the model set that produced them."""

    results: list[dict[str, Any]]
    models: ModelSet
    batch_posts: int  # posts in the transaction it was committed with


@dataclass
class _Plan:
    """A request checked against the store: its posts as sent, each id once (``unique``),
    its replays and its new posts."""

    posts: IngestRequest
    unique: IngestRequest
    replayed: dict[str, dict[str, Any]]
    new: list[PostInput]


def posts_weight(request: IngestRequest) -> int:
    """A request weighs its number of posts (the batcher bounds batches in posts)."""
    return len(request)


class GroupCommit:
    """The ingest batcher's handler: requests in, one outcome per request out."""

    def __init__(
        self, sessions: sessionmaker[Session], registry: ModelRegistry, retry_after_s: int = 1
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.retry_after_s = retry_after_s

    def __call__(self, requests: list[IngestRequest]) -> list[Ingested | BaseException]:
        models = self.registry.current()  # one generation for the whole batch
        outcomes: list[Ingested | BaseException | None] = [None] * len(requests)
        for round_ in _rounds(requests):
            done = self._transaction(models, [requests[i] for i in round_])
            for i, outcome in zip(round_, done, strict=True):
                outcomes[i] = outcome
        return [o if o is not None else RuntimeError("request not handled") for o in outcomes]

    def _transaction(
        self, models: ModelSet, requests: list[IngestRequest]
    ) -> list[Ingested | BaseException]:
        """Check, process and commit ``requests`` together; outcomes after the commit."""
        session = self.sessions()
        processed: Processed | None = None
        try:
            plans = _plan(session, models, requests)
            new = [p for plan in plans if isinstance(plan, _Plan) for p in plan.new]
            if new:
                processed = process(session, models, new, stored=False)
            session.commit()
        except IntegrityError:  # a post id stored meanwhile by another worker
            session.rollback()
            if len(requests) > 1:
                raise  # the batcher retries each request alone: only the culprit fails
            return [concurrent_conflict()]
        except SQLAlchemyError as exc:
            session.rollback()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            error = StoreUnavailable(
                f"the store did not commit this batch ({reason}); nothing was stored, "
                "send the posts again after the Retry-After seconds",
                self.retry_after_s,
            )
            return [error] * len(requests)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if processed is not None:
            processed.remember(models)
        results = processed.results if processed is not None else {}
        size = sum(len(r) for r in requests)
        return [
            plan
            if isinstance(plan, BaseException)
            else Ingested(in_order(plan.posts, plan.replayed | results), models, size)
            for plan in plans
        ]


def _rounds(requests: Sequence[IngestRequest]) -> list[list[int]]:
    """Requests split into transactions in which no post id appears in two requests (the
    same post sent twice at once: the later request is answered from the store)."""
    rounds: list[tuple[set[str], list[int]]] = []
    for i, request in enumerate(requests):
        ids = {p.id for p in request}
        for seen, members in rounds:
            if not ids & seen:
                seen |= ids
                members.append(i)
                break
        else:
            rounds.append((set(ids), [i]))
    return [members for _, members in rounds]


def _plan(
    session: Session, models: ModelSet, requests: Sequence[IngestRequest]
) -> list[_Plan | EditorialError]:
    """Each request's replays and new posts, or its own 404/409/422: checked for the whole
    batch at once, and request by request only when that finds a problem. A post id
    repeated in one request with the same content is stored once (its later copies answer
    as replayed); with other content the request is a 409."""
    plans: list[_Plan | EditorialError] = []
    for request in requests:
        first: dict[str, PostInput] = {}
        twice = sorted({p.id for p in request if first.setdefault(p.id, p) != p})
        if twice:
            plans.append(
                Conflict(f"post {id_list(twice)} is sent twice in the batch with different content")
            )
        else:
            plans.append(_Plan(request, tuple(first.values()), {}, []))

    def valid() -> list[_Plan]:
        return [p for p in plans if isinstance(p, _Plan)]

    def each(check: Any) -> None:
        for i, plan in enumerate(plans):
            if isinstance(plan, _Plan):
                try:
                    check(plan.unique)
                except (Invalid, NotFound, Conflict) as exc:
                    plans[i] = exc

    everything = [p for plan in valid() for p in plan.unique]
    try:
        check_references(session, everything)
    except (Invalid, NotFound):
        each(lambda posts: check_references(session, posts))
    everything = [p for plan in valid() for p in plan.unique]
    try:
        replayed = replays(session, everything, models.encoder_version)
    except Conflict:
        each(lambda posts: replays(session, posts, models.encoder_version))
        everything = [p for plan in valid() for p in plan.unique]
        replayed = replays(session, everything, models.encoder_version)
    for plan in valid():
        plan.replayed = {p.id: replayed[p.id] for p in plan.unique if p.id in replayed}
        plan.new = [p for p in plan.unique if p.id not in replayed]
    return plans
