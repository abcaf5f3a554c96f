"""Builds the FastAPI app: lifespan-owned state and the routers, nothing else."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from threadpoolctl import threadpool_limits

from quanzi import __version__
from quanzi.serving import console
from quanzi.serving.api.body_limits import BodyLimits
from quanzi.serving.api.errors import install_error_handlers, install_openapi
from quanzi.serving.api.feed_fast_path import FeedFastPath
from quanzi.serving.api.ingest_fast_path import IngestFastPath
from quanzi.serving.api.routes import (
    admin,
    api_docs,
    applications,
    banner,
    circles,
    collections,
    feed,
    health,
    hotlists,
    interactions,
    metrics,
    moderate,
    posts,
    questions,
    relations,
    review,
    rules,
    similar,
    topics,
    users,
)
from quanzi.serving.batching import Backpressure, backpressure_handler
from quanzi.serving.connection_balance import ConnectionBalance, ConnectionShare
from quanzi.serving.feed_service import FeedService
from quanzi.serving.index_search import IndexSimilarPosts
from quanzi.serving.metrics import MetricsMiddleware, ServiceMetrics
from quanzi.serving.qa_service import preload_qa
from quanzi.serving.rate_limits import RateLimiter
from quanzi.serving.state import AppState
from quanzi.serving.worker_batchers import WorkerBatchers
from quanzi.settings import Settings
from quanzi.storage.api_keys import ROLES


def settle_heap() -> None:
    """Move everything loaded at startup (models, snapshot: ~750k objects) out of the
    garbage collector's reach: a full collection over them stalled a worker for ~0.5 s,
    which is every slow request a feed client would see. Runs before ``/readyz`` is 200."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the app; all mutable state lives on ``app.state`` for the lifespan only."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Single-threaded BLAS for this process's lifetime: a 100×256 product on 2 busy
        # cores took 15 ms with OpenBLAS's threads spinning, 0.05 ms on one.
        blas = threadpool_limits(limits=settings.blas_threads, user_api="blas")
        state = AppState.open(settings, metrics=app.state.metrics)
        app.state.quanzi = state
        app.state.similar_posts = IndexSimilarPosts(state.models)  # collection suggestions
        app.state.feed = FeedService(
            settings, state.engine, models=state.models.peek, on_arm=app.state.metrics.count_arm
        )
        # Ingest, moderation and text encoding gathered into batches (serving/batching.py).
        batchers = WorkerBatchers(
            settings, state.engine, state.sessions, state.models, observer=app.state.metrics
        )
        batchers.start()
        app.state.batchers = batchers
        if settings.env != "test":  # like the models: tests load on first use

            def loaded() -> None:
                # Again after the model load: a library loaded meanwhile may have brought its
                # own thread settings; then freeze the startup heap.
                threadpool_limits(limits=settings.blas_threads, user_api="blas")
                preload_qa(app)  # before /readyz says ready: the first question is fast too
                settle_heap()

            app.state.feed.start(
                models_settled=lambda: state.models.status.state != "running", on_loaded=loaded
            )
        try:
            yield
        finally:
            gc.unfreeze()
            await batchers.close()  # batches under way commit and are answered first
            app.state.feed.close()
            state.close()
            blas.restore_original_limits()

    app = FastAPI(
        title="Quanzi",
        version=__version__,
        description="Moderation, scoring, retrieval and ranking for brand circles (圈子).",
        lifespan=lifespan,
        docs_url=None,  # served from packaged assets (routes/api_docs.py), not a CDN
        redoc_url=None,
    )
    app.state.metrics = ServiceMetrics()  # per app, so apps in one process never clash
    app.state.rate_limiter = RateLimiter.from_settings(settings, ROLES)
    app.add_middleware(FeedFastPath)  # inside the metrics middleware: still measured
    app.add_middleware(IngestFastPath)  # likewise (fast_path.py: both hand errors back)
    app.add_middleware(
        BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )
    if settings.cors_origins:  # closed by default: no CORS headers, browsers refuse
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if settings.balance_connections:  # outermost: it may close any answer's connection
        share = ConnectionShare(settings.data_dir / "workers")
        app.add_middleware(ConnectionBalance, share=share)
    install_error_handlers(app)  # one error shape: {"detail": str, "code": str}
    app.add_exception_handler(Backpressure, backpressure_handler)
    # feed first: routes are matched in order and it is the hot path; applications before
    # circles: /v1/circles/applications is not a circle id.
    for module in (
        feed,
        health,
        metrics,
        applications,
        circles,
        rules,
        users,
        posts,
        relations,
        interactions,
        collections,
        hotlists,
        review,
        moderate,
        similar,
        topics,
        questions,
        banner,
        admin,
        api_docs,
        console,
    ):
        app.include_router(module.router)
    install_openapi(app)  # every route's 4xx in its OpenAPI entry, with the error body
    return app
