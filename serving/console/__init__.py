"""The editor console (``/console``): the editors' pages over the editorial services.

Server-rendered Jinja2 templates with htmx (vendored in ``static/``, no CDN), signed in
with an editor or admin key traded for a database-backed session (``sessions.py``). The
JSON API stays key-only; the console reaches the store and the models through the same
dependencies (``serving/api/deps.py``) and editorial functions the API uses.
"""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.serving.console.routes import (
    auth,
    candidates,
    circles,
    collections,
    hotlists,
    posts,
    review,
    topics,
)

router = APIRouter()
for _module in (auth, candidates, posts, collections, review, hotlists, circles, topics):
    router.include_router(_module.router)

__all__ = ["router"]
