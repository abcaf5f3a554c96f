"""Post ingest: store, moderate, score, embed, index and de-duplicate posts in one transaction.

The steps for a batch (``ingest_posts``):
1. validate references: every circle, author, item and order must be stored (one error
   listing all the unknown ids, HTTP 422);
2. idempotency by ``post_id``: a post already stored with the same circle, author and text
   is *replayed* — its stored result is returned and nothing is written; the same id with
   other content is a 409 (posts are immutable here: an edit is a new post id);
3. moderation: the champion moderation model (or, without one, the pattern detectors) plus
   the circle's own blocked / review-only terms (``editorial.rules``), never another
   circle's;
4. quality and trust from the champions through ``models.scoring.Scorer`` (``null`` with
   version ``unavailable`` when a champion is missing);
5. embedding with the configured encoder, stored with ``write_embeddings`` (which logs the
   change, so every worker's index picks the post up within the sync bound);
6. near-duplicates: cosine ≥ ``NEAR_DUPLICATE_COSINE`` to a post of the same circle — in the
   index, in this worker's recent ingests not yet indexed, or earlier in the same batch →
   ``near_duplicate_of``; a near-duplicate that moderation passed goes to review (copy-paste
   is spam by the policy, but an editor should see which post it copies);
7. status pass / review / reject, a review-queue item for ``review``, and one
   ``post_scores`` row per model and version (the response is rebuilt from those rows on
   a replay, so a replay answers exactly what the first call answered).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quanzi.models.index import SearchFilter, log_changes, write_embeddings
from quanzi.models.loading import RULES_VERSION, UNAVAILABLE
from quanzi.models.moderation.detectors import detect_contact, detect_privacy
from quanzi.models.scoring import Scorer
from quanzi.serving.editorial.errors import Conflict, Invalid, id_list
from quanzi.serving.editorial.rules import Rules, get_rules, match_rules
from quanzi.serving.recent_vectors import RecentVectors
from quanzi.serving.worker_models import ModelSet
from quanzi.storage.db import session_scope
from quanzi.storage.orm import Circle, Item, Order, Post, PostScore, ReviewItem, User
from quanzi.storage.queries import verified_purchase_clause

NEAR_DUPLICATE_COSINE = 0.95  # char-level copies and trivial edits sit above it
DECISION_RANK = {"pass": 0, "review": 1, "reject": 2}
# Detector confidences (0.85 address … 0.99 checksum-valid ID card) when no model is loaded;
# the same bands as the moderation model's configured privacy thresholds.
FALLBACK_REVIEW, FALLBACK_REJECT = 0.8, 0.9
TIER_NAMES = {"unusable": 0, "low": 1, "good": 2, "excellent": 3}


@dataclass(frozen=True)
class PostInput:
    """One post as the feed service sends it (already schema-checked)."""

    id: str
    circle_id: str
    author_id: str
    text: str
    item_id: str | None = None
    order_id: str | None = None
    image_count: int = 0
    created_at: datetime | None = None


# --------------------------------------------------------------------------- moderation
def _band(prob: float) -> str | None:
    if prob >= FALLBACK_REJECT:
        return "reject"
    if prob >= FALLBACK_REVIEW:
        return "review"
    return None


def detector_moderation(text: str) -> dict[str, Any]:
    """Moderation without a model: contact and privacy detectors with configured bands."""
    labels = []
    hits = detect_contact(text) + detect_privacy(text)
    for label in ("contact", "privacy"):
        mine = [h for h in hits if h.label == label]
        if not mine:
            continue
        prob = max(h.confidence for h in mine)
        band = _band(prob)
        if band is None:
            continue
        labels.append({"label": label, "prob": round(prob, 4), "band": band,
                       "spans": [{"start": h.start, "end": h.end, "text": h.text,
                                  "subtype": h.subtype, "evidence": h.evidence}
                                 for h in mine]})
    return {"decision": _decision(labels, "pass"), "labels": labels, "source": RULES_VERSION}


def circle_rule_label(rules: Rules, text: str) -> dict[str, Any] | None:
    """The circle's own terms in ``text`` as a moderation label (block → reject)."""
    hits = match_rules(rules, text)
    if not hits:
        return None
    blocked = any(h.action == "block" for h in hits)
    return {"label": "circle_rule", "prob": 1.0, "band": "reject" if blocked else "review",
            "spans": [{"start": h.start, "end": h.end, "text": text[h.start:h.end],
                       "subtype": "blocked" if h.action == "block" else "review_term",
                       "evidence": h.term} for h in hits]}


