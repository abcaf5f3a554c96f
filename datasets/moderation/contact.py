"""The labelled ``contact`` (站外引流) set: real texts with and without woven contact details.

Rows per split (each host text used once, its split inherited from the corpora):

- ``contact`` (label 1): a real review or SMS with a generated contact snippet woven in at a
  sentence boundary, obfuscated by one named transform (``obfuscation.py``). Train and
  dev use ``TRAIN_TRANSFORMS`` only; test uses ``HELDOUT_TRANSFORMS`` for a share
  ``heldout_share`` of its positives (``group == "heldout"``) and train transforms for the
  rest (``group == "train"``), so the two are reported separately.
- ``lookalike`` (label 0): a real text with a clean look-alike woven in (V领毛衣, 微信支付,
  客服QQ音乐, product and model numbers, order numbers, prices, dates…): the hard negatives.
- ``plain`` (label 0): a real text, unchanged.

Deterministic: the same hosts and config give the same frame, row for row.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from quanzi.datasets.corpora import SPLITS
from quanzi.datasets.moderation.hosts import derive_seed, distinct_hosts, sample_split, weave_span
from quanzi.datasets.moderation.obfuscation import (
    HELDOUT_BASE,
    HELDOUT_TRANSFORMS,
    TRAIN_TRANSFORMS,
    make_snippet,
    random_obfuscation,
)
from quanzi.datasets.normalize import normalize


@dataclass(frozen=True)
class ContactDataConfig:
    """Sizes and shares of the contact set (hosts per split; shares of those hosts)."""

    seed: int = 13
    n_train: int = 12_000
    n_dev: int = 2_000
    n_test: int = 4_000
    positive_share: float = 0.4  # hosts that get a contact snippet
    lookalike_share: float = 0.2  # hosts that get a clean look-alike
    heldout_share: float = 0.7  # of test positives, obfuscated by held-out transforms

    def n_for(self, split: str) -> int:
        return {"train": self.n_train, "dev": self.n_dev, "test": self.n_test}[split]

    def __post_init__(self) -> None:
        for name in ("positive_share", "lookalike_share", "heldout_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.positive_share + self.lookalike_share > 1.0:
            raise ValueError("positive_share + lookalike_share must not exceed 1")


# ---------------------------------------------------------------------------------------
# Clean look-alikes (moderation policy: these must pass)
# ---------------------------------------------------------------------------------------
def _digits(rng: random.Random, n: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


PRODUCT_MODELS = (
    "iPhone 13 Pro",
    "iPhone 15",
    "小米12",
    "红米Note 11",
    "华为Mate40",
    "荣耀X30",
    "vivo X90",
    "OPPO Reno8",
    "RTX3060",
    "i5-12400F",
    "骁龙888",
    "M2芯片",
    "iPad Air 5",
    "Kindle 558",
    "戴尔G15",
    "联想Y9000P",
)
LOOKALIKE_PHRASES: dict[str, tuple[str, ...]] = {
    "v_neck": ("这件V领毛衣很显瘦", "V领的设计很好看", "买了件v领t恤，版型不错"),
    "wechat_pay": (
        "微信支付很方便",
        "用微信付款的，秒到账",
        "微信里收到了发货通知",
        "朋友在微信上推荐的这家店",
    ),
    "qq_product": ("客服QQ音乐会员送了吗", "送的QQ音乐会员已经领了", "QQ空间里看到的推荐"),
    "platform_mention": (
        "在抖音上看到有人推荐才买的",
        "小红书上种草的",
        "之前在微博看过测评",
        "电话客服态度很好",
        "手机号绑定了会员，积分自动到账",
    ),
}


def _product_model(rng: random.Random) -> str:
    return rng.choice(
        ("买的{m}，用着流畅", "{m}比之前那台快多了", "这台{m}发热控制得不错", "对比了{m}才下单")
    ).format(m=rng.choice(PRODUCT_MODELS))


def _order_number(rng: random.Random) -> str:
    number = rng.choice(
        (
            _digits(rng, 18),
            _digits(rng, 19),
            "1" + _digits(rng, 10, "3456789"),
            "SF" + _digits(rng, 12),
            "YT" + _digits(rng, 13),
        )
    )
    return rng.choice(
        (
            "订单号：{n}",
            "快递单号{n}，物流很快",
            "运单号 {n} 第二天就到了",
            "订单编号{n}，客服处理得很及时",
        )
    ).format(n=number)


def _price(rng: random.Random) -> str:
    p = rng.randint(19, 6999)
    q = max(9, p - rng.randint(10, max(11, p // 3)))
    return rng.choice(
        (
            "原价{p}现在{q}元",
            "到手价{q}，挺划算",
            "{q}元入手的",
            "比上次便宜了{d}块",
            "原价{p}（{p}-{d}）还挺划算",
        )
    ).format(p=p, q=q, d=p - q)


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        (
            "{y}年{m}月{d}日下的单",
            "{y}-{m:02d}-{d:02d}到货",
            "{m}.{d}收到的",
            "{y}.{m}.{d}买的，用到现在",
        )
    ).format(y=y, m=m, d=d)


def _model_number(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHKMNPRSTWXYZ") for _ in range(rng.randint(2, 3)))
    model = rng.choice(
        (
            f"{letters}-{rng.randint(10, 999)}{rng.choice('ABCDGW')}{rng.randint(1, 9)}",
            f"KFR-{rng.randint(23, 72)}GW",
            f"EWH-{rng.randint(40, 80)}A{rng.randint(1, 5)}",
            f"{letters}{_digits(rng, 6)}",
        )
    )
    return rng.choice(("型号{x}", "买的是{x}这款", "{x}型号的，安装师傅很专业")).format(x=model)


def _size(rng: random.Random) -> str:
    template = rng.choice(
        ("身高{h}体重{w}斤，买的{s}码刚好", "{h}/{w}穿{s}正合适", "房间号{r}，安静")
    )
    return template.format(
        h=rng.randint(150, 190),
        w=rng.randint(80, 180),
        s=rng.choice(("S", "M", "L", "XL", "XXL")),
        r=rng.randint(201, 2520),
    )


def _quantity(rng: random.Random) -> str:
    return rng.choice(
        ("第{n}次回购了", "一次买了{n}箱", "用了{n}天再来评价", "等了{n}小时才送到")
    ).format(n=rng.randint(2, 48))


LOOKALIKES: dict[str, Callable[[random.Random], str]] = {
    **{name: (lambda rng, p=phrases: rng.choice(p)) for name, phrases in LOOKALIKE_PHRASES.items()},
    "product_model": _product_model,
    "order_number": _order_number,
    "price": _price,
    "date": _date,
    "model_number": _model_number,
    "size_or_room": _size,
    "quantity": _quantity,
}


def make_lookalike(rng: random.Random) -> tuple[str, str]:
    """(name, phrase) of one clean look-alike."""
    name = rng.choice(list(LOOKALIKES))
    return name, LOOKALIKES[name](rng)


# ---------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------
CONTACT_COLUMNS = (
    "text",
    "norm",
    "label",
    "kind",
    "subtype",
    "transform",
    "base_transforms",
    "group",
    "lookalike",
    "snippet",
    "evidence",
    "span_start",
    "span_end",
    "split",
    "corpus",
    "row",
    "category",
)


def build_contact_dataset(
    hosts: pd.DataFrame, config: ContactDataConfig | None = None
) -> pd.DataFrame:
    """The labelled contact set from real host texts (see the module docstring)."""
    cfg = config or ContactDataConfig()
    pool = distinct_hosts(hosts)
    rows: list[dict[str, object]] = []
    for split in SPLITS:
        sample = sample_split(pool, split, cfg.n_for(split), cfg.seed, "contact")
        rng = random.Random(derive_seed(cfg.seed, "contact-rows", split))
        n_pos = round(len(sample) * cfg.positive_share)
        n_look = round(len(sample) * cfg.lookalike_share)
        for i, host in enumerate(sample.itertuples(index=False)):
            base = {
                "split": split,
                "corpus": host.corpus,
                "row": int(host.row),
                "category": host.category,
                "subtype": "",
                "transform": "",
                "base_transforms": "",
                "group": "",
                "lookalike": "",
                "snippet": "",
                "evidence": "",
                "span_start": -1,
                "span_end": -1,
            }
            if i < n_pos:
                group = (
                    "heldout" if split == "test" and rng.random() < cfg.heldout_share else "train"
                )
                names = HELDOUT_TRANSFORMS if group == "heldout" else TRAIN_TRANSFORMS
                snippet = make_snippet(rng)
                name, obfuscated, used = random_obfuscation(rng, snippet, names)
                phrase = obfuscated.render()
                text, start, end = weave_span(rng, host.text, phrase)
                rows.append(
                    {
                        **base,
                        "text": text,
                        "label": 1,
                        "kind": "contact",
                        "subtype": snippet.subtype,
                        "transform": name,
                        "base_transforms": "+".join(used),
                        "group": group,
                        "snippet": phrase,
                        "evidence": snippet.evidence,
                        "span_start": start,
                        "span_end": end,
                    }
                )
            elif i < n_pos + n_look:
                name, phrase = make_lookalike(rng)
                text, start, end = weave_span(rng, host.text, phrase)
                rows.append(
                    {
                        **base,
                        "text": text,
                        "label": 0,
                        "kind": "lookalike",
                        "lookalike": name,
                        "snippet": phrase,
                        "span_start": start,
                        "span_end": end,
                    }
                )
            else:
                rows.append({**base, "text": host.text, "label": 0, "kind": "plain"})
    df = pd.DataFrame(rows, columns=[c for c in CONTACT_COLUMNS if c != "norm"])
    df.insert(1, "norm", df["text"].map(normalize))
    return df


def uses_heldout(base_transforms: str) -> bool:
    """Whether a row's composed transforms include a held-out one."""
    return any(name in HELDOUT_BASE for name in base_transforms.split("+") if name)
