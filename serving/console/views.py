"""What the console's pages show, assembled from the store and the editorial services.

No HTTP and no HTML here: each function answers one page's question (the banner
candidates under some filters, a post with its scores and spans, a collection's warnings,
the review queue in an editor's order) from a ``Session`` and the worker's ``ModelSet``,
through the same public functions the JSON API calls, so the console never shows what the
API would not say.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, get_args

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.models.ranking.params import CHINA, Phase, campaign_phase
from quanzi.serving.banner import DUP_COSINE, banner_picks
from quanzi.serving.editorial import review as review_logic
from quanzi.serving.editorial.collections import hidden_flag
from quanzi.serving.editorial.guardrails import BANNER_MIN_TIER, PostFacts
from quanzi.serving.editorial.suggestion_neighbours import text_vectors
from quanzi.serving.index_search import post_vectors, search_similar
from quanzi.serving.post_ingest.persistence import tier_of
from quanzi.serving.worker_models import ModelSet
from quanzi.storage.orm import Circle, Interaction, Post, PostScore, ReviewItem, User
from quanzi.storage.queries import PostDetail, latest_scores

PHASES: tuple[str, ...] = get_args(Phase)
ENGAGEMENT_KINDS = ("impression", "click", "like", "favourite", "comment", "share")
REVIEW_POOL = 2000  # open items ordered in memory (risk lives in JSON); the rest wait
TIER_NAMES = {0: "unusable", 1: "low", 2: "good", 3: "excellent"}


# --------------------------------------------------------------------------- post cards
@dataclass
class Card:
    """A post as every console list shows it: text, author, date, scores, engagement."""

    post: Post
    author: User | None
    quality: float | None = None
    tier: int | None = None
    trust_level: str | None = None
    trust_prob: float | None = None
    trust_reasons: list[str] = field(default_factory=list)
    decision: str | None = None  # moderation's decision (the post's status may differ)
    labels: list[dict[str, Any]] = field(default_factory=list)  # moderation labels
    near_duplicate_of: str | None = None
    engagement: dict[str, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.post.id

    @property
    def author_name(self) -> str:
        if self.author is None:
            return self.post.author_id
        return self.author.display_name or self.author.id

    @property
    def below_banner_rules(self) -> list[str]:
        """Why this post may not go on the banner (empty: it may): the guardrails' rules."""
        return PostFacts(
            post_id=self.post.id,
            author_id=self.post.author_id,
            text=self.post.text,
            status=self.post.status,
            tier=self.tier,
            level=self.trust_level,
            near_duplicate_of=None,  # the builder warns about copies as near-duplicate pairs
        ).banner_failures()


def reason_text(reason: Any) -> str:
    """One trust reason as a line: the model's own words and its weight when it has one."""
    if isinstance(reason, dict):
        text = str(reason.get("reason") or reason.get("signal") or reason)
        weight = reason.get("contribution")
        return f"{text} ({weight:+.2f})" if isinstance(weight, int | float) else text
    return str(reason)


def _apply_scores(card: Card, scores: Iterable[PostScore]) -> None:
    for score in scores:
        payload = score.payload or {}
        if score.model_name == "quality":
            card.quality = score.score
            card.tier = tier_of(payload)
            if card.tier is None and score.label is not None and score.label.isdigit():
                card.tier = int(score.label)
        elif score.model_name == "trust":
            card.trust_level, card.trust_prob = score.label, score.score
            card.trust_reasons = [reason_text(r) for r in payload.get("reasons") or []]
        elif score.model_name == "moderation":
            card.decision = score.label
            card.labels = list(payload.get("labels") or [])
            card.near_duplicate_of = payload.get("near_duplicate_of")


