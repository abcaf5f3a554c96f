"""What each worker holds for ``/v1/feed/rank``: the snapshot and its sync thread, the
viewer-context loader, the ranking pipeline, the experiment arms — and the request type.

Why a module of its own: the routes and the fast path need only ``FeedService`` and
``FeedRequest``; how the snapshot is laid out (``models/ranking/feed_snapshot.py``) and kept
current (``feed_snapshot_sync.py``) stays behind it.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.params import (
    DEFAULT_ARMS,
    Arm,
    Phase,
    RankingParams,
    assign_arm,
    campaign_phase,
    resolve_params,
)
from quanzi.models.ranking.pipeline import RankingPipeline, RankingResult
from quanzi.models.ranking.query import FeedQuery, FeedScope, ViewerContext
from quanzi.models.ranking.viewer_loader import ViewerLoader
from quanzi.serving.circle_scopes import CircleScope, CircleScopes
from quanzi.serving.feed_snapshot_sync import QUALITY_MODEL, TRUST_MODEL, FeedStoreSync
from quanzi.settings import Settings

log = logging.getLogger(__name__)
served_log = logging.getLogger("quanzi.feed.served")


class UnknownCircle(LookupError):
    """The request names a circle the store does not know (HTTP 404)."""


@dataclass
class FeedRequest:
    """A validated ``/v1/feed/rank`` request (the route builds it from its schema)."""

    viewer_id: str
    circle_id: str
    limit: int = 20
    candidate_ids: tuple[str, ...] | None = None
    phase: Phase | None = None
    exclude_seen: bool = True
    exclude_ids: frozenset[str] = frozenset()
    params: dict[str, Any] | None = None
    as_of: datetime | None = None
    topic_id: int | None = None  # only posts in this topic (the topic filter)


class FeedService:
    """What each worker holds for the feed: snapshot + sync thread, viewer loader, pipeline.

    The snapshot loads on first use (so apps that never rank pay nothing at startup) and the
    sync thread starts then.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        models: Callable[[], Any | None] | None = None,
        encoder_version: str | None = None,
        arms: tuple[Arm, ...] = DEFAULT_ARMS,
        on_arm: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sync = FeedStoreSync(
            engine,
            encoder_version=encoder_version,
            interval_s=settings.feed_refresh_interval_ms / 1000,
            models=models,
        )
        self.loader = ViewerLoader(engine, ttl_s=settings.feed_viewer_cache_ttl_s)
        self.sync.on_viewer_changes = self._viewer_changes
        self.pipeline = RankingPipeline.default(  # learned scorer's model: the champion
            ranker=(lambda: getattr(models(), "ranker", None)) if models else None
        )
        self.arms = arms
        self.on_arm = on_arm  # counts each served ranking per arm (``/metrics``)
        self._ready = False
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.loading = False  # a background preload is running (``start``)
        self.load_error: str | None = None
        self._arm_params: dict[str, RankingParams] = {}
        self.scopes = CircleScopes(engine, ttl_s=settings.feed_refresh_interval_ms / 1000)

    @property
    def store(self) -> SnapshotFeedStore:
        """The current snapshot (loading it on first use)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.sync.full_load()
                    self.sync.run_in_thread()
                    self._ready = True
        return self.sync.store

    def start(
        self,
        models_settled: Callable[[], bool] | None = None,
        wait_s: float = 300.0,
        on_loaded: Callable[[], Any] | None = None,
    ) -> None:
        """Load the snapshot in a background thread now, not on the first feed request (which
        would take seconds). Waits first (up to ``wait_s``) until ``models_settled`` says the
        model load finished, so the snapshot holds the served encoder's vectors and is
        not loaded twice; then calls ``on_loaded``. ``/readyz`` answers 503 while
        ``loading``."""

        def load() -> None:
            deadline = time.monotonic() + wait_s
            while (
                models_settled is not None
                and not models_settled()
                and time.monotonic() < deadline
                and not self._closing.is_set()
            ):
                time.sleep(0.1)
            try:
                _ = self.store
                self.scopes.get("")  # circle kinds cached before the first request
                if on_loaded is not None:
                    on_loaded()
            except Exception as exc:  # retried on first use; /readyz says why meanwhile
                log.exception("feed snapshot preload failed")
                self.load_error = f"{type(exc).__name__}: {exc}"[:300]
            finally:
                self.loading = False

        self.loading = True
        threading.Thread(target=load, name="feed-store-preload", daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        self.sync.stop()

    def model_versions(self, store: SnapshotFeedStore, scorer: str = "") -> dict[str, str]:
        versions = {"ranker": scorer or "weighted-v1"}
        versions["quality"] = store.model_versions.get(QUALITY_MODEL, "unavailable")
        versions["trust"] = store.model_versions.get(TRUST_MODEL, "unavailable")
        versions["encoder"] = store.encoder_version or "unavailable"
        return versions

    def params_for(self, arm: Arm, overrides: dict[str, Any] | None) -> RankingParams:
        if overrides:
            return resolve_params(arm, overrides)
        params = self._arm_params.get(arm.name)
        if params is None:
            params = self._arm_params[arm.name] = resolve_params(arm)
        return params

    def _viewer_changes(self, rows: list[tuple[str, str, str, str]], users: list[str]) -> None:
        self.loader.apply(rows, self.sync.store, relation_users=users)

    @property
    def ready(self) -> bool:
        """Whether the snapshot is loaded (ranking then never waits on the database for it)."""
        return self._ready

    def cached_viewer(self, req: FeedRequest) -> ViewerContext | None:
        """The request's viewer context when no SQL is needed to get it, else None."""
        return self.loader.peek(req.viewer_id, req.as_of) if self._ready else None

    def load_viewer(self, req: FeedRequest) -> ViewerContext:
        """The request's viewer context, reading the database on a miss (blocking: async
        callers run it in a thread, then call ``rank`` with it)."""
        return self.loader.load(req.viewer_id, self.store, req.as_of)

    def rank(
        self,
        req: FeedRequest,
        viewer: ViewerContext | None = None,
        *,
        in_scope: FeedScope | None = None,
    ) -> tuple[dict[str, Any], RankingResult]:
        """Rank one request; returns the response body and the pipeline's result.
        ``in_scope``: what the circle's kind lets its feed serve (``_rank_scoped``)."""
        store = self.store
        scoped = in_scope is not None
        scope = None if scoped else self.scopes.get(req.circle_id)
        if not scoped and scope is None and not store.has_circle(req.circle_id):
            raise UnknownCircle(f"circle {req.circle_id!r} not found")
        if scope is not None and (scope.kind != "brand" or req.topic_id is not None):
            return self._rank_scoped(req, scope, viewer)
        now = req.as_of or datetime.now(UTC)
        arm = assign_arm(req.viewer_id, self.arms)
        params = self.params_for(arm, req.params)
        if viewer is None:
            viewer = self.loader.load(req.viewer_id, store, req.as_of)
        phase = req.phase or campaign_phase(now)
        query = FeedQuery(
            viewer=viewer,
            circle_id=req.circle_id,
            limit=req.limit,
            now=now,
            phase=phase,
            params=params,
            candidate_ids=req.candidate_ids,
            exclude_seen=req.exclude_seen,
            exclude_ids=req.exclude_ids,
            arm=arm.name,
            scope=in_scope,
        )
        result = self.pipeline.rank(query, store)
        if self.on_arm is not None:
            self.on_arm(arm.name)
        request_id = uuid.uuid4().hex
        items = [
            {
                "post_id": it.post_id,
                "score": it.score,
                "trust_level": it.trust_level,
                "trust_reasons": it.trust_reasons,
                "content_type": it.content_type,
                "source": it.source,
                "reasons": [
                    {"feature": f, "contribution": v, "text": t}
                    for (f, v), t in zip(it.reasons, it.reason_texts, strict=True)
                ],
            }
            for it in result.items
        ]
        body = {
            "items": items,
            "arm": arm.name,
            "phase": phase,
            "model_versions": self.model_versions(store, result.scorer),
            "request_id": request_id,
            "n_candidates": result.n_candidates,
            "removed": result.removed,
        }
        if served_log.isEnabledFor(logging.INFO):
            served_log.info(
                json.dumps(
                    {
                        "event": "feed_served",
                        "request_id": request_id,
                        "viewer_id": req.viewer_id,
                        "circle_id": req.circle_id,
                        "arm": arm.name,
                        "phase": phase,
                        "post_ids": [it["post_id"] for it in items],
                        "errors": result.errors,
                    },
                    ensure_ascii=False,
                )
            )
        return body, result

    def _rank_scoped(
        self, req: FeedRequest, scope: CircleScope, viewer: ViewerContext | None
    ) -> tuple[dict[str, Any], RankingResult]:
        """A feed beyond one brand circle's posts, by the circle kind's own rule:

        - industry: the member brand circles' fresh posts, at most ``industry_brand_share``
          of the page from one brand (and the author cap as everywhere);
        - interest: the posts of the circle's visible topics, whatever circle they are in;
        - a topic filter (any kind): only that topic's posts of the circle's scope;
        - sku_qa: its content is Q&A (``/v1/questions``), so its feed is empty.
        """
        now = req.as_of or datetime.now(UTC)
        since = now.timestamp() - 30 * 86_400
        store = self.store
        circle_of: dict[str, str] = {}
        in_scope = FeedScope()
        pool: list[str] = []
        if scope.kind == "industry":
            for member in scope.members:
                got = store.recent_posts(member, since, 500) if store.has_circle(member) else []
                circle_of.update(dict.fromkeys(got, member))
                pool.extend(got)
            in_scope = FeedScope(circles=frozenset(scope.members))
        elif scope.kind == "interest":
            pool = [p for p in self.scopes.topic_posts(scope.topic_ids) if p in store]
            in_scope = FeedScope(posts=frozenset(pool))
        elif scope.kind != "sku_qa":  # a brand circle (here only with a topic filter)
            in_scope = FeedScope(circles=frozenset((req.circle_id,)))
        if req.topic_id is not None and scope.kind != "sku_qa":
            topic = set(self.scopes.topic_posts((req.topic_id,)))
            if scope.kind in ("industry", "interest"):
                pool = [p for p in pool if p in topic]
            else:  # the scope filter keeps the circle's own of them
                pool = [p for p in sorted(topic) if p in store]
        if req.candidate_ids is not None:
            given = set(req.candidate_ids)
            pool = [p for p in pool if p in given]
        share = SCOPED_BRAND_SHARE if scope.kind == "industry" else 1.0
        inner = FeedRequest(
            viewer_id=req.viewer_id,
            circle_id=req.circle_id,
            limit=min(req.limit * 3, 200) if share < 1.0 else req.limit,
            candidate_ids=tuple(pool),
            phase=req.phase,
            exclude_seen=req.exclude_seen,
            exclude_ids=req.exclude_ids,
            params=req.params,
            as_of=req.as_of,
        )
        if not pool:
            body = {
                "items": [],
                "arm": "control",
                "phase": req.phase or campaign_phase(now),
                "model_versions": self.model_versions(store),
                "request_id": uuid.uuid4().hex,
                "n_candidates": 0,
                "removed": {},
            }
            return body, RankingResult(items=[], n_candidates=0)
        body, result = self.rank(inner, viewer, in_scope=in_scope)
        if share < 1.0:
            body["items"] = brand_spread(body["items"], circle_of, req.limit, share)
            result.items = [
                it for it in result.items if it.post_id in {i["post_id"] for i in body["items"]}
            ]
        body["items"] = body["items"][: req.limit]
        return body, result


# An industry feed's first page never shows one brand in more than this share of its items.
SCOPED_BRAND_SHARE = 0.4


def brand_spread(
    items: list[dict[str, Any]], circle_of: dict[str, str], limit: int, share: float
) -> list[dict[str, Any]]:
    """The ranked items with at most ``ceil(share × limit)`` per brand circle on the page,
    keeping each brand's best-ranked ones (if too few brands, the page is shorter)."""
    cap = max(1, math.ceil(share * limit))
    used: dict[str, int] = {}
    out = []
    for it in items:
        brand = circle_of.get(it["post_id"], "")
        if used.get(brand, 0) >= cap:
            continue
        used[brand] = used.get(brand, 0) + 1
        out.append(it)
        if len(out) == limit:
            break
    return out
