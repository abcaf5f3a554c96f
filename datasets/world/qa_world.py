"""The circle world beyond brand circles: industry, interest and SKU Q&A circles, topic
tags on posts, and questions asked on SKUs answered by simulated past buyers.

Each buyer carries two latent traits (hidden: ``hidden/qa_truth.parquet``): how readily
they answer when asked and how helpful their answers are. Every logged question invites
a random sample of its SKU's past buyers (an exploration log), and whether and how each
answers is drawn from the traits (``respond``); the ask-the-buyer ranker sees only the
log (invites, answers, helpful votes, purchase times, activity), never the traits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from quanzi.datasets.world.config import CIRCLES, WorldConfig
from quanzi.datasets.world.qa_banks import (
    INDUSTRY_CIRCLES,
    INTEREST_CIRCLES,
    NON_ANSWERS,
    PARTIAL,
    QA,
    SHARED_TOPICS,
    TOPICS,
)

DAY = 86_400
HELPFUL, PARTIAL_LABEL, NON_ANSWER = 0, 1, 2
ANSWER_LABELS = ("helpful", "partial", "non_answer")


@dataclass(frozen=True)
class QAConfig:
    """Knobs of the Q&A and topic simulation (kept beside the world's, same seed)."""

    tag_share: float = 0.5  # of genuine posts naming exactly one topic: carry its #tag#
    sku_qa_circles_per_brand: int = 2  # the most popular SKUs get a 问大家 circle
    questions_per_kpost: float = 160.0
    invites_per_question: int = 12
    # Latent traits: P(answer | asked) ~ Beta(a, b) (skewed: a few answer a lot),
    # P(helpful | answers) ~ Beta(a, b).
    propensity_beta: tuple[float, float] = (0.6, 2.4)
    helpfulness_beta: tuple[float, float] = (2.0, 2.0)
    recency_days: float = 90.0  # answering decays with days since purchase (e-folding)
    fresh_days: float = 5.0  # bought this recently: mostly "还没用"


def topic_tables(
    rng: np.random.Generator,
    post_circle: np.ndarray,
    post_text: np.ndarray,
    genuine: np.ndarray,
    post_created: np.ndarray,
    circle_created: int,
    qcfg: QAConfig,
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], np.ndarray]:
    """Topics (per brand circle, and the interest circles') and post→topic links.

    A genuine post whose text names exactly one of its circle's topics carries that tag
    with probability ``tag_share``; a tagged post also joins the interest circles' topic
    of the same name when its category is theirs. Returns the two tables' columns and
    each post's tag index into the topics (-1: none).
    """
    names: list[str] = []
    circles: list[str] = []
    keywords: list[list[str]] = []
    index: dict[tuple[str, str], int] = {}
    for spec in CIRCLES:
        for name, kw in {**TOPICS[spec.category], **SHARED_TOPICS}.items():
            index[(spec.id, name)] = len(names)
            names.append(name)
            circles.append(spec.id)
            keywords.append(list(kw))
    for cid, _, topics, _cats in INTEREST_CIRCLES:
        for name in topics:
            index[(cid, name)] = len(names)
            names.append(name)
            circles.append(cid)
            kw = SHARED_TOPICS.get(name) or next(t[name] for t in TOPICS.values() if name in t)
            keywords.append(list(kw))
    tag = np.full(len(post_text), -1, dtype=np.int64)
    links: dict[str, list[Any]] = {"post": [], "topic": [], "created": []}
    draws = rng.random(len(post_text))
    for i, (c, text) in enumerate(zip(post_circle, post_text, strict=True)):
        if not genuine[i] or draws[i] >= qcfg.tag_share:
            continue
        spec = CIRCLES[int(c)]
        topics = {**TOPICS[spec.category], **SHARED_TOPICS}
        hits = [name for name, kw in topics.items() if any(k in text for k in kw)]
        if len(hits) != 1:
            continue
        name = hits[0]
        tag[i] = index[(spec.id, name)]
        links["post"].append(i)
        links["topic"].append(tag[i])
        links["created"].append(int(post_created[i]))
        for cid, _, its_topics, cats in INTEREST_CIRCLES:
            if name in its_topics and (not cats or spec.category in cats):
                links["post"].append(i)
                links["topic"].append(index[(cid, name)])
                links["created"].append(int(post_created[i]))
    topics_cols = {
        "circle": circles,
        "name": names,
        "keywords": keywords,
        "created": [circle_created] * len(names),
    }
    return topics_cols, links, tag


