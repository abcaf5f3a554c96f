"""The encoder on ONNX Runtime with int8 weights: the same model, about twice as fast on CPU.

Measured on encoder v2's shape (3 × 384, 1,000 reviews, same run): torch 82 texts/s,
ONNX Runtime float32 89/s, ONNX Runtime with dynamically quantised int8 weights 160/s at
cosine 0.992 to the float32 vectors. ``QUANZI_ENCODER_RUNTIME=onnx-int8`` serves the
configured sentence-transformers folder this way: its transformer is exported once
(``torch.onnx``), quantised (``onnxruntime.quantization``) and cached under the data
directory by the encoder's identity; tokenisation, mean pooling, an optional dense layer
and normalisation run as sentence-transformers would. Vectors differ slightly from the
torch ones, so the runtime is part of the encoder's version (a separate index). Each text
runs alone (``OnnxEncoder._vector``): a text's vector does not depend on its batch-mates.

The float32 export (``onnx-fp32``) keeps torch's vectors to float rounding at about half a
one-text torch call's CPU: the Q&A question encoder (12 layers) is served that way, because
int8 lowered its dev R@5. A folder's default prompt (e5's ``query: ``) is prepended as
sentence-transformers does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from safetensors.numpy import load_file
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

RUNTIMES = ("torch", "onnx-int8", "onnx-fp32")
_SUPPORTED = {"Transformer", "Pooling", "Dense", "Normalize"}


class _LastHidden(torch.nn.Module):
    """(input_ids, attention_mask) → last hidden state, for a positional ONNX graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _modules(folder: Path) -> list[tuple[str, Path]]:
    """(class name, folder) of each module in ``modules.json``; only plain stacks pass."""
    spec = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    out = []
    for entry in spec:
        kind = entry["type"].rsplit(".", 1)[-1]
        if kind not in _SUPPORTED:
            raise ValueError(
                f"the onnx-int8 runtime serves transformer → pooling → [dense] → "
                f"normalise stacks; {folder} has a {kind} module"
            )
        out.append((kind, folder / entry["path"]))
    if out[0][0] != "Transformer":
        raise ValueError(f"{folder}: the first module must be the transformer")
    return out


def export_onnx(folder: str | Path, out_dir: str | Path, quantize: bool) -> Path:
    """Export ``folder``'s transformer to ONNX once (cached in ``out_dir``), with its
    weights quantised to int8 or kept in float32."""
    folder, out_dir = Path(folder), Path(out_dir)
    _modules(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ("model_int8.onnx" if quantize else "model_fp32.onnx")
    if target.is_file():
        return target
    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = tokenizer(["样例文本"], return_tensors="pt")
    # Names of this process's own: workers starting together may all export; each
    # writes its own files and the last atomic rename wins (the contents are the same).
    fp32 = out_dir / f"model_fp32.{os.getpid()}.onnx"
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        _LastHidden(model),
        (sample["input_ids"], sample["attention_mask"]),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )
    if not quantize:
        fp32.replace(target)
        return target
    tmp = out_dir / f"model_int8.{os.getpid()}.onnx.tmp"
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    fp32.unlink()
    tmp.replace(target)  # a crash never leaves a half-written model the cache would trust
    return target