def engagement(db: Session, post_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Interactions per post and kind (one GROUP BY, served by the (post_id, kind) index)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    if not post_ids:
        return out
    rows = db.execute(
        select(Interaction.post_id, Interaction.kind, func.count())
        .where(Interaction.post_id.in_(list(post_ids)), Interaction.kind.in_(ENGAGEMENT_KINDS))
        .group_by(Interaction.post_id, Interaction.kind)
    ).all()
    for post_id, kind, n in rows:
        out[post_id][kind] = int(n)
    return out


def cards(db: Session, post_ids: Sequence[str]) -> dict[str, Card]:
    """Cards of these posts (missing ids are left out), with four queries in all."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return {}
    posts = {p.id: p for p in db.scalars(select(Post).where(Post.id.in_(ids)))}
    found = _assemble(db, posts, latest_scores(db, list(posts)))
    return {pid: found[pid] for pid in ids if pid in found}


def detail_card(db: Session, detail: PostDetail) -> Card:
    """The card of a post read with ``queries.get_post`` (its scores are already there)."""
    return _assemble(db, {detail.post.id: detail.post}, {detail.post.id: detail.scores})[
        detail.post.id
    ]


def _assemble(
    db: Session, posts: dict[str, Post], scores: dict[str, list[PostScore]]
) -> dict[str, Card]:
    """Cards from posts and their latest scores: authors and engagement in two queries."""
    authors = {
        u.id: u
        for u in db.scalars(select(User).where(User.id.in_({p.author_id for p in posts.values()})))
    }
    counts = engagement(db, list(posts))
    out = {}
    for pid, post in posts.items():
        card = Card(post=post, author=authors.get(post.author_id), engagement=counts.get(pid, {}))
        _apply_scores(card, scores.get(pid, []))
        out[pid] = card
    return out


# --------------------------------------------------------------------------- spans
@dataclass(frozen=True)
class Segment:
    """A run of a post's text; ``mark`` names the labels whose spans cover it."""

    text: str
    mark: str | None = None
    title: str = ""


def spans_of(labels: Sequence[dict[str, Any]]) -> list[tuple[int, int, str, str]]:
    """(start, end, label, evidence) of every span the moderation labels point at."""
    out = []
    for entry in labels:
        for span in entry.get("spans") or []:
            start, end = span.get("start"), span.get("end")
            if isinstance(start, int) and isinstance(end, int) and end > start:
                evidence = str(span.get("evidence") or span.get("subtype") or "")
                out.append((start, end, str(entry.get("label", "")), evidence))
    return out


def segments(text: str, spans: Sequence[tuple[int, int, str, str]]) -> list[Segment]:
    """Split ``text`` at every span boundary; overlapping spans mark a run with both labels."""
    cuts = {0, len(text)}
    for start, end, _, _ in spans:
        cuts.update((max(0, min(start, len(text))), max(0, min(end, len(text)))))
    bounds = sorted(cuts)
    out = []
    for a, b in pairwise(bounds):
        if a == b:
            continue
        over = [(label, ev) for start, end, label, ev in spans if start <= a and b <= end]
        labels = sorted({label for label, _ in over})
        title = "; ".join(f"{label}: {ev}" if ev else label for label, ev in over)
        out.append(Segment(text[a:b], " ".join(labels) or None, title))
    return out


# --------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class CandidateFilters:
    """The candidates page's filters; every field is optional but the circle."""

    circle_id: str
    min_tier: int = BANNER_MIN_TIER
    trust_level: str | None = None  # L2 or L3
    date_from: date | None = None  # China calendar days, inclusive
    date_to: date | None = None
    phase: str | None = None
    query: str = ""  # free text: semantic search instead of banner picks

    def admits(self, card: Card) -> bool:
        """The filters beyond what banner picks already enforce."""
        if card.tier is None or card.tier < self.min_tier:
            return False
        if self.trust_level and card.trust_level != self.trust_level:
            return False
        created = card.post.created_at
        if self.date_from and created < china_day_start(self.date_from):
            return False
        if self.date_to and created >= china_day_start(self.date_to + timedelta(days=1)):
            return False
        return not (self.phase and campaign_phase(created) != self.phase)


def china_day_start(day: date) -> datetime:
    """Midnight of a China calendar day (the campaign calendar's days are China's)."""
    return datetime.combine(day, time(), tzinfo=CHINA)


@dataclass
class CandidateGroup:
    title: str
    terms: list[str]
    cards: list[Card]


@dataclass
class Candidates:
    groups: list[CandidateGroup]
    eligible: int
    dropped: dict[str, int]
    filtered_out: int  # picks the extra filters hid


def banner_candidates(
    db: Session, models: ModelSet, filters: CandidateFilters, limit: int = 40
) -> Candidates:
    """Banner picks (passed, L2–L3, tier ≥ 2, no near-duplicates, author cap), grouped into
    suggested collections, then narrowed by the page's trust, date and phase filters."""
    result = banner_picks(
        db, models, filters.circle_id, limit=limit, min_tier=max(filters.min_tier, BANNER_MIN_TIER)
    )
    found = cards(db, [p.post_id for g in result.groups for p in g.picks])
    groups, hidden = [], 0
    for group in result.groups:
        kept = [
            found[p.post_id]
            for p in group.picks
            if p.post_id in found and filters.admits(found[p.post_id])
        ]
        hidden += len(group.picks) - len(kept)
        if kept:
            groups.append(CandidateGroup(group.title, group.terms, kept))
    return Candidates(groups, result.eligible, result.dropped, hidden)


@dataclass
class Hit:
    card: Card
    similarity: float
    near_duplicate: bool = False


def semantic_search(
    db: Session, models: ModelSet, filters: CandidateFilters, k: int = 20
) -> list[Hit]:
    """Passed posts of the circle nearest to the free text (encoder + FAISS), filtered."""
    hits = search_similar(
        db, models, text=filters.query, k=k, circle_id=filters.circle_id, statuses=["pass"]
    )
    found = cards(db, [h.post_id for h in hits])
    return [
        Hit(found[h.post_id], h.similarity)
        for h in hits
        if h.post_id in found and filters.admits(found[h.post_id])
    ]


# --------------------------------------------------------------------------- one post
def similar_posts(
    db: Session, models: ModelSet, card: Card, k: int = 8, same_circle: bool = True
) -> list[Hit]:
    """The post's nearest neighbours (any status, so copies waiting in review show too),
    near-duplicates marked: at banner's ``DUP_COSINE`` or flagged at ingest."""
    hits = search_similar(
        db, models, post_id=card.id, k=k, circle_id=card.post.circle_id if same_circle else None
    )
    found = cards(db, [h.post_id for h in hits])
    out = []
    for h in hits:
        other = found.get(h.post_id)
        if other is None:
            continue
        flagged = card.id == other.near_duplicate_of or other.id == card.near_duplicate_of
        out.append(Hit(other, h.similarity, h.similarity >= DUP_COSINE or flagged))
    return out


# --------------------------------------------------------------------------- collections
@dataclass(frozen=True)
class Warning:
    kind: str  # near_duplicate | repeated_author | banner_rules
    message: str
    post_ids: tuple[str, ...]


def collection_warnings(
    db: Session, models: ModelSet | None, items: Sequence[Card]
) -> list[Warning]:
    """What an editor should fix before publishing: near-duplicate pairs, authors with more
    than one post, posts hidden from the served collection because moderation no longer
    passes them, and posts below the banner rules (passed, L2–L3, tier ≥ 2)."""
    out: list[Warning] = []
    ids = [c.id for c in items]
    vectors: dict[str, np.ndarray] = {}
    if models is not None and models.embedder is not None and models.index is not None:
        vectors = post_vectors(db, models, ids)
    if len(vectors) < len(ids):  # no encoder: hashed n-grams still catch copies
        rest = [c for c in items if c.id not in vectors]
        vectors.update(
            zip([c.id for c in rest], text_vectors([c.post.text for c in rest]), strict=True)
        )
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if {a.near_duplicate_of, b.near_duplicate_of} & {a.id, b.id}:
                sim = None
            else:
                sim = float(np.dot(vectors[a.id], vectors[b.id]))
                if sim < DUP_COSINE:
                    continue
            how = "flagged at ingest" if sim is None else f"cosine {sim:.2f}"
            out.append(
                Warning(
                    "near_duplicate", f"{a.id} and {b.id} are near-duplicates ({how})", (a.id, b.id)
                )
            )
    authors = Counter(c.post.author_id for c in items)
    for author, n in sorted(authors.items()):
        if n > 1:
            posts = tuple(c.id for c in items if c.post.author_id == author)
            name = next(c.author_name for c in items if c.post.author_id == author)
            out.append(
                Warning(
                    "repeated_author", f"{n} posts by {name} ({author}): {', '.join(posts)}", posts
                )
            )
    for card in items:
        flag = hidden_flag(card.post)
        if flag is not None:
            out.append(Warning("hidden", f"{card.id}: {flag}", (card.id,)))
    for card in items:
        why = card.below_banner_rules
        if why:
            out.append(Warning("banner_rules", f"{card.id}: " + "; ".join(why), (card.id,)))
    return out


# --------------------------------------------------------------------------- review queue
REVIEW_ORDERS = ("newest", "riskiest", "oldest")


@dataclass
class QueueItem:
    item: ReviewItem
    card: Card
    risk: float
    segments: list[Segment]
    flagged: list[str]  # labels moderation raised, offered as the reject's labels

    @property
    def reasons(self) -> dict[str, Any]:
        return self.item.reasons or {}


def review_queue(
    db: Session,
    *,
    order: str = "newest",
    circle_id: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[QueueItem], int]:
    """Open review items in the editor's order, with spans and evidence, and the total."""
    if order not in REVIEW_ORDERS:
        raise ValueError(f"order must be one of {REVIEW_ORDERS}")
    rows, total = review_logic.list_open(db, circle_id=circle_id, limit=REVIEW_POOL, offset=0)
    if order == "newest":
        if total > REVIEW_POOL:  # the newest are at the end of the oldest-first queue
            rows, total = review_logic.list_open(
                db, circle_id=circle_id, limit=REVIEW_POOL, offset=total - REVIEW_POOL
            )
        rows = rows[::-1]
    elif order == "riskiest":
        rows = sorted(rows, key=lambda r: (-review_logic.risk_of(r[0].reasons or {}), -r[0].id))
    page = rows[offset : offset + limit]
    found = cards(db, [post.id for _, post in page])
    out = []
    for item, post in page:
        card = found[post.id]
        flagged = sorted(
            {
                str(e.get("label"))
                for e in (item.reasons or {}).get("labels") or []
                if e.get("label") in get_args(review_logic.ModerationLabel)
            }
        )
        out.append(
            QueueItem(
                item,
                card,
                review_logic.risk_of(item.reasons or {}),
                segments(post.text, spans_of(card.labels)),
                flagged,
            )
        )
    return out, total


# --------------------------------------------------------------------------- hot lists
def latest_engagement(db: Session, circle_id: str) -> datetime | None:
    """When the circle's posts were last engaged with (to point an empty hot list at it)."""
    return db.scalar(
        select(func.max(Interaction.created_at))
        .join(Post, Post.id == Interaction.post_id)
        .where(Post.circle_id == circle_id)
    )


# --------------------------------------------------------------------------- circles
def circle_list(db: Session) -> list[Circle]:
    """Every circle by id, for the pages' circle pickers (tens of circles, not thousands)."""
    return list(db.scalars(select(Circle).order_by(Circle.id)))
