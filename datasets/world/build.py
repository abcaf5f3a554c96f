"""`build_world`: run the generator stage by stage and write the world's folder.

Layout of ``Settings().worlds_dir / <name>``::

    circles.parquet users.parquet user_relations.parquet brand_relations.parquet
    items.parquet orders.parquet posts.parquet interactions.parquet   # public: ORM columns
    topics.parquet post_topics.parquet questions.parquet answers.parquet
    question_invites.parquet                  # public: topic tags and Q&A (issue 17)
    hidden/posts_truth.parquet hidden/users_truth.parquet hidden/config.json  # truth
    hidden/qa_truth.parquet                   # buyers' latent answering traits
    eval/interactions_holdout.parquet       # last K days (or of each phase: holdout_per_phase)
    requests.parquet eval/requests_holdout.parquet   # only with an exploration bucket
    manifest.json                                                     # sizes, stats, hashes

``requests*.parquet`` is the request log of a world with ``explore_fraction`` > 0: one row
per feed request (``request_id``, viewer, circle, time, ``policy`` = ``newest`` or
``random``). The policy is logging metadata a real platform records with each served
list, so it is public; it is not an ORM table (``load_world`` does not insert it). Worlds
without a bucket have no request log: every request was shown newest first.

Public tables carry exactly the ORM columns, so ``load_world`` can insert them as they
are; nothing hidden is ever written next to them. The folder is written under a
temporary name and renamed at the end, so a half-built world is never picked up.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from quanzi.datasets.world.behaviour import CLICK, IMPRESSION, LIKE, REPORT, simulate
from quanzi.datasets.world.config import CIRCLES, POST_KINDS, WorldConfig
from quanzi.datasets.world.content import load_sources, splits_of
from quanzi.datasets.world.graph import (
    KIND_CREATOR,
    KIND_MERCHANT,
    REL_PAST_BUYER,
    brand_relations,
    degree_stats,
    display_names,
    follow_edges,
    friend_edges,
    make_accounts,
)
from quanzi.datasets.world.posts import GENUINE, epoch, make_items, make_posts
from quanzi.datasets.world.qa_world import (
    ANSWER_LABELS,
    QAConfig,
    extra_circles,
    industry_of,
    make_traits,
    qa_tables,
    topic_tables,
)
from quanzi.settings import Settings
from quanzi.storage.orm import BRAND_RELATION_KINDS, INTERACTION_KINDS, USER_KINDS, Base

PUBLIC_TABLES = (
    "circles",
    "users",
    "user_relations",
    "brand_relations",
    "items",
    "orders",
    "posts",
    "interactions",
    "topics",
    "post_topics",
    "questions",
    "answers",
    "question_invites",
)
HOLDOUT_FILE = "eval/interactions_holdout.parquet"
REQUESTS_FILE = "requests.parquet"
REQUESTS_HOLDOUT_FILE = "eval/requests_holdout.parquet"
POLICIES = ("newest", "random")  # logging policy of a request: newest first, exploration
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TS = pa.timestamp("us", tz="UTC")
PARQUET_OPTS: dict[str, Any] = {"compression": "zstd", "row_group_size": 1 << 20}


def default_name(posts: int, seed: int, explore_fraction: float = 0.0) -> str:
    """``p{posts}-s{seed}``, with ``-x{percent}`` when the world has an exploration bucket."""
    base = f"p{posts}-s{seed}"
    if explore_fraction <= 0:
        return base
    pct = explore_fraction * 100
    return f"{base}-x{pct:.0f}" if abs(pct - round(pct)) < 1e-9 else f"{base}-x{pct:g}"


def world_dir(settings: Settings, name: str) -> Path:
    if not NAME_RE.match(name):
        raise ValueError(f"invalid world name {name!r}: use letters, digits, '.', '_' or '-'")
    return settings.worlds_dir / name


# --- arrow helpers ------------------------------------------------------------------------
def _ids(prefix: str, n: int, width: int, start: int = 1) -> pa.Array:
    """prefix + zero-padded numbers from ``start``, e.g. u000001."""
    nums = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width, "0"), "")


def _take(ids: pa.Array, index: np.ndarray) -> pa.Array:
    """ids[index], null where index < 0."""
    mask = index < 0
    return pc.take(ids, pa.array(np.where(mask, 0, index), mask=mask if mask.any() else None))


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000).cast(TS)


def _table(name: str, columns: dict[str, Any]) -> pa.Table:
    """A table with exactly the ORM columns of ``name``, in ORM order."""
    orm_cols = [c.name for c in Base.metadata.tables[name].columns]
    if set(orm_cols) != set(columns):
        raise RuntimeError(f"{name}: columns {sorted(columns)} != ORM columns {sorted(orm_cols)}")
    return pa.table({c: columns[c] for c in orm_cols})


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **PARQUET_OPTS)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shares(values: np.ndarray, names: tuple[str, ...] | list[str]) -> dict[str, float]:
    counts = np.bincount(values, minlength=len(names))
    total = max(1, int(counts.sum()))
    return {n: round(float(c) / total, 4) for n, c in zip(names, counts, strict=True)}


def _ratio(a: float, b: float) -> float:
    return round(float(a) / float(b), 5) if b else 0.0


class _Stages:
    """A rich progress display: one bar over the stages, one for the current stage's steps."""

    def __init__(self, enabled: bool, n_stages: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not enabled,
        )
        self.overall = self.progress.add_task("world", total=n_stages)
        self.step: Any = None

    def __enter__(self) -> _Stages:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def stage(self, name: str, total: int = 1) -> Callable[[int], None]:
        if self.step is not None:
            self.progress.update(self.step, completed=self.progress.tasks[self.step].total)
            self.progress.advance(self.overall)
        self.step = self.progress.add_task(f"  {name}", total=total)
        return lambda n=1: self.progress.advance(self.step, n)

    def done(self) -> None:
        self.stage("done")
        self.progress.update(self.step, completed=1)


