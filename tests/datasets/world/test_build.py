"""Invariants of a built circle world: reproducibility, integrity, realism bounds, hold-out."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanzi.datasets.corpora import hash_split
from quanzi.datasets.normalize import normalize
from quanzi.datasets.world.build import HOLDOUT_FILE, PUBLIC_TABLES, build_world, sha256_file
from quanzi.datasets.world.config import CST, WorldConfig
from quanzi.datasets.world.content import DISGUISE_TRANSFORMS, _read_raw
from quanzi.settings import Settings
from quanzi.storage.orm import Base

from .conftest import POSTS, SEED

CFG = WorldConfig()
BOUNDS = CFG.bounds


def _read(world: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(world / f"{name}.parquet")


def _hashes(world: Path) -> dict[str, str]:
    files = [f"{t}.parquet" for t in PUBLIC_TABLES]
    files += [HOLDOUT_FILE, "hidden/posts_truth.parquet", "hidden/users_truth.parquet"]
    return {f: sha256_file(world / f) for f in files}


def _manifest(world: Path) -> dict:
    return json.loads((world / "manifest.json").read_text())


# --- reproducibility ----------------------------------------------------------------------
def test_same_seed_and_size_rebuild_byte_identical_files(
    world: Path, world_settings: Settings
) -> None:
    again = build_world(world_settings, POSTS, SEED, name="same-again", progress=False)
    assert _hashes(again) == _hashes(world)


def test_different_seed_builds_a_different_world(world: Path, world_settings: Settings) -> None:
    other = build_world(world_settings, POSTS, SEED + 1, name="other-seed", progress=False)
    mine, theirs = _hashes(world), _hashes(other)
    fixed = {"circles.parquet", "topics.parquet"}  # configuration, not draws
    assert all(mine[f] != theirs[f] for f in mine if f not in fixed)


def test_build_refuses_existing_world_and_tiny_sizes(world: Path, world_settings: Settings) -> None:
    with pytest.raises(FileExistsError, match="--force"):
        build_world(world_settings, POSTS, SEED, progress=False)
    with pytest.raises(ValueError, match="at least 100"):
        build_world(world_settings, 10, SEED, name="tiny", progress=False)
    assert not (world_settings.worlds_dir / "tiny").exists()


# --- schema and separation of hidden truth -------------------------------------------------
def test_public_tables_have_exactly_the_orm_columns(world: Path) -> None:
    for name in PUBLIC_TABLES:
        cols = list(_read(world, name).columns)
        assert cols == [c.name for c in Base.metadata.tables[name].columns], name


def test_hidden_columns_never_appear_in_public_tables(world: Path) -> None:
    hidden = set(pd.read_parquet(world / "hidden/posts_truth.parquet").columns)
    hidden |= set(pd.read_parquet(world / "hidden/users_truth.parquet").columns)
    hidden -= {"post_id", "user_id", "kind"}
    for name in PUBLIC_TABLES:
        assert not hidden & set(_read(world, name).columns), name
    posts = _read(world, "posts")
    assert set(posts["status"]) == {"pending"}  # nothing pre-moderated from the truth


def test_ids_are_prefixed_strings_and_times_are_utc(world: Path) -> None:
    posts, users = _read(world, "posts"), _read(world, "users")
    assert posts["id"].str.fullmatch(r"p\d{7}").all()
    assert users["id"].str.fullmatch(r"u\d{6}").all()
    assert _read(world, "circles")["id"].str.startswith("c_").all()
    assert str(posts["created_at"].dt.tz) == "UTC"
    assert posts["created_at"].is_monotonic_increasing  # ids follow time


# --- referential integrity and time order --------------------------------------------------
def test_every_reference_points_at_an_existing_row(world: Path) -> None:
    users = set(_read(world, "users")["id"])
    circles = set(_read(world, "circles")["id"])
    items = _read(world, "items")
    orders = _read(world, "orders")
    posts = _read(world, "posts")
    rel = _read(world, "user_relations")
    brand = _read(world, "brand_relations")
    assert set(posts["author_id"]) <= users and set(posts["circle_id"]) <= circles
    assert set(posts["item_id"].dropna()) <= set(items["id"])
    assert set(posts["order_id"].dropna()) <= set(orders["id"])
    assert set(orders["user_id"]) <= users and set(orders["item_id"]) <= set(items["id"])
    assert set(rel["user_id"]) | set(rel["other_id"]) <= users
    assert set(brand["user_id"]) <= users and set(brand["circle_id"]) <= circles
    assert set(items["circle_id"]) <= circles
    for name in ("interactions", HOLDOUT_FILE.removesuffix(".parquet")):
        inter = _read(world, name)
        assert set(inter["user_id"]) <= users and set(inter["post_id"]) <= set(posts["id"])


def test_verified_posts_follow_their_own_order_of_the_tagged_item(world: Path) -> None:
    posts = _read(world, "posts").dropna(subset=["order_id"])
    orders = _read(world, "orders").set_index("id")
    o = orders.loc[posts["order_id"]]
    assert (o["user_id"].to_numpy() == posts["author_id"].to_numpy()).all()
    assert (o["item_id"].to_numpy() == posts["item_id"].to_numpy()).all()
    assert (o["created_at"].to_numpy() < posts["created_at"].to_numpy()).all()
    items = _read(world, "items").set_index("id")
    assert (
        items.loc[posts["item_id"], "circle_id"].to_numpy() == posts["circle_id"].to_numpy()
    ).all()


def test_interactions_happen_after_the_post_and_reference_impressions(world: Path) -> None:
    posts = _read(world, "posts").set_index("id")
    for name in ("interactions", HOLDOUT_FILE.removesuffix(".parquet")):
        inter = _read(world, name)
        born = posts.loc[inter["post_id"], "created_at"].to_numpy()
        assert (inter["created_at"].to_numpy() > born).all()
        # Every action sits on an impression of the same request and post.
        imp = inter[inter["kind"] == "impression"]
        seen = set(zip(imp["request_id"], imp["post_id"], strict=True))
        acts = inter[inter["kind"] != "impression"]
        assert set(zip(acts["request_id"], acts["post_id"], strict=True)) <= seen
        assert (
            posts.loc[inter["post_id"], "author_id"].to_numpy() != inter["user_id"].to_numpy()
        ).all()  # nobody is shown their own post


def test_friendship_is_stored_in_both_directions(world: Path) -> None:
    rel = _read(world, "user_relations")
    fr = rel[rel["kind"] == "friend"]
    pairs = set(zip(fr["user_id"], fr["other_id"], strict=True))
    assert pairs and all((b, a) in pairs for a, b in pairs)
    assert not (rel["user_id"] == rel["other_id"]).any()


# --- realism: degree and rate statistics within the stated bounds -------------------------
def test_friend_degree_is_heavy_tailed_within_bounds(world: Path) -> None:
    users = _read(world, "users")
    people = users[users["kind"] != "merchant"]["id"]
    rel = _read(world, "user_relations")
    deg = rel[rel["kind"] == "friend"].groupby("user_id").size().reindex(people, fill_value=0)
    lo, hi = BOUNDS.friend_degree_mean
    assert lo <= deg.mean() <= hi
    lo, hi = BOUNDS.friendless_share
    assert lo <= (deg == 0).mean() <= hi
    assert deg.max() >= BOUNDS.friend_degree_max_over_mean * deg.mean()
    assert deg.median() < deg.mean()  # right-skewed


def test_creators_are_few_with_heavy_tailed_followers(world: Path) -> None:
    users = _read(world, "users")
    creators = users[users["kind"] == "creator"]
    lo, hi = BOUNDS.creator_share
    assert lo <= len(creators) / len(users) <= hi
    f = creators["follower_count"]
    assert f.max() >= BOUNDS.creator_followers_max_over_median * f.median()
    assert f.median() > 10 * users[users["kind"] == "user"]["follower_count"].median()
    merchants = users[users["kind"] == "merchant"]
    circles = _read(world, "circles")
    brands = circles[circles["kind"] == "brand"]
    assert set(merchants["merchant_circle_id"]) == set(brands["id"])
    # In-world follows never exceed the platform-wide follower count.
    rel = _read(world, "user_relations")
    indeg = rel[rel["kind"] == "follow"].groupby("other_id").size()
    fc = users.set_index("id")["follower_count"]
    assert (fc.loc[indeg.index].to_numpy() >= indeg.to_numpy()).all()


def test_brand_relations_mix_kinds_and_active_states(world: Path) -> None:
    brand = _read(world, "brand_relations")
    assert set(brand["kind"]) == {"fan", "member", "past_buyer"}
    lo, hi = BOUNDS.brand_active_share
    assert lo <= brand["active"].mean() <= hi
    assert not brand.duplicated(["user_id", "circle_id", "kind"]).any()
    # Past buyers are exactly the users with an order in the circle.
    orders = _read(world, "orders").merge(
        _read(world, "items")[["id", "circle_id"]], left_on="item_id", right_on="id"
    )
    buyers = set(zip(orders["user_id"], orders["circle_id"], strict=True))
    pb = brand[brand["kind"] == "past_buyer"]
    assert set(zip(pb["user_id"], pb["circle_id"], strict=True)) == buyers


def test_stated_share_of_genuine_user_shares_are_verified(world: Path) -> None:
    posts = _read(world, "posts")
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet")
    users = _read(world, "users").set_index("id")
    gen = posts[(truth["kind"] == "genuine").to_numpy()]
    gen = gen[(users.loc[gen["author_id"], "kind"] == "user").to_numpy()]
    share = gen["order_id"].notna().mean()
    assert abs(share - CFG.genuine_verified_share) <= BOUNDS.genuine_verified_share_tolerance


def test_engagement_rates_within_bounds_and_follow_hidden_quality(world: Path) -> None:
    inter = _read(world, "interactions")
    counts = inter["kind"].value_counts()
    ctr = counts["click"] / counts["impression"]
    assert BOUNDS.ctr[0] <= ctr <= BOUNDS.ctr[1]
    assert BOUNDS.like_per_click[0] <= counts["like"] / counts["click"] <= BOUNDS.like_per_click[1]
    assert counts.get("report", 0) / counts["impression"] <= BOUNDS.report_per_impression[1]
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet").set_index("post_id")
    tier = truth.loc[inter["post_id"], "quality_tier"].to_numpy()
    gen = (truth.loc[inter["post_id"], "kind"] == "genuine").to_numpy()

    def rate(mask: np.ndarray) -> float:
        return (inter["kind"][mask] == "click").sum() / (inter["kind"][mask] == "impression").sum()

    assert rate(gen & (tier == 3)) > 1.5 * rate(gen & (tier == 1))
    promo = truth.loc[inter["post_id"], "kind"].isin(["merchant_promo", "disguised_ad"])
    reports = inter["kind"] == "report"
    assert reports[promo.to_numpy()].mean() > reports[~promo.to_numpy()].mean()


def test_friends_posts_are_clicked_more(world: Path) -> None:
    inter = _read(world, "interactions")
    author = _read(world, "posts").set_index("id").loc[inter["post_id"], "author_id"].to_numpy()
    rel = _read(world, "user_relations")
    fr = rel[rel["kind"] == "friend"]
    friends = set(zip(fr["user_id"], fr["other_id"], strict=True))
    is_friend = np.array([(u, a) in friends for u, a in zip(inter["user_id"], author, strict=True)])
    kind = inter["kind"].to_numpy()

    def ctr(mask: np.ndarray) -> float:
        return (kind[mask] == "click").sum() / max(1, (kind[mask] == "impression").sum())

    assert (kind[is_friend] == "impression").sum() >= 30
    assert ctr(is_friend) > ctr(~is_friend)


# --- hold-out ------------------------------------------------------------------------------
def test_held_out_days_are_present_and_disjoint_from_training(world: Path) -> None:
    m = _manifest(world)
    cutoff = pd.Timestamp(m["cutoff"])
    train, held = _read(world, "interactions"), pd.read_parquet(world / HOLDOUT_FILE)
    assert (train["created_at"] < cutoff).all() and (held["created_at"] >= cutoff).all()
    days = sorted(set(held["created_at"].dt.tz_convert(CST).dt.date.astype(str)))
    assert days == m["holdout_days"] and len(days) == CFG.holdout_days
    assert not set(train["id"]) & set(held["id"])
    assert not set(train["request_id"]) & set(held["request_id"])
    assert (held["kind"] == "impression").sum() > 0 and (held["kind"] == "click").sum() > 0
    assert m["eval"]["rows"] == len(held) and m["tables"]["interactions"]["rows"] == len(train)


def test_simulated_days_surround_double_eleven(world: Path) -> None:
    m = _manifest(world)
    start = datetime.fromisoformat(m["sim_start"]).astimezone(CST)
    end = datetime.fromisoformat(m["sim_end"]).astimezone(CST)
    assert start < CFG.double11 < end
    posts = _read(world, "posts")
    local = posts["created_at"].dt.tz_convert(CST)
    per_day = local.dt.date.value_counts()
    # The days after the peak (post-purchase shares) outpost the September gathering phase.
    after = per_day[[d for d in per_day.index if 12 <= d.day <= 20 and d.month == 11]].mean()
    gather = per_day[[d for d in per_day.index if d.month == 9]].mean()
    assert after > 1.3 * gather


# --- provenance and trust truth ------------------------------------------------------------
def test_trust_truth_follows_provenance(world: Path) -> None:
    posts = _read(world, "posts")
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet")
    users = _read(world, "users").set_index("id")
    assert (truth["post_id"] == posts["id"]).all()
    author_kind = users.loc[posts["author_id"], "kind"].to_numpy()
    kind, level = truth["kind"].to_numpy(), truth["trust_level"].to_numpy()
    assert set(kind) == {"genuine", "merchant_promo", "publicity", "disguised_ad", "filler"}
    assert (level[(kind == "genuine") & (author_kind == "creator")] == 2).all()
    assert (level[(kind == "genuine") & (author_kind == "user")] == 3).all()
    assert (level[kind == "publicity"] == 4).all()
    assert (level[kind == "merchant_promo"] == 5).all()
    assert (author_kind[kind == "merchant_promo"] == "merchant").all()
    assert (level[kind == "disguised_ad"] == 6).all()
    assert (author_kind[kind == "disguised_ad"] != "merchant").all()
    assert (truth.loc[kind == "filler", "quality_tier"] == 0).all()
    assert (truth.loc[kind == "disguised_ad", "moderation_labels"].str.contains("ad")).all()


def test_genuine_texts_are_real_reviews_with_recorded_source_and_split(
    world: Path, world_settings: Settings
) -> None:
    posts = _read(world, "posts")
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet")
    gen = truth["kind"] == "genuine"
    assert set(truth.loc[gen, "source_corpus"]) <= {"online_shopping", "hotel"}
    sample = truth[gen].head(60)
    for corpus, part in sample.groupby("source_corpus"):
        raw = _read_raw(corpus, world_settings.corpora_dir).set_index("row")
        src = raw.loc[part["source_row"].astype(int), "text"].to_numpy()
        assert (posts.loc[part.index, "text"].to_numpy() == src).all()
        assert list(part["source_split"]) == [hash_split(normalize(t)) for t in src]
    promo = truth["kind"] == "merchant_promo"
    assert (truth.loc[promo, "source_corpus"] == "spam_sms").all()
    assert (truth.loc[promo, "source_label"] == 1).all()


def test_disguised_ads_weave_documented_transforms_into_real_reviews(
    world: Path, world_settings: Settings
) -> None:
    posts = _read(world, "posts")
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet")
    dis = truth[truth["kind"] == "disguised_ad"]
    assert len(dis) > 20
    names = {n for t in dis["transforms"] for n in t.split("+")}
    assert names <= set(DISGUISE_TRANSFORMS) and len(names) >= 4
    raw = {
        c: _read_raw(c, world_settings.corpora_dir).set_index("row")
        for c in set(dis["source_corpus"])
    }
    for idx, row in dis.head(40).iterrows():
        src = raw[row["source_corpus"]].loc[int(row["source_row"]), "text"]
        text = posts.loc[idx, "text"]
        assert text != src and len(text) > len(src)
        assert row["source_label"] == 1  # promotion hides in a positive review


def test_copy_paste_filler_duplicates_an_earlier_post(world: Path) -> None:
    posts = _read(world, "posts").set_index("id")
    truth = pd.read_parquet(world / "hidden/posts_truth.parquet")
    cp = truth[truth["filler_kind"] == "copy_paste"]
    assert len(cp) > 0
    for _, row in cp.iterrows():
        assert posts.loc[row["post_id"], "text"] == posts.loc[row["source_post_id"], "text"]
        assert (
            posts.loc[row["source_post_id"], "created_at"] < posts.loc[row["post_id"], "created_at"]
        )


def test_manifest_records_seed_sizes_cutoff_and_passing_bounds(world: Path) -> None:
    m = _manifest(world)
    assert m["seed"] == SEED and m["posts"] == POSTS
    for name in PUBLIC_TABLES:
        assert m["tables"][name]["rows"] == len(_read(world, name))
        assert m["tables"][name]["sha256"] == sha256_file(world / f"{name}.parquet")
    assert m["build_seconds"] > 0 and m["package_version"]
    assert all(v["ok"] for v in m["bounds"].values()), m["bounds"]


def test_world_has_every_circle_kind_topics_and_qa(world: Path) -> None:
    circles = _read(world, "circles").set_index("id")
    assert set(circles["kind"]) == {"brand", "interest", "industry", "sku_qa"}
    industry = circles[circles["kind"] == "industry"].index
    members = circles[circles["parent_id"].isin(industry)]
    assert set(members["kind"]) == {"brand"} and members.groupby("parent_id").size().min() >= 2
    qa = circles[circles["kind"] == "sku_qa"]
    assert qa["item_id"].notna().all() and set(circles.loc[qa["parent_id"], "kind"]) == {"brand"}
    tagged = _read(world, "post_topics")
    topics = _read(world, "topics").set_index("id")
    assert len(tagged) > 0 and set(tagged["topic_id"]) <= set(topics.index)
    questions, answers = _read(world, "questions"), _read(world, "answers")
    invites = _read(world, "question_invites")
    assert set(answers["question_id"]) <= set(questions["id"])
    # every answer comes from an invited buyer of that question
    pairs = set(zip(invites["question_id"], invites["user_id"], strict=True))
    assert all(p in pairs for p in zip(answers["question_id"], answers["author_id"], strict=True))
