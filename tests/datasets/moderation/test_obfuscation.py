"""Obfuscation transforms: named, seeded, split train/held-out, and still contacts."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from quanzi.datasets.moderation.obfuscation import (
    ALL_TRANSFORMS,
    BASE_TRANSFORMS,
    CONTACT_SUBTYPES,
    HELDOUT_BASE,
    HELDOUT_TRANSFORMS,
    TRAIN_TRANSFORMS,
    TRANSFORM_DOCS,
    applicable,
    make_snippet,
    obfuscate,
)
from quanzi.models.moderation.detectors import DIGIT_LOOKALIKES, detect_contact


def _samples(name: str, n: int, seed: int = 0) -> list[tuple[str, str, list[str]]]:
    """(clean, obfuscated, base transforms) for ``n`` snippets ``name`` applies to."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        snippet = make_snippet(rng)
        if applicable(name, snippet):
            obfuscated, used = obfuscate(rng, snippet, name)
            out.append((snippet.render(), obfuscated.render(), used))
    return out


@pytest.mark.parametrize("name", ALL_TRANSFORMS)
def test_transform_is_deterministic_for_a_seed(name: str) -> None:
    assert _samples(name, 20, seed=5) == _samples(name, 20, seed=5)
    assert _samples(name, 20, seed=5) != _samples(name, 20, seed=6)


@pytest.mark.parametrize("name", [n for n in ALL_TRANSFORMS if n != "plain"])
def test_transform_changes_the_contact_text(name: str) -> None:
    changed = [clean != obfuscated for clean, obfuscated, _ in _samples(name, 40)]
    assert sum(changed) >= 0.9 * len(changed)


def test_train_and_heldout_transforms_are_disjoint_and_documented() -> None:
    assert not set(TRAIN_TRANSFORMS) & set(HELDOUT_TRANSFORMS)
    assert set(ALL_TRANSFORMS) == set(TRANSFORM_DOCS)
    assert set(HELDOUT_BASE) <= set(BASE_TRANSFORMS)
    readme = (Path(__file__).parents[3] / "datasets" / "moderation" / "README.md").read_text(
        encoding="utf-8"
    )
    for name in ALL_TRANSFORMS:
        assert f"`{name}`" in readme, f"{name} is not documented in the README"


def test_mixed_heldout_always_includes_a_heldout_transform_and_mixed_never_does() -> None:
    for _, _, used in _samples("mixed_heldout", 60):
        assert set(used) & set(HELDOUT_BASE)
    for _, _, used in _samples("mixed", 60):
        assert not set(used) & set(HELDOUT_BASE)
        assert len(used) >= 2


@pytest.mark.parametrize("name", TRAIN_TRANSFORMS)
def test_contacts_obfuscated_by_train_transforms_stay_detectable(name: str) -> None:
    texts = [f"这个不错，{obfuscated}，很好用。" for _, obfuscated, _ in _samples(name, 60)]
    recall = sum(bool(detect_contact(t)) for t in texts) / len(texts)
    assert recall >= 0.95, f"{name}: detector recall {recall:.2f}"


@pytest.mark.parametrize("name", ["chinese_numerals", "financial_numerals"])
def test_numeral_transforms_keep_the_digits_decodable(name: str) -> None:
    rng = random.Random(1)
    for _ in range(30):
        snippet = make_snippet(rng, "phone")
        obfuscated, _ = obfuscate(rng, snippet, name)
        decoded = "".join(DIGIT_LOOKALIKES.get(ch, ch) for ch in obfuscated.value)
        assert decoded == snippet.evidence
        assert not re.search(r"\d", obfuscated.value)


def test_generated_values_have_the_shape_of_their_subtype() -> None:
    rng = random.Random(3)
    for subtype in CONTACT_SUBTYPES:
        for _ in range(30):
            s = make_snippet(rng, subtype)
            assert s.subtype == subtype and s.value == s.evidence
            if subtype == "phone":
                assert re.fullmatch(r"1[3-9]\d{9}", s.value)
            elif subtype == "qq":
                assert re.fullmatch(r"[1-9]\d{5,10}", s.value)
            elif subtype == "email":
                assert re.fullmatch(r"[a-z][a-z0-9_-]+@[a-z0-9]+\.com", s.value)


def test_an_inapplicable_transform_is_refused_with_the_reason() -> None:
    url = make_snippet(random.Random(0), "url")
    with pytest.raises(ValueError, match="does not apply to a url snippet"):
        obfuscate(random.Random(0), url, "chinese_numerals")
    with pytest.raises(KeyError, match="unknown transform"):
        applicable("rot13", url)
