"""Moderation status changes of stored posts: the one path editors' decisions and rescores
take.

Setting a status here writes the post's row (status, ``updated_at``) and an
``index_changes`` entry in the caller's transaction, so when it commits:

- every worker's feed snapshot and vector index re-read the post within their refresh
  interval (``serving/feed_snapshot_sync.FeedStoreSync``, ``models/index/sync.IndexSync``):
  a newly rejected post leaves the feed and the similar-post index, a newly passed one
  enters;
- the surfaces that read the store per request follow at once: hot lists and banner picks
  (``status = 'pass'`` in their SQL), a collection's served view and its suggestions
  (``editorial/collections.py``: a published collection hides an item that no longer
  passes and flags it for the editor, and shows it again once it passes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from quanzi.models.index import log_changes
from quanzi.storage.orm import Post


def set_statuses(
    session: Session, statuses: Mapping[str, str], now: datetime | None = None
) -> None:
    """Give each post its new moderation status and log it for the workers to re-read."""
    if not statuses:
        return
    now = now or datetime.now(UTC)
    by_status: dict[str, list[str]] = defaultdict(list)
    for post_id, status in statuses.items():
        by_status[status].append(post_id)
    for status, ids in by_status.items():  # one UPDATE per status; loaded posts follow
        session.execute(
            update(Post).where(Post.id.in_(ids)).values(status=status, updated_at=now),
            execution_options={"synchronize_session": "fetch"},
        )
    log_changes(session, statuses)