class OnnxEncoder:
    """A sentence encoder with the part of sentence-transformers' API Quanzi uses."""

    # Texts per call from which ``encode`` spreads its one-text runs over ``parallel``
    # threads (bulk work: backfill, rescore, benchmarks); ingest's batches stay in the
    # calling thread, which shares the cores with the other worker.
    PARALLEL_FROM = 64

    def __init__(
        self, folder: str | Path, onnx_path: str | Path, threads: int = 2, parallel: int = 1
    ) -> None:
        folder = Path(folder)
        self.parallel = max(1, parallel)
        modules = _modules(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        config = (
            json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
            if (folder / "sentence_bert_config.json").is_file()
            else {}
        )
        self.max_seq_length = int(
            config.get("max_seq_length") or min(self.tokenizer.model_max_length, 512)
        )
        self.prompt = _default_prompt(folder)
        self.dense: tuple[np.ndarray, np.ndarray | None] | None = None
        self.normalize = False
        for kind, path in modules[1:]:
            if kind == "Pooling":
                pooling = json.loads((path / "config.json").read_text(encoding="utf-8"))
                mode = pooling.get("pooling_mode") or (
                    "mean" if pooling.get("pooling_mode_mean_tokens") else "other"
                )
                if mode != "mean":
                    raise ValueError(f"{folder}: the onnx-int8 runtime does mean pooling only")
            elif kind == "Dense":
                weights = load_file(str(path / "model.safetensors"))
                self.dense = (
                    weights["linear.weight"].astype(np.float32),
                    weights.get("linear.bias"),
                )
            elif kind == "Normalize":
                self.normalize = True
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No spin-waiting between runs: ONNX Runtime's pool otherwise busy-waits after every
        # run, which cost 40 % of the encoder's CPU on batches of 8 (7.3 → 4.1 ms/text) and
        # takes cores the other worker and the request threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.hidden = int(self.session.get_outputs()[0].shape[-1])
        self.dim = int(self.dense[0].shape[0] if self.dense else self.hidden)

    def get_embedding_dimension(self) -> int:
        """Output width (sentence-transformers' name for it)."""
        return self.dim

    get_sentence_embedding_dimension = get_embedding_dimension

    def eval(self) -> OnnxEncoder:
        """No-op, as for a torch model already in eval mode."""
        return self

    def encode(
        self,
        sentences: Sequence[str] | str,
        batch_size: int = 64,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
        show_progress_bar: bool = False,
        **_: object,
    ) -> np.ndarray:
        """``(n, dim)`` float32 vectors in input order. Each text runs alone (see
        ``_vector``); ``batch_size`` only sets how many are tokenised at a time."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if self.prompt:
            texts = [self.prompt + t for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), max(1, batch_size))
        pool = (
            ThreadPoolExecutor(self.parallel)
            if self.parallel > 1 and len(texts) >= self.PARALLEL_FROM
            else None
        )
        try:
            for start in tqdm(starts, disable=not show_progress_bar, desc="embed", unit="batch"):
                chunk = texts[start : start + max(1, batch_size)]
                ids = self.tokenizer(chunk, truncation=True, max_length=self.max_seq_length)
                # ONNX Runtime releases the GIL in run(): texts run side by side, each alone
                vectors = (pool.map if pool else map)(self._vector, ids["input_ids"])
                for i, vector in enumerate(vectors):
                    out[start + i] = vector
        finally:
            if pool is not None:
                pool.shutdown()
        if self.normalize or normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out[0] if single else out

    def _vector(self, tokens: Sequence[int]) -> np.ndarray:
        """One text's vector before normalisation, from a run of its own.

        Why alone, not in padded batches: int8 activations are quantised per run, over the
        whole input tensor, so a text's vector moved with its batch-mates and their padding
        (minimum cosine 0.9992 between two batchings of the same texts); alone, a text gets
        one vector however it arrives (one post a request, caller batches, backfill). And
        it is cheaper: real reviews in batches of 8 were padded to 2.5 × their tokens, and
        per text the encoder's CPU fell from 4.0 to 1.8 ms at batches of 8 (2.5 to 1.7 at 400).
        """
        ids = np.asarray([tokens], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        vector = hidden[0].mean(axis=0)
        if self.dense is not None:  # row by row too: a matrix product rounds by its shape
            w, b = self.dense
            vector = vector @ w.T + (b if b is not None else 0.0)
        return vector


def _default_prompt(folder: Path) -> str:
    """The prompt sentence-transformers prepends by default (``default_prompt_name``)."""
    path = folder / "config_sentence_transformers.json"
    if not path.is_file():
        return ""
    config = json.loads(path.read_text(encoding="utf-8"))
    name = config.get("default_prompt_name")
    return str((config.get("prompts") or {}).get(name, "")) if name else ""
