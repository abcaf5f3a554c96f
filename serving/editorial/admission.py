"""Circle admission (准入规则): may a brand open a brand circle? Rule by rule, per domain.md.

A brand needs (1) an official Tmall flagship store, (2) to be well known in its consumer
or vertical field, and (3) a fan base meeting any ONE of the channel thresholds below.
An eligible application then waits for two operations reviews; those are people, so
this service records them and never decides them: each review is an admin key's pass or
reject with a note, by two different reviewers. One reject closes the application
(``rejected``); the second pass opens the brand's circle (``open``: a ``circles`` row,
with the id and category the application asked for) — from then on its brand-manager key
(``quanzi keys create --role brand-manager --circle …``) manages the circle's own rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.serving.editorial.errors import Conflict, NotFound
from quanzi.storage.orm import Circle, CircleApplication, CircleApplicationReview

# Fan-base channels and their thresholds (domain.md, "Opening a brand circle").
FAN_THRESHOLDS: dict[str, tuple[int, str]] = {
    "weibo_fans": (50_000, "official Weibo fans"),
    "wechat_fans": (10_000, "WeChat official account fans"),
    "community_users": (50_000, "registered users of the official community"),
    "weitao_fans": (200_000, "Weitao fans"),
    "tieba_members": (50_000, "Baidu Tieba brand bar members"),
}
OPS_REVIEWS_REQUIRED = 2


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    value: int | None  # None: not declared
    threshold: int
    passed: bool


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str
    channels: list[ChannelResult] | None = None


def evaluate(
    *, has_tmall_flagship: bool, well_known: bool, fans: dict[str, int | None]
) -> list[RuleResult]:
    """One result per admission rule, in domain.md's order."""
    unknown = set(fans) - set(FAN_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown fan channels {sorted(unknown)}")
    channels = [
        ChannelResult(
            channel=name,
            value=fans.get(name),
            threshold=threshold,
            passed=fans.get(name) is not None and fans[name] >= threshold,
        )  # type: ignore[operator]
        for name, (threshold, _) in FAN_THRESHOLDS.items()
    ]
    met = [c for c in channels if c.passed]
    fan_detail = (
        "met by "
        + ", ".join(f"{FAN_THRESHOLDS[c.channel][1]} {c.value:,} ≥ {c.threshold:,}" for c in met)
        if met
        else "no channel meets its threshold: "
        + "; ".join(f"{FAN_THRESHOLDS[name][1]} ≥ {t:,}" for name, (t, _) in FAN_THRESHOLDS.items())
    )
    return [
        RuleResult(
            "tmall_flagship_store",
            has_tmall_flagship,
            "has an official Tmall flagship store"
            if has_tmall_flagship
            else "an official Tmall flagship store is required",
        ),
        RuleResult(
            "well_known",
            well_known,
            "well known in its consumer or vertical field"
            if well_known
            else "the brand must be well known in its consumer or vertical field",
        ),
        RuleResult("fan_base", bool(met), fan_detail, channels),
    ]


def submit_application(
    session: Session,
    *,
    brand: str,
    has_tmall_flagship: bool,
    well_known: bool,
    fans: dict[str, int | None],
    submitted_by: str,
    circle_id: str | None = None,
    category: str = "other",
) -> CircleApplication:
    """Evaluate and store an application; an eligible one waits for two operations reviews.
    ``circle_id`` and ``category`` are what the circle gets once it opens."""
    results = evaluate(has_tmall_flagship=has_tmall_flagship, well_known=well_known, fans=fans)
    eligible = all(r.passed for r in results)
    row = CircleApplication(
        brand=brand,
        facts={
            "has_tmall_flagship": has_tmall_flagship,
            "well_known": well_known,
            **fans,
            "circle_id": circle_id,
            "category": category,
        },
        eligible=eligible,
        results=[_jsonable(r) for r in results],
        status="ops_review_pending" if eligible else "ineligible",
        reviews_required=OPS_REVIEWS_REQUIRED if eligible else 0,
        reviews_done=0,
        submitted_by=submitted_by,
    )
    session.add(row)
    session.flush()
    return row


def get_application(session: Session, application_id: int) -> CircleApplication:
    row = session.get(CircleApplication, application_id)
    if row is None:
        raise NotFound(f"circle application {application_id} not found")
    return row


def list_applications(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[list[CircleApplication], int]:
    """Applications newest first, optionally of one status, and how many match."""
    query = select(CircleApplication)
    if status is not None:
        query = query.where(CircleApplication.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(CircleApplication.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def reviews_of(session: Session, application_id: int) -> list[CircleApplicationReview]:
    return list(
        session.scalars(
            select(CircleApplicationReview)
            .where(CircleApplicationReview.application_id == application_id)
            .order_by(CircleApplicationReview.id)
        )
    )


def record_review(
    session: Session, application_id: int, *, reviewer: str, decision: str, note: str
) -> CircleApplication:
    """Store one operations review; a reject closes the application, the last pass opens
    the circle (module docstring)."""
    row = get_application(session, application_id)
    if row.status != "ops_review_pending":
        raise Conflict(
            f"application {application_id} is {row.status}: only applications waiting for "
            "operations reviews take one"
        )
    if any(r.reviewer == reviewer for r in reviews_of(session, application_id)):
        raise Conflict(
            f"{reviewer} already reviewed application {application_id}: the two operations "
            "reviews are by two different people"
        )
    session.add(
        CircleApplicationReview(
            application_id=row.id, reviewer=reviewer, decision=decision, note=note.strip()
        )
    )
    row.reviews_done += 1
    if decision == "reject":
        row.status = "rejected"
    elif row.reviews_done >= row.reviews_required:
        row.circle_id = _open_circle(session, row).id
        row.status = "open"
    session.flush()
    return row


def _open_circle(session: Session, row: CircleApplication) -> Circle:
    facts = row.facts or {}
    circle_id = facts.get("circle_id") or f"c_app{row.id}"
    if session.get(Circle, circle_id) is not None:
        raise Conflict(
            f"circle {circle_id!r} already exists: the application cannot open it (submit "
            "a new application with another `circle_id`)"
        )
    circle = Circle(
        id=circle_id,
        name=row.brand,
        kind="brand",
        category=str(facts.get("category") or "other"),
        brand=row.brand,
        description=f"opened by application {row.id}",
    )
    session.add(circle)
    session.flush()
    return circle


def _jsonable(result: RuleResult) -> dict[str, Any]:
    out = asdict(result)
    if out["channels"] is None:
        del out["channels"]
    return out
