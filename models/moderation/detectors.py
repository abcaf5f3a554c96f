"""Pattern detectors for ``contact`` (off-platform diversion) and ``privacy`` (personal data).

Why rules beside the learned model: contact details are short, exact strings that posters
obfuscate on purpose, and an editor needs the exact span and the decoded evidence
(``幺三八…`` → ``138…``) to act. The detectors:

1. normalise the text (NFKC, full-width → half-width, zero-width characters removed,
   traditional → simplified) keeping a map back to the original offsets;
2. *squeeze* it: drop the filler posters put between characters (spaces, ``+``, ``-``,
   dots, emoji, …) and decode digit look-alikes (Chinese numerals, 幺/两/洞, financial
   numerals) — again keeping the offset map;
3. match keyword families (微信 and its 谐音 薇信/威信/V信/vx…, QQ/扣扣, phone words, other
   platforms, group invites) followed by a handle or a number, bare mobile numbers, URLs,
   e-mail addresses, checksum-valid ID-card numbers and residential addresses.

Look-alikes that must pass (policy): "V领毛衣", "微信支付很方便", "客服QQ音乐会员送了吗".
A keyword alone is never a hit; it needs a handle, a number or an explicit call to add.

Context that is not diversion lowers a hit's confidence instead of hiding it (policy:
quoting is not diverting, complaints are allowed):
- a call to add WITHOUT a handle that the poster reports or refuses ("客服让我加微信",
  "商家还要加我微信给我转红包", "我没加他微信") drops below the review band: readers get
  nothing to add; the same sentence WITH a handle or number still rejects;
- a landline or a 400/800 service hotline ("客服热线010-…", a hotel's booking line) is a
  business's public number, not a person's: review, not reject (mobiles and handles reject);
- the one-letter stand-in "v" counts only before a handle with a digit: "+ Vista" is a word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from quanzi.datasets.normalize import normalize_with_offsets

CONTACT_SUBTYPES = ("wechat", "qq", "phone", "url", "email", "other_platform")
PRIVACY_SUBTYPES = ("phone", "id_card", "address")


@dataclass(frozen=True)
class Hit:
    """One detector match, with its span in the ORIGINAL text and the decoded evidence."""

    label: str  # "contact" | "privacy"
    subtype: str
    start: int
    end: int
    text: str  # the original characters of the span
    evidence: str  # what the span decodes to, e.g. "13800138000" or "abc123"
    confidence: float

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "subtype": self.subtype,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "evidence": self.evidence,
            "confidence": self.confidence,
        }


# Digit look-alikes → ASCII digit. 十 is left out: it changes magnitude, not a digit.
DIGIT_LOOKALIKES = {
    **dict.fromkeys("0〇零洞", "0"),
    **dict.fromkeys("1一幺壹", "1"),
    **dict.fromkeys("2二两贰", "2"),
    **dict.fromkeys("3三叁", "3"),
    **dict.fromkeys("4四肆", "4"),
    **dict.fromkeys("5五伍", "5"),
    **dict.fromkeys("6六陆", "6"),
    **dict.fromkeys("7七柒", "7"),
    **dict.fromkeys("8八捌", "8"),
    **dict.fromkeys("9九玖", "9"),
}
# Characters posters insert between the characters of a handle or number.
FILLER = set(" \t+-*.·•,，、|/\\~^=:：;；'\"`()（）[]【】<>《》!！?？…")
# Symbols that stand for "add" before an account word.
PLUS_SIGNS = {"➕": "+", "✚": "+", "十": "十"}

WECHAT_WORDS = (
    "微信",
    "薇信",
    "威信",
    "徽信",
    "维信",
    "溦信",
    "卫信",
    "微芯",
    "围信",
    "v信",
    "vx",
    "wx",
    "weixin",
    "wechat",
    "vchat",
)
# One-character stand-ins for 微信 count only right after a call to add ("加v", "➕薇").
WECHAT_SHORT = ("v", "薇", "威", "微", "位")
QQ_WORDS = ("qq群", "q群", "qq", "扣扣", "抠抠", "企鹅号", "球球", "口口")
PHONE_WORDS = ("手机号", "手机", "电话", "tel", "联系方式", "打我", "call")
PLATFORM_WORDS = (
    "抖音",
    "快手",
    "小红书",
    "闲鱼",
    "微博",
    "b站",
    "哔哩哔哩",
    "拼多多",
    "得物",
    "ins",
    "tiktok",
    "dy",
    "xhs",
)
_ADD_TARGET_STARTS = frozenset(w[0] for w in (*WECHAT_WORDS, *WECHAT_SHORT, *QQ_WORDS))
GROUP_WORDS = ("群号", "进群", "加群", "拉群", "入群")
ADD_WORDS = (
    "加我",
    "加",
    "+",
    "添加",
    "联系",
    "找我",
    "私我",
    "私聊",
    "私信",
    "扫码",
    "滴滴",
    "dd",
    "戳",
    "搜",
)
# A handle: latin letter first, then 5–19 letters, digits, - or _ (WeChat's own rule).
_HANDLE = re.compile(r"[a-z][a-z0-9_-]{5,19}")
_DIGITS = re.compile(r"\d{5,}")
_MOBILE = re.compile(r"(?<!\d)(?:86)?(1[3-9]\d{9})(?!\d)")
_URL = re.compile(
    r"(?:https?:/+|www\.)[^\s\u4e00-\u9fff]+"
    r"|(?<![a-z0-9@.])[a-z0-9-]{2,}(?:\.[a-z0-9-]{2,})*\.(?:com|cn|net|org|cc|top|xyz|vip|me|io)"
    r"(?:/[^\s\u4e00-\u9fff]*)?(?![a-z])"
)
_EMAIL = re.compile(r"[a-z0-9._%+-]+(?:@|\(at\)|艾特)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_ID_CARD = re.compile(r"(?<!\d)(\d{17}[\dx])(?!\d)")
_THIRD_PARTY = re.compile(
    r"(他|她|他们|她们|这人|此人|骗子|老板|店主|快递员|骑手)的?(手机|电话|号码|身份证|地址|住址)"
)
# A residence: a road and house number followed by building/unit/room, or an estate
# (小区…) with a building number. A road and number alone is usually a shop or a hotel
# (public), so it counts only after words that say it is someone's home.
_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,12}(?:路|街|巷|弄|大道)\d{1,5}号"
    r"(?:[\u4e00-\u9fff]{0,8}?\d{1,4}(?:栋|幢|号楼|单元|室))+"
    r"|[\u4e00-\u9fff]{2,12}(?:小区|花园|公寓|新村)\d{1,4}(?:栋|幢|号楼)"
    r"(?:\d{1,4}(?:单元|室|楼|号))*"
    r"|(?:(?<=家住)|(?<=住在)|(?<=住址)|(?<=地址:)|(?<=地址是))[\u4e00-\u9fff]{2,16}(?:路|街|巷|弄|大道)\d{1,5}号"
)
# Numbers that look like a mobile number but are introduced as something else.
_NOT_A_PHONE = re.compile(r"(订单|单号|运单|快递|编号|型号|序列号|条码|批号|sn|imei)[号:]?$")
# Punctuation that separates numbers (prices, dates) rather than obfuscating one number.
_NUMBER_BREAKS = set("()（）,，、;；")
# Reported speech or refusal right before a call to add, inside the same clause (no clause
# punctuation between it and the call): someone else asked, or the poster declined.
_REPORTED = re.compile(
    r"(说|让|叫|要我|要求|非要|逼|劝|诱导|引导|提示|居然|竟然|还要|问"
    r"|没有?|不会|不要|不|别|拒绝)[^，。！？!?,.;；:：\n]{0,8}\Z"
)
REPORTED_CONFIDENCE = 0.4  # below the review band (and 0.5): the post passes
BUSINESS_PHONE_CONFIDENCE = 0.75  # in the review band
_BUSINESS_NUMBER = re.compile(r"0[1-9]\d{8,10}|[48]00\d{7,9}")  # landline with area code; hotline
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"


def id_card_valid(number: str) -> bool:
    """GB 11643 checksum and a plausible birth date for an 18-character ID number."""
    number = number.lower()
    if not re.fullmatch(r"\d{17}[\dx]", number):
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not (1900 <= year <= 2030 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def _is_filler(ch: str) -> bool:
    if ch in FILLER:
        return True
    if "\ufe00" <= ch <= "\ufe0f":
        return True  # variation selectors: the U+FE0F of "❤️" would split a number
    cat = unicodedata.category(ch)
    # emoji and symbols; "Me" is the keycap mark of 3️⃣, which would split a number
    return cat in ("So", "Sk", "Zs", "Me") and ch not in PLUS_SIGNS


@dataclass
class View:
    """A transformed copy of the text with a map from each character to the original."""

    text: str
    src: list[int]  # original offset of each character

    def span(self, original: str, start: int, end: int) -> tuple[int, int]:
        a = self.src[start]
        b = self.src[end - 1] + 1
        while b < len(original) and unicodedata.combining(original[b]):
            b += 1
        return a, b


@lru_cache(maxsize=512)  # the detectors and the lexicon of one text share it
def plain_view(text: str) -> View:
    """The normalised, lower-cased text with each character's original offset."""
    norm, offsets = normalize_with_offsets(text)
    lower = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in norm)
    return View(lower, list(offsets))


