"""Circle admission (准入规则): may a brand open a brand circle? Rule by rule, per domain.md.

A brand needs (1) an official Tmall flagship store, (2) to be well known in its consumer
or vertical field, and (3) a fan base meeting any ONE of the channel thresholds below.
An eligible application then waits for two operations reviews; those are people, so
this service records the wait and never decides it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from quanzi.serving.editorial.errors import NotFound
from quanzi.storage.orm import CircleApplication

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
) -> CircleApplication:
    """Evaluate and store an application; an eligible one waits for two operations reviews."""
    results = evaluate(has_tmall_flagship=has_tmall_flagship, well_known=well_known, fans=fans)
    eligible = all(r.passed for r in results)
    row = CircleApplication(
        brand=brand,
        facts={"has_tmall_flagship": has_tmall_flagship, "well_known": well_known, **fans},
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


def _jsonable(result: RuleResult) -> dict[str, Any]:
    out = asdict(result)
    if out["channels"] is None:
        del out["channels"]
    return out
