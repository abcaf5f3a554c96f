"""Tiny, varied, deterministic texts in the shared corpora's layout, for the moderation tests.

Hundreds of distinct review-like sentences (enough for every hash split to get some), a
small COLD with official split files, and an SMS file with promotions and normal texts.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pandas as pd

OPENERS = (
    "东西收到了",
    "第二次购买",
    "物流很快",
    "包装很严实",
    "客服态度不错",
    "价格实惠",
    "质量一般",
    "等了好几天才到",
    "朋友推荐的",
    "活动时买的",
)
BODIES = (
    "用了一周感觉还行",
    "颜色和图片一样",
    "味道很好",
    "尺码偏小一点",
    "电池续航不错",
    "屏幕很清晰",
    "房间很干净",
    "早餐种类有点少",
    "做工细致",
    "声音有点大",
)
ENDINGS = (
    "推荐购买。",
    "下次还会再来。",
    "有点失望。",
    "总体满意！",
    "就是有点贵。",
    "给五分。",
    "再观察一段时间。",
)
NEGATIVE_ENDINGS = ("有点失望。", "就是有点贵。")
CATEGORIES = ("书籍", "平板", "手机", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机", "酒店")


def review_texts() -> list[tuple[str, int]]:
    """(text, 1 positive / 0 negative) for 700 distinct review sentences."""
    out = []
    for a, b, c in itertools.product(OPENERS, BODIES, ENDINGS):
        out.append((f"{a}，{b}，{c}", 0 if c in NEGATIVE_ENDINGS else 1))
    return out


def review_frame() -> pd.DataFrame:
    """Review hosts in ``load_hosts`` layout, splits by row number (8:1:1)."""
    rows = []
    for i, (text, label) in enumerate(review_texts()):
        split = ("train",) * 8 + ("dev", "test")
        rows.append(
            {
                "text": text,
                "norm": text,
                "label": label,
                "category": CATEGORIES[i % len(CATEGORIES)],
                "split": split[i % 10],
                "corpus": "online_shopping",
                "row": i,
            }
        )
    return pd.DataFrame(rows)


GROUPS = ("外地人", "女司机", "那群人", "某些网友", "这帮家伙")
INSULTS = ("都是垃圾", "真恶心", "脑子有病", "滚出去", "素质太低")
SAFE = ("也有很多好人", "值得尊重", "的生活不容易", "和我们一样努力", "需要更多理解")
PROMOS = (
    "全场{n}折，进店有礼",
    "招聘兼职日结{n}元，详询",
    "会员日满{n}00减50，欢迎选购",
    "新店开业前{n}名送礼品",
)
NORMAL_SMS = (
    "明天{n}点开会别迟到",
    "快递放在{n}号门卫了",
    "晚上{n}点一起吃饭吧",
    "作业第{n}题怎么做",
)


def _write(path: Path, header: list[str], rows: list[tuple[object, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_tiny_corpora(root: Path) -> Path:
    """Write the five corpora files under ``root`` in the shared folder's layout."""
    reviews = review_texts()
    shop = [
        (CATEGORIES[i % len(CATEGORIES)], label, text)
        for i, (text, label) in enumerate(reviews[:500])
    ]
    _write(
        root / "online_shopping_10_cats/online_shopping_10_cats.csv",
        ["cat", "label", "review"],
        shop,
    )
    _write(
        root / "waimai_10k/waimai_10k.csv",
        ["label", "review"],
        [(label, text) for text, label in reviews[500:600]],
    )
    _write(
        root / "chnsenticorp_htl/ChnSentiCorp_htl_all.csv",
        ["label", "review"],
        [(label, text) for text, label in reviews[600:]],
    )
    cold = [(1, f"{g}{x}") for g, x in itertools.product(GROUPS, INSULTS)]
    cold += [(0, f"{g}{x}") for g, x in itertools.product(GROUPS, SAFE)]
    for k, split in enumerate(("train", "dev", "test")):
        rows = [
            (i, split, ("race", "region", "gender")[i % 3], label, f"{text}{suffix}")
            for i, (label, text) in enumerate(cold)
            for suffix in (("", "！", "。") if split == "train" else ("啊",) if k == 1 else ("吧",))
        ]
        _write(root / f"cold/{split}.csv", ["", "split", "topic", "label", "TEXT"], rows)
    sms = [(1, p.format(n=n)) for p in PROMOS for n in range(2, 30)]
    sms += [(0, t.format(n=n)) for t in NORMAL_SMS for n in range(2, 60)]
    _write(root / "spam_sms/spam_sms_10k.csv", ["label", "text"], sms)
    return root
