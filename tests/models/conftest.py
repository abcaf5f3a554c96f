"""A tiny randomly initialised sentence-transformers encoder, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_TEXTS = [
    "这个手机很好用，电池耐用",
    "物流太慢了，差评",
    "酒店位置很好，早餐一般",
    "外卖送到已经凉了",
    "衣服质量不错，尺码偏小",
    "iPhone 13 拍照清楚",
] * 5


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 1-layer, 32-wide BERT encoder (16-d output) with its own char vocabulary."""
    from quanzi.models.encoder import EncoderArch, build_encoder
    from quanzi.models.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(TINY_TEXTS, vocab_size=200, min_frequency=1)
    arch = EncoderArch(
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        intermediate_size=64,
        max_seq_length=32,
        output_dim=16,
    )
    path = tmp_path_factory.mktemp("tiny-encoder")
    build_encoder(tokenizer, arch).save(str(path))
    return path