def _decision(labels: Sequence[dict[str, Any]], base: str) -> str:
    """The most severe of ``base`` and every label's band."""
    decision = base if base in DECISION_RANK else "pass"
    for entry in labels:
        band = entry.get("band")
        if band in DECISION_RANK and DECISION_RANK[band] > DECISION_RANK[decision]:
            decision = band
    return decision


def score_records(models: ModelSet, records: Sequence[dict[str, Any]],
                  tasks: Sequence[str] = ("moderation", "quality", "trust"),
                  ) -> list[dict[str, Any]]:
    """Each record's ``{moderation, quality, trust}``; a missing champion answers None
    (moderation: the detectors instead)."""
    chosen = {t: models.predictors.get(t) if t in tasks else None
              for t in ("moderation", "quality", "trust")}
    if any(chosen.values()):
        scored = Scorer(**chosen).score([{"id": i, **r} for i, r in enumerate(records)])
    else:
        scored = [{"moderation": None, "quality": None, "trust": None} for _ in records]
    if "moderation" in tasks:
        for record, out in zip(records, scored, strict=True):
            if out["moderation"] is None:
                out["moderation"] = detector_moderation(record["text"])
    return scored


def moderate(models: ModelSet, records: Sequence[dict[str, Any]],
             rules_for: Callable[[str], Rules]) -> list[dict[str, Any]]:
    """``{decision, labels}`` per record: the model (or detectors) plus circle rules."""
    results = score_records(models, records, tasks=("moderation",))
    out = []
    for record, scored in zip(records, results, strict=True):
        out.append(_with_circle_rules(scored["moderation"], record, rules_for))
    return out


def _with_circle_rules(moderation: dict[str, Any], record: dict[str, Any],
                       rules_for: Callable[[str], Rules]) -> dict[str, Any]:
    labels = [dict(e) for e in moderation.get("labels", []) if e.get("label") != "circle_rule"]
    circle_id = record.get("circle_id")
    if circle_id:
        entry = circle_rule_label(rules_for(circle_id), record["text"])
        if entry is not None:
            labels.append(entry)
    result = {k: v for k, v in moderation.items() if k not in ("decision", "labels")}
    result["labels"] = labels
    result["decision"] = _decision(labels, moderation.get("decision", "pass"))
    return result


