"""Issue 12, fifth pass: the rules added for real-review collateral and for diversion by
platform nickname or at the tail of a review. Each rule has a hit and a look-alike that
must pass. Cases written for this test (not taken from the adversarial set).
"""

from __future__ import annotations

import pytest

from quanzi.models.moderation.lexicon import REJECT, detect_lexicon, lexicon_confidence
from quanzi.models.moderation.policy import detector_moderation


def _conf(text: str, label: str) -> float:
    return lexicon_confidence(detect_lexicon(text), label)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # 狗叫 aimed at someone
        ("你狗叫什么，自己不会看说明书吗", "offensive"),
        ("轮得到你这只🐶叫吗", "offensive"),
        # 返佣 / 加盟 as a push
        ("推广返佣百分之三十，自用省钱", "ad"),
        ("诚邀加盟，县级代理名额不多", "ad"),
        ("凉皮店不收加盟费，总部包培训", "ad"),
        # platform nicknames with the diversion context
        ("徒步路线都在公主号里，搜一下“山野阿飞”", "contact"),
        ("旧婴儿床要出，海鲜市场搜 大熊家的闲置", "contact"),
        ("拆箱视频在某音，搜 小鹿开箱", "contact"),
        ("食谱合集去wb搜 厨房日记66", "contact"),
        ("同款我在红色软件也发了，ID跟这边一样", "contact"),
        ("想看上身图去围脖，我每天更新", "contact"),
        ("九成新低价出，海鲜市场见", "contact"),
        ("视频号同名账号，每周拆箱", "contact"),
        ("同名来找我，价格好商量", "contact"),
        # pointers to the avatar / profile page, 戳我, WeChat = phone by homophone
        ("换芯找我便宜一半，号码就在头像上", "contact"),
        ("骑行群群号见我个人页", "contact"),
        ("想拼单的戳我，我拉你", "contact"),
        ("批发请问我，威 信 同 手 机 号", "contact"),
        # pointers and numbers added with the third batch
        ("需要团购价的扣我", "contact"),
        ("想进群的评论区扣1我拉你", "contact"),
        ("穿搭清单在我的小红薯笔记里", "contact"),
        ("我在快手有直播间，每晚讲怎么挑", "contact"),
        ("需要教程的 d d", "contact"),
        ("批发的话看我置顶动态", "contact"),
        ("要的留个电话，我打给你", "contact"),
        ("我的 Q 是 3️⃣8️⃣2️⃣9️⃣1️⃣0️⃣4️⃣6️⃣", "contact"),
        ("会所新来了几个妹子，价格美丽", "sexual"),
    ],
)
def test_new_rules_reject(text: str, label: str) -> None:
    assert _conf(text, label) >= REJECT, [(h.label, h.evidence) for h in detect_lexicon(text)]
    assert detector_moderation(text)["decision"] == "reject"


@pytest.mark.parametrize(
    "text",
    [
        # dogs that bark, pets called 扣扣
        "半夜楼下狗叫了一整晚，隔音太差",
        "我家的狗叫扣扣，这个窝它很喜欢",
        # a guest's complaint about a booking site's commission or franchise hotels
        "难道是因为每晚三十元的返佣费给得少？",
        "这是一家加盟店，服务跟直营的差很多",
        "建议平台取消这种酒店的加盟资格",
        "只想着赚加盟费，不管服务质量",
        # a buyer quoting the page's promise in a complaint
        "页面显示“下单立减100”，付款时一分没减",
        # platforms and their nicknames named plainly
        "微博热搜上那个同款杯子，没想到这么重",
        "在海鲜市场买的虾用这个锅蒸，十分钟就熟",
        "这本书和电视剧同名，内容比剧里丰富",
        "店铺主页有尺码表，买之前看一下",
        "戳我笑点了，这个小夜灯的造型太可爱",
        "wb代表白色款，别拍错了",
        "公众号推文说有荧光剂，我查了成分表没有",
        # the same words in everyday senses
        "凭什么扣我运费，差评",
        "在我的抖音上刷到的，买来果然好用",
        "我在快手上看过测评才买的",
        "留了电话让快递员联系我，结果没人打来",
        "关注店铺有新品提醒，挺方便的",
        "Q弹的面料，型号是2024款",
        "这波操作太骚了，客服半小时就补发了",
        # a member warning about a diversion
        "有人在评论区留微信号说有便宜货，大家别信，肯定是骗子",
    ],
)
def test_look_alikes_of_the_new_rules_pass(text: str) -> None:
    hits = detect_lexicon(text)
    assert detector_moderation(text)["decision"] == "pass", [(h.label, h.evidence) for h in hits]


def test_padded_content_goes_to_review_and_pure_filler_still_rejects() -> None:
    padded = "差评" * 40 + "用了一周头皮反而更痒，洗完还掉很多头发！"
    filler = "差评" * 40
    assert _conf(padded, "spam") == pytest.approx(0.75)
    assert detector_moderation(padded)["decision"] == "review"
    assert _conf(filler, "spam") >= REJECT
    assert detector_moderation(filler)["decision"] == "reject"


def test_a_person_called_sao_goes_to_review() -> None:
    assert _conf("店主本人也太骚了吧，穿成这样卖货", "sexual") == pytest.approx(0.75)


def test_an_add_told_as_past_with_its_outcome_is_a_report_not_an_invitation() -> None:
    narrated = "店里电话打不通，语音让加微信，加微信后，咨询一直没回复，差评"
    invitation = "加微信后发你优惠券，先到先得"
    assert detector_moderation(narrated)["decision"] == "pass"
    assert detector_moderation(invitation)["decision"] == "reject"