@lru_cache(maxsize=512)  # detect_contact and detect_privacy of one text share the views
def _views(text: str) -> tuple[View, View]:
    """The normalised-lowercase view and the squeezed, digit-decoded view."""
    plain = plain_view(text)
    lower, offsets = plain.text, plain.src
    chars: list[str] = []
    src: list[int] = []
    for ch, off in zip(lower, offsets, strict=True):
        ch = PLUS_SIGNS.get(ch, ch)
        if ch != "+" and _is_filler(ch):
            continue
        chars.append(DIGIT_LOOKALIKES.get(ch, ch))
        src.append(off)
    # "+" stays as a call to add when an account word follows ("+v", "好用+薇"); between
    # two ASCII letters or digits (1+3+8, q+q) or before anything else (微+信) it is filler.
    keep = [
        ch != "+"
        or i == 0
        or i == len(chars) - 1
        or (
            chars[i + 1] in _ADD_TARGET_STARTS
            and not (_ascii_alnum(chars[i - 1]) and _ascii_alnum(chars[i + 1]))
        )
        for i, ch in enumerate(chars)
    ]
    return plain, View(
        "".join(c for c, k in zip(chars, keep, strict=True) if k),
        [o for o, k in zip(src, keep, strict=True) if k],
    )


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=1)
def _keyword_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Keyword family → pattern of 'keyword [号/id/是] handle-or-number' on the squeezed view."""

    def alt(words: tuple[str, ...]) -> str:
        return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

    tail = r"(?:群号|群|号码|号|id|账号|是|为|搜|在)?"
    handle = r"(?P<h>[a-z][a-z0-9_-]{5,19}|\d{5,12})"
    add = rf"(?:{alt(ADD_WORDS)})(?:我|本人)?的?"
    return [
        ("qq", re.compile(rf"(?P<k>{alt(QQ_WORDS)}){tail}{handle}")),
        ("qq", re.compile(rf"(?P<k>{alt(GROUP_WORDS)}){tail}(?P<h>\d{{5,12}})")),
        ("wechat", re.compile(rf"(?P<k>{alt(WECHAT_WORDS)}){tail}{handle}")),
        ("phone", re.compile(rf"(?P<k>{alt(PHONE_WORDS)}){tail}(?P<h>\d{{7,12}})")),
        (
            "other_platform",
            re.compile(
                rf"(?P<k>{alt(PLATFORM_WORDS)})(?:号码|号|id|账号|搜|搜索|主页|关注)(?P<h>[a-z0-9_-]{{2,20}})"
            ),
        ),
        ("wechat", re.compile(rf"(?P<k>{add}(?:{alt(WECHAT_SHORT)})){tail}{handle}")),
        # A call to add an account, even without the handle ("加我vx领券").
        ("wechat", re.compile(rf"(?P<k>{add}(?:{alt(WECHAT_WORDS)}))(?P<h>)")),
        ("qq", re.compile(rf"(?P<k>{add}(?:{alt(QQ_WORDS)}))(?P<h>)")),
    ]


def detect_contact(text: str) -> list[Hit]:
    """Off-platform contact details and calls to add an account, with decoded evidence."""
    if not text:
        return []
    plain, squeezed = _views(text)
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []

    def add(view: View, subtype: str, start: int, end: int, evidence: str, conf: float) -> None:
        a, b = view.span(text, start, end)
        if any(a < tb and ta < b for ta, tb in taken):
            return
        taken.append((a, b))
        hits.append(Hit("contact", subtype, a, b, text[a:b], evidence, conf))

    for m in _EMAIL.finditer(plain.text):
        add(plain, "email", m.start(), m.end(), _nfkc_span(text, plain, m), 0.97)
    for m in _URL.finditer(plain.text):
        explicit = m.group(0).startswith(("http", "www."))
        # A bare domain ("samsungmobile.com") is often a brand mention: review, not reject.
        add(plain, "url", m.start(), m.end(), _nfkc_span(text, plain, m), 0.95 if explicit else 0.7)
    s = squeezed.text
    for subtype, pattern in _keyword_patterns():
        for m in pattern.finditer(s):
            handle = m.group("h")
            if m.group("k") in ("dy", "ins", "xhs") and not re.search(r"\d", handle):
                continue  # short latin platform names need a handle with digits to count
            if subtype in ("wechat", "qq") and handle and handle.isalpha() and len(handle) > 12:
                continue  # a long run of latin letters is more likely prose than a handle
            if m.group("k").endswith("v") and handle.isalpha():
                continue  # "+ Vista", "加VIP": the letter v starts a word, not a handle
            conf = 0.99 if handle else 0.9
            end = squeezed.src[m.end() - 1] + 1
            if not handle and (
                reported_before(text, squeezed.src[m.start()]) or narrated_after(text, end)
            ):
                conf = REPORTED_CONFIDENCE
            elif subtype == "phone" and _BUSINESS_NUMBER.fullmatch(handle):
                conf = BUSINESS_PHONE_CONFIDENCE
            add(squeezed, subtype, m.start(), m.end(), handle or m.group("k"), conf)
    for m in _MOBILE.finditer(s):
        if _bare_mobile_ok(text, squeezed, m):
            add(squeezed, "phone", m.start(), m.end(), m.group(1), 0.95)
    return sorted(hits, key=lambda h: h.start)


# "加微信后，咨询无回复": the poster tells what happened after adding an account (no reply,
# blocked, cheated) — a report of the past, not an invitation ("加微信后发你券" still is).
_NARRATED = re.compile(
    r"\A[信号]{0,2}(?:后|之后|以后)[^。！!？?]{0,10}(?:无回复|没回|不回|没人理|没人回|拉黑|被骗|才发现|一直没)"
)


def narrated_after(text: str, end: int) -> bool:
    """Whether what follows ``end`` (an offset into the original text) narrates the outcome
    of an add that already happened."""
    return bool(_NARRATED.search(unicodedata.normalize("NFKC", text[end : end + 24])))


def reported_before(text: str, start: int) -> bool:
    """Whether the clause before ``start`` (an offset into the original text) reports
    someone else's request or a refusal ("客服让我", "还要", "没")."""
    before = unicodedata.normalize("NFKC", text[max(0, start - 16) : start])
    return bool(_REPORTED.search(before))