class RuleLookup:
    """Circle rules read once per circle per request (rules change rarely, posts often)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rules: dict[str, Rules] = {}

    def __call__(self, circle_id: str) -> Rules:
        if circle_id not in self._rules:
            self._rules[circle_id] = get_rules(self.session, circle_id)
        return self._rules[circle_id]


# --------------------------------------------------------------------------- duplicates
def near_duplicates(models: ModelSet, posts: Sequence[PostInput],
                    vectors: np.ndarray) -> list[tuple[str, float] | None]:
    """For each post, the most similar *other* post of its circle at ≥ the threshold."""
    own = {p.id for p in posts}
    best: list[tuple[str, float] | None] = [None] * len(posts)

    def offer(i: int, pid: str, sim: float) -> None:
        if sim >= NEAR_DUPLICATE_COSINE and (best[i] is None or sim > best[i][1]):
            best[i] = (pid, sim)

    index = models.index
    recent = models.recent
    by_circle: dict[str, list[int]] = {}
    for i, post in enumerate(posts):
        by_circle.setdefault(post.circle_id, []).append(i)
    for circle_id, rows in by_circle.items():
        if index is not None and len(index):
            flt = SearchFilter.of(circle_id=circle_id, exclude_ids=own)
            for i, hits in zip(rows, index.search_batch(vectors[rows], 1, flt), strict=True):
                for pid, sim in hits:
                    offer(i, pid, sim)
        for i in rows:
            hit = recent.best(circle_id, vectors[i], own)
            if hit is not None:
                offer(i, *hit)
        # Earlier posts of the same batch: the first of two copies is the original.
        sims = vectors[rows] @ vectors[rows].T
        for a, i in enumerate(rows):
            for b in range(a):
                offer(i, posts[rows[b]].id, float(sims[a, b]))
    return best


# --------------------------------------------------------------------------- storage
def _check_references(session: Session, posts: Sequence[PostInput]) -> None:
    """422 naming every unknown circle, author, item and order at once."""
    checks = [("circles", Circle.id, {p.circle_id for p in posts}),
              ("authors", User.id, {p.author_id for p in posts}),
              ("items", Item.id, {p.item_id for p in posts if p.item_id}),
              ("orders", Order.id, {p.order_id for p in posts if p.order_id})]
    problems = []
    for label, column, ids in checks:
        if not ids:
            continue
        found = set(session.scalars(select(column).where(column.in_(sorted(ids)))))
        if ids - found:
            problems.append(f"{label}: {id_list(ids - found)}")
    if problems:
        raise Invalid("unknown ids — create them first (circles through `quanzi world load` "
                      "or the store, users with POST /v1/users): " + "; ".join(problems))


def author_record(user: User, circle_id: str, at: datetime,
                  history: tuple[int, float] | None = None) -> dict[str, Any]:
    """The provenance the trust model reads about an author (trust-levels.md, models/trust.py).

    ``history`` is (posts stored before this batch, share of them that were verified
    purchases); left out when unknown, so the model sees "unknown", not zero.
    """
    created = user.account_created_at
    age_days = max(0.0, (at - created).total_seconds() / 86400) if created else None
    record: dict[str, Any] = {
        "kind": user.kind, "follower_count": int(user.follower_count or 0),
        "creator_certified": bool(user.creator_certified), "account_age_days": age_days,
        "is_brand_account": user.kind == "merchant" and user.merchant_circle_id == circle_id}
    if history is not None:
        record["post_count"] = history[0]
        if history[0]:
            record["verified_share"] = history[1]
    return record


def _histories(session: Session, author_ids: Sequence[str]) -> dict[str, tuple[int, float]]:
    """Per author: stored posts and the share that are verified purchases (one query)."""

    verified = func.sum(case((verified_purchase_clause(), 1), else_=0))
    rows = session.execute(
        select(Post.author_id, func.count(), verified)
        .outerjoin(Order, Order.id == Post.order_id)
        .where(Post.author_id.in_(sorted(set(author_ids)))).group_by(Post.author_id)).all()
    out = {a: (0, 0.0) for a in author_ids}
    for author, n, v in rows:
        out[author] = (int(n), float(v or 0) / int(n) if n else 0.0)
    return out


def _verified(posts: Sequence[PostInput], orders: dict[str, Order],
              now: datetime) -> list[bool]:
    """The author's own order of this item, placed before the post (storage.queries)."""
    out = []
    for p in posts:
        order = orders.get(p.order_id) if p.order_id else None
        out.append(order is not None and order.user_id == p.author_id
                   and order.item_id == p.item_id and order.created_at <= (p.created_at or now))
    return out


def tier_of(quality: dict[str, Any] | None) -> int | None:
    """A quality tier as an int 0–3 (models may answer the tier's name)."""
    if not quality:
        return None
    tier = quality.get("tier")
    if isinstance(tier, bool):
        return None
    if isinstance(tier, int | float):
        return int(tier)
    if isinstance(tier, str):
        return TIER_NAMES.get(tier.lower(), int(tier) if tier.isdigit() else None)
    return None


def _score_rows(post_id: str, result: dict[str, Any], versions: dict[str, str],
                now: datetime) -> list[dict[str, Any]]:
    """One ``post_scores`` row per model that answered (moderation always answers)."""
    rows = []
    moderation = result["moderation"]
    rows.append({"post_id": post_id, "model_name": "moderation",
                 "model_version": versions["moderation"],
                 "score": max((float(e.get("prob", 0.0)) for e in moderation["labels"]),
                              default=0.0),
                 "label": moderation["decision"],
                 "payload": {**moderation, "near_duplicate_of": result["near_duplicate_of"],
                             "near_duplicate_cosine": result.get("near_duplicate_cosine")},
                 "created_at": now})
    quality = result.get("quality")
    if quality is not None:
        tier = tier_of(quality)
        rows.append({"post_id": post_id, "model_name": "quality",
                     "model_version": versions["quality"], "score": float(quality["score"]),
                     "label": None if tier is None else str(tier), "payload": quality,
                     "created_at": now})
    trust = result.get("trust")
    if trust is not None:
        level = str(trust["level"])
        prob = (trust.get("probs") or {}).get(level)
        rows.append({"post_id": post_id, "model_name": "trust",
                     "model_version": versions["trust"],
                     "score": None if prob is None else float(prob), "label": level,
                     "payload": trust, "created_at": now})
    return rows


