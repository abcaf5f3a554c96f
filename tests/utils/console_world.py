"""A small circle world behind a real HTTP server, for the editor console's tests.

``console_server`` serves ``create_app`` with uvicorn on a free loopback port in a thread of
the test process, with the small real models of ``serving_models`` (hashed n-gram encoder,
rule moderation, length quality, provenance trust), so a browser can drive it end to end in
seconds. ``load_posts`` sends the world's posts through ``POST /v1/posts`` with an ingest
key, so they are moderated, scored, embedded, indexed and queued exactly as in production.

What the world holds (circle ``c-beauty``, 美妆圈, unless said otherwise):
- long first-hand reviews by ordinary users (L3, tier 3) and a certified creator (L2);
- ``p-dup-a`` and ``p-dup-b``: a review and a lightly edited copy (hashed cosine 0.92: under
  ingest's 0.95, so both pass, but over the banner's 0.90: the console warns);
- ``p-ad-*``: posts pushing a shop visit (进店, one mention: review) — the review queue;
- a coupon push (优惠券 ×3: rejected, L5) and a short post (tier 1);
- interactions in the last days on some posts, so the hot list has an order.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from quanzi.evaluation.bench_server import free_port
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.orm import Interaction

from . import serving_models as sm

CIRCLE = "c-beauty"
DAY = datetime(2025, 11, 5, 4, 0, tzinfo=UTC)  # preheat (Nov 1–10, China time)

# (id, author, text, days before DAY): the posts, in the order they are ingested.
POSTS: list[tuple[str, str, str, int]] = [
    (
        "p-dup-a",
        "u-1",
        "这款保湿面霜质地轻薄好推开，冬天在暖气房里用一整天脸也不干，"
        "敏感肌用了两周没有泛红，味道很淡，回购第三瓶了。",
        3,
    ),
    (
        "p-creator",
        "u-creator",
        "实测三款保湿面霜：这款的神经酰胺含量最高，涂完半小时后"
        "水分仪读数从32升到51，油皮夏天可能略厚，干皮冬天首选。",
        2,
    ),
    (
        "p-serum",
        "u-2",
        "精华液用了一个月，痘印淡了不少，质地像水一样很快吸收，早晚各两滴，"
        "搭配防晒效果更明显，就是瓶子有点小，一个月刚好用完。",
        10,
    ),
    (
        "p-lipstick",
        "u-3",
        "这支口红颜色是偏棕的红，黄皮涂上显白不显老，薄涂日常厚涂约会都行，"
        "持妆大概四小时，吃饭后会掉一些，滋润不拔干。",
        20,
    ),
    (
        "p-sunscreen",
        "u-4",
        "防晒霜在海边暴晒一下午没晒黑，不搓泥不假白，上妆前用也不影响粉底，"
        "卸妆要用卸妆油才洗得干净，敏感肌没有刺痛。",
        40,
    ),
    (
        "p-cleanser",
        "u-5",
        "氨基酸洗面奶泡沫细腻，洗完不紧绷，早上只用清水加它就够了，"
        "一支能用三个月，油皮的朋友晚上可能还要配合卸妆。",
        5,
    ),
    (
        "p-mask",
        "u-6",
        "补水面膜精华很多，敷完第二天上妆特别服帖，一周用两次刚好，"
        "但是面膜纸有点薄，容易破，取的时候要小心一点。",
        1,
    ),
    (
        "p-dup-b",
        "u-1",
        "这款保湿面霜质地轻薄好推开，冬天在暖气房里待一整天脸也不干，"
        "敏感肌连用两周没有泛红，香味很淡，回购第三瓶了。",
        2,
    ),
    (
        "p-ad-1",
        "u-7",
        "这个面霜真的好用，质地清爽不油腻，想了解更多的话可以进店看看，最近有活动价格很划算。",
        1,
    ),
    (
        "p-ad-2",
        "u-8",
        "面膜到货了包装完好，进店咨询客服态度也不错，发货速度很快，"
        "敷了一次感觉还行，再观察一下效果。",
        0,
    ),
    ("p-coupon", "u-7", "领优惠券！优惠券满减！优惠券限时抢，面霜直降五十，手慢无。", 0),
    ("p-short", "u-2", "还行吧，一般般。", 4),
]
AUTHORS = ["u-2", "u-3", "u-4", "u-5", "u-6", "u-7", "u-8"]
# (post id, clicks, likes) in the last day: the hot list's base order is this order.
ENGAGEMENT = [
    ("p-serum", 9, 6),
    ("p-lipstick", 7, 4),
    ("p-sunscreen", 5, 3),
    ("p-cleanser", 3, 2),
    ("p-mask", 2, 1),
    ("p-creator", 1, 1),
]


def seed_store(f: Any) -> dict[str, str]:
    """Circles, authors and one key per role; returns the keys (the raw key strings)."""
    sm.seed_world(f)  # c-beauty, c-phone, u-1 (with order o-1), u-creator, item i-1
    for user_id in AUTHORS:
        f.user(id=user_id, display_name=f"买家{user_id[2:]}")
    return {
        role: create_key(f.session, role, f"{role}-1")[1]
        for role in ("feed-service", "ingest", "editor", "admin")
    }


def load_posts(base: str, ingest_key: str) -> list[dict[str, Any]]:
    """Send the world's posts through the ingest API (one request per post, in order, so
    the later copy is compared with the earlier original)."""
    results = []
    with httpx.Client(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {ingest_key}"}
    ) as client:
        for post_id, author, text, days in POSTS:
            body = {
                "id": post_id,
                "circle_id": CIRCLE,
                "author_id": author,
                "text": text,
                "created_at": (DAY - timedelta(days=days)).isoformat(),
            }
            if post_id == "p-dup-a":
                body.update(item_id="i-1", order_id="o-1")
            response = client.post("/v1/posts", json=body)
            response.raise_for_status()
            results += response.json()["results"]
    return results


def add_engagement(f: Any, now: datetime | None = None) -> None:
    """Clicks and likes within the last day on ``ENGAGEMENT``'s posts."""
    now = now or datetime.now(UTC)
    for post_id, clicks, likes in ENGAGEMENT:
        for i in range(clicks + likes):
            f.session.add(
                Interaction(
                    user_id=AUTHORS[i % len(AUTHORS)],
                    post_id=post_id,
                    kind="click" if i < clicks else "like",
                    created_at=now - timedelta(hours=1 + i),
                )
            )
    f.session.flush()


@contextlib.contextmanager
def console_server(
    settings: Settings, loader: Callable[[Settings], Any] | None = None, timeout_s: float = 60
) -> Iterator[tuple[str, FastAPI]]:
    """``create_app(settings)`` served by uvicorn on a free port; yields (base URL, app)."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console test server did not start")
        time.sleep(0.02)
    app.state.quanzi.models.loader = loader or sm.fake_loader()  # before the first use
    try:
        yield f"http://127.0.0.1:{server.config.port}", app
    finally:
        server.should_exit = True
        thread.join(timeout_s)


def csrf_of(html: str) -> str:
    """The CSRF token a console page carries in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> Any:
    """Post the sign-in form as a browser would (token from the form and its cookie)."""
    page = client.get("/console/sign-in")
    return client.post("/console/sign-in", data={"key": key, "csrf_token": csrf_of(page.text)})
