"""The encoder: QUANZI_ENCODER switches models; the default loads offline; order is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from quanzi.models.encoder import DEFAULT_ENCODER_DIR, embed_texts, load_encoder, resolve_encoder
from quanzi.settings import Settings


def test_quanzi_encoder_setting_selects_tiny_model(
    tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_ENCODER", str(tiny_encoder_dir))
    model = load_encoder(Settings())
    vecs = embed_texts(model, ["手机很好", "物流太慢了，差评", "酒店"])
    assert vecs.shape == (3, 16)  # the tiny model's width, not the default's 512
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_embed_texts_keeps_input_order_despite_length_sorting(
    tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_ENCODER", str(tiny_encoder_dir))
    model = load_encoder(Settings())
    texts = ["短", "这是一条比较长的评论，物流很快，包装完好", "中等长度的评论"]
    batch = embed_texts(model, texts, batch_size=2)
    one_by_one = np.vstack([embed_texts(model, [t]) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)


def test_unloadable_encoder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_ENCODER", str(tmp_path / "no-such-model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="QUANZI_ENCODER"):
        load_encoder(Settings())


def test_default_encoder_is_packaged_and_used_without_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QUANZI_ENCODER", raising=False)
    assert resolve_encoder(Settings()) == str(DEFAULT_ENCODER_DIR)


def test_default_encoder_loads_offline_with_plain_sentence_transformers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = SentenceTransformer(str(DEFAULT_ENCODER_DIR), device="cpu")
    vecs = model.encode(
        ["这款洗发水味道很好闻", "这款洗发水香味不错", "电脑开机很慢"], normalize_embeddings=True
    )
    assert vecs.shape == (3, 384)  # encoder v2: e5-small width
    assert next(model[0].auto_model.parameters()).dtype == torch.float32  # stored fp16
    # a trained model, not random weights: paraphrases are closer than unrelated text
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