def _nfkc_span(text: str, view: View, m: re.Match[str]) -> str:
    """Evidence for URLs and e-mails: the original characters, NFKC-folded, without the
    separator collapsing of normalisation (which would turn ``//`` into ``/``)."""
    a, b = view.span(text, m.start(), m.end())
    return unicodedata.normalize("NFKC", text[a:b]).lower().replace("艾特", "@")


def _bare_mobile_ok(text: str, squeezed: View, m: re.Match[str]) -> bool:
    """A mobile-shaped number with no keyword counts unless it is introduced as an order
    number or was stitched together from separate numbers ("1799（1999-200…")."""
    if _NOT_A_PHONE.search(squeezed.text[max(0, m.start() - 6) : m.start()]):
        return False
    a, b = squeezed.span(text, m.start(), m.end())
    span = text[a:b]
    # One "=" is arithmetic (1999+299=2298); "=" between every digit is obfuscation.
    return not any(ch in _NUMBER_BREAKS for ch in span) and span.count("=") + span.count("＝") != 1


def detect_privacy(text: str) -> list[Hit]:
    """Another person's personal data: ID-card numbers, phone numbers given as theirs, addresses."""
    if not text:
        return []
    plain, squeezed = _views(text)
    hits: list[Hit] = []
    for m in _ID_CARD.finditer(squeezed.text):
        if id_card_valid(m.group(1)):
            a, b = squeezed.span(text, m.start(1), m.end(1))
            hits.append(Hit("privacy", "id_card", a, b, text[a:b], m.group(1).upper(), 0.99))
    if _THIRD_PARTY.search(squeezed.text):
        for m in _MOBILE.finditer(squeezed.text):
            a, b = squeezed.span(text, m.start(), m.end())
            hits.append(Hit("privacy", "phone", a, b, text[a:b], m.group(1), 0.9))
    for m in _ADDRESS.finditer(plain.text):
        a, b = plain.span(text, m.start(), m.end())
        hits.append(Hit("privacy", "address", a, b, text[a:b], m.group(0), 0.85))
    return sorted(hits, key=lambda h: h.start)


def detect(text: str) -> list[Hit]:
    """All detector hits for one text, contact first."""
    return detect_contact(text) + detect_privacy(text)
