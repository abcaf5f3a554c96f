"""Recent posts by the viewer's friends (L1 for this viewer): of the requested circle's
scope, or of any circle when ``friends_any_circle`` is set
(``filters/circle_scope_filter.py`` keeps the scope)."""

from __future__ import annotations

from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class FriendsPostsSource:
    name = "friends"

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit  # None: the request's ``params.friends_limit``

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is None and bool(query.viewer.friends)

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        limit = self.limit or query.params.friends_limit
        if query.params.friends_any_circle or query.scope_posts:
            # any circle; the scope filter keeps an interest circle's topic posts
            return store.posts_by_authors(query.viewer.friends, query.since_ts, limit, None)
        out: list[str] = []
        for circle in sorted(query.scope_circles):
            out.extend(store.posts_by_authors(query.viewer.friends, query.since_ts, limit, circle))
        return out
