"""SQLAlchemy 2 table definitions: the store the service and every command share.

Ids of circles, users, items, orders and posts are strings chosen by the caller (the
feed service's own ids), so ingest is idempotent by id. Hidden variables of the
simulated circle world (true quality, true trust level, interests) are never stored
here: they stay in the world's ``hidden/`` folder, out of the serving path's reach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from quanzi.storage.types import UTCDateTime

# Deterministic constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_KINDS = ("user", "creator", "merchant")
USER_RELATION_KINDS = ("friend", "follow")
BRAND_RELATION_KINDS = ("fan", "member", "past_buyer")
POST_STATUSES = ("pending", "pass", "review", "reject", "removed")
INTERACTION_KINDS = (
    "impression",
    "click",
    "like",
    "favourite",
    "comment",
    "share",
    "hide",
    "report",
)
RULE_ACTIONS = ("block", "review")
OVERRIDE_ACTIONS = ("pin", "boost", "remove")
COLLECTION_STATUSES = ("draft", "published")
API_KEY_ROLES = ("feed-service", "ingest", "editor", "admin", "brand-manager")
# ops_review_pending → open (both operations reviews passed: the circle exists) or
# rejected (a review failed); ineligible: the admission rules were not met.
APPLICATION_STATUSES = ("ops_review_pending", "ineligible", "open", "rejected")
OPS_REVIEW_DECISIONS = ("pass", "reject")
# brand 品牌圈 · interest 兴趣圈 (defined by its topics) · industry 行业圈 (gathers brand
# circles: their ``parent_id``) · sku_qa 问大家 (one SKU's questions: its ``item_id``)
CIRCLE_KINDS = ("brand", "interest", "industry", "sku_qa")
TOPIC_STATUSES = ("active", "hidden", "merged")
TOPIC_SOURCES = ("tag", "discovered", "editor")
POST_TOPIC_SOURCES = ("tag", "assigned")
QA_STATUSES = ("pass", "review", "reject", "removed")
TOPIC_NAME_MAX = 30  # characters of a topic name (#话题#)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), nullable=False
    )


class Circle(TimestampMixin, Base):
    """A circle of one of four kinds (``CIRCLE_KINDS``): a brand circle (品牌圈, one per
    brand, in one shopping category), an interest circle (兴趣圈, defined by its topics), an
    industry circle (行业圈, gathering the brand circles whose ``parent_id`` it is) or a SKU
    Q&A circle (问大家, the questions on one ``item_id``)."""

    __tablename__ = "circles"
    __table_args__ = (CheckConstraint(_in("kind", CIRCLE_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="brand")
    category: Mapped[str] = mapped_column(String(64), index=True)
    brand: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # A brand circle's industry circle; a SKU Q&A circle's brand circle.
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # A SKU Q&A circle's product (no foreign key: items already point at circles).
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class User(TimestampMixin, Base):
    """An account: an ordinary user, a (possibly certified) creator, or a merchant."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("kind", USER_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="user", index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    creator_certified: Mapped[bool] = mapped_column(Boolean, default=False)
    account_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # For merchant accounts: the brand circle the merchant runs.
    merchant_circle_id: Mapped[str | None] = mapped_column(
        ForeignKey("circles.id", ondelete="SET NULL"), nullable=True
    )


class UserRelation(TimestampMixin, Base):
    """A directed user→user edge; friendship is stored in both directions."""

    __tablename__ = "user_relations"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "other_id", name="uq_user_relations_edge"),
        CheckConstraint(_in("kind", USER_RELATION_KINDS), name="kind"),
        Index("ix_user_relations_other", "other_id", "kind"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    other_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))


