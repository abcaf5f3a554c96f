"""A built world's public tables and held-out interactions, read for offline work.

The offline ranking evaluation (``quanzi eval ranking``) and the learned ranker's training
(``quanzi train ranker``) read a world from its folder (never through the database, never
``hidden/``): ``read_world`` gives the public tables, the held-out interactions and, for a
world with an exploration bucket, each logged request's policy.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quanzi.datasets.world.build import world_dir
from quanzi.settings import Settings

# The public tables offline ranking reads (``build.PUBLIC_TABLES`` less ``items``).
READ_TABLES = (
    "circles",
    "users",
    "user_relations",
    "brand_relations",
    "orders",
    "posts",
    "interactions",
)


@dataclass
class World:
    """A world's public tables and held-out interactions (``hidden/`` is never opened)."""

    name: str
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    holdout: pd.DataFrame
    # request_id → logging policy ("newest" / "random"), train and held-out days; empty for
    # worlds without an exploration bucket (every request was newest first).
    policy: dict[str, str] = field(default_factory=dict)

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest["cutoff"])

    @property
    def held_day_starts(self) -> list[pd.Timestamp]:
        """UTC instants of the held-out China-calendar midnights, in order."""
        return [
            pd.Timestamp(d, tz="Asia/Shanghai").tz_convert("UTC")
            for d in sorted(self.manifest["holdout_days"])
        ]

    @property
    def holdout_windows(self) -> list[list[pd.Timestamp]]:
        """The held-out days in runs of consecutive days: one run (the last days) for a
        default world, one or more per campaign phase for a ``holdout_per_phase`` world.
        Offline evaluation cuts the store at each run's first day."""
        runs: list[list[pd.Timestamp]] = []
        for start in self.held_day_starts:
            if runs and start - runs[-1][-1] == pd.Timedelta(days=1):
                runs[-1].append(start)
            else:
                runs.append([start])
        return runs

    @property
    def explores(self) -> bool:
        """Whether the world logged exploration (random-order) requests."""
        return "random" in self.policy.values()


def require_world(settings: Settings, name: str) -> Path:
    """The world's manifest path, or a FileNotFoundError saying how to build the world
    (callers check this before creating anything, e.g. an MLflow store)."""
    manifest_path = world_dir(settings, name) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"world {name!r} not found in {settings.worlds_dir}: run "
            f"`quanzi world build` (or `quanzi world list`)"
        )
    return manifest_path


def read_world(settings: Settings, name: str) -> World:
    """Read the public tables named in the manifest and the held-out interactions."""
    manifest_path = require_world(settings, name)
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in READ_TABLES}
    holdout = pd.read_parquet(folder / manifest["eval"]["file"])
    policy: dict[str, str] = {}
    if "requests" in manifest:  # the request log of a world with an exploration bucket
        for key in ("file", "holdout_file"):
            log_ = pd.read_parquet(
                folder / manifest["requests"][key], columns=["request_id", "policy"]
            )
            policy.update(zip(log_["request_id"], log_["policy"], strict=True))
    return World(name, manifest, tables, holdout, policy)


def friends_of(world: World, kind: str = "friend") -> dict[str, set[str]]:
    """Viewer → the other ends of its ``user_relations`` of ``kind`` (friend / follow)."""
    rel = world.tables["user_relations"]
    rel = rel[rel["kind"] == kind]
    out: dict[str, set[str]] = defaultdict(set)
    for u, o in zip(rel["user_id"], rel["other_id"], strict=True):
        out[u].add(o)
    return out


def circle_activity(world: World) -> dict[tuple[str, str], bool]:
    br = world.tables["brand_relations"]
    out: dict[tuple[str, str], bool] = {}
    for u, c, a in zip(br["user_id"], br["circle_id"], br["active"], strict=True):
        out[(u, c)] = out.get((u, c), False) or bool(a)
    return out


def brand_relations_of(
    world: World, cutoff: pd.Timestamp | None = None
) -> dict[str, list[tuple[str, str, bool]]]:
    """Viewer → its brand relations ``(circle, kind, active)`` made before ``cutoff`` (all
    without one): what the service's store would hold then."""
    br = world.tables["brand_relations"]
    if cutoff is not None and "created_at" in br:
        br = br[br["created_at"] < cutoff]
    out: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for u, c, k, a in zip(br["user_id"], br["circle_id"], br["kind"], br["active"], strict=True):
        out[u].append((c, k, bool(a)))
    return out
