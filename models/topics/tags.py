"""``#话题#`` tags: parsed from a post's text or given as a field, normalised one way."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from quanzi.storage.orm import TOPIC_NAME_MAX

# A tag is text between two '#' (half- or full-width) with no whitespace or '#' inside, at
# most TOPIC_NAME_MAX characters; a longer run is not a tag (it is left in the text).
TAG_RE = re.compile(rf"[#＃]([^#＃\s]{{1,{TOPIC_NAME_MAX}}})[#＃]")


class InvalidTag(ValueError):
    """A topic name that cannot be stored (empty, too long, or containing '#')."""


def normalize_tag(name: str) -> str:
    """NFKC, stripped of '#' and spaces; raises ``InvalidTag`` saying what to fix."""
    tag = unicodedata.normalize("NFKC", name).strip().strip("#").strip()
    if not tag:
        raise InvalidTag("a topic name must not be empty")
    if len(tag) > TOPIC_NAME_MAX:
        raise InvalidTag(
            f"a topic name is at most {TOPIC_NAME_MAX} characters (got {len(tag)}); shorten it"
        )
    if "#" in tag or any(ch.isspace() for ch in tag):
        raise InvalidTag(f"a topic name has no '#' or spaces inside (got {tag[:40]!r})")
    return tag


def parse_tags(text: str) -> list[str]:
    """The distinct ``#tags#`` of ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in TAG_RE.finditer(unicodedata.normalize("NFKC", text)):
        try:
            seen.setdefault(normalize_tag(match.group(1)))
        except InvalidTag:
            continue
    return list(seen)


def post_tags(text: str, given: Iterable[str] = ()) -> list[str]:
    """A post's tags: the field's (validated, ``InvalidTag`` on a bad one) then the text's."""
    tags = dict.fromkeys(normalize_tag(t) for t in given)
    tags.update(dict.fromkeys(parse_tags(text)))
    return list(tags)
