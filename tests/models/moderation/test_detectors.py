"""Contact and privacy detectors: obfuscations decoded, look-alikes pass, spans exact."""

from __future__ import annotations

import pytest

from quanzi.models.moderation.detectors import detect, detect_contact, detect_privacy, id_card_valid


def _one(hits, subtype):
    found = [h for h in hits if h.subtype == subtype]
    assert found, f"no {subtype} hit in {hits}"
    return found[0]


@pytest.mark.parametrize(
    ("text", "subtype", "evidence"),
    [
        ("加我vx领券", "wechat", "加我vx"),
        ("➕薇：abc123", "wechat", "abc123"),
        ("加威信 ab_cd12 有惊喜", "wechat", "ab_cd12"),
        ("微 信 号：w x 1 2 3 4 5 6", "wechat", "wx123456"),
        ("QQ群 一二三四五六七八九", "qq", "123456789"),
        ("扣扣：壹贰叁肆伍陆柒", "qq", "1234567"),
        ("电话 幺三八零零幺三八零零零", "phone", "13800138000"),
        ("联系１３８００１３８０００", "phone", "13800138000"),
        ("1\u200b3\u200b8 0013 8000 有事打", "phone", "13800138000"),
        ("1🌸3🌸8🌸0🌸0🌸1🌸3🌸8🌸0🌸0🌸0", "phone", "13800138000"),
        ("小红书搜 lily_2023 看全部", "other_platform", "lily_2023"),
        ("详情见 http://t.cn/abcd", "url", "http://t.cn/abcd"),
        ("联系1+3+8+0+0+1+3+8+0+0+0", "phone", "13800138000"),
        ("有事打1=3=8=0=0=1=3=8=0=0=0", "phone", "13800138000"),
        ("加我微+信：a+b+c+1+2+3", "wechat", "abc123"),
        ("微❤️信：1❤️3❤️8❤️0❤️0❤️1❤️3❤️8❤️0❤️0❤️0", "wechat", "13800138000"),
        ("扣扣群：12345678", "qq", "12345678"),
        ("邮箱 abc.d@qq.com", "email", "abc.d@qq.com"),
    ],
)
def test_contact_obfuscations_are_decoded(text: str, subtype: str, evidence: str) -> None:
    hit = _one(detect_contact(text), subtype)
    assert hit.evidence == evidence
    assert text[hit.start : hit.end] == hit.text


@pytest.mark.parametrize(
    "text",
    [
        "V领毛衣很显瘦",
        "微信支付很方便",
        "客服QQ音乐会员送了吗",
        "这款手机13年买的用了五年",
        "订单号：19513967161 衣服偏薄",
        "原价1799（1999-200）还挺划算",
        "1999+299=2298元，质量+服务都好，好评+1",
        "Series 60 Developer Platform 2.0",
        "房间在3楼，离地铁2号线500米",
        "位于上海市羽山路166号，交通方便",
    ],
)
def test_clean_look_alikes_pass(text: str) -> None:
    assert detect(text) == []


def test_span_points_into_the_original_text_past_zero_width_characters() -> None:
    text = "好用！加我\u200bV\u200b信：ｈｅｌｌｏ＿８８"
    hit = _one(detect_contact(text), "wechat")
    assert hit.evidence == "hello_88"
    assert text[hit.start] == "V"
    assert text[hit.end - 1] == "８"


def test_id_card_checksum_is_validated() -> None:
    assert id_card_valid("11010519491231002X")
    assert not id_card_valid("110105194912310021")  # wrong check digit
    assert not id_card_valid("110105194913310028")  # month 13
    hits = detect_privacy("他的身份证11010519491231002x")
    assert _one(hits, "id_card").evidence == "11010519491231002X"
    assert detect_privacy("单号110105194912310021") == []


def test_another_persons_phone_is_privacy() -> None:
    hits = detect_privacy("快递员的电话13800138000，态度很差")
    assert _one(hits, "phone").evidence == "13800138000"
    assert detect_privacy("有问题打13800138000") == []


def test_home_address_is_privacy_but_a_hotel_address_is_not() -> None:
    assert _one(detect_privacy("家住朝阳区建国路88号3栋2单元501室"), "address")
    assert detect_privacy("酒店位于上海市羽山路166号，离地铁近") == []


# ---------------------------------------------- context: reported speech, businesses, words
REPORTED = [
    "和合谷居然说下次给我送,不让外送员过来了,还要加我微信给我转红包！差评",
    "客服让我加微信，说私下给我退款，我没理",
    "我没加他微信，直接申请了退款",
]


@pytest.mark.parametrize("text", REPORTED)
def test_reported_or_refused_call_to_add_falls_below_the_review_band(text: str) -> None:
    hits = detect_contact(text)
    assert hits == [] or max(h.confidence for h in hits) < 0.7


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("客服让我加微信abc12345", "abc12345"),  # a handle readers can add: still diversion
        ("东西不错，加我vx领券", "加我vx"),
        ("说真的，质量很好，加我微信：ab_cd123 备注圈子", "ab_cd123"),
    ],
)
def test_a_real_diversion_still_rejects_next_to_reported_speech(text: str, evidence: str) -> None:
    hit = _one(detect_contact(text), "wechat")
    assert hit.evidence == evidence and hit.confidence >= 0.9


def test_a_business_landline_or_hotline_goes_to_review_but_a_mobile_rejects() -> None:
    reply = "携程订房电话：800-820-6666；酒店订房电话：0311-86911999。"
    assert {h.evidence for h in detect_contact(reply)} == {"8008206666", "031186911999"}
    assert all(0.7 <= h.confidence < 0.9 for h in detect_contact(reply))
    assert _one(detect_contact("有事打电话13800138000"), "phone").confidence >= 0.9


@pytest.mark.parametrize("text", ["3年金牌上门服务 + Vista Business系统", "加VIP会员更划算"])
def test_the_letter_v_starting_a_word_is_not_a_wechat_stand_in(text: str) -> None:
    assert detect_contact(text) == []
    assert _one(detect_contact("加v abc123"), "wechat").evidence == "abc123"