def extra_circles(popular_items: list[list[int]], item_titles: np.ndarray) -> list[dict[str, Any]]:
    """Industry, interest and SKU Q&A circles (``popular_items[c]``: circle c's SKUs to get
    a 问大家 circle, as item indexes)."""
    rows: list[dict[str, Any]] = []
    for cid, name, category, _members in INDUSTRY_CIRCLES:
        rows.append(
            dict(
                id=cid,
                name=name,
                kind="industry",
                category=category,
                brand="",
                description=f"{category}行业圈：汇集多个品牌圈的内容",
                parent_id=None,
                item=-1,
            )
        )
    for cid, name, topics, _cats in INTEREST_CIRCLES:
        rows.append(
            dict(
                id=cid,
                name=name,
                kind="interest",
                category="兴趣",
                brand="",
                description="兴趣圈，由话题定义：" + "、".join(f"#{t}#" for t in topics),
                parent_id=None,
                item=-1,
            )
        )
    for c, items in enumerate(popular_items):
        spec = CIRCLES[c]
        for item in items:
            rows.append(
                dict(
                    id=f"c_qa_{int(item) + 1:06d}",
                    name=f"问大家·{item_titles[item]}",
                    kind="sku_qa",
                    category=spec.category,
                    brand=spec.brand,
                    description=f"{item_titles[item]}的问大家：买过的人来回答",
                    parent_id=spec.id,
                    item=int(item),
                )
            )
    return rows


def industry_of(circle_id: str) -> str | None:
    """The industry circle a brand circle belongs to, if any."""
    return next((cid for cid, _, _, members in INDUSTRY_CIRCLES if circle_id in members), None)


@dataclass
class BuyerTraits:
    """Hidden per-account traits (index = account number)."""

    propensity: np.ndarray  # P(answer | asked), before recency
    helpfulness: np.ndarray  # P(helpful | answers)


def make_traits(
    rng: np.random.Generator, n_users: int, activity: np.ndarray, qcfg: QAConfig
) -> BuyerTraits:
    """Draw the traits; active users answer somewhat more (activity is observable through
    their posts, the propensity itself is not)."""
    a, b = qcfg.propensity_beta
    prop = rng.beta(a, b, n_users) * (
        0.6 + 0.8 * np.clip(activity / max(activity.max(), 1e-9), 0, 1)
    )
    ha, hb = qcfg.helpfulness_beta
    return BuyerTraits(np.clip(prop, 0.0, 0.95), rng.beta(ha, hb, n_users))


def answer_probabilities(
    traits: BuyerTraits, users: np.ndarray, days_since_purchase: np.ndarray, qcfg: QAConfig
) -> tuple[np.ndarray, np.ndarray]:
    """P(answers when asked) and P(helpful | answers) of each (user, days since purchase):
    the world's truth, read by the simulation and the offline evaluation only."""
    days = np.maximum(np.asarray(days_since_purchase, dtype=np.float64), 0.0)
    p_answer = traits.propensity[users] * np.exp(-days / qcfg.recency_days)
    fresh = days < qcfg.fresh_days  # just bought: cannot say much yet
    p_helpful = np.where(fresh, 0.2 * traits.helpfulness[users], traits.helpfulness[users])
    return p_answer, p_helpful


