"""Text normalisation from the moderation policy: what is scored, never what is stored.

NFKC (which also folds full-width forms to half-width), zero-width and control
characters removed, repeated separators collapsed, traditional characters mapped to
simplified. ``normalize_with_offsets`` also returns, for every output character, the
offset of the input character it came from, so detector spans can point into the
original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Zero-width and invisible formatting characters used to split words past filters.
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\u2061",
               "\u2062", "\u2063", "\u2064", "\ufeff", "\u00ad", "\u180e"}
_SEPARATOR_RUN = re.compile(r"([\s\-_~=*#.,，。!！?？…~·、|/\\])\1+")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    """The OpenCC traditional→simplified converter (pure Python, built once)."""
    from opencc import OpenCC

    return OpenCC("t2s")


def _keep(ch: str) -> bool:
    if ch in _ZERO_WIDTH:
        return False
    cat = unicodedata.category(ch)
    # Control and format characters go, but ordinary whitespace stays (collapsed later).
    return not (cat in ("Cc", "Cf") and ch not in "\t\n\r")


def normalize(text: str) -> str:
    """Normalise one text for scoring (see module docstring)."""
    return normalize_with_offsets(text)[0]


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalise ``text`` and map every output character back to an input offset."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if not _keep(ch):
            continue
        for out in unicodedata.normalize("NFKC", ch):
            if _keep(out):
                chars.append(out)
                offsets.append(i)
    # Whitespace runs → one space; runs of the same separator → one.
    out_chars: list[str] = []
    out_offsets: list[int] = []
    for ch, off in zip(chars, offsets, strict=True):
        if ch.isspace():
            ch = " "
        if out_chars and ch == out_chars[-1] and (ch == " " or _is_separator(ch)):
            continue
        out_chars.append(ch)
        out_offsets.append(off)
    joined = "".join(out_chars).strip()
    if not joined:
        return "", []
    start = 0
    while out_chars[start] == " ":
        start += 1
    out_offsets = out_offsets[start:start + len(joined)]
    simplified = _t2s().convert(joined)
    # OpenCC t2s maps character to character for the common cases; fall back to the
    # unconverted text if a phrase mapping changed the length (offsets must stay exact).
    if len(simplified) != len(joined):
        simplified = joined
    return simplified, out_offsets


def _is_separator(ch: str) -> bool:
    return bool(_SEPARATOR_RUN.match(ch + ch))
