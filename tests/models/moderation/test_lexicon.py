"""The moderation lexicon: evasions it must catch, look-alikes it must leave alone.

Cases written for this test (not taken from the adversarial set).
"""

from __future__ import annotations

import pytest

from quanzi.models.moderation.lexicon import (
    REJECT,
    REVIEW,
    detect_lexicon,
    lexicon_confidence,
    repetition_share,
)
from quanzi.models.moderation.policy import detector_moderation, rule_hits


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("穿搭合集都在小红薯，搜我同名就行", "contact"),
        ("围脖上我更新得勤，同名哈", "contact"),
        ("想要的去咸鱼找我，便宜出", "contact"),
        ("有需要的滴滴我，发你实拍", "contact"),
        ("绿泡泡搜 lulu_2088 备注来意", "contact"),
        ("➕卫星：ab_cd_99 随时在线", "contact"),
        ("扣扣：伞舞溜气巴久衣而司", "contact"),
        ("电话：壹叁捌 零零零零 陆陆陆陆", "contact"),
        ("网址是 www点lucky88点com 自己看", "contact"),
        ("家人们，直播间下单再减二十", "ad"),
        ("￥AbC123xyZ9￥ 复制整段打开看看", "ad"),
        ("工厂直销，没有中间商赚差价", "ad"),
        ("楼上nmsl", "offensive"),
        ("这种煞笔设计也好意思卖", "offensive"),
        ("客服是个傻b吧", "offensive"),
        ("河南人就是一群骗子", "offensive"),
        ("好好好好好好好好好好好好", "spam"),
        ("凑字数凑字数，东西还行", "spam"),
        ("在家兼职日结，手机操作就能赚", "fraud"),
        ("把收到的验证码发我一下就能领红包", "fraud"),
        ("信用卡套现，秒到账", "fraud"),
        ("百家乐稳赢计划，跟着投注就行", "gambling"),
        ("时时彩倍投必中", "gambling"),
        ("同城约吗，今晚有空", "sexual"),
        ("身份证：110101199001011237 就是他", "privacy"),
        ("他家住阳光小区5栋2单元301", "privacy"),
    ],
)
def test_evasions_are_caught_and_rejected(text: str, label: str) -> None:
    hits = detect_lexicon(text)
    assert lexicon_confidence(hits, label) >= REJECT, [(h.label, h.evidence) for h in hits]
    assert detector_moderation(text)["decision"] == "reject"


@pytest.mark.parametrize(
    "text",
    [
        "微信支付很方便，秒到账",
        "V领毛衣很显脸小",
        "在抖音刷到的这款，实物更好看",
        "公众号推文说这款有荧光剂，我查了没有",
        "牛逼，这收纳盒救了我的桌面",
        "傻瓜式操作，老人一看就会",
        "NT$的价格是台湾那边的",
        "CNC加工的外壳，手感好",
        "新疆的葡萄干很甜",
        "我是农村的，家里老人说暖和",
        "刷了三天剧，护眼模式真的有用",
        "扑克牌纸质硬挺，洗牌不粘",
        "桃子味🍑的沐浴露很好闻",
        "安全套超薄，隐私发货",
        "胸围88，M码刚好不勒",
        "型号JSQ30-16WH，16升够两个人用",
        "小米13 Ultra 12+256，用了半年不卡",
        "哈哈哈哈笑死，猫把快递盒当窝了",
        "怎么还没到货？？？？？？？？？？",
        "领了券才买的，不然原价有点贵",
        "我私信问了店家，说下周补货",
        "不要相信任何让你加好友的客服",
        "我住6楼没电梯，快递小哥还是送上来了",
        "打开盒子确实被惊艳到了",
        "两口子一人一个，很划算",
        "看了一半，写得还不错",
        "绿色泡泡袖的连衣裙很仙",
    ],
)
def test_look_alikes_pass(text: str) -> None:
    assert detector_moderation(text)["decision"] == "pass", [
        (h.label, h.subtype, h.evidence) for h in rule_hits(text) if h.confidence >= 0.7
    ]


def test_spans_point_into_the_original_text() -> None:
    text = "好用！想要同款的加 v x：wuya_999 哦"
    hits = [h for h in detect_lexicon(text) + rule_hits(text) if h.label == "contact"]
    assert hits
    for h in hits:
        assert text[h.start : h.end] == h.text


def test_a_quoted_call_to_add_is_not_a_diversion() -> None:
    hits = detect_lexicon("客服让我加个好友，我没理")
    assert lexicon_confidence(hits, "contact") < REVIEW


def test_repetition_share_counts_words_not_trailing_punctuation() -> None:
    assert repetition_share("不错不错不错不错不错") == 1.0
    assert repetition_share("还没到货？？？？？？？？？？？？") < 0.5
    assert repetition_share("哈哈哈，还行") == 0.0


def test_soft_evidence_goes_to_review() -> None:
    assert detector_moderation("有兴趣的踢我")["decision"] == "review"
    assert detector_moderation("这个设计真沙雕")["decision"] == "review"


@pytest.mark.parametrize(
    "text",
    [
        "更多搭配在晓红书，搜我同名就有",  # 晓红书 reads xiao hong shu
        "斗音上同名，每天更新",  # 斗音 reads dou yin
        "威博私信我，这边不方便",  # 威博 reads wei bo
        "线鱼上同名，闲置都在那",  # 线鱼 reads xian yu
        "xiaohongshu同名，图更全",  # the name spelled in pinyin
    ],
)
def test_platform_names_written_by_sound_are_platforms(text: str) -> None:
    hits = detect_lexicon(text)
    assert lexicon_confidence(hits, "contact") >= REJECT, [(h.subtype, h.text) for h in hits]
    for h in hits:
        assert text[h.start : h.end] == h.text


@pytest.mark.parametrize(
    "text",
    [
        "微波炉加热很快，我发给我妈看了，她也想买",  # 微波 reads wei bo: an everyday word
        "都因为物流慢，搜了半天才找到单号",  # 都因 reads dou yin
        "鲜鱼收到还是冰的，同名的店我也买过",  # 鲜鱼 reads xian yu
        "在斗音刷到的，实物一样好看",  # a platform by sound, but no diversion
    ],
)
def test_sound_alike_words_and_plain_mentions_pass(text: str) -> None:
    assert detector_moderation(text)["decision"] == "pass", [
        (h.label, h.subtype, h.evidence) for h in rule_hits(text) if h.confidence >= 0.7
    ]


def test_platform_sounds_keeps_length_and_offsets() -> None:
    from quanzi.models.moderation.lexicon import platform_sounds, views

    _, squeezed = views("去 斗 音 搜我")
    out = platform_sounds(squeezed)
    assert out.text == "去抖音搜我"
    assert out.src == squeezed.src
    assert platform_sounds(views("微波炉很好")[1]).text == "微波炉很好"
