"""One batch of posts through the ingest steps (the package docstring), in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quanzi.models.content_type import infer_content_type
from quanzi.models.index import log_changes, write_embeddings
from quanzi.models.model_versions import versions_key
from quanzi.models.moderation.policy import post_status, review_reasons
from quanzi.models.quality import rejected_quality
from quanzi.models.topics.tags import post_tags
from quanzi.serving.editorial.errors import Conflict
from quanzi.serving.editorial.topics import tag_posts
from quanzi.serving.post_ingest.decision import RuleLookup, moderation_of, score_records
from quanzi.serving.post_ingest.duplicates import near_duplicates
from quanzi.serving.post_ingest.persistence import (
    PostInput,
    check_references,
    public_part,
    replays,
    score_rows_for,
    scoring_records,
    texts_of,
    write_rows,
)
from quanzi.serving.worker_models import ModelSet


def ingest_posts(
    session: Session, models: ModelSet, posts: Sequence[PostInput]
) -> list[dict[str, Any]]:
    """Store and score a batch (the package docstring's steps); results in input order."""
    first: dict[str, PostInput] = {}
    for p in posts:
        if first.setdefault(p.id, p) != p:
            raise Conflict(f"post {p.id!r} is sent twice in the batch with different content")
    unique = list(first.values())
    check_references(session, unique)
    replayed = replays(session, unique, models.encoder_version)
    new = [p for p in unique if p.id not in replayed]
    if not new:
        return in_order(posts, replayed)
    try:
        processed = process(session, models, new, stored=False)
    except IntegrityError as exc:  # the same new id sent twice at once
        session.rollback()
        raise concurrent_conflict() from exc
    processed.remember(models)  # the caller commits this session (see group_commit.py)
    return in_order(posts, replayed | processed.results)


def concurrent_conflict() -> Conflict:
    """A new post id stored meanwhile by another transaction (the same post sent twice at
    once): sent again, the post is answered from the store."""
    return Conflict(
        "some of these posts were stored by a concurrent request; send the "
        "batch again to get their stored results"
    )


@dataclass
class Processed:
    """What ``process`` wrote: each post's result, and its vectors for the recent buffer."""

    posts: Sequence[PostInput]
    results: dict[str, dict[str, Any]]
    vectors: np.ndarray | None

    def remember(self, models: ModelSet) -> None:
        """Offer the vectors to this worker's near-duplicate buffer; call once the posts
        are committed, so a rolled-back post never marks a later one as its copy."""
        if self.vectors is not None:
            models.recent.add(
                [p.id for p in self.posts], [p.circle_id for p in self.posts], self.vectors
            )


def in_order(posts: Sequence[PostInput], results: dict[str, dict[str, Any]]) -> list[dict]:
    """One result per post sent; a repeated id's later copies answer as replayed."""
    seen: set[str] = set()
    out = []
    for p in posts:
        out.append({**results[p.id], "replayed": True} if p.id in seen else results[p.id])
        seen.add(p.id)
    return out


def process(
    session: Session, models: ModelSet, new: Sequence[PostInput], stored: bool
) -> Processed:
    """Moderate, score, embed and de-duplicate ``new``; insert them (or, when ``stored``,
    update their status) with their scores, vectors and review items. One call of each
    model and of the encoder for the whole of ``new``."""
    now = datetime.now(UTC)
    records = scoring_records(session, new, now)
    rules = RuleLookup(session, (p.circle_id for p in new))
    vectors = None
    dupes: list[tuple[str, float] | None] = [None] * len(new)
    if models.embedder is not None:  # the one transformer pass: index, copies and scores
        vectors = np.asarray(models.embedder([p.text for p in new]), dtype=np.float32)
        dupes = near_duplicates(models, new, vectors, lambda ids: texts_of(session, ids))
    scored = score_records(models, records, vectors=vectors)

    results: dict[str, dict[str, Any]] = {}
    post_rows, rows_of_scores, review_rows = [], [], []
    versions = models.model_versions()
    for p, record, out, dupe in zip(new, records, scored, dupes, strict=True):
        moderation = moderation_of(out["moderation"], record, rules)
        status = post_status(moderation["decision"], dupe[0] if dupe else None)
        result = {
            "post_id": p.id,
            "status": status,
            "replayed": False,
            "moderation": moderation,
            "quality": public_part(rejected_quality(out["quality"], status), ("score", "tier")),
            "trust": public_part(out["trust"], ("level", "probs", "reasons")),
            "near_duplicate_of": dupe[0] if dupe else None,
            "near_duplicate_cosine": round(dupe[1], 4) if dupe else None,
            "content_type": infer_content_type(p.text),
            "model_versions": versions,
        }
        post_rows.append(
            {
                "id": p.id,
                "circle_id": p.circle_id,
                "author_id": p.author_id,
                "item_id": p.item_id,
                "order_id": p.order_id,
                "text": p.text,
                "image_count": p.image_count,
                "status": status,
                "scored_versions": versions_key(versions),  # a rescore skips it until they change
                "created_at": p.created_at or now,
                "updated_at": now,
            }
        )
        rows_of_scores += score_rows_for(p.id, result, versions, now)
        if status == "review":
            review_rows.append(
                {
                    "post_id": p.id,
                    "circle_id": p.circle_id,
                    "reasons": review_reasons(moderation, dupe),
                    "status": "open",
                    "created_at": now,
                }
            )
        result.pop("near_duplicate_cosine")
        results[p.id] = result
    write_rows(session, post_rows, rows_of_scores, review_rows, stored)
    tags = [post_tags(p.text, p.topics) for p in new]
    tagged = [
        (p.id, p.circle_id, row["created_at"], t)
        for p, row, t in zip(new, post_rows, tags, strict=True)
        if t
    ]
    if not stored:
        session.flush()  # the posts exist before their topic links
        tag_posts(session, tagged)
        if vectors is not None and models.encoder_version is not None:
            untagged = [i for i, t in enumerate(tags) if not t]
            models.topics.assign(
                session,
                [
                    (new[i].id, new[i].circle_id, post_rows[i]["created_at"], new[i].text)
                    for i in untagged
                ],
                vectors[untagged],
                models.encoder_version,
            )
    if vectors is not None and models.encoder_version is not None:
        ids = [p.id for p in new]
        write_embeddings(session, models.encoder_version, ids, vectors, new=not stored)
    elif stored:
        log_changes(session, [p.id for p in new])  # the status changed: workers re-read
    session.flush()
    return Processed(new, results, vectors)