def build_world(
    settings: Settings,
    posts: int,
    seed: int,
    name: str | None = None,
    *,
    config: WorldConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate a world of ``posts`` posts from ``seed`` and return its folder.

    Same (config, posts, seed) → byte-identical Parquet tables.
    """
    if posts < 100:
        raise ValueError(f"--posts must be at least 100 (got {posts})")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0 (got {seed})")
    cfg = config or WorldConfig()
    name = name or default_name(posts, seed, cfg.explore_fraction)
    final = world_dir(settings, name)
    if final.exists() and not overwrite:
        raise FileExistsError(
            f"world {name!r} already exists at {final}; pass --force to "
            "rebuild it or choose another --name"
        )
    settings.ensure_dirs()
    tmp = settings.worlds_dir / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        manifest = _build(settings, cfg, posts, seed, name, tmp, progress)
        manifest["build_seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _build(
    settings: Settings, cfg: WorldConfig, n_posts: int, seed: int, name: str, out: Path, show: bool
) -> dict[str, Any]:
    ss = np.random.SeedSequence(seed)
    rng_acc, rng_graph, rng_items, rng_posts, rng_beh = (
        np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(5)
    )
    text_rng = random.Random(int(ss.generate_state(1)[0]))
    # A sixth, separate stream for the exploration bucket: the five above draw exactly what
    # they draw without one.
    explore_rng = np.random.Generator(np.random.PCG64(ss.spawn(1)[0]))
    # A seventh for topics and Q&A (issue 17): the streams above draw what they drew before.
    qa_rng = np.random.Generator(np.random.PCG64(ss.spawn(1)[0]))
    qa_text_rng = random.Random(int(qa_rng.integers(2**62)))
    qcfg = QAConfig()
    t_acc_lo = epoch(datetime(2015, 1, 1, tzinfo=UTC))
    t_acc_hi = epoch(datetime(2026, 6, 30, tzinfo=UTC))
    t_rel_lo = epoch(datetime(2024, 1, 1, tzinfo=UTC))
    t_content = epoch(cfg.content_start)
    held_days = frozenset(cfg.held_day_indices())

    with _Stages(show, 10) as st:
        # 1. sources --------------------------------------------------------------------
        st.stage("read corpora")
        reviews, sms = load_sources(settings.corpora_dir)

        # 2. accounts ---------------------------------------------------------------------
        st.stage("accounts")
        n_users = max(cfg.min_users, round(n_posts * cfg.users_per_post))
        acc = make_accounts(rng_acc, n_users, cfg, t_acc_lo, t_acc_hi)

        # 3. graph ------------------------------------------------------------------------
        st.stage("friends, follows, brand relations")
        friends = friend_edges(rng_graph, acc, cfg)
        rel, state = brand_relations(rng_graph, acc, cfg)
        follows = follow_edges(rng_graph, acc, state, cfg)
        in_follows = np.bincount(follows[:, 1], minlength=acc.n)
        follower_count = np.maximum(acc.followers_platform, in_follows)

        # 4. items, posts, orders ---------------------------------------------------------
        st.stage("items, posts, orders")
        items = make_items(rng_items, n_posts, cfg, t_rel_lo, t_acc_hi)
        posts, orders = make_posts(
            rng_posts, text_rng, n_posts, acc, state, items, reviews, sms, cfg
        )
        # Past buyers: every (buyer, circle) with an order; created at the first order.
        o_circle = items.circle[orders.item]
        pb_key, first = np.unique(orders.user * len(CIRCLES) + o_circle, return_index=True)
        pb_user, pb_circle = pb_key // len(CIRCLES), pb_key % len(CIRCLES)
        p_active = np.minimum(
            cfg.active_cap, cfg.active_base + cfg.active_slope * acc.activity[pb_user]
        )
        pb_active = np.where(
            state[pb_user, pb_circle] > 0,
            state[pb_user, pb_circle] == 2,
            rng_graph.random(len(pb_user)) < p_active,
        )
        state[pb_user, pb_circle] = np.where(pb_active, 2, 1)

        # 4b. circle kinds, topic tags, Q&A (own random stream) ---------------------------
        st.stage("circle kinds, topics, Q&A")
        popular = _popular_items(items, orders, qcfg.sku_qa_circles_per_brand)
        extra = extra_circles(popular, items.title)
        traits = make_traits(qa_rng, acc.n, acc.activity, qcfg)
        qa_circle = {r["item"]: r["id"] for r in extra if r["item"] >= 0}
        topics_cols, links, _ = topic_tables(
            qa_rng,
            posts.circle,
            posts.text,
            posts.kind == GENUINE,
            posts.created,
            epoch(datetime(2023, 9, 1, tzinfo=UTC)),
            qcfg,
        )
        qa = qa_tables(
            qa_rng,
            qa_text_rng,
            n_posts,
            cfg,
            items.circle,
            items.popularity,
            orders.user,
            orders.item,
            orders.created,
            acc.n,
            traits,
            t_content,
            epoch(cfg.sim_end),
            qa_circle,
            qcfg,
        )

        # 5. public tables ----------------------------------------------------------------
        st.stage("write tables", total=len(PUBLIC_TABLES) - 1)
        tables, ids = _write_public(
            out,
            cfg,
            acc,
            friends,
            follows,
            follower_count,
            rel,
            (pb_user, pb_circle, pb_active, orders.created[first]),
            items,
            posts,
            orders,
            rng_graph,
            t_rel_lo,
            t_content,
            st,
            extra,
        )
        tables.update(_write_topics_and_qa(out, topics_cols, links, qa, ids, items, traits, qcfg))

        # 6. hidden truth -----------------------------------------------------------------
        st.stage("hidden truth")
        _write_hidden(out, cfg, acc, posts, reviews, sms, ids)

        # 7. behaviour --------------------------------------------------------------------
        step = st.stage("behaviour (days)", total=cfg.sim_days)
        beh = _write_interactions(
            out,
            cfg,
            rng_beh,
            acc,
            state,
            posts,
            friends,
            follows,
            held_days,
            tables,
            ids,
            step,
            explore_rng,
        )

        # 8. manifest ---------------------------------------------------------------------
        st.stage("manifest")
        files = {t: sha256_file(out / f"{t}.parquet") for t in PUBLIC_TABLES}
        world_id = hashlib.sha256("".join(files[t] for t in PUBLIC_TABLES).encode()).hexdigest()
        stats = _stats(
            cfg,
            acc,
            friends,
            follows,
            follower_count,
            rel,
            len(pb_user),
            pb_active,
            items,
            posts,
            orders,
            beh,
        )
        held_dates = [
            (cfg.sim_start + timedelta(days=i)).astimezone(cfg.sim_start.tzinfo).date().isoformat()
            for i in sorted(held_days)
        ]
        st.done()

    try:
        pkg_version = version("quanzi")
    except PackageNotFoundError:  # pragma: no cover
        pkg_version = "unknown"
    return {
        "name": name,
        "world_id": world_id,
        "seed": seed,
        "posts": n_posts,
        "package_version": pkg_version,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "content_start": cfg.content_start.astimezone(UTC).isoformat(),
        "sim_start": cfg.sim_start.astimezone(UTC).isoformat(),
        "sim_end": cfg.sim_end.astimezone(UTC).isoformat(),
        "cutoff": cfg.cutoff.astimezone(UTC).isoformat(),
        "sim_days": cfg.sim_days,
        "holdout_days": held_dates,
        "tables": {
            t: {"file": f"{t}.parquet", "rows": tables[t], "sha256": files[t]}
            for t in PUBLIC_TABLES
        },
        "eval": {"file": HOLDOUT_FILE, "rows": tables["interactions_holdout"]},
        **(
            {
                "requests": {
                    "file": REQUESTS_FILE,
                    "holdout_file": REQUESTS_HOLDOUT_FILE,
                    "explore_fraction": cfg.explore_fraction,
                    "rows": tables["requests"],
                    "rows_holdout": tables["requests_holdout"],
                }
            }
            if cfg.explore_fraction > 0
            else {}
        ),
        "hidden": [
            "hidden/posts_truth.parquet",
            "hidden/users_truth.parquet",
            "hidden/config.json",
            "hidden/qa_truth.parquet",
            "hidden/qa_config.json",
            "hidden/answers_truth.parquet",
        ],
        "stats": stats,
        "bounds": _check_bounds(cfg, stats),
    }


def _write_public(
    out: Path,
    cfg: WorldConfig,
    acc: Any,
    friends: np.ndarray,
    follows: np.ndarray,
    follower_count: np.ndarray,
    rel: Any,
    past_buyers: tuple[np.ndarray, ...],
    items: Any,
    posts: Any,
    orders: Any,
    rng: np.random.Generator,
    t_rel_lo: int,
    t_content: int,
    st: _Stages,
    extra: list[dict[str, Any]],
) -> tuple[dict[str, int], dict[str, pa.Array]]:
    rows: dict[str, int] = {}
    adv = st.progress
    circle_ids = pa.array([c.id for c in CIRCLES])
    n_all = len(CIRCLES) + len(extra)
    circle_created = np.array(
        [epoch(datetime(2023, 9, 1, tzinfo=UTC)) + i * 86_400 * 7 for i in range(n_all)]
    )
    item_ids = _ids("i", len(items.circle), 6)
    _write(
        _table(
            "circles",
            {
                "id": pa.array([c.id for c in CIRCLES] + [r["id"] for r in extra]),
                "name": pa.array([c.name for c in CIRCLES] + [r["name"] for r in extra]),
                "kind": pa.array(["brand"] * len(CIRCLES) + [r["kind"] for r in extra]),
                "category": pa.array(
                    [c.category for c in CIRCLES] + [r["category"] for r in extra]
                ),
                "brand": pa.array([c.brand for c in CIRCLES] + [r["brand"] for r in extra]),
                "description": pa.array(
                    [
                        f"{c.brand}的品牌圈：{c.category}的购后分享、使用经验与售后问答"
                        for c in CIRCLES
                    ]
                    + [r["description"] for r in extra]
                ),
                "parent_id": pa.array(
                    [industry_of(c.id) for c in CIRCLES] + [r["parent_id"] for r in extra],
                    pa.string(),
                ),
                "item_id": _take(
                    item_ids,
                    np.array([-1] * len(CIRCLES) + [r["item"] for r in extra], dtype=np.int64),
                ),
                "created_at": _ts(circle_created),
            },
        ),
        out / "circles.parquet",
    )
    rows["circles"] = n_all
    adv.advance(st.step)

    width_u = max(6, len(str(acc.n)))
    user_ids = _ids("u", acc.n, width_u)
    names = display_names(rng, acc)
    _write(
        _table(
            "users",
            {
                "id": user_ids,
                "kind": pc.take(pa.array(USER_KINDS), pa.array(acc.kind)),
                "display_name": pa.array(names, pa.string()),
                "follower_count": pa.array(follower_count, pa.int64()),
                "creator_certified": pa.array(acc.certified),
                "account_created_at": _ts(acc.account_created),
                "merchant_circle_id": _take(circle_ids, acc.merchant_circle.astype(np.int64)),
                "created_at": _ts(acc.account_created),
            },
        ),
        out / "users.parquet",
    )
    rows["users"] = acc.n
    adv.advance(st.step)

    # Friend edges both directions; follows one direction. Created after both accounts.
    a, b = friends[:, 0], friends[:, 1]
    newest = np.maximum(acc.account_created[a], acc.account_created[b])
    f_t = newest + (rng.random(len(a)) * (t_content - newest)).astype(np.int64)
    fo_new = np.maximum(acc.account_created[follows[:, 0]], acc.account_created[follows[:, 1]])
    fo_t = fo_new + (rng.random(len(follows)) * (t_content - fo_new)).astype(np.int64)
    src = np.concatenate([a, b, follows[:, 0]])
    dst = np.concatenate([b, a, follows[:, 1]])
    kind = np.concatenate([np.zeros(2 * len(a), np.int8), np.ones(len(follows), np.int8)])
    t = np.concatenate([f_t, f_t, fo_t])
    o = np.lexsort((dst, src, kind))
    _write(
        _table(
            "user_relations",
            {
                "id": pa.array(np.arange(1, len(o) + 1, dtype=np.int64)),
                "user_id": _take(user_ids, src[o]),
                "other_id": _take(user_ids, dst[o]),
                "kind": pc.take(pa.array(["friend", "follow"]), pa.array(kind[o])),
                "created_at": _ts(t[o]),
            },
        ),
        out / "user_relations.parquet",
    )
    rows["user_relations"] = len(o)
    adv.advance(st.step)

    pb_user, pb_circle, pb_active, pb_t = past_buyers
    r_lo = np.maximum(acc.account_created[rel.user], t_rel_lo)
    r_t = r_lo + (rng.random(len(rel.user)) * (t_content - r_lo)).astype(np.int64)
    user = np.concatenate([rel.user, pb_user])
    circle = np.concatenate([rel.circle, pb_circle])
    rkind = np.concatenate([rel.kind, np.full(len(pb_user), REL_PAST_BUYER, np.int8)])
    active = np.concatenate([rel.active, pb_active])
    rt = np.concatenate([r_t, pb_t])
    o = np.lexsort((rkind, circle, user))
    _write(
        _table(
            "brand_relations",
            {
                "id": pa.array(np.arange(1, len(o) + 1, dtype=np.int64)),
                "user_id": _take(user_ids, user[o]),
                "circle_id": _take(circle_ids, circle[o]),
                "kind": pc.take(pa.array(BRAND_RELATION_KINDS), pa.array(rkind[o])),
                "active": pa.array(active[o]),
                "created_at": _ts(rt[o]),
            },
        ),
        out / "brand_relations.parquet",
    )
    rows["brand_relations"] = len(o)
    adv.advance(st.step)

    _write(
        _table(
            "items",
            {
                "id": item_ids,
                "circle_id": _take(circle_ids, items.circle),
                "title": pa.array(items.title, pa.string()),
                "price": pa.array(items.price),
                "created_at": _ts(items.created),
            },
        ),
        out / "items.parquet",
    )
    rows["items"] = len(items.circle)
    adv.advance(st.step)

    order_ids = _ids("o", len(orders.user), max(7, len(str(len(orders.user)))))
    _write(
        _table(
            "orders",
            {
                "id": order_ids,
                "user_id": _take(user_ids, orders.user),
                "item_id": _take(item_ids, orders.item),
                "created_at": _ts(orders.created),
            },
        ),
        out / "orders.parquet",
    )
    rows["orders"] = len(orders.user)
    adv.advance(st.step)

    n = len(posts.circle)
    post_ids = _ids("p", n, max(7, len(str(n))))
    _write(
        _table(
            "posts",
            {
                "id": post_ids,
                "circle_id": _take(circle_ids, posts.circle),
                "author_id": _take(user_ids, posts.author),
                "item_id": _take(item_ids, posts.item),
                "order_id": _take(order_ids, posts.order),
                "text": pa.array(posts.text, pa.string()),
                "image_count": pa.array(posts.image_count, pa.int64()),
                "status": pa.array(["pending"] * n),
                "scored_versions": pa.nulls(n, pa.string()),  # not scored yet
                "created_at": _ts(posts.created),
                "updated_at": _ts(posts.created),
            },
        ),
        out / "posts.parquet",
    )
    rows["posts"] = n
    adv.advance(st.step)
    # Reused by the hidden tables and the interactions (formatted once).
    return rows, {"users": user_ids, "posts": post_ids, "items": item_ids}


def _popular_items(items: Any, orders: Any, per_circle: int) -> list[list[int]]:
    """Each brand circle's most-bought SKUs (item indexes), most orders first."""
    bought = np.bincount(orders.item, minlength=len(items.circle))
    out: list[list[int]] = []
    for c in range(len(CIRCLES)):
        mine = np.flatnonzero((items.circle == c) & (bought > 0))
        top = mine[np.lexsort((mine, -bought[mine]))][:per_circle]
        out.append([int(i) for i in top])
    return out


def _write_topics_and_qa(
    out: Path,
    topics: dict[str, list[Any]],
    links: dict[str, list[Any]],
    qa: dict[str, dict[str, list[Any]]],
    ids: dict[str, pa.Array],
    items: Any,
    traits: Any,
    qcfg: QAConfig,
) -> dict[str, int]:
    """The public topic and Q&A tables, and the buyers' hidden traits."""
    n_t = len(topics["name"])
    _write(
        _table(
            "topics",
            {
                "id": pa.array(np.arange(1, n_t + 1, dtype=np.int64)),
                "circle_id": pa.array(topics["circle"]),
                "name": pa.array(topics["name"]),
                "status": pa.array(["active"] * n_t),
                "source": pa.array(["tag"] * n_t),
                "merged_into": pa.array([None] * n_t, pa.int64()),
                "edited": pa.array([False] * n_t),
                "keywords": pa.array(
                    [json.dumps(k, ensure_ascii=False) for k in topics["keywords"]]
                ),
                "updated_by": pa.array([""] * n_t),
                "created_at": _ts(np.array(topics["created"], dtype=np.int64)),
            },
        ),
        out / "topics.parquet",
    )
    post_idx = np.array(links["post"], dtype=np.int64)
    order = np.lexsort((np.array(links["topic"], dtype=np.int64), post_idx))
    _write(
        _table(
            "post_topics",
            {
                "post_id": _take(ids["posts"], post_idx[order]),
                "topic_id": pa.array(np.array(links["topic"], dtype=np.int64)[order] + 1),
                "source": pa.array(["tag"] * len(order)),
                "score": pa.array(np.ones(len(order))),
                "created_at": _ts(np.array(links["created"], dtype=np.int64)[order]),
            },
        ),
        out / "post_topics.parquet",
    )
    q, inv, ans = qa["questions"], qa["invites"], qa["answers"]
    n_q, n_a, n_i = len(q["text"]), len(ans["text"]), len(inv["user"])
    q_ids = _ids("q", n_q, 6)
    _write(
        _table(
            "questions",
            {
                "id": q_ids,
                "circle_id": pa.array(q["circle"]),
                "item_id": _take(ids["items"], np.array(q["item"], dtype=np.int64)),
                "author_id": _take(ids["users"], np.array(q["author"], dtype=np.int64)),
                "text": pa.array(q["text"], pa.string()),
                "status": pa.array(["pass"] * n_q),
                "moderation": pa.array(["{}"] * n_q),
                "created_at": _ts(np.array(q["created"], dtype=np.int64)),
                "deleted_at": pa.array([None] * n_q, TS),
            },
        ),
        out / "questions.parquet",
    )
    a_order = np.lexsort((np.arange(n_a), np.array(ans["created"], dtype=np.int64)))
    a_q = np.array(ans["question"], dtype=np.int64)[a_order]
    _write(
        _table(
            "answers",
            {
                "id": _ids("a", n_a, 7),
                "question_id": _take(q_ids, a_q),
                "author_id": _take(ids["users"], np.array(ans["user"], dtype=np.int64)[a_order]),
                "text": pa.array(
                    np.array(ans["text"], dtype=object)[a_order].tolist(), pa.string()
                ),
                "status": pa.array(["pass"] * n_a),
                "moderation": pa.array(["{}"] * n_a),
                "non_answer": pa.array([None] * n_a, pa.float64()),
                "helpful_votes": pa.array(np.array(ans["votes"], dtype=np.int64)[a_order]),
                "created_at": _ts(np.array(ans["created"], dtype=np.int64)[a_order]),
            },
        ),
        out / "answers.parquet",
    )
    _write(
        _table(
            "question_invites",
            {
                "id": pa.array(np.arange(1, n_i + 1, dtype=np.int64)),
                "question_id": _take(q_ids, np.array(inv["question"], dtype=np.int64)),
                "user_id": _take(ids["users"], np.array(inv["user"], dtype=np.int64)),
                "rank": pa.array(np.array(inv["rank"], dtype=np.int64)),
                "score": pa.array(np.zeros(n_i)),
                "policy": pa.array(["random"] * n_i),
                "created_at": _ts(np.array(inv["created"], dtype=np.int64)),
            },
        ),
        out / "question_invites.parquet",
    )
    _write(
        pa.table(
            {
                "user_id": ids["users"],
                "answer_propensity": pa.array(np.round(traits.propensity, 6)),
                "helpfulness": pa.array(np.round(traits.helpfulness, 6)),
            }
        ),
        out / "hidden/qa_truth.parquet",
    )
    _write(
        pa.table(
            {
                "answer_id": _ids("a", n_a, 7),
                "label": pc.take(
                    pa.array(ANSWER_LABELS),
                    pa.array(np.array(ans["label"], dtype=np.int64)[a_order]),
                ),
            }
        ),
        out / "hidden/answers_truth.parquet",
    )
    (out / "hidden/qa_config.json").write_text(json.dumps(asdict(qcfg), indent=2))
    return {
        "topics": n_t,
        "post_topics": len(order),
        "questions": n_q,
        "answers": n_a,
        "question_invites": n_i,
    }


def _write_hidden(
    out: Path,
    cfg: WorldConfig,
    acc: Any,
    posts: Any,
    reviews: Any,
    sms: Any,
    ids: dict[str, pa.Array],
) -> None:
    # Split of each source text actually used, exactly as corpora.load_corpus assigns it.
    split = np.full(len(posts.circle), "", dtype=object)
    is_sms = posts.source_corpus == "spam_sms"
    for pool, mask in ((reviews, ~is_sms), (sms, is_sms)):
        sel = np.flatnonzero(mask & (posts.source_idx >= 0))
        if len(sel):
            used, inv = np.unique(posts.source_idx[sel], return_inverse=True)
            split[sel] = splits_of(pool.text[used])[inv]
    null_if = lambda a, bad: pa.array(a, mask=(a == bad))  # noqa: E731
    _write(
        pa.table(
            {
                "post_id": ids["posts"],
                "kind": pc.take(pa.array(POST_KINDS), pa.array(posts.kind)),
                "trust_level": pa.array(posts.trust.astype(np.int64)),
                "quality_score": pa.array(np.round(posts.quality, 6)),
                "quality_tier": pa.array(posts.tier.astype(np.int64)),
                "appeal": pa.array(np.round(posts.appeal, 6)),
                "source_corpus": null_if(posts.source_corpus.astype(str), ""),
                "source_row": null_if(posts.source_row, -1),
                "source_split": null_if(split.astype(str), ""),
                "source_label": null_if(posts.source_label, -1),
                "source_post_id": _take(ids["posts"], posts.source_post),
                "transforms": pa.array(posts.transforms.astype(str)),
                "moderation_labels": pa.array(posts.moderation.astype(str)),
                "filler_kind": null_if(posts.filler_kind.astype(str), ""),
            }
        ),
        out / "hidden/posts_truth.parquet",
    )
    interest = {
        f"interest_{c.id}": pa.array(np.round(acc.interest[:, i], 6)) for i, c in enumerate(CIRCLES)
    }
    _write(
        pa.table(
            {
                "user_id": ids["users"],
                "shill": pa.array(acc.shill),
                "activity": pa.array(np.round(acc.activity.astype(np.float64), 6)),
                "click_offset": pa.array(np.round(acc.click_offset.astype(np.float64), 6)),
                "posting_propensity": pa.array(np.round(acc.posting, 6)),
                **interest,
            }
        ),
        out / "hidden/users_truth.parquet",
    )
    (out / "hidden/config.json").write_text(
        json.dumps(cfg.to_json(), ensure_ascii=False, indent=2, default=list)
    )


def _write_interactions(
    out: Path,
    cfg: WorldConfig,
    rng: np.random.Generator,
    acc: Any,
    state: np.ndarray,
    posts: Any,
    friends: np.ndarray,
    follows: np.ndarray,
    held_days: frozenset[int],
    tables: dict[str, int],
    ids: dict[str, pa.Array],
    step: Callable[[int], None],
    explore_rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    kinds = pa.array(INTERACTION_KINDS)
    schema = pa.schema(
        [
            (c.name, t)
            for c, t in zip(
                Base.metadata.tables["interactions"].columns,
                (pa.int64(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.string(), TS),
                strict=True,
            )
        ]
    )
    (out / "eval").mkdir(exist_ok=True)
    writers = {
        False: pq.ParquetWriter(out / "interactions.parquet", schema, **_w_opts()),
        True: pq.ParquetWriter(out / HOLDOUT_FILE, schema, **_w_opts()),
    }
    logging_requests = cfg.explore_fraction > 0
    req_schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("user_id", pa.string()),
            ("circle_id", pa.string()),
            ("policy", pa.string()),
            ("created_at", TS),
        ]
    )
    req_writers = (
        {
            False: pq.ParquetWriter(out / REQUESTS_FILE, req_schema, **_w_opts()),
            True: pq.ParquetWriter(out / REQUESTS_HOLDOUT_FILE, req_schema, **_w_opts()),
        }
        if logging_requests
        else {}
    )
    n_req = {False: 0, True: 0}
    n_explore = {False: 0, True: 0}
    circle_ids = pa.array([c.id for c in CIRCLES])
    n_k = {
        False: np.zeros(len(INTERACTION_KINDS), np.int64),
        True: np.zeros(len(INTERACTION_KINDS), np.int64),
    }
    n_kinds = len(POST_KINDS)
    imp_by_kind = np.zeros(n_kinds, np.int64)
    clk_by_kind = np.zeros(n_kinds, np.int64)
    imp_by_tier = np.zeros(4, np.int64)
    clk_by_tier = np.zeros(4, np.int64)
    friend_imp = friend_clk = other_imp = other_clk = 0
    next_id = 1
    requests = 0
    try:
        for day in simulate(
            rng,
            cfg,
            activity=acc.activity,
            interest=acc.interest,
            state=state,
            click_offset=acc.click_offset,
            post_circle=posts.circle,
            post_created=posts.created,
            post_author=posts.author,
            post_appeal=posts.appeal,
            post_quality=posts.quality,
            post_kind=posts.kind,
            friends=friends,
            follows=follows,
            explore_rng=explore_rng,
        ):
            n = len(day.user)
            held = day.day in held_days  # one simulated day is held out or not, whole
            req_ids = _ids("r", day.n_requests, 9, start=requests + 1)
            table = pa.table(
                {
                    "id": pa.array(np.arange(next_id, next_id + n, dtype=np.int64)),
                    "user_id": _take(ids["users"], day.user),
                    "post_id": _take(ids["posts"], day.post),
                    "kind": pc.take(kinds, pa.array(day.kind)),
                    "position": pa.array(day.position.astype(np.int64)),
                    "request_id": _take(req_ids, day.request - requests),
                    "created_at": _ts(day.created),
                },
                schema=schema,
            )
            writers[held].write_table(table)
            if logging_requests:
                assert day.req_explore is not None and day.req_user is not None
                assert day.req_circle is not None and day.req_created is not None
                req_held = held
                req_writers[req_held].write_table(
                    pa.table(
                        {
                            "request_id": req_ids,
                            "user_id": _take(ids["users"], day.req_user),
                            "circle_id": _take(circle_ids, day.req_circle),
                            "policy": pc.take(
                                pa.array(POLICIES), pa.array(day.req_explore.astype(np.int64))
                            ),
                            "created_at": _ts(day.req_created),
                        },
                        schema=req_schema,
                    )
                )
                n_req[req_held] += day.n_requests
                n_explore[req_held] += int(day.req_explore.sum())
            next_id += n
            requests += day.n_requests
            n_k[held] += np.bincount(day.kind, minlength=len(INTERACTION_KINDS))
            if not held:
                imp = day.kind == IMPRESSION
                clk = day.kind == CLICK
                pk = posts.kind[day.post]
                imp_by_kind += np.bincount(pk[imp], minlength=n_kinds)
                clk_by_kind += np.bincount(pk[clk], minlength=n_kinds)
                g = pk == GENUINE
                tier = posts.tier[day.post]
                imp_by_tier += np.bincount(tier[imp & g], minlength=4)
                clk_by_tier += np.bincount(tier[clk & g], minlength=4)
                friend_imp += int((imp & day.friend).sum())
                friend_clk += int((clk & day.friend).sum())
                other_imp += int((imp & ~day.friend).sum())
                other_clk += int((clk & ~day.friend).sum())
            step(1)
    finally:
        for w in (*writers.values(), *req_writers.values()):
            w.close()
    tables["interactions"] = int(n_k[False].sum())
    if logging_requests:
        tables["requests"], tables["requests_holdout"] = n_req[False], n_req[True]
    tables["interactions_holdout"] = int(n_k[True].sum())
    train = n_k[False]
    explore = (
        {
            "explore_requests": n_explore[False] + n_explore[True],
            "explore_requests_holdout": n_explore[True],
        }
        if logging_requests
        else {}
    )
    return {
        "requests": requests,
        **explore,
        "train": {k: int(v) for k, v in zip(INTERACTION_KINDS, train, strict=True)},
        "holdout": {k: int(v) for k, v in zip(INTERACTION_KINDS, n_k[True], strict=True)},
        "ctr": _ratio(train[CLICK], train[IMPRESSION]),
        "like_per_click": _ratio(train[LIKE], train[CLICK]),
        "report_per_impression": _ratio(train[REPORT], train[IMPRESSION]),
        "ctr_friend_author": _ratio(friend_clk, friend_imp),
        "ctr_other_author": _ratio(other_clk, other_imp),
        "impressions_friend_author_share": _ratio(friend_imp, friend_imp + other_imp),
        "ctr_by_post_kind": {
            k: _ratio(c, i) for k, c, i in zip(POST_KINDS, clk_by_kind, imp_by_kind, strict=True)
        },
        "ctr_by_genuine_tier": {str(t): _ratio(clk_by_tier[t], imp_by_tier[t]) for t in range(4)},
    }


def _w_opts() -> dict[str, Any]:
    return {"compression": PARQUET_OPTS["compression"]}


def _stats(
    cfg: WorldConfig,
    acc: Any,
    friends: np.ndarray,
    follows: np.ndarray,
    follower_count: np.ndarray,
    rel: Any,
    n_past_buyer: int,
    pb_active: np.ndarray,
    items: Any,
    posts: Any,
    orders: Any,
    beh: dict[str, Any],
) -> dict[str, Any]:
    people = acc.kind != KIND_MERCHANT
    creators = acc.kind == KIND_CREATOR
    gen = posts.kind == GENUINE
    gen_user = gen & (acc.kind[posts.author] != KIND_CREATOR)
    cf = follower_count[creators]
    n_rel = len(rel.user) + n_past_buyer
    rel_counts = np.bincount(rel.kind, minlength=3)
    return {
        "accounts": {
            "total": int(acc.n),
            "users": int((acc.kind == 0).sum()),
            "creators": int(creators.sum()),
            "creators_certified": int(acc.certified.sum()),
            "merchants": int((acc.kind == KIND_MERCHANT).sum()),
            "creator_share": _ratio(creators.sum(), acc.n),
        },
        "friend_degree": degree_stats(friends, acc.n, people),
        "friend_edges": len(friends),
        "follows": {"edges": len(follows), "per_user": _ratio(len(follows), people.sum())},
        "creator_followers": {
            "median": float(np.median(cf)),
            "max": int(cf.max()),
            "min": int(cf.min()),
        },
        "brand_relations": {
            "fan": int(rel_counts[0]),
            "member": int(rel_counts[1]),
            "past_buyer": int(n_past_buyer),
            "active_share": _ratio(rel.active.sum() + pb_active.sum(), n_rel),
        },
        "items": len(items.circle),
        "orders": len(orders.user),
        "posts": {
            "total": len(posts.kind),
            "kind_share": _shares(posts.kind, POST_KINDS),
            "trust_level_share": {
                f"L{k}": v
                for k, v in zip(
                    range(2, 7),
                    _shares(posts.trust - 2, [str(i) for i in range(5)]).values(),
                    strict=True,
                )
            },
            "per_circle": {
                c.id: int(v)
                for c, v in zip(
                    CIRCLES, np.bincount(posts.circle, minlength=len(CIRCLES)), strict=True
                )
            },
            "genuine_verified_share_users": _ratio(
                (posts.order[gen_user] >= 0).sum(), gen_user.sum()
            ),
            "genuine_verified_share": _ratio((posts.order[gen] >= 0).sum(), gen.sum()),
            "genuine_tier_share": _shares(posts.tier[gen], ["0", "1", "2", "3"]),
            "images_mean": round(float(posts.image_count.mean()), 3),
            "distinct_texts_share": _ratio(len(set(posts.text.tolist())), len(posts.text)),
        },
        "interactions": beh,
    }


def _check_bounds(cfg: WorldConfig, stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each stated bound with the observed value and whether it holds."""
    b = cfg.bounds
    deg = stats["friend_degree"]
    inter = stats["interactions"]
    checks = {
        "friend_degree_mean": (deg["mean"], b.friend_degree_mean),
        "friendless_share": (deg["friendless_share"], b.friendless_share),
        "friend_degree_max_over_mean": (
            deg["max"] / max(deg["mean"], 1e-9),
            (b.friend_degree_max_over_mean, float("inf")),
        ),
        "creator_share": (stats["accounts"]["creator_share"], b.creator_share),
        "creator_followers_max_over_median": (
            stats["creator_followers"]["max"] / max(stats["creator_followers"]["median"], 1),
            (b.creator_followers_max_over_median, float("inf")),
        ),
        "genuine_verified_share_users": (
            stats["posts"]["genuine_verified_share_users"],
            (
                cfg.genuine_verified_share - b.genuine_verified_share_tolerance,
                cfg.genuine_verified_share + b.genuine_verified_share_tolerance,
            ),
        ),
        "brand_active_share": (stats["brand_relations"]["active_share"], b.brand_active_share),
        "ctr": (inter["ctr"], b.ctr),
        "like_per_click": (inter["like_per_click"], b.like_per_click),
        "report_per_impression": (inter["report_per_impression"], b.report_per_impression),
    }
    return {
        k: {
            "value": round(float(v), 4),
            "bounds": [lo, hi if hi != float("inf") else None],
            "ok": bool(lo <= v <= hi),
        }
        for k, (v, (lo, hi)) in checks.items()
    }
