"""Review-domain ``offensive`` rows: abuse aimed at people woven into real reviews, against
the same kind of real reviews left alone (complaints included).

Why: COLD (the offensive corpus) is Weibo/Zhihu talk about groups (race, gender, region).
Trained on it alone, the classifier reads a shopping complaint's strongest words (恶心,
骗子, 垃圾) as abuse, and misses abuse of a single person ("客服就是个傻逼", 0.26 with the
COLD-only model). The policy draws the line by target: a complaint about a product or a
merchant is allowed, an insult to a person is not. These rows teach that line in the
language circles carry:

- ``abuse`` (label 1): a real review (drawn from NEGATIVE reviews, so complaint vocabulary
  sits on both sides) with one abusive sentence aimed at a person woven in at a sentence
  boundary: a target (客服, 卖家, 骑手, 前台, 你们 …) and an insult (傻逼, 脑残, 去死 …),
  in one of a few word orders;
- ``complaint`` (label 0): other real reviews of the same split, untouched, two thirds
  negative (the complaints that were being rejected) and one third positive.

Every row keeps its host's corpus split. Insults and targets are shared by all splits
(like the ad phrases), so the rows teach the target structure; they are not a test of
unseen insults, and no test rows are built (COLD test stays the offensive test).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd

from quanzi.datasets.corpora import SPLITS
from quanzi.datasets.moderation.hosts import derive_seed, distinct_hosts, sample_split, weave_span
from quanzi.datasets.normalize import normalize

# People a review talks to or about (the target of abuse); never a product.
TARGETS = (
    "客服",
    "卖家",
    "店家",
    "老板",
    "商家",
    "快递员",
    "快递小哥",
    "骑手",
    "送餐的",
    "外卖小哥",
    "前台",
    "服务员",
    "经理",
    "司机",
    "保安",
    "店员",
    "你",
    "你们",
    "这人",
    "那个女的",
    "那个男的",
    "作者",
    "楼上",
    "楼主",
    "这些人",
)
# Insults and curses aimed at a person.
INSULTS = (
    "是个傻逼",
    "就是个傻X",
    "脑残吧",
    "是智障吗",
    "去死吧",
    "滚",
    "全家死光",
    "是狗东西",
    "不是人",
    "是畜生",
    "贱人一个",
    "猪脑子",
    "神经病",
    "有病吧",
    "废物一个",
    "蠢猪",
    "王八蛋",
    "是人渣",
    "脑子进水了吧",
    "丑八怪",
    "没妈的东西",
    "狗娘养的",
)
PREFIX_CURSES = ("操你妈的", "傻逼", "脑残", "死", "狗日的", "贱")
ABUSE_FORMS = (
    "{target}{insult}",
    "{curse}{target}",
    "{curse}{target}，{insult}",
    "这个{target}{insult}！",
)


def abusive_sentence(rng: random.Random) -> str:
    """One abusive sentence aimed at a person."""
    form = rng.choice(ABUSE_FORMS)
    return form.format(
        target=rng.choice(TARGETS), insult=rng.choice(INSULTS), curse=rng.choice(PREFIX_CURSES)
    )


@dataclass(frozen=True)
class AbuseDataConfig:
    """Hosts per split; half become ``abuse`` rows."""

    seed: int = 13
    n_train: int = 6_000
    n_dev: int = 1_000
    abuse_share: float = 0.5

    def n_for(self, split: str) -> int:
        return {"train": self.n_train, "dev": self.n_dev}.get(split, 0)


ABUSE_COLUMNS = ("text", "norm", "label", "kind", "snippet", "split", "corpus", "row", "category")


def build_abuse_dataset(
    reviews: pd.DataFrame,
    config: AbuseDataConfig | None = None,
) -> pd.DataFrame:
    """Abuse-in-review and untouched-review rows for train and dev (see the docstring)."""
    cfg = config or AbuseDataConfig()
    pool = distinct_hosts(reviews)
    rows: list[dict[str, object]] = []
    for split in SPLITS:
        n = cfg.n_for(split)
        if n == 0:
            continue
        n_abuse = round(n * cfg.abuse_share)
        negative = sample_split(pool[pool["label"] == 0], split, n_abuse, cfg.seed, "abuse-hosts")
        rest = pool[~pool["norm"].isin(negative["norm"])]
        n_neg = round((n - n_abuse) * 2 / 3)
        clean = pd.concat(
            [
                sample_split(rest[rest["label"] == 0], split, n_neg, cfg.seed, "complaints"),
                sample_split(
                    rest[rest["label"] == 1], split, n - n_abuse - n_neg, cfg.seed, "praise"
                ),
            ]
        )
        rng = random.Random(derive_seed(cfg.seed, "abuse-rows", split))
        for host in negative.itertuples(index=False):
            phrase = abusive_sentence(rng)
            text, _, _ = weave_span(rng, host.text, phrase)
            rows.append(
                {
                    "text": text,
                    "label": 1,
                    "kind": "abuse",
                    "snippet": phrase,
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                }
            )
        for host in clean.itertuples(index=False):
            rows.append(
                {
                    "text": host.text,
                    "label": 0,
                    "kind": "complaint",
                    "snippet": "",
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                }
            )
    df = pd.DataFrame(rows, columns=[c for c in ABUSE_COLUMNS if c != "norm"])
    df.insert(1, "norm", df["text"].map(normalize))
    return df
