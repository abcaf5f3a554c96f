"""The char-level WordPiece tokenizer: one token per Chinese character, UNK rate counted."""

from __future__ import annotations

from quanzi.models.tokenizer import build_tokenizer, unknown_rate

TEXTS = ["这个手机很好用", "物流太慢了", "手机 apple 不错"] * 10


def test_chinese_is_split_into_single_characters() -> None:
    tok = build_tokenizer(TEXTS, vocab_size=200, min_frequency=1)
    assert tok.tokenize("手机很好") == ["手", "机", "很", "好"]


def test_full_width_latin_is_folded_to_the_same_tokens() -> None:
    tok = build_tokenizer(TEXTS, vocab_size=200, min_frequency=1)
    assert tok.tokenize("ＡＰＰＬＥ") == tok.tokenize("apple")


def test_unknown_rate_counts_characters_never_seen_in_training() -> None:
    tok = build_tokenizer(TEXTS, vocab_size=200, min_frequency=1)
    assert unknown_rate(tok, ["手机很好"]) == 0.0
    assert unknown_rate(tok, ["手机鑫鑫"]) == 0.5  # 鑫 never appears in TEXTS
