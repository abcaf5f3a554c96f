"""Builds the FastAPI app: lifespan-owned state and the routers, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from quanzi import __version__
from quanzi.serving.api.routes import (
    admin,
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
    relations,
    review,
    rules,
    similar,
    users,
)
from quanzi.serving.editorial.errors import EditorialError, editorial_error_handler
from quanzi.serving.feed_store import FeedService
from quanzi.serving.metrics import MetricsMiddleware, ServiceMetrics
from quanzi.serving.similar_search import IndexSimilarPosts
from quanzi.serving.state import AppState
from quanzi.settings import Settings


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
        app.state.feed = FeedService(settings, state.engine, models=state.models.peek)
        if settings.env != "test":  # like the models: tests load on first use
            app.state.feed.start(
                models_settled=lambda: state.models.status.state != "running")
        try:
            yield
        finally:
            app.state.feed.close()
            state.close()
            blas.restore_original_limits()

    app = FastAPI(
        title="Quanzi",
        version=__version__,
        description="Moderation, scoring, retrieval and ranking for brand circles (圈子).",
        lifespan=lifespan,
    )
    app.state.metrics = ServiceMetrics()  # per app, so apps in one process never clash
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_exception_handler(EditorialError, editorial_error_handler)
    # applications before circles: /v1/circles/applications is not a circle id.
    for module in (health, metrics, applications, circles, rules, users, posts, relations,
                   interactions, collections, hotlists, review, feed, moderate, similar, banner,
                   admin):
        app.include_router(module.router)
    return app