def _public(part: dict[str, Any] | None, keys: Sequence[str]) -> dict[str, Any] | None:
    if part is None:
        return None
    return {k: part.get(k) for k in keys} | {k: v for k, v in part.items() if k not in keys}


def result_of(post: Post, scores: Sequence[PostScore], encoder_version: str | None,
              replayed: bool) -> dict[str, Any]:
    """The response for a stored post, rebuilt from its newest score row per model."""
    latest: dict[str, PostScore] = {}
    for row in sorted(scores, key=lambda s: (s.created_at, s.id or 0)):
        latest[row.model_name] = row
    moderation = dict(latest["moderation"].payload) if "moderation" in latest else None
    near = moderation.pop("near_duplicate_of", None) if moderation else None
    if moderation is not None:
        moderation.pop("near_duplicate_cosine", None)
    versions = {name: latest[name].model_version if name in latest else UNAVAILABLE
                for name in ("moderation", "quality", "trust")}
    versions["encoder"] = encoder_version or UNAVAILABLE
    quality = latest["quality"].payload if "quality" in latest else None
    trust = latest["trust"].payload if "trust" in latest else None
    return {"post_id": post.id, "status": post.status, "replayed": replayed,
            "moderation": moderation,
            "quality": _public(quality, ("score", "tier")),
            "trust": _public(trust, ("level", "probs", "reasons")),
            "near_duplicate_of": near, "model_versions": versions}


def _replays(session: Session, posts: Sequence[PostInput],
             encoder_version: str | None) -> dict[str, dict[str, Any]]:
    """Stored results of posts sent again; 409 when an id is reused for other content."""
    ids = [p.id for p in posts]
    stored = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(ids)))}
    if not stored:
        return {}
    conflicts = [p.id for p in posts if p.id in stored and (
        stored[p.id].text != p.text or stored[p.id].circle_id != p.circle_id
        or stored[p.id].author_id != p.author_id)]
    if conflicts:
        raise Conflict(f"post ids already stored with other text, circle or author: "
                       f"{id_list(conflicts)} (posts are immutable: send an edit as a new id)")
    scores: dict[str, list[PostScore]] = {}
    for row in session.scalars(select(PostScore).where(PostScore.post_id.in_(list(stored)))):
        scores.setdefault(row.post_id, []).append(row)
    return {pid: result_of(post, scores.get(pid, []), encoder_version, replayed=True)
            for pid, post in stored.items()}


# --------------------------------------------------------------------------- ingest
def ingest_posts(session: Session, models: ModelSet,
                 posts: Sequence[PostInput]) -> list[dict[str, Any]]:
    """Store and score a batch (see the module docstring); results in input order."""
    if len({p.id for p in posts}) != len(posts):
        raise Invalid("post ids repeat in the batch")
    _check_references(session, posts)
    replays = _replays(session, posts, models.encoder_version)
    new = [p for p in posts if p.id not in replays]
    if not new:
        return [replays[p.id] for p in posts]
    try:
        results = _process(session, models, new, stored=False)
    except IntegrityError as exc:  # the same new id sent twice at once
        session.rollback()
        raise Conflict("some of these posts were stored by a concurrent request; send the "
                       "batch again to get their stored results") from exc
    return [replays.get(p.id) or results[p.id] for p in posts]