class BrandRelation(TimestampMixin, Base):
    """A user's relation to a brand circle: fan, member or past buyer, active or silent."""

    __tablename__ = "brand_relations"
    __table_args__ = (
        UniqueConstraint("user_id", "circle_id", "kind", name="uq_brand_relations_edge"),
        CheckConstraint(_in("kind", BRAND_RELATION_KINDS), name="kind"),
        Index("ix_brand_relations_circle", "circle_id", "kind"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Item(TimestampMixin, Base):
    """A product (SKU) sold in a brand circle's store."""

    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    price: Mapped[float] = mapped_column(Float, default=0.0)


class Order(Base):
    """A purchase; a post by the buyer about the item after this time is a verified purchase."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_user_item", "user_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Post(Base):
    """A circle post; ``status`` is the moderation outcome, text is stored exactly as written."""

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint(_in("status", POST_STATUSES), name="status"),
        Index("ix_posts_circle_created", "circle_id", "created_at"),
        Index("ix_posts_author_created", "author_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[str | None] = mapped_column(
        ForeignKey("items.id", ondelete="SET NULL"), nullable=True
    )
    order_id: Mapped[str | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which model versions produced the post's stored scores, status and vector
    # (``models/model_versions.versions_key``); ``quanzi posts rescore`` selects posts whose
    # key differs from the chosen models. NULL: scored before keys were recorded.
    scored_versions: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class PostScore(Base):
    """One model version's output for one post (moderation, quality, trust, …)."""

    __tablename__ = "post_scores"
    __table_args__ = (
        UniqueConstraint("post_id", "model_name", "model_version", name="uq_post_scores_version"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    label: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Interaction(Base):
    """A viewer's action on a post, as logged by the feed service."""

    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint(_in("kind", INTERACTION_KINDS), name="kind"),
        Index("ix_interactions_user_created", "user_id", "created_at"),
        Index("ix_interactions_post_kind", "post_id", "kind"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Collection(TimestampMixin, Base):
    """An editor's collection (合集) of posts for the banner or an editorial slot."""

    __tablename__ = "collections"
    __table_args__ = (CheckConstraint(_in("status", COLLECTION_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CollectionItem(Base):
    """A post in a collection, at a position."""

    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # Set when an editor put the post in despite the guardrails (below the banner rules, or
    # a near-duplicate of an item already in): who, and why. NULL: no override was needed.
    override_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReviewItem(TimestampMixin, Base):
    """A post waiting in the moderation review queue, with why it was sent there."""

    __tablename__ = "review_queue"
    __table_args__ = (Index("ix_review_queue_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), unique=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")


class ReviewDecision(TimestampMixin, Base):
    """An editor's decision on a queued post; it becomes training data for the next run."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("review_queue.id", ondelete="CASCADE"), index=True
    )
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    editor: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)


class CircleRule(TimestampMixin, Base):
    """A circle's own blocked or review-only term, matched after normalisation."""

    __tablename__ = "circle_rules"
    __table_args__ = (
        UniqueConstraint("circle_id", "term", name="uq_circle_rules_term"),
        CheckConstraint(_in("action", RULE_ACTIONS), name="action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    term: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))


class HotListOverride(TimestampMixin, Base):
    """An editor's hand adjustment of a circle's hot list (pin, boost, remove)."""

    __tablename__ = "hotlist_overrides"
    __table_args__ = (
        UniqueConstraint("circle_id", "post_id", name="uq_hotlist_overrides_post"),
        CheckConstraint(_in("action", OVERRIDE_ACTIONS), name="action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    # pin: the 1-based position; boost: a multiplier on heat; remove: unused.
    value: Mapped[float] = mapped_column(Float, default=0.0)
    editor: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PostEmbedding(Base):
    """A post's vector under one encoder version: what every worker's index is built from.

    Stored so that a worker (or ``quanzi index rebuild``) never re-embeds a post another
    process has embedded; ``vector`` is little-endian float32 bytes, L2-normalised.
    """

    __tablename__ = "post_embeddings"

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    encoder_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class IndexChange(Base):
    """One entry of the index change log: "post ``post_id`` may have changed, re-read it".

    Workers tail it by ``seq`` to keep their in-memory indexes in step with the store. No
    foreign key: the entry must outlive a deleted post so that workers drop it too.
    """

    __tablename__ = "index_changes"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    post_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class ApiKey(TimestampMixin, Base):
    """An API key: only a salted hash is kept; ``prefix`` is the public part used for lookup."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("role", API_KEY_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(128))  # sha256(salt ‖ key), hex
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # For a brand-manager key: the one brand circle whose own rules it may manage.
    circle_id: Mapped[str | None] = mapped_column(
        ForeignKey("circles.id", ondelete="CASCADE"), nullable=True
    )


class CircleApplication(TimestampMixin, Base):
    """A brand's application to open a circle, with its rule-by-rule admission result."""

    __tablename__ = "circle_applications"
    __table_args__ = (CheckConstraint(_in("status", APPLICATION_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand: Mapped[str] = mapped_column(String(200), index=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what the brand declared
    eligible: Mapped[bool] = mapped_column(Boolean)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)  # one entry per rule
    status: Mapped[str] = mapped_column(String(24))
    reviews_required: Mapped[int] = mapped_column(Integer, default=2)
    reviews_done: Mapped[int] = mapped_column(Integer, default=0)
    submitted_by: Mapped[str] = mapped_column(String(100), default="")
    # The circle opened for the brand once both operations reviews passed.
    circle_id: Mapped[str | None] = mapped_column(
        ForeignKey("circles.id", ondelete="SET NULL"), nullable=True
    )


class CircleApplicationReview(TimestampMixin, Base):
    """One operations review of an eligible application (two are required, by two people)."""

    __tablename__ = "circle_application_reviews"
    __table_args__ = (
        UniqueConstraint("application_id", "reviewer", name="uq_circle_application_reviews_by"),
        CheckConstraint(_in("decision", OPS_REVIEW_DECISIONS), name="decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("circle_applications.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class ConsoleSession(TimestampMixin, Base):
    """A signed-in editor console session: the cookie holds a random token, this row only
    its SHA-256 (a copy of the database signs nobody in), the API key it was opened with
    (revoking the key ends the session) and the session's CSRF token."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256, hex
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RescoreRun(Base):
    """One ``quanzi posts rescore``: the chosen versions, the selection, its state.

    ``id`` is a digest of the versions and selection, so the same command run again after
    a kill finds its unfinished run and resumes it (``serving/rescore/plan.py``).
    """

    __tablename__ = "rescore_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    blocks: Mapped[int] = mapped_column(Integer, default=0)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RescoreBlock(Base):
    """One id range of a rescore run: the progress record a killed run resumes from.

    ``done_posts`` grows in the same transaction that writes the block's posts, so a block
    counts as done exactly when its writes are committed (``done_posts >= posts``).
    """

    __tablename__ = "rescore_blocks"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("rescore_runs.id", ondelete="CASCADE"), primary_key=True
    )
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    lo: Mapped[str] = mapped_column(String(64))  # first post id of the range (inclusive)
    hi: Mapped[str | None] = mapped_column(String(64), nullable=True)  # exclusive; None: open
    posts: Mapped[int] = mapped_column(Integer, default=0)  # posts the read found in the range
    done_posts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Topic(TimestampMixin, Base):
    """A circle's topic (话题): from ``#tags#``, discovered by clustering, or made by an
    editor. Editors' renames, merges and hides stick: re-clustering never touches a topic
    an editor has acted on (``edited``), and a merged topic forwards to ``merged_into``."""

    __tablename__ = "topics"
    __table_args__ = (
        UniqueConstraint("circle_id", "name", name="uq_topics_circle_name"),
        CheckConstraint(_in("status", TOPIC_STATUSES), name="status"),
        CheckConstraint(_in("source", TOPIC_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(TOPIC_NAME_MAX))
    status: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str] = mapped_column(String(16), default="tag")
    merged_into: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="SET NULL"), nullable=True
    )
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class PostTopic(Base):
    """A post in a topic: tagged by its author (``tag``) or assigned by the encoder."""

    __tablename__ = "post_topics"
    __table_args__ = (
        CheckConstraint(_in("source", POST_TOPIC_SOURCES), name="source"),
        Index("ix_post_topics_topic_created", "topic_id", "created_at"),
    )

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(16), default="tag")
    score: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the post's creation time


class Question(Base):
    """A question (问大家) asked on a product (SKU) in a circle."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint(_in("status", QA_STATUSES), name="status"),
        Index("ix_questions_item_created", "item_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pass")
    moderation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Answer(Base):
    """A reply to a question; ``non_answer`` is the classifier's probability that it does not
    answer (不知道, 还没用, 同问, ads, off-topic)."""

    __tablename__ = "answers"
    __table_args__ = (
        CheckConstraint(_in("status", QA_STATUSES), name="status"),
        Index("ix_answers_author_created", "author_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_id: Mapped[str] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pass")
    moderation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    non_answer: Mapped[float | None] = mapped_column(Float, nullable=True)
    helpful_votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QuestionInvite(Base):
    """A past buyer asked to answer a question (the ask-the-buyer log the ranker learns
    from, and what caps how often one person is asked)."""

    __tablename__ = "question_invites"
    __table_args__ = (
        UniqueConstraint("question_id", "user_id", name="uq_question_invites_pair"),
        Index("ix_question_invites_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    question_id: Mapped[str] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    policy: Mapped[str] = mapped_column(String(16), default="model")  # model | random
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
