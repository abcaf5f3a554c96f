"""The one per-batch function of a rescore: both engines call ``rescore_batch``.

For a batch of rows from ``plan.read_block``: the chosen models answer (``Scorer``), the
moderation policy decides (``post_ingest.decision.moderation_of`` → ``policy.decide`` and
``policy.post_status``, exactly as at ingest), the encoder embeds the posts that lack a
vector of its version; then one transaction writes it all:

- ``post_scores``: upserts keyed by (post id, model, version) — a batch written twice
  leaves one row per version, and the chosen version's row becomes the newest, which is
  the row serving reads (``result_of``, the feed snapshot, the index metadata);
- ``posts``: the chosen versions' key (``scored_versions``) and, where the decision
  changed, the new status through ``editorial/status_changes.set_statuses`` — the path an
  editor's decision in the review queue takes; a post an editor decided keeps the
  editor's status, only its scores change;
- the review queue as at ingest: a post newly in ``review`` gets (or reopens) its item, an
  open item of a post that left review is closed;
- vectors through ``write_embeddings`` and every post through ``log_changes``: the same
  change log that live ingest writes, so every worker's index and feed snapshot re-read
  the post within their refresh interval (a newly rejected post leaves the feed, the index,
  hot lists, banner picks and collections' served view; a newly passed one enters);
- the block's progress (``rescore_blocks.done_posts``), in the same transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from quanzi.models.index import log_changes, write_embeddings
from quanzi.models.loading import LoadedModels
from quanzi.models.model_versions import versions_key
from quanzi.models.moderation.policy import post_status, review_reasons
from quanzi.models.scoring import Scorer
from quanzi.serving.editorial.status_changes import set_statuses
from quanzi.serving.post_ingest.decision import RuleLookup, moderation_of
from quanzi.serving.post_ingest.persistence import public_part, score_rows_for
from quanzi.storage.db import session_scope
from quanzi.storage.orm import Post, PostScore, RescoreBlock, ReviewItem

OPEN, CLOSED = "open", "closed"  # review item states (serving/editorial/review.py)


@dataclass
class BatchOutcome:
    """What one batch did: posts written, vectors made, decisions changed by direction."""

    posts: int = 0
    embedded: int = 0
    changes: Counter[str] = field(default_factory=Counter)  # "pass→reject ad" → posts
    # The batch's index shard: post id → the unit vector it stored for the new encoder.
    shard: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, other: BatchOutcome) -> None:
        self.posts += other.posts
        self.embedded += other.embedded
        self.changes.update(other.changes)
        self.shard.update(other.shard)

    def as_row(self) -> dict[str, Any]:
        """One flat row (what a Ray actor returns to the driver)."""
        ids = list(self.shard)
        matrix = np.stack([self.shard[p] for p in ids]) if ids else np.zeros((0, 0), "<f4")
        return {
            "posts": self.posts,
            "embedded": self.embedded,
            "changes": json.dumps(dict(self.changes), ensure_ascii=False),
            "shard_ids": json.dumps(ids),
            "shard_dim": int(matrix.shape[1]) if ids else 0,
            "shard": matrix.astype("<f4").tobytes(),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BatchOutcome:
        ids = json.loads(row["shard_ids"])
        shard = {}
        if ids:
            matrix = np.frombuffer(row["shard"], dtype="<f4").reshape(len(ids), -1)
            shard = dict(zip(ids, matrix, strict=True))
        return cls(
            int(row["posts"]), int(row["embedded"]), Counter(json.loads(row["changes"])), shard
        )


def rescore_batch(
    sessions: sessionmaker[Session],
    models: LoadedModels,
    run_id: str,
    rows: Sequence[dict[str, Any]],
) -> BatchOutcome:
    """Score, decide, embed and write one batch of ``read_block`` rows (one transaction)."""
    if not rows:
        return BatchOutcome()
    records = [json.loads(r["record"]) for r in rows]
    scorer = _scorer(models)
    every = None  # one transformer pass for the whole batch when a model reads vectors
    if scorer is not None and scorer.wants_vectors() and models.embedder is not None:
        every = np.asarray(models.embedder([r["text"] for r in rows]), dtype=np.float32)
    answers = (
        scorer.score([{"id": i, **r} for i, r in enumerate(records)], every)
        if scorer is not None
        else [{"moderation": None, "quality": None, "trust": None} for _ in records]
    )
    fresh = [i for i, r in enumerate(rows) if not r["has_vector"]]
    vectors = None
    if models.embedder is not None and models.encoder_version is not None and fresh:
        vectors = (
            every[fresh]
            if every is not None
            else np.asarray(models.embedder([rows[i]["text"] for i in fresh]), dtype=np.float32)
        )
    versions = {**models.versions, "encoder": models.encoder_version or "unavailable"}
    key = versions_key(versions)
    outcome = BatchOutcome(posts=len(rows), embedded=0 if vectors is None else len(fresh))
    with session_scope(sessions) as session:
        _mark_progress(session, run_id, rows)  # first: takes SQLite's write lock up front
        rules = RuleLookup(session)
        now = datetime.now(UTC)
        score_rows: list[dict[str, Any]] = []
        post_rows: list[dict[str, Any]] = []
        changed: dict[str, str] = {}  # post id → its new status
        for row, record, answer in zip(rows, records, answers, strict=True):
            moderation = moderation_of(answer["moderation"], record, rules)
            near = row["near_duplicate_of"]
            status = row["status"]
            if not row["editor_decided"]:
                status = post_status(moderation["decision"], near)
            result = {
                "moderation": moderation,
                "quality": public_part(answer["quality"], ("score", "tier")),
                "trust": public_part(answer["trust"], ("level", "probs", "reasons")),
                "near_duplicate_of": near,
                "near_duplicate_cosine": row["near_duplicate_cosine"],
            }
            score_rows += score_rows_for(row["id"], result, versions, now)
            post_rows.append({"id": row["id"], "scored_versions": key, "updated_at": now})
            if status != row["status"]:
                changed[row["id"]] = status
                outcome.changes[_direction(row["status"], status, moderation)] += 1
            _review_item(session, row, status, moderation, now)
        _upsert_scores(session, score_rows)
        session.execute(update(Post), post_rows)  # by primary key
        # A changed decision takes the path of an editor's (status, change log).
        set_statuses(session, changed, now)
        ids = [r["id"] for r in rows]
        if vectors is not None:
            assert models.encoder_version is not None
            write_embeddings(session, models.encoder_version, [ids[i] for i in fresh], vectors)
            unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("<f4")
            outcome.shard = {ids[i]: unit[k] for k, i in enumerate(fresh)}  # as stored
        done = set(fresh) if vectors is not None else set()  # logged by write_embeddings
        log_changes(
            session, [pid for i, pid in enumerate(ids) if i not in done and pid not in changed]
        )
    return outcome


def _scorer(models: LoadedModels) -> Scorer | None:
    """The chosen models behind one ``Scorer`` (None when no task has a model)."""
    chosen = {t: models.predictors.get(t) for t in ("moderation", "quality", "trust")}
    if not any(chosen.values()):
        return None
    return Scorer(**chosen, embedder=models.embedder)


def _direction(old: str, new: str, moderation: dict[str, Any]) -> str:
    """``old→new`` and, for a stricter decision, the label that drove it (the first at
    the new band, else the first the model raised)."""
    labels = moderation["labels"]
    label = None
    if new != "pass" and labels:
        label = next((e["label"] for e in labels if e.get("band") == new), labels[0]["label"])
    return f"{old}→{new}" + (f" {label}" if label else "")


def _review_item(
    session: Session, row: dict[str, Any], status: str, moderation: dict[str, Any], now: datetime
) -> None:
    """The editors' queue follows the status: open an item for review, close a stale one."""
    item = row["review_item"]
    if status == "review":
        near = row["near_duplicate_of"]
        reasons = review_reasons(
            moderation, (near, row["near_duplicate_cosine"] or 0.0) if near else None
        )
        if item is None:
            session.add(
                ReviewItem(
                    post_id=row["id"],
                    circle_id=row["circle_id"],
                    reasons=reasons,
                    status=OPEN,
                    created_at=now,
                )
            )
        elif not row["editor_decided"]:
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.post_id == row["id"])
                .values(status=OPEN, reasons=reasons)
            )
    elif item == OPEN and not row["editor_decided"]:
        session.execute(
            update(ReviewItem).where(ReviewItem.post_id == row["id"]).values(status=CLOSED)
        )


def _upsert_scores(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert score rows, replacing the row of the same (post, model, version)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(PostScore)
    stmt = stmt.on_conflict_do_update(
        index_elements=["post_id", "model_name", "model_version"],
        set_={
            "score": stmt.excluded.score,
            "label": stmt.excluded.label,
            "payload": stmt.excluded.payload,
            "created_at": stmt.excluded.created_at,
        },
    )
    session.execute(stmt, rows)


def _mark_progress(session: Session, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Count the batch's posts to their blocks; a block is done when all it read are."""
    per_block = Counter(int(r["block"]) for r in rows)
    read = {int(r["block"]): int(r["block_rows"]) for r in rows}
    now = datetime.now(UTC)
    for block, n in per_block.items():
        done = RescoreBlock.done_posts + n
        session.execute(
            update(RescoreBlock)
            .where(RescoreBlock.run_id == run_id, RescoreBlock.block == block)
            .values(done_posts=done, finished_at=case((done >= read[block], now), else_=None))
        )