def _process(session: Session, models: ModelSet, new: Sequence[PostInput],
             stored: bool) -> dict[str, dict[str, Any]]:
    """Moderate, score, embed and de-duplicate ``new``; insert them (or, when ``stored``,
    update their status) with their scores, vectors and review items."""
    now = datetime.now(UTC)
    users = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_(sorted({p.author_id for p in new}))))}
    order_ids = sorted({p.order_id for p in new if p.order_id})
    orders = {o.id: o for o in session.scalars(
        select(Order).where(Order.id.in_(order_ids)))} if order_ids else {}
    verified = _verified(new, orders, now)
    history = _histories(session, [p.author_id for p in new])
    records = [{"text": p.text, "circle_id": p.circle_id,
                "author": author_record(users[p.author_id], p.circle_id, p.created_at or now,
                                        history[p.author_id]),
                "verified_purchase": v} for p, v in zip(new, verified, strict=True)]

    rules = RuleLookup(session)
    scored = score_records(models, records)
    vectors = None
    dupes: list[tuple[str, float] | None] = [None] * len(new)
    if models.embedder is not None:
        vectors = np.asarray(models.embedder([p.text for p in new]), dtype=np.float32)
        dupes = near_duplicates(models, new, vectors)

    results: dict[str, dict[str, Any]] = {}
    post_rows, score_rows, review_rows = [], [], []
    versions = models.model_versions()
    for p, record, out, dupe in zip(new, records, scored, dupes, strict=True):
        moderation = _with_circle_rules(out["moderation"], record, rules)
        status = moderation["decision"]
        if dupe is not None and status == "pass":
            status = "review"
        result = {"post_id": p.id, "status": status, "replayed": False,
                  "moderation": moderation,
                  "quality": _public(out["quality"], ("score", "tier")),
                  "trust": _public(out["trust"], ("level", "probs", "reasons")),
                  "near_duplicate_of": dupe[0] if dupe else None,
                  "near_duplicate_cosine": round(dupe[1], 4) if dupe else None,
                  "model_versions": versions}
        post_rows.append({"id": p.id, "circle_id": p.circle_id, "author_id": p.author_id,
                          "item_id": p.item_id, "order_id": p.order_id, "text": p.text,
                          "image_count": p.image_count, "status": status,
                          "created_at": p.created_at or now, "updated_at": now})
        score_rows += _score_rows(p.id, result, versions, now)
        if status == "review":
            review_rows.append({"post_id": p.id, "circle_id": p.circle_id,
                                "reasons": _review_reasons(moderation, dupe),
                                "status": "open", "created_at": now})
        result.pop("near_duplicate_cosine")
        results[p.id] = result
    if stored:
        session.execute(update(Post), [{"id": r["id"], "status": r["status"],
                                        "updated_at": now} for r in post_rows])
        queued = set(session.scalars(select(ReviewItem.post_id).where(
            ReviewItem.post_id.in_([r["post_id"] for r in review_rows]))))
        review_rows = [r for r in review_rows if r["post_id"] not in queued]
    else:
        session.execute(insert(Post), post_rows)
    session.execute(insert(PostScore), score_rows)
    if review_rows:
        session.execute(insert(ReviewItem), review_rows)
    if vectors is not None and models.encoder_version is not None:
        write_embeddings(session, models.encoder_version, [p.id for p in new], vectors)
    elif stored:
        log_changes(session, [p.id for p in new])  # the status changed: workers re-read
    session.flush()
    if vectors is not None:
        models.recent.add([p.id for p in new], [p.circle_id for p in new], vectors)
    return results


def backfill_pending(sessions: Any, models: ModelSet, batch: int = 256,
                     progress: Callable[[int], None] | None = None) -> int:
    """Moderate, score, embed and index stored posts still ``pending`` (e.g. a loaded world),
    oldest first, one transaction per batch; returns how many were processed.

    Oldest first, so of two copies the earlier post is the original; this worker's recent
    buffer holds every vector of the run, so copies are caught before the index syncs.
    """
    # This run's own buffer, unbounded in time: every vector of the run stays searchable.
    models = replace(models, recent=RecentVectors(seconds=float("inf"), cap=10**7))
    with sessions() as session:
        ids = list(session.scalars(select(Post.id).where(Post.status == "pending")
                                   .order_by(Post.created_at, Post.id)))
    done = 0
    for start in range(0, len(ids), batch):
        with session_scope(sessions) as session:
            rows = session.scalars(select(Post).where(Post.id.in_(ids[start:start + batch]))
                                   .order_by(Post.created_at, Post.id)).all()
            posts = [PostInput(p.id, p.circle_id, p.author_id, p.text, p.item_id, p.order_id,
                               p.image_count, p.created_at) for p in rows
                     if p.status == "pending"]
            if posts:
                _process(session, models, posts, stored=True)
        done += len(posts)
        if progress is not None:
            progress(len(posts))
    return done


def _review_reasons(moderation: dict[str, Any],
                    dupe: tuple[str, float] | None) -> dict[str, Any]:
    """Why the post waits for an editor, in the review item (``GET /v1/review``)."""
    reasons: dict[str, Any] = {
        "labels": [{"label": e["label"], "prob": e.get("prob"), "band": e.get("band")}
                   for e in moderation["labels"] if e.get("band") in ("review", "reject")
                   or "band" not in e],
    }
    if dupe is not None:
        reasons["near_duplicate_of"] = dupe[0]
        reasons["near_duplicate_cosine"] = round(dupe[1], 4)
    return reasons
