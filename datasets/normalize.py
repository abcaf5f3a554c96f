"""Text normalisation from the moderation policy: what is scored, never what is stored.

In order: zero-width, control and format characters removed; Unicode NFKC (which also
folds full-width forms to half-width); whitespace runs → one space and runs of the
same separator (``!!!``, ``。。。``, ``---``) → one; outer spaces stripped; traditional
characters mapped to simplified (OpenCC's t2s dictionaries).

``normalize`` is on the serving hot path and in bulk corpus loading, so it works on
whole strings (``str.translate``, ``str.split``, compiled regexes, one NFKC call) and
skips each step that a C-speed check shows would change nothing. OpenCC's pure-Python
converter is ~30× slower than all of it, so t2s uses a character table built once from
OpenCC's own dictionary, plus its phrase dictionary with leftmost-longest matching
(乾隆 stays 乾隆, while 乾燥 → 干燥); the output equals OpenCC's on its whole dictionary
and on every shared corpus text (tested). Every t2s entry maps a string to one of the
same length, so offsets survive conversion. ``quanzi bench normalize`` measures it.

``normalize_with_offsets`` returns the same text plus, for every output character, the
offset in the input of the character it came from, so detector spans point into the
original text. It walks the text cluster by cluster (a starter and the marks that
combine with it), slower but exact; ``normalize(t) == normalize_with_offsets(t)[0]``.

Bump ``NORMALIZER_VERSION`` whenever the output may change: it keys caches and the
hash splits depend on the normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import opencc

NORMALIZER_VERSION = "2"

# Characters whose runs collapse to one when the same one repeats. This runs after
# NFKC, so the full-width ！？，～ forms arrive here as their ASCII equivalents. The
# Chinese dash —— is one punctuation mark, not a repeat, and is left alone.
SEPARATORS = "-_~=*#.,。!?…·、|/\\"
_SEPARATOR_RUN = re.compile("([" + re.escape(SEPARATORS) + r"])\1+")
# The compatibility characters most frequent in real reviews, replaced by their NFKD
# form (which leaves the text's NFKC unchanged) so that most texts skip NFKC itself.
_COMMON_COMPAT = tuple(
    (ch, unicodedata.normalize("NFKD", ch)) for ch in "，！？…：；（）～．\u3000"
)
# Removed although not Cc/Cf in every Unicode version (U+180E was Zs before 6.3).
_EXTRA_INVISIBLE = "\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_KEPT_CONTROLS = "\t\n\r"  # ordinary whitespace: collapsed to a space, not deleted
# Planes that hold every Cc/Cf code point and every canonical pair decomposition.
_SCAN_RANGES = (range(0, 0x30000), range(0xE0000, 0xE1000))


def normalizer_version() -> str:
    """A key that changes whenever ``normalize`` may give a different output.

    NFKC depends on the Unicode version of the running Python and t2s on the OpenCC
    dictionary, so both are part of the key, not only our own version number.
    """
    try:
        opencc_version = metadata.version("opencc-python-reimplemented")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed with quanzi
        opencc_version = "unknown"
    return f"{NORMALIZER_VERSION}-unicode{unicodedata.unidata_version}-opencc{opencc_version}"


@lru_cache(maxsize=1)
def _removal_table() -> dict[int, None]:
    """``str.translate`` table deleting zero-width, control (bar \\t\\n\\r) and format chars."""
    table: dict[int, None] = {ord(ch): None for ch in _EXTRA_INVISIBLE}
    for scan in _SCAN_RANGES:
        for cp in scan:
            if unicodedata.category(chr(cp)) in ("Cc", "Cf"):
                table[cp] = None
    for ch in _KEPT_CONTROLS:
        table.pop(ord(ch), None)
    return table


def strip_invisible(text: str) -> str:
    """``text`` without zero-width, control (bar \\t\\n\\r) and format characters."""
    return text if text.isprintable() else text.translate(_removal_table())


def _opencc_dictionary(name: str) -> dict[str, str]:
    """One OpenCC dictionary file as {source: first candidate} (what OpenCC itself picks)."""
    path = Path(opencc.__file__).parent / "dictionary" / name
    entries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            key, value = line.rstrip("\n").split("\t")
            entries[key] = value.split(" ")[0]
    return entries


@lru_cache(maxsize=1)
def _t2s_tables() -> tuple[dict[int, str], re.Pattern[str] | None, dict[str, str]]:
    """The t2s character table, a regex of t2s phrases, and the phrase mapping.

    Entries that would touch a separator or change length are left out (none do in the
    shipped dictionaries), so conversion never changes offsets or run-collapsing.
    """
    chars = {
        ord(k): v
        for k, v in _opencc_dictionary("TSCharacters.txt").items()
        if len(k) == 1
        and len(v) == 1
        and k != v
        and k not in SEPARATORS
        and v not in SEPARATORS
        and not v.isspace()
    }
    phrases = {
        k: v
        for k, v in _opencc_dictionary("TSPhrases.txt").items()
        if len(k) == len(v) and len(k) > 1
    }
    # Every phrase takes part in longest-match (a phrase that converts like its
    # characters can still win over an overlapping one that does not), longest first.
    pattern = (
        re.compile("|".join(re.escape(k) for k in sorted(phrases, key=len, reverse=True)))
        if phrases
        else None
    )
    return chars, pattern, phrases


def to_simplified(text: str) -> str:
    """Traditional → simplified, OpenCC t2s with leftmost-longest phrase matching."""
    chars, pattern, phrases = _t2s_tables()
    converted = text.translate(chars)
    if pattern is None:
        return converted
    match = pattern.search(text)
    if match is None:
        return converted
    pieces: list[str] = []
    last = 0
    while match is not None:
        start, end = match.span()
        pieces.append(converted[last:start])
        pieces.append(phrases[match.group()])
        last = end
        match = pattern.search(text, end)
    pieces.append(converted[last:])
    return "".join(pieces)


def normalize(text: str) -> str:
    """Normalise one text for scoring (see module docstring); the fast path.

    Each step is skipped when a C-speed check shows it would change nothing: most
    texts have no invisible characters (``isprintable``), are NFKC once their common
    full-width punctuation is replaced, and hold no traditional character.
    """
    text = strip_invisible(text)
    if not text.isascii():
        for src, dst in _COMMON_COMPAT:
            if src in text:
                text = text.replace(src, dst)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    # Whitespace runs → one space, outer ones dropped (split() uses str.isspace, as
    # the offsets path does); then runs of one separator → that separator.
    text = " ".join(text.split())
    if _SEPARATOR_RUN.search(text):
        text = _SEPARATOR_RUN.sub(_first_group, text)
    if text.isascii() or _surely_simplified(text):
        return text
    return to_simplified(text)


def _first_group(match: re.Match[str]) -> str:
    return match.group(1)


def _surely_simplified(text: str) -> bool:
    """True when t2s cannot change ``text`` (a cheap test; False means "convert").

    Text that encodes as GB2312 holds only simplified characters, except a few that
    OpenCC still maps (乾 → 干) and phrases made only of GB2312 characters (瞭解 → 了解).
    """
    if not _gb2312_encodable(text):
        return False
    trigger = _gb2312_trigger()
    return trigger is None or trigger.search(text) is None


def _gb2312_encodable(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def _gb2312_trigger() -> re.Pattern[str] | None:
    """The t2s keys (characters and phrases) that GB2312 can encode."""
    chars, _, phrases = _t2s_tables()
    keys = [chr(cp) for cp in chars if _gb2312_encodable(chr(cp))]
    keys += [k for k in phrases if _gb2312_encodable(k)]
    if not keys:
        return None
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


@lru_cache(maxsize=1)
def _composing_starters() -> frozenset[str]:
    """Starters that canonically compose with the character before them.

    A text can be cut before any other starter without changing its NFKC form: the
    Hangul vowel/trailing jamo and a few Indic vowel signs are the exceptions.
    """
    found = {chr(cp) for cp in range(0x1161, 0x1176)} | {chr(cp) for cp in range(0x11A8, 0x11C3)}
    for scan in _SCAN_RANGES:
        for cp in scan:
            parts = unicodedata.decomposition(chr(cp)).split()
            if len(parts) == 2 and not parts[0].startswith("<"):
                second = chr(int(parts[1], 16))
                if unicodedata.combining(second) == 0:
                    found.add(second)
    return frozenset(found)


@lru_cache(maxsize=65536)
def _nfkc(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster)


@lru_cache(maxsize=65536)
def _starts_cluster(ch: str) -> bool:
    """Whether NFKC can never join ``ch`` with what precedes it."""
    if ch.isascii() or "\u4e00" <= ch <= "\u9fff":
        return True
    head = unicodedata.normalize("NFKD", ch)[:1] or ch
    return unicodedata.combining(head) == 0 and head not in _composing_starters()


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalise ``text`` and map every output character back to an input offset.

    Output characters that NFKC built from several input characters (a letter and its
    combining accent) point to the first of them; characters NFKC expands (ﬁ → fi,
    … → ...) all point to their source. Use ``source_span`` to map a span back.
    """
    removed = _removal_table()
    kept = [(i, ch) for i, ch in enumerate(text) if ord(ch) not in removed]
    # NFKC cluster by cluster; each output character points to its cluster's start.
    chars: list[str] = []
    offsets: list[int] = []
    cluster_start = 0
    cluster = ""
    for i, ch in kept:
        if cluster and _starts_cluster(ch):
            out = _nfkc(cluster)
            chars.extend(out)
            offsets.extend([cluster_start] * len(out))
            cluster = ""
        if not cluster:
            cluster_start = i
        cluster += ch
    if cluster:
        out = _nfkc(cluster)
        chars.extend(out)
        offsets.extend([cluster_start] * len(out))
    expected = unicodedata.normalize("NFKC", "".join(ch for _, ch in kept))
    if "".join(chars) != expected:  # pragma: no cover - a Unicode case the cut rule misses
        chars, offsets = list(expected), [kept[0][0]] * len(expected)
    # Whitespace runs → one space; runs of the same separator → one (first one kept).
    out_chars: list[str] = []
    out_offsets: list[int] = []
    for ch, off in zip(chars, offsets, strict=True):
        if ch.isspace():
            ch = " "
        if out_chars and ch == out_chars[-1] and (ch == " " or ch in SEPARATORS):
            continue
        out_chars.append(ch)
        out_offsets.append(off)
    start, end = 0, len(out_chars)
    while start < end and out_chars[start] == " ":
        start += 1
    while end > start and out_chars[end - 1] == " ":
        end -= 1
    joined = "".join(out_chars[start:end])
    return to_simplified(joined), out_offsets[start:end]


def source_span(text: str, offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """Map the span ``[start, end)`` of the normalised text back to ``text``.

    The end covers the whole last source character including the combining marks
    NFKC merged into it, so ``text[a:b]`` shows what the user wrote.
    """
    if not 0 <= start < end <= len(offsets):
        raise ValueError(
            f"span [{start}, {end}) is outside the normalised text (length {len(offsets)})"
        )
    src_start = offsets[start]
    src_end = offsets[end - 1] + 1
    # A cluster (letter + accents) maps to its first offset: extend over the rest.
    next_src = offsets[end] if end < len(offsets) else len(text)
    while src_end < next_src and unicodedata.combining(text[src_end]):
        src_end += 1
    return src_start, src_end


def warm_up() -> None:
    """Build the lookup tables now (≈0.2 s) instead of on the first request."""
    normalize("預熱 ｗａｒｍ")


__all__ = [
    "NORMALIZER_VERSION",
    "SEPARATORS",
    "normalize",
    "normalize_with_offsets",
    "normalizer_version",
    "source_span",
    "strip_invisible",
    "to_simplified",
    "warm_up",
]
