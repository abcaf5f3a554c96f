"""What one ranking request knows: the query and the viewer's context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from quanzi.models.ranking.params import Phase, RankingParams

DAY = 86_400.0


@dataclass(frozen=True)
class ViewerContext:
    """The viewer's social graph and history, loaded once per request."""

    viewer_id: str
    friends: frozenset[str] = frozenset()
    follows: frozenset[str] = frozenset()  # accounts the viewer follows (learned ranker)
    seen_posts: frozenset[str] = frozenset()
    negative_posts: frozenset[str] = frozenset()  # hidden or reported by the viewer
    negative_authors: frozenset[str] = frozenset()  # authors of those posts
    blocked_authors: frozenset[str] = frozenset()
    engaged_posts: tuple[str, ...] = ()  # recent positive engagement, newest first
    interest: np.ndarray | None = None  # (d,) unit vector: mean of engaged embeddings
    # Relations to brand circles: (circle, kind, active) with kind fan / member / past_buyer.
    brand: tuple[tuple[str, str, bool], ...] = ()

    def brand_relation(self, circle_id: str) -> tuple[frozenset[str], bool | None]:
        """The viewer's relation kinds to ``circle_id`` and whether any is active (None:
        no relation at all)."""
        rows = [(kind, active) for c, kind, active in self.brand if c == circle_id]
        if not rows:
            return frozenset(), None
        return frozenset(k for k, _ in rows), any(a for _, a in rows)


@dataclass(frozen=True)
class FeedScope:
    """What a circle's feed may serve when its kind reaches beyond its own posts
    (``serving/circle_scopes.py``, docs/ranking.md "Scope"): the posts of ``circles`` (an
    industry circle's member brand circles) and ``posts`` wherever posted (an interest
    circle's topic posts)."""

    circles: frozenset[str] = frozenset()
    posts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FeedQuery:
    """One feed request after validation and parameter resolution."""

    viewer: ViewerContext
    circle_id: str
    limit: int
    now: datetime
    phase: Phase
    params: RankingParams
    candidate_ids: tuple[str, ...] | None = None
    exclude_seen: bool = True
    exclude_ids: frozenset[str] = field(default_factory=frozenset)
    arm: str = "control"
    scope: FeedScope | None = None  # None: the requested circle's own posts

    @property
    def scope_circles(self) -> frozenset[str]:
        """The circles whose posts are in scope."""
        return self.scope.circles if self.scope is not None else frozenset((self.circle_id,))

    @property
    def scope_posts(self) -> frozenset[str]:
        """Posts in scope wherever they were posted (an interest circle's topic posts)."""
        return self.scope.posts if self.scope is not None else frozenset()

    @property
    def since_ts(self) -> float:
        """The oldest creation time the age filter keeps: sources need not fetch older."""
        return self.now.timestamp() - self.params.max_age_days * DAY
