"""Copies caught: the world's copy-paste posts (搬运) against what ingest decided for them.

The circle world's generator knows which posts are verbatim copies of an earlier genuine
post, in any circle (``hidden/posts_truth.parquet``: ``filler_kind == "copy_paste"`` and
``source_post_id``). This evaluation reads that hidden truth — evaluation may, the serving
path never does — and the store a world was loaded and ingested into (``quanzi bootstrap``
for the demo world), and reports:

- caught: copies whose status is not ``pass`` (sent to review or rejected), overall and for
  cross-circle copies (source in another circle);
- flagged: copies whose moderation row names a near-duplicate (``near_duplicate_of``), and
  of those how many name the true source or another copy of it;
- live: copies still served (``pass``), and live copies that meet the banner rules'
  status/flag part (what could reach a banner pick or a hot list: there should be none);
- false flags: posts flagged as near-duplicates that are not copies (share of all flags),
  and genuine posts among them — the flags that cost a real review its place in the feed
  (the rest are templates, filler and ads, which moderation stops anyway);
- genuine reviews held back: the world's genuine (first-hand, non-violating) posts sent to
  review or rejected, and why (each moderation label not in its pass band, and
  ``near_duplicate``): the demo world's side of "real reviews sent to review ≤ 3 %".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from quanzi.storage.orm import Post, PostScore


@dataclass
class CopiesReport:
    copies: int
    cross_circle: int
    caught: int
    caught_cross_circle: int
    flagged: int
    flagged_true_source: int
    live: int
    live_unflagged: int
    flags: int  # posts of the world flagged as near-duplicates, copies or not
    false_flags: int
    genuine: int  # genuine posts (first-hand reviews) of the world in the store
    genuine_flagged: int
    statuses: dict[str, int]
    genuine_review: int = 0  # genuine posts in review
    genuine_reject: int = 0
    # reason → genuine posts held back (review or reject) for it; a post may have several
    genuine_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def caught_rate(self) -> float | None:
        return self.caught / self.copies if self.copies else None

    @property
    def cross_circle_caught_rate(self) -> float | None:
        return self.caught_cross_circle / self.cross_circle if self.cross_circle else None

    @property
    def flag_precision(self) -> float | None:
        return (self.flags - self.false_flags) / self.flags if self.flags else None

    def to_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "caught_rate": self.caught_rate,
            "cross_circle_caught_rate": self.cross_circle_caught_rate,
            "flag_precision": self.flag_precision,
        }


def read_truth(world_folder: Path) -> pd.DataFrame:
    """Every post's ``post_id``, ``kind``, ``filler_kind`` and ``source_post_id`` (the
    copied post, for copy-paste posts): the world's hidden truth."""
    return pd.read_parquet(
        world_folder / "hidden" / "posts_truth.parquet",
        columns=["post_id", "kind", "filler_kind", "source_post_id"],
    )


def held_back_reasons(payload: dict[str, object] | None) -> list[str]:
    """Why moderation held a post back: its labels outside the pass band, and
    ``near_duplicate`` when it names a post it copies."""
    payload = payload or {}
    labels = payload.get("labels") or []
    out = [
        str(lab["label"])
        for lab in labels  # type: ignore[union-attr]
        if isinstance(lab, dict) and lab.get("band", "pass") != "pass"
    ]
    if payload.get("near_duplicate_of"):
        out.append("near_duplicate")
    return out


def stored_outcomes(engine: Engine, post_ids: list[str] | None = None) -> pd.DataFrame:
    """Per stored post: circle, status, the near-duplicate its newest moderation row
    names (None when none) and the reasons it was held back (``held_back_reasons``)."""
    newest = (
        select(PostScore.post_id, func.max(PostScore.id).label("sid"))
        .where(PostScore.model_name == "moderation")
        .group_by(PostScore.post_id)
        .subquery()
    )
    query = (
        select(Post.id, Post.circle_id, Post.status, PostScore.payload)
        .outerjoin(newest, newest.c.post_id == Post.id)
        .outerjoin(PostScore, PostScore.id == newest.c.sid)
    )
    if post_ids is not None:
        query = query.where(Post.id.in_(post_ids))
    with engine.connect() as conn:
        rows = [
            (
                pid,
                circle,
                status,
                (payload or {}).get("near_duplicate_of"),
                held_back_reasons(payload),
            )
            for pid, circle, status, payload in conn.execute(query)
        ]
    return pd.DataFrame(rows, columns=["id", "circle_id", "status", "near_duplicate_of", "reasons"])


def evaluate_copies(engine: Engine, truth: pd.DataFrame, world_posts: pd.DataFrame) -> CopiesReport:
    """The report (module docstring) for a world's posts (``world_posts``: ``id``,
    ``circle_id``) as stored in ``engine``'s database."""
    stored = stored_outcomes(engine, world_posts["id"].tolist()).set_index("id")
    if stored.empty:
        raise ValueError("none of the world's posts is in the store: load and ingest it first")
    circle = dict(zip(world_posts["id"], world_posts["circle_id"], strict=True))
    truth = truth[truth["post_id"].isin(stored.index)]
    copies = truth[truth["filler_kind"] == "copy_paste"]
    genuine = set(truth.loc[truth["kind"] == "genuine", "post_id"])
    source = dict(zip(copies["post_id"], copies["source_post_id"], strict=True))
    group = {pid: src for pid, src in source.items()} | {src: src for src in source.values()}
    status = stored["status"]
    flag = stored["near_duplicate_of"]
    cross = [p for p, s in source.items() if circle.get(p) != circle.get(s)]
    caught = [p for p in source if status[p] != "pass"]
    flagged = [p for p in source if isinstance(flag[p], str)]
    true_source = [p for p in flagged if group.get(flag[p]) == source[p]]
    live = [p for p in source if status[p] == "pass"]
    all_flags = stored.index[stored["near_duplicate_of"].map(lambda v: isinstance(v, str))]
    held_back = [p for p in genuine if status[p] != "pass"]
    reasons = Counter(r for p in held_back for r in set(stored.at[p, "reasons"]) or {"(none)"})
    return CopiesReport(
        copies=len(source),
        cross_circle=len(cross),
        caught=len(caught),
        caught_cross_circle=len(set(caught) & set(cross)),
        flagged=len(flagged),
        flagged_true_source=len(true_source),
        live=len(live),
        live_unflagged=len([p for p in live if not isinstance(flag[p], str)]),
        flags=len(all_flags),
        false_flags=len([p for p in all_flags if p not in source]),
        genuine=len(genuine),
        genuine_flagged=len([p for p in all_flags if p in genuine]),
        statuses={str(k): int(v) for k, v in status[list(source)].value_counts().items()},
        genuine_review=len([p for p in held_back if status[p] == "review"]),
        genuine_reject=len([p for p in held_back if status[p] == "reject"]),
        genuine_reasons=dict(reasons.most_common()),
    )