def respond(
    rng: np.random.Generator,
    traits: BuyerTraits,
    users: np.ndarray,
    days_since_purchase: np.ndarray,
    qcfg: QAConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw whether each asked buyer answers and the answer's label (``ANSWER_LABELS``)."""
    p_answer, p_helpful = answer_probabilities(traits, users, days_since_purchase, qcfg)
    answered = rng.random(len(users)) < p_answer
    u = rng.random(len(users))
    label = np.where(
        u < p_helpful,
        HELPFUL,
        np.where(u < p_helpful + (1 - p_helpful) * 0.5, PARTIAL_LABEL, NON_ANSWER),
    )
    return answered, label


def qa_tables(
    rng: np.random.Generator,
    text_rng: Any,
    n_posts: int,
    cfg: WorldConfig,
    item_circle: np.ndarray,
    item_popularity: np.ndarray,
    order_user: np.ndarray,
    order_item: np.ndarray,
    order_created: np.ndarray,
    n_users: int,
    traits: BuyerTraits,
    t_start: int,
    t_end: int,
    qa_circle_of_item: dict[int, str],
    qcfg: QAConfig,
) -> dict[str, dict[str, list[Any]]]:
    """Questions on SKUs, random invites of their past buyers, and the answers drawn."""
    n_q = max(50, round(qcfg.questions_per_kpost * n_posts / 1000))
    # SKUs with buyers, asked about in proportion to their popularity
    has_buyers = np.zeros(len(item_circle), dtype=bool)
    has_buyers[np.unique(order_item)] = True
    weight = np.where(has_buyers, item_popularity, 0.0)
    q_item = rng.choice(len(item_circle), size=n_q, p=weight / weight.sum())
    q_time = np.sort(rng.integers(t_start, t_end, size=n_q))
    by_item: dict[int, np.ndarray] = {}
    order_idx = np.argsort(order_item, kind="stable")
    bounds = np.searchsorted(order_item[order_idx], np.arange(len(item_circle) + 1))
    for it in range(len(item_circle)):
        by_item[it] = order_idx[bounds[it] : bounds[it + 1]]
    q: dict[str, list[Any]] = {
        k: [] for k in ("item", "circle", "author", "text", "created", "group")
    }
    inv: dict[str, list[Any]] = {k: [] for k in ("question", "user", "rank", "created")}
    ans: dict[str, list[Any]] = {
        k: [] for k in ("question", "user", "text", "label", "votes", "created")
    }
    for qi, (item, t) in enumerate(zip(q_item.tolist(), q_time.tolist(), strict=True)):
        spec = CIRCLES[int(item_circle[item])]
        groups = QA[spec.category]
        g = int(rng.integers(len(groups)))
        paraphrases, helpful = groups[g]
        orders = by_item[item]
        orders = orders[order_created[orders] < t]
        buyers, first = np.unique(order_user[orders], return_index=True)
        asker = int(rng.integers(n_users))
        q["item"].append(item)
        q["circle"].append(qa_circle_of_item.get(item, spec.id))
        q["author"].append(asker)
        q["text"].append(paraphrases[int(rng.integers(len(paraphrases)))])
        q["created"].append(t)
        q["group"].append(g)
        if len(buyers) == 0:
            continue
        bought = order_created[orders][first]
        pick = rng.permutation(len(buyers))[: qcfg.invites_per_question]
        users, days = buyers[pick], (t - bought[pick]) / DAY
        answered, label = respond(rng, traits, users, days, qcfg)
        for rank, (u, a, lab) in enumerate(
            zip(users.tolist(), answered.tolist(), label.tolist(), strict=True)
        ):
            inv["question"].append(qi)
            inv["user"].append(u)
            inv["rank"].append(rank + 1)
            inv["created"].append(t)
            if not a:
                continue
            bank = helpful if lab == HELPFUL else PARTIAL if lab == PARTIAL_LABEL else NON_ANSWERS
            ans["question"].append(qi)
            ans["user"].append(u)
            ans["text"].append(bank[text_rng.randrange(len(bank))])
            ans["label"].append(lab)
            ans["votes"].append(
                int(rng.poisson(3.0 if lab == HELPFUL else 0.6 if lab == PARTIAL_LABEL else 0.1))
            )
            ans["created"].append(min(t + int(rng.exponential(DAY)), t_end))
    return {"questions": q, "invites": inv, "answers": ans}
