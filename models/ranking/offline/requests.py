"""Logged feed requests of a world, as the offline protocol replays them.

A *request* is one (viewer, China-calendar day) of logged impressions: its candidates are
the posts the viewer was shown that day, graded by the viewer's strongest action on each
(share / favourite / comment 3, like 2, click 1, nothing / hide / report 0). Requests with
fewer than 2 candidates or no relevant post are skipped (NDCG is undefined for them).
Each viewer's context is built from history before a cutoff only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from quanzi.datasets.world.tables import World
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.params import campaign_phase
from quanzi.models.ranking.query import ViewerContext
from quanzi.models.ranking.viewer_loader import build_viewer_context

GRADES = {"share": 3, "favourite": 3, "comment": 3, "like": 2, "click": 1}
FRIEND_RICH = 5  # friends from which a viewer counts as friend-rich


@dataclass
class EvalRequest:
    viewer_id: str
    circle_id: str
    now: datetime
    candidates: list[str]  # in shown order
    relevance: dict[str, int]
    position: dict[str, int]  # logged position (for the debiased metric)
    # (friends segment, relation segment, then brand-relation kinds and the campaign phase)
    segments: tuple[str, ...]
    policy: str = "newest"  # logging policy: "random" = exploration bucket (random order)


def make_requests(
    interactions: pd.DataFrame,
    posts: pd.DataFrame,
    friends: dict[str, set[str]],
    relation: dict[tuple[str, str], bool],
    policy: Mapping[str, str] | None = None,
    kinds: Mapping[tuple[str, str], frozenset[str]] | None = None,
) -> list[EvalRequest]:
    """One request per (viewer, China day): shown posts, graded by the strongest action.

    ``policy`` (request_id → logging policy) marks a request ``random`` when every logged
    request behind its impressions was an exploration request. ``kinds`` ((viewer, circle)
    → brand-relation kinds) adds a segment per kind (``fan``, ``member``, ``past-buyer``);
    every request also gets its campaign phase's segment (``phase:<name>``)."""
    df = interactions.copy()
    df["day"] = df["created_at"].dt.tz_convert("Asia/Shanghai").dt.date
    circle_of = dict(zip(posts["id"], posts["circle_id"], strict=True))
    out: list[EvalRequest] = []
    for (viewer, _day), g in df.groupby(["user_id", "day"], sort=True):
        shown = g[g["kind"] == "impression"].sort_values(["created_at", "position"])
        candidates = list(dict.fromkeys(shown["post_id"]))
        position = {
            p: int(x) if pd.notna(x) else 0
            for p, x in zip(shown["post_id"], shown["position"], strict=True)
        }
        if len(candidates) < 2:
            continue
        rel: dict[str, int] = dict.fromkeys(candidates, 0)
        for pid, kind in zip(g["post_id"], g["kind"], strict=True):
            if pid in rel:
                rel[pid] = max(rel[pid], GRADES.get(kind, 0))
        if max(rel.values()) == 0:
            continue
        circle = Counter(circle_of[p] for p in candidates).most_common(1)[0][0]
        n_friends = len(friends.get(viewer, ()))
        fseg = (
            "friend-rich"
            if n_friends >= FRIEND_RICH
            else ("friendless" if n_friends == 0 else "some-friends")
        )
        active = relation.get((viewer, circle))
        rseg = "active" if active else ("silent" if active is not None else "no-relation")
        logged = {policy.get(r, "newest") for r in shown["request_id"]} if policy else set()
        now = shown["created_at"].min().to_pydatetime()
        brand = sorted((kinds or {}).get((viewer, circle), ()))
        segments = (fseg, rseg, *(k.replace("_", "-") for k in brand))
        segments += (f"phase:{campaign_phase(now)}",)
        out.append(
            EvalRequest(
                str(viewer),
                circle,
                now,
                candidates,
                rel,
                position,
                segments,
                "random" if logged == {"random"} else "newest",
            )
        )
    return out


def relation_kinds(
    brand: Mapping[str, list[tuple[str, str, bool]]],
) -> dict[tuple[str, str], frozenset[str]]:
    """(viewer, circle) → the viewer's brand-relation kinds there (``make_requests``)."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for viewer, rows in brand.items():
        for circle, kind, _ in rows:
            out[(viewer, circle)].add(kind)
    return {key: frozenset(v) for key, v in out.items()}


def viewer_contexts(
    world: World,
    cutoff: pd.Timestamp,
    viewers: set[str],
    store: SnapshotFeedStore,
    friends: dict[str, set[str]],
    follows: dict[str, set[str]] | None = None,
    brand: Mapping[str, list[tuple[str, str, bool]]] | None = None,
) -> dict[str, ViewerContext]:
    """Each viewer's context from history before ``cutoff`` (newest first); ``brand``:
    each viewer's brand relations (``datasets/world/tables.brand_relations_of``)."""
    inter = world.tables["interactions"]
    before = inter[(inter["created_at"] < cutoff) & inter["user_id"].isin(viewers)]
    before = before.sort_values(["created_at", "id"], ascending=False)
    author = dict(zip(world.tables["posts"]["id"], world.tables["posts"]["author_id"], strict=True))
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for uid, pid, kind in zip(before["user_id"], before["post_id"], before["kind"], strict=True):
        history[uid].append((pid, kind, author.get(pid, "")))
    follows, brand = follows or {}, brand or {}
    return {
        v: build_viewer_context(
            v,
            friends.get(v, set()),
            history.get(v, []),
            store,
            follows=follows.get(v, set()),
            brand=brand.get(v, ()),
        )
        for v in viewers
    }
