"""Post texts of the circle world: real source texts, the hidden quality latent, and transforms.

Genuine shares are real reviews; merchant promotions are real promotional SMS; disguised
ads are real positive reviews with promotion woven in by the named transforms below;
publicity and filler are built from the documented templates. Every transform is a pure
function of a ``random.Random`` so a world is reproducible from its seed. The phrase
lists are the documentation: ``datasets/world/README.md`` quotes them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quanzi.datasets.corpora import CORPORA, hash_split
from quanzi.datasets.normalize import normalize
from quanzi.datasets.world.config import CIRCLES, WorldConfig

# Short nouns for the circle's product, used by templates.
NOUN = {
    "c_books": "书",
    "c_tablets": "平板",
    "c_phones": "手机",
    "c_fruit": "水果",
    "c_shampoo": "洗发水",
    "c_water_heaters": "热水器",
    "c_dairy": "牛奶",
    "c_clothing": "衣服",
    "c_computers": "电脑",
    "c_hotels": "酒店",
}
CLAIM = {
    "c_books": "内容权威、印刷精良",
    "c_tablets": "屏幕护眼、续航持久",
    "c_phones": "影像旗舰、信号稳定",
    "c_fruit": "产地直采、新鲜可口",
    "c_shampoo": "温和去屑、控油持久",
    "c_water_heaters": "速热恒温、安全节能",
    "c_dairy": "奶源优质、营养丰富",
    "c_clothing": "面料舒适、版型百搭",
    "c_computers": "性能强劲、散热出色",
    "c_hotels": "服务贴心、交通便利",
}
ASPECT = {
    "c_books": "译本和装帧",
    "c_tablets": "屏幕和续航",
    "c_phones": "影像和信号",
    "c_fruit": "产地和糖度",
    "c_shampoo": "成分和头皮护理",
    "c_water_heaters": "加热速度和安全",
    "c_dairy": "奶源和蛋白质含量",
    "c_clothing": "面料和版型",
    "c_computers": "处理器和散热",
    "c_hotels": "位置和服务",
}

# ---------------------------------------------------------------------------------------
# Disguised-ad transforms (L6): promotion woven into a real positive review.
# ---------------------------------------------------------------------------------------
COUPON_PHRASES = (
    "下单前记得先领券，券码{code}，还能再减{n}元",
    "店铺首页可以领{n}元优惠券，叠加满减更划算",
    "私信我发你{n}元隐藏券",
    "用我的口令{code}下单立减{n}元",
)
CASHBACK_PHRASES = (  # 好评返现: incentive-driven review
    "晒图好评联系客服返现{n}元",
    "五星好评截图给客服还能返{n}元红包",
    "带图追评可以领{n}元现金，亲测到账",
)
LINK_PHRASES = (
    "同款链接放主页了，自取",
    "链接在评论区置顶",
    "想要链接的看我主页",
    "戳我头像进橱窗有同款",
)
PRICE_PHRASES = (
    "现在活动价才{p}元，比平时便宜一半",
    "双十一到手价只要{p}元，错过再等一年",
    "今天直降{n}元，历史最低价",
)
CALL_PHRASES = (
    "姐妹们闭眼入！",
    "手慢无，赶紧冲！",
    "还没买的快去下单吧！",
    "真心推荐，买它买它！",
)
CONTACT_PHRASES = (
    "想要同款的加{v}：{handle}",
    "有需要的{v}我，{handle}",
    "{v} {handle} 拉你进优惠群",
)
CONTACT_ALIASES = ("vx", "薇信", "V信", "威信", "➕V", "扣扣", "wx")
SUPERLATIVE_PHRASES = (
    "这是我用过最好的{noun}，没有之一！",
    "全网最好用的{noun}，吹爆！",
    "颠覆认知的神级{noun}！",
)


def _code(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))


def _handle(rng: random.Random) -> str:
    letters = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(rng.randint(3, 6)))
    return letters + str(rng.randint(10, 99999))


def t_coupon_code(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(COUPON_PHRASES).format(code=_code(rng), n=rng.choice((5, 10, 20, 30, 50)))


def t_cashback(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(CASHBACK_PHRASES).format(n=rng.choice((2, 3, 5, 8, 10, 20)))


def t_link_in_bio(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(LINK_PHRASES)


def t_price_push(rng: random.Random, circle: str, price: float) -> str:
    p = max(1, round(price * rng.uniform(0.4, 0.7)))
    return rng.choice(PRICE_PHRASES).format(p=p, n=max(1, round(price * 0.3)))


def t_call_to_buy(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(CALL_PHRASES)


def t_contact_diversion(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(CONTACT_PHRASES).format(v=rng.choice(CONTACT_ALIASES), handle=_handle(rng))


def t_scripted_superlative(rng: random.Random, circle: str, price: float) -> str:
    return rng.choice(SUPERLATIVE_PHRASES).format(noun=NOUN[circle])


# name -> (phrase builder, selection weight, moderation labels it adds)
DISGUISE_TRANSFORMS: dict[
    str, tuple[Callable[[random.Random, str, float], str], float, tuple[str, ...]]
] = {
    "coupon_code": (t_coupon_code, 0.20, ("ad",)),
    "cashback": (t_cashback, 0.15, ("ad",)),
    "link_in_bio": (t_link_in_bio, 0.15, ("ad",)),
    "price_push": (t_price_push, 0.15, ("ad",)),
    "call_to_buy": (t_call_to_buy, 0.15, ("ad",)),
    "contact_diversion": (t_contact_diversion, 0.08, ("ad", "contact")),
    "scripted_superlative": (t_scripted_superlative, 0.12, ("ad",)),
}
_BOUNDARY = re.compile(r"[。！!？?；;，,\n]")


def weave(rng: random.Random, text: str, phrase: str) -> str:
    """Insert ``phrase`` at a random sentence boundary of ``text`` (or at its start or end).

    Weaving, not appending, is what makes disguised ads hard: the promotion sits inside
    first-hand prose rather than after it.
    """
    cuts = [m.end() for m in _BOUNDARY.finditer(text) if 0 < m.end() < len(text)]
    spots = [0, len(text), *cuts]
    at = rng.choice(spots)
    if at == 0:
        return phrase + ("，" if not phrase.endswith(("！", "。")) else "") + text
    if at == len(text):
        sep = "" if text.endswith(("。", "！", "!", "，", "～", "~")) else "，"
        return text + sep + phrase
    return text[:at] + phrase + ("，" if not phrase.endswith(("！", "。")) else "") + text[at:]


def disguise(
    rng: random.Random, text: str, circle: str, price: float, n_transforms: int
) -> tuple[str, list[str], set[str]]:
    """Weave ``n_transforms`` distinct promotion transforms into a real review."""
    names = list(DISGUISE_TRANSFORMS)
    weights = [DISGUISE_TRANSFORMS[n][1] for n in names]
    chosen: list[str] = []
    while len(chosen) < n_transforms:
        name = rng.choices(names, weights)[0]
        if name not in chosen:
            chosen.append(name)
    labels: set[str] = set()
    for name in chosen:
        builder, _, adds = DISGUISE_TRANSFORMS[name]
        text = weave(rng, text, builder(rng, circle, price))
        labels.update(adds)
    return text, chosen, labels


# ---------------------------------------------------------------------------------------
# Publicity (L4): brand publicity and "experts say" framing, from templates.
# ---------------------------------------------------------------------------------------
PUBLICITY_TEMPLATES = (
    "【{brand}】权威检测报告显示，{brand}{noun}{claim}，{stat}。",
    "{expert}表示：选{noun}要看{aspect}，{brand}在这方面一直是行业标杆。",
    "据{media}报道，{brand}{noun}{stat}，{claim}。",
    "{expert}推荐：{brand}{noun}，{claim}，{stat}。",
    "行业白皮书发布：{brand}连续{k}年{award}，{claim}。",
    "专家说，{aspect}是选{noun}的关键，{brand}{claim}，值得信赖。",
    "{brand}品牌日：{stat}，{expert}现场解读{aspect}的门道。",
)
EXPERTS = (
    "营养学专家",
    "资深测评机构",
    "行业协会专家",
    "知名医生",
    "研究院研究员",
    "十年资深从业者",
    "权威实验室",
)
MEDIA = ("权威媒体", "财经频道", "行业周刊", "生活报")
STATS = ("销量突破{k}万件", "好评率高达{pct}%", "累计服务{k}万家庭", "复购率{pct}%")
AWARDS = ("全国销量领先", "获得年度品质大奖", "位列品类口碑榜第一")


def publicity_text(rng: random.Random, circle: str, brand: str) -> str:
    """One publicity post: a template with brand, claim, expert and statistic slots."""
    k = rng.randint(2, 300)
    stat = rng.choice(STATS).format(k=k, pct=rng.randint(90, 99))
    return rng.choice(PUBLICITY_TEMPLATES).format(
        brand=brand,
        noun=NOUN[circle],
        claim=CLAIM[circle],
        aspect=ASPECT[circle],
        expert=rng.choice(EXPERTS),
        media=rng.choice(MEDIA),
        stat=stat,
        k=rng.randint(3, 12),
        award=rng.choice(AWARDS),
    )


# ---------------------------------------------------------------------------------------
# Filler (tier 0, moderation `spam`)
# ---------------------------------------------------------------------------------------
REPEAT_UNITS = ("好", "赞", "棒", "哈", "嗯", "啊", "6", "1", "好评")
DEFAULT_REVIEWS = (
    "默认好评",
    "此用户没有填写评价。",
    "系统默认好评",
    "用户未及时评价，系统默认好评！",
    "评价方未及时做出评价,系统默认好评!",
    "好评",
    "好评！好评！",
    "。。。。。。",
)
TEMPLATE_REVIEWS = (
    "宝贝收到了，和描述的一样，物流很快，好评！",
    "东西不错，包装完好，快递给力，五星好评",
    "还没用，用了再来追评",
    "打卡打卡，签到领积分",
    "挺好的挺好的挺好的",
    "不错不错，值得购买，下次还来",
)
RANDOM_POOL = (
    "qwertyuiopasdfghjklzxcvbnm的一是了我不在人有这个上们来到时大地为子中你说生国年着就那和要"
)


def filler_text(rng: random.Random, kind: str) -> str:
    """A filler post of ``kind`` (copy_paste is handled by the caller: it needs a source post)."""
    if kind == "repeated_chars":
        return rng.choice(REPEAT_UNITS) * rng.randint(4, 16) + "！" * rng.randint(0, 3)
    if kind == "default_review":
        return rng.choice(DEFAULT_REVIEWS)
    if kind == "template":
        return rng.choice(TEMPLATE_REVIEWS)
    if kind == "random_chars":
        return "".join(rng.choice(RANDOM_POOL) for _ in range(rng.randint(5, 20)))
    raise ValueError(f"no filler text builder for {kind!r}")


def brand_tag(text: str, brand: str) -> str:
    """Merchant-promotion transform: prefix the brand tag, as brand SMS campaigns do."""
    return f"【{brand}】{text}"


# Contact cues in the SMS corpus (numbers there are masked as x): moderation `contact`.
SMS_CONTACT = re.compile(r"电话|热线|微信|[Qq][Qq]|加我|致电|联系|回复|预约|xxxxx")

# ---------------------------------------------------------------------------------------
# Hidden quality latent of a real review (simulation variable, NOT a gold label)
# ---------------------------------------------------------------------------------------
# Concrete, checkable specifics (quality-rubric.md): numbers with units, durations,
# comparisons, named defects.
SPECIFICS = re.compile(
    r"\d+(?:\.\d+)?\s*(?:天|小时|分钟|周|个月|月|年|次|寸|英寸|斤|公斤|克|kg|KG|g|毫升|ml|ML|升|元|块|"
    r"GB|G|T|mAh|码|cm|厘米|米|度|℃|层|晚|间|页|本|核|瓶|箱|盒|个)"
    r"|[一二三四五六七八九十两几半]+(?:天|小时|分钟|周|个月|年|次|斤|瓶|箱|盒|晚)"
    r"|比[^，。！]{0,8}(?:好|差|强|弱|快|慢|大|小|贵|便宜)|相比|对比|之前用|以前用|换了"
    r"|缺点|不足|问题是|毛病|做工|续航|屏幕|尺码|面料|口感|味道|甜|酸|隔音|早餐|前台|卫生间|"
    r"发热|散热|电池|信号|头皮|头屑|泡沫|温度|安装|内容|翻译|印刷|纸张|情节"
)
GENERIC = re.compile(
    r"^[\s!！。，,.~～]*(?:很|非常|挺|还|太|超|蛮)?(?:好|不错|满意|推荐|喜欢|一般|"
    r"还行|差|很差|垃圾|失望|棒|赞|可以|好评|差评)"
)


def quality_features(texts: pd.Series) -> pd.DataFrame:
    """Observable features the quality latent is built from: chars, specifics, generic."""
    stripped = texts.str.strip()
    chars = stripped.str.len().astype(float)
    spec = texts.str.count(SPECIFICS.pattern).astype(float)
    generic = (
        stripped.str.contains(GENERIC.pattern, regex=True) & (chars < 20) & (spec == 0)
    ).astype(float)
    return pd.DataFrame(
        {"chars": chars.values, "specifics": spec.values, "generic": generic.values}
    )


def quality_latent(feats: pd.DataFrame, noise: np.ndarray, cfg: WorldConfig) -> np.ndarray:
    """score = sigmoid(len_w·ln(1+chars/10) + spec_w·min(spec, cap) − generic_w·generic + ε − c)."""
    z = (
        cfg.quality_len_w * np.log1p(feats["chars"].to_numpy() / 10.0)
        + cfg.quality_spec_w * np.minimum(feats["specifics"].to_numpy(), cfg.quality_spec_cap)
        - cfg.quality_generic_w * feats["generic"].to_numpy()
        + cfg.quality_noise * noise
        - cfg.quality_center
    )
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------------------
# Sources: real texts per circle, read straight from the shared corpora
# ---------------------------------------------------------------------------------------
@dataclass
class SourcePool:
    """Real texts available to the generator, with where each came from."""

    corpus: np.ndarray  # (n,) object: corpus name
    row: np.ndarray  # (n,) int: 0-based row in the corpus file (= load_corpus ``row``)
    label: np.ndarray  # (n,) int: the corpus label (1 positive review / 1 spam SMS)
    text: np.ndarray  # (n,) object: text as written
    circle: np.ndarray  # (n,) int: circle index (-1 for SMS)


def _read_raw(name: str, corpora_dir: Path) -> pd.DataFrame:
    """One corpus file as (text, label, category, row), filtered like ``load_corpus``.

    Reads the CSV directly instead of calling ``load_corpus``: that normalises all 90k
    texts up front (about 30 s), while a 1k-post world needs only ~1k of them; the split
    of each text actually used is computed below with the same ``hash_split``.
    """
    spec = CORPORA[name]
    frames = []
    for rel in spec.files:
        path = corpora_dir / rel
        if not path.is_file():
            raise FileNotFoundError(
                f"corpus file {path} not found: set QUANZI_CORPORA_DIR to the shared datasets "
                "folder"
            )
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        df = df.rename(columns=lambda c: c.strip().lstrip("\ufeff"))
        df["row"] = np.arange(len(df))
        frames.append(df)
    raw = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame(
        {
            "text": raw[spec.text_column].astype(str).str.lstrip("\ufeff"),
            "label": pd.to_numeric(raw[spec.label_column], errors="coerce"),
            "category": raw[spec.category_column] if spec.category_column else spec.category,
            "row": raw["row"],
        }
    )
    out = out[out["label"].notna() & (out["text"].str.strip().str.len() > 0)]
    out["label"] = out["label"].astype(int)
    return out.reset_index(drop=True)


def load_sources(corpora_dir: Path) -> tuple[SourcePool, SourcePool]:
    """(reviews for the ten circles, promotional SMS) from the shared corpora."""
    by_category = {c.category: i for i, c in enumerate(CIRCLES)}
    frames = []
    shop = _read_raw("online_shopping", corpora_dir)
    shop["circle"] = shop["category"].map(by_category)
    shop["corpus"] = "online_shopping"
    frames.append(shop[shop["circle"].notna()])
    hotel = _read_raw("hotel", corpora_dir)
    hotel["circle"] = by_category["酒店"]
    hotel["corpus"] = "hotel"
    frames.append(hotel)
    reviews = pd.concat(frames, ignore_index=True)
    sms = _read_raw("spam_sms", corpora_dir)
    sms = sms[sms["label"] == 1].reset_index(drop=True)

    def pool(df: pd.DataFrame, corpus: str | None, circle: np.ndarray) -> SourcePool:
        return SourcePool(
            corpus=(
                df["corpus"].to_numpy(dtype=object)
                if corpus is None
                else np.full(len(df), corpus, dtype=object)
            ),
            row=df["row"].to_numpy(dtype=np.int64),
            label=df["label"].to_numpy(dtype=np.int64),
            text=df["text"].to_numpy(dtype=object),
            circle=circle,
        )

    return (
        pool(reviews, None, reviews["circle"].to_numpy(dtype=np.int64)),
        pool(sms, "spam_sms", np.full(len(sms), -1, dtype=np.int64)),
    )


def splits_of(texts: np.ndarray) -> np.ndarray:
    """The corpora split (train/dev/test) of each text, exactly as ``load_corpus`` assigns it."""
    return np.array([hash_split(normalize(t)) for t in texts], dtype=object)
