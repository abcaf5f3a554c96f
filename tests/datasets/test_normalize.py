"""Normalisation as the moderation policy states it, and the fast path's exactness."""

from __future__ import annotations

import random
import unicodedata

import pytest

from quanzi.datasets.normalize import (
    SEPARATORS,
    normalize,
    normalize_with_offsets,
    normalizer_version,
    source_span,
    strip_invisible,
    to_simplified,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加我ＶＸ：１３８００１３８０００", "加我VX:13800138000"),  # full-width → half-width
        ("微\u200b信\u200d号\ufeff", "微信号"),  # zero-width removed
        ("Ｑ\u2060Ｑ\u00ad群", "QQ群"),  # word joiner, soft hyphen
        ("好\x07评\x1b", "好评"),  # control characters
        ("這個產品質量很好", "这个产品质量很好"),  # traditional → simplified
        ("太棒了！！！！", "太棒了!"),  # separator run collapsed
        ("等等。。。。。。就这样", "等等。就这样"),
        ("真的……不行", "真的.不行"),  # … is NFKC "..."
        ("a  \t\n b\u3000\u3000c", "a b c"),  # whitespace runs → one space
        ("  前后空格  ", "前后空格"),
        ("~~~好~~~", "~好~"),
        ("清官——俩小偷", "清官——俩小偷"),  # Chinese dash is one mark
        ("", ""),
        ("\u200b \u200b", ""),
    ],
)
def test_normalize_policy_examples(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert normalize_with_offsets(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("乾隆皇帝", "乾隆皇帝"),  # phrase: 乾 stays in a name
        ("衣服很乾", "衣服很干"),  # the character alone maps 乾 → 干
        ("我瞭解了", "我了解了"),  # phrase of characters GB2312 can encode
        ("瞭望台", "瞭望台"),
        ("反覆無常", "反复无常"),
        ("頭髮", "头发"),
    ],
)
def test_traditional_phrases_convert_like_opencc(text: str, expected: str) -> None:
    from opencc import OpenCC

    assert normalize(text) == expected
    assert OpenCC("t2s").convert(text) == expected


def test_t2s_table_matches_opencc_on_its_whole_dictionary() -> None:
    """Every character and phrase OpenCC knows converts as OpenCC converts it."""
    from opencc import OpenCC

    from quanzi.datasets.normalize import _opencc_dictionary

    opencc = OpenCC("t2s")
    chars = list(_opencc_dictionary("TSCharacters.txt"))
    phrases = list(_opencc_dictionary("TSPhrases.txt"))
    samples = ["".join(chars[i : i + 30]) for i in range(0, len(chars), 30)]
    samples += [f"的{p}是" for p in phrases]
    for sample in samples:
        assert to_simplified(sample) == opencc.convert(sample), sample
        assert normalize(sample) == opencc.convert(sample), sample


def test_offsets_point_to_the_original_characters() -> None:
    text = "加\u200b我 ＶＸ！！！這個"
    norm, offsets = normalize_with_offsets(text)
    assert norm == "加我 VX!这个"
    assert len(offsets) == len(norm)
    assert [text[o] for o in offsets] == ["加", "我", " ", "Ｖ", "Ｘ", "！", "這", "個"]


def test_offsets_of_expanded_and_combined_characters() -> None:
    text = "ﬁne e\u0301 ok"  # ligature expands to two; e + accent compose to one
    norm, offsets = normalize_with_offsets(text)
    assert norm == "fine é ok"
    assert offsets[:2] == [0, 0]
    start = norm.index("é")
    assert offsets[start] == text.index("e\u0301")
    assert source_span(text, offsets, start, start + 1) == (4, 6)  # the accent is included
    with pytest.raises(ValueError, match="outside"):
        source_span(text, offsets, 3, 99)


def test_source_span_recovers_what_the_user_wrote() -> None:
    text = "联系我：Ｖ\u200bＸ　ａｂｃ１２３"
    norm, offsets = normalize_with_offsets(text)
    start = norm.index("VX")
    a, b = source_span(text, offsets, start, start + 2)
    assert text[a:b] == "Ｖ\u200bＸ"


def test_normalize_never_changes_its_input() -> None:
    text = "這個ＶＸ\u200b！！"
    copy = str(text)
    normalize(text)
    normalize_with_offsets(text)
    assert text == copy


# Characters that stress every step: full-width, invisible, controls, combining marks,
# Hangul jamo that compose, half-width katakana and its voiced mark, ligatures, emoji,
# traditional characters and phrase parts, and every separator.
_POOL = [
    *"ａＺ０９！？，：；（）～．\u3000…ﬁ①㈱",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x1f",
    "\x7f",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u00a0",
    "\U000e0041",
    "e",
    "a",
    "\u0301",
    "\u0323",
    "\u0302",
    "\u0316",
    "\u1100",
    "\u1161",
    "\u11a8",
    "ｶ",
    "\uff9e",
    "か",
    "\u3099",
    "\u0b47",
    "\u0b3e",
    *"這個乾隆瞭解覆反藉口髮頭好的是我",
    *SEPARATORS,
    "😀",
    "\ufe0f",
    "➕",
    " ",
    "x",
    "1",
]


def test_fast_path_equals_the_offsets_path_on_random_text() -> None:
    rng = random.Random(20261122)
    for _ in range(3000):
        text = "".join(rng.choice(_POOL) for _ in range(rng.randint(0, 14)))
        norm, offsets = normalize_with_offsets(text)
        assert normalize(text) == norm, repr(text)
        assert len(offsets) == len(norm)
        assert offsets == sorted(offsets)
        assert all(0 <= o < len(text) for o in offsets)


def test_normalize_is_idempotent_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(_POOL) for _ in range(rng.randint(0, 14)))
        once = normalize(text)
        assert normalize(once) == once, repr(text)


def test_every_control_and_format_character_is_removed() -> None:
    code_points = [*range(0x30000), *range(0xE0000, 0xE1000)]  # tag characters: plane 14
    removed = [
        chr(cp)
        for cp in code_points
        if unicodedata.category(chr(cp)) in ("Cc", "Cf") and chr(cp) not in "\t\n\r"
    ]
    assert len(removed) > 200
    for ch in removed:
        assert not ch.isprintable()  # the fast path's isprintable() shortcut relies on it
        assert normalize(f"a{ch}b") == "ab", hex(ord(ch))
        assert strip_invisible(f"a{ch}b") == "ab"


def test_nfkc_output_never_reintroduces_removed_characters() -> None:
    for cp in range(0x30000):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cs",):
            continue
        out = unicodedata.normalize("NFKC", ch)
        if out != ch:
            assert all(unicodedata.category(c) not in ("Cc", "Cf") for c in out), hex(cp)


def test_normalizer_version_names_unicode_and_opencc() -> None:
    version = normalizer_version()
    assert unicodedata.unidata_version in version
    assert "opencc" in version


@pytest.mark.slow
def test_fast_path_equals_offsets_path_and_opencc_on_every_real_text(
    real_corpora_dir: object,
) -> None:
    """The whole shared corpora (130k texts): same output both ways, t2s as OpenCC."""
    from opencc import OpenCC

    from quanzi.datasets.corpora import CORPORA, _read

    opencc = OpenCC("t2s")
    for name, spec in CORPORA.items():
        raw = _read(spec, real_corpora_dir)  # type: ignore[arg-type]
        for text in raw[spec.text_column]:
            assert normalize(text) == normalize_with_offsets(text)[0], (name, text)
            assert to_simplified(text) == opencc.convert(text), (name, text)
