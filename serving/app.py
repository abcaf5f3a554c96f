"""Builds the FastAPI app: lifespan-owned state and the routers, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from quanzi import __version__
from quanzi.serving.api.routes import circles, health, posts, users
from quanzi.serving.state import AppState
from quanzi.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the app; all mutable state lives on ``app.state`` for the lifespan only."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState.open(settings)
        app.state.quanzi = state
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="Quanzi",
        version=__version__,
        description="Moderation, scoring, retrieval and ranking for brand circles (圈子).",
        lifespan=lifespan,
    )
    for module in (health, circles, users, posts):
        app.include_router(module.router)
    return app
