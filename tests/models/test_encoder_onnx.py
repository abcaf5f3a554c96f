"""The onnx-int8 runtime: same vectors as torch (up to int8), same API, its own index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from quanzi_tests.serving_models import build_tiny_encoder
from quanzi_tests.tiny_e5 import SENTENCES, write_tiny_e5
from sentence_transformers import SentenceTransformer

from quanzi.models.encoder import effective_runtime, load_encoder
from quanzi.models.encoder_onnx import OnnxEncoder, export_onnx
from quanzi.models.loading import encoder_version
from quanzi.settings import Settings

TEXTS = ["保湿面霜质地轻薄", "口红颜色很正，但是有点干", "手机续航一天", "物流很快包装完好"]


@pytest.mark.parametrize("kind", ["dense-head", "e5-student"])
def test_onnx_int8_vectors_match_torch(tmp_path: Path, kind: str) -> None:
    if kind == "dense-head":  # transformer → mean → dense → normalise (encoder v1's shape)
        folder, texts = build_tiny_encoder(tmp_path / "enc"), TEXTS
    else:  # transformer → mean → normalise (encoder v2's shape), e5 tokenizer
        folder, texts = write_tiny_e5(tmp_path / "e5")[1], SENTENCES
    torch_model = SentenceTransformer(str(folder), device="cpu")
    # torch's default call: the tiny e5's default prompt ("query: ") is applied by both
    expected = torch_model.encode(texts, normalize_embeddings=True)
    onnx = OnnxEncoder(folder, export_onnx(folder, tmp_path / "onnx", quantize=True), threads=1)
    got = onnx.encode(texts, batch_size=3, normalize_embeddings=True)
    assert got.shape == expected.shape == (len(texts), onnx.get_embedding_dimension())
    assert (got * expected).sum(axis=1).min() > 0.97
    # input order is kept, and each text runs alone: its vector does not depend on its
    # batch-mates (int8 activations are scaled per run) nor on how texts are batched
    again = onnx.encode(texts[::-1], batch_size=2, normalize_embeddings=True)[::-1]
    assert np.array_equal(again, got)
    alone = np.stack([onnx.encode(t, normalize_embeddings=True) for t in texts])
    assert np.array_equal(alone, got)


def test_onnx_runtime_is_chosen_by_setting_and_named_in_the_version(tmp_path: Path) -> None:
    folder = build_tiny_encoder(tmp_path / "enc")
    torch_settings = Settings(data_dir=tmp_path / "data", encoder=str(folder))
    onnx_settings = torch_settings.model_copy(update={"encoder_runtime": "onnx-int8"})
    assert isinstance(load_encoder(onnx_settings), OnnxEncoder)
    assert encoder_version(onnx_settings) == encoder_version(torch_settings) + "-onnx-int8"
    assert (tmp_path / "data" / "models" / "onnx").is_dir()  # exported once, cached


def test_onnx_runtime_applies_to_local_folders_and_a_hub_id_runs_in_torch(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path, encoder="BAAI/bge-small-zh-v1.5", encoder_runtime="onnx-int8"
    )
    assert effective_runtime(settings) == "torch"
    assert not encoder_version(settings).endswith("onnx-int8")  # one index for torch vectors
    local = settings.model_copy(update={"encoder": str(build_tiny_encoder(tmp_path / "e"))})
    assert effective_runtime(local) == "onnx-int8"


def test_onnx_fp32_gives_torchs_vectors_with_the_folders_default_prompt(tmp_path: Path) -> None:
    """The Q&A question encoder's runtime: float32 ONNX equals torch to rounding, and a
    folder whose default prompt is e5's ``query: `` gets it prepended, as torch does."""
    import json

    from quanzi.models.encoder import load_encoder_folder

    folder = write_tiny_e5(tmp_path / "e5")[1]
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    config.update({"prompts": {"query": "query: ", "passage": "passage: "}})
    config["default_prompt_name"] = "query"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    torch_model = SentenceTransformer(str(folder), device="cpu")
    expected = torch_model.encode(SENTENCES, normalize_embeddings=True)  # prompt applied
    without = torch_model.encode(SENTENCES, normalize_embeddings=True, prompt="")
    assert (expected * without).sum(axis=1).min() < 0.9999  # the prompt matters here
    settings = Settings(data_dir=tmp_path / "data")
    onnx = load_encoder_folder(folder, settings, runtime="onnx-fp32")
    assert isinstance(onnx, OnnxEncoder) and onnx.prompt == "query: "
    got = onnx.encode(SENTENCES, normalize_embeddings=True)
    assert (got * expected).sum(axis=1).min() > 0.9999
    assert list((tmp_path / "data" / "models" / "onnx").rglob("model_fp32.onnx"))


def test_bulk_encoding_in_parallel_gives_the_same_vectors_in_order(tmp_path: Path) -> None:
    """From ``PARALLEL_FROM`` texts a call spreads its one-text runs over threads; each
    text still runs alone, so the vectors are exactly the sequential ones, in input order."""
    folder = build_tiny_encoder(tmp_path / "enc")
    onnx_path = export_onnx(folder, tmp_path / "onnx", quantize=True)
    texts = [f"{t}，第{i}条" for i in range(40) for t in TEXTS[:2]]  # 80 ≥ PARALLEL_FROM
    assert len(texts) >= OnnxEncoder.PARALLEL_FROM
    one = OnnxEncoder(folder, onnx_path, threads=1, parallel=1).encode(texts, batch_size=32)
    two = OnnxEncoder(folder, onnx_path, threads=1, parallel=2).encode(texts, batch_size=32)
    assert np.array_equal(one, two)
