"""Readable explanations of a ranked post: why it has its trust level, and each ranking
reason as a short phrase ("posted 3 hours ago", "friend's post", "detailed usage review").

Why here: the feed response shows them to people (the feed service's product team, the
editors), who should not have to decode feature names such as ``fresh_72h``. Only the
served items (at most ``limit``) are explained, from the columns the pipeline already
hydrated: no lookup, a few microseconds per item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quanzi.models.content_type import CONTENT_TYPES

# What each content type is called in a phrase.
_TYPE_NAMES = {
    "guide": "shopping guide",
    "share": "post-purchase share",
    "usage": "usage experience",
    "question": "after-sales question",
    "unknown": "post",
}
_TIER_WORDS = {3: "detailed", 2: "useful", 1: "thin", 0: "unusable"}
_PHASE_NAMES = {
    "warmup": "the warm-up weeks",
    "seeding": "the seeding weeks before Double 11",
    "preheat": "the run-up to Double 11",
    "peak": "Double 11",
    "after_sales": "the after-sales weeks",
    "off_season": "the off season",
}
_BASE_REASONS = {
    2: "certified creator's first-hand review",
    3: "buyer's first-hand share",
    4: "publicity or expert endorsement",
    5: "merchant advertising",
    6: "promotion dressed up as a user's experience",
}
# Features grouped by what they say about the post (learned and weighted names alike).
_AGE = {"log_age", "fresh_6h", "fresh_24h", "fresh_72h", "age_rank", "top_rank", "freshness"}
_POPULAR = {"engagement", "log_impressions", "log_actions", "engagement_x_age"}
_RELATION = {
    "buyer_x_usage": "you bought from this brand: experience of using it",
    "fan_x_guide": "you are a fan of this brand: a shopping guide",
    "member_x_creator": "you are a member: a creator's review",
    "buyer_x_verified": "you bought from this brand: another buyer's share",
    "silent_x_engagement": "popular posts to bring you back",
    "norel_x_quality": "new to this brand: a helpful review",
}


def content_type_name(code: int) -> str:
    """The content type's name for a snapshot code (``models/content_type.py``)."""
    return CONTENT_TYPES[code] if 0 <= code < len(CONTENT_TYPES) else "unknown"


def age_phrase(hours: float) -> str:
    """ "posted 3 hours ago" / "posted 2 days ago"."""
    if hours < 1:
        return "posted within the hour"
    if hours < 48:
        n = round(hours)
        return f"posted {n} hour{'s' if n != 1 else ''} ago"
    return f"posted {round(hours / 24)} days ago"


def trust_reasons(row: Mapping[str, Any]) -> list[str]:
    """Why the post has its viewer-relative level: the strongest signals, strongest first."""
    level, base = int(row["viewer_level"]), int(row["base_level"])
    out = []
    if level == 1:
        out.append("friend of the viewer")
    if row["creator"] and base <= 3:
        out.append("certified creator")
    if row["verified"]:
        out.append("verified purchase")
    reason = _BASE_REASONS.get(base)
    if reason and (base >= 4 or not out or level == 1):
        out.append(reason)
    return out


def reason_text(
    name: str, contribution: float, row: Mapping[str, Any], ctx: Mapping[str, Any]
) -> str:
    """One ranking reason as a short phrase; ``row`` holds the item's hydrated columns,
    ``ctx`` the request's ``now_ts`` and ``phase``."""
    up = contribution >= 0
    if name.startswith("adjust_"):
        return f"experiment setting on {name.removeprefix('adjust_').replace('_', ' ')}"
    if name in _AGE:
        hours = max((ctx["now_ts"] - float(row["created_ts"])) / 3600.0, 0.0)
        return age_phrase(hours) if up else f"older post ({age_phrase(hours)})"
    kind = _TYPE_NAMES[content_type_name(int(row["ctype"]))]
    if name in ("quality", "quality_x_fresh"):
        tier = int(row["tier"])
        return f"{_TIER_WORDS.get(tier, 'rated')} {kind} (quality tier {tier})"
    if name in ("trust", "level_l1"):
        if int(row["viewer_level"]) == 1:
            return "friend's post"
        level = int(row["viewer_level"])
        return f"trusted level L{level}" if level <= 3 else f"low-trust content (L{level})"
    if name == "friend":
        return "friend's post" if row["is_friend"] else "not from a friend"
    if name == "merchant":
        return "merchant or advertising content"
    if name in _POPULAR or name == "engagement_x_fresh":
        return "readers engage with it" if up else "few reactions from readers"
    if name == "editorial":
        return "boosted by editors" if up else "lowered by editors"
    if name in ("phase", "content_type"):
        phase = _PHASE_NAMES.get(str(ctx["phase"]), str(ctx["phase"]))
        return f"{kind} suits {phase}" if up else f"{kind} is less useful in {phase}"
    if name == "interest":
        return "matches your interests" if up else "unlike what you usually read"
    if name == "follow":
        return "from an account you follow"
    if name == "negative_author":
        return "you hid posts by this author before"
    if name in _RELATION:
        return _RELATION[name]
    return name.replace("_", " ")
