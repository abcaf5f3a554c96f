"""Data cards: every corpus has one, its numbers match the data, the CLI writes them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.datasets.corpora import CORPORA
from quanzi.datasets.datacards import CARD_META, CARDS_DIR

SECTIONS = (
    "| Source |",
    "| Licence |",
    "| Citation |",
    "## Size and labels",
    "## Splits",
    "## Categories",
    "## Length",
    "## Duplicates",
    "## Overlap with other corpora",
    "## Known caveats",
    "## Generated",
)


def card_number(card: str, row: str) -> int:
    """The number in the table row that starts with ``row``."""
    match = re.search(rf"^\| {re.escape(row)} \| (\d+)", card, flags=re.MULTILINE)
    assert match, f"no row {row!r} in the card"
    return int(match.group(1))


def _cli(*args: str) -> tuple[int, str]:
    register_all()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_every_corpus_has_a_committed_card_with_every_section() -> None:
    assert set(CARD_META) == set(CORPORA)
    for name in CORPORA:
        card = (CARDS_DIR / f"{name}.md").read_text(encoding="utf-8")
        for section in SECTIONS:
            assert section in card, (name, section)
        assert re.search(r"Measured by `quanzi data cards` on \d{4}-\d\d-\d\d", card)


@pytest.mark.parametrize("name", list(CORPORA))
def test_committed_cards_match_the_real_corpora(
    name: str, load_real: Callable[[str], pd.DataFrame]
) -> None:
    card = (CARDS_DIR / f"{name}.md").read_text(encoding="utf-8")
    df = load_real(name)
    assert card_number(card, "Rows loaded") == len(df)
    assert card_number(card, "Label 1") == int(df["label"].sum())
    straddling = int((df.groupby("norm")["split"].nunique() > 1).sum())
    # 0 for hash-split corpora; for COLD the number of texts its official splits share.
    assert card_number(card, "Normalised texts in more than one split") == straddling
    if name == "cold":
        assert straddling > 0
    assert card_number(card, "Normalised") == len(df) - df["norm"].nunique()


def test_cards_command_measures_the_synthetic_corpora(
    synthetic_corpora: Path, tmp_path: Path
) -> None:
    code, output = _cli("data", "cards", "--out", str(tmp_path / "cards"))
    assert code == 0, output
    shop = (tmp_path / "cards" / "online_shopping.md").read_text(encoding="utf-8")
    assert card_number(shop, "Rows in the source files") == 9
    assert card_number(shop, "Rows loaded") == 7
    assert card_number(shop, "Dropped: label not a number") == 1
    assert card_number(shop, "Dropped: empty after normalisation") == 1
    assert card_number(shop, "Exact (text as written)") == 1
    assert card_number(shop, "Normalised") == 2
    assert "disagree on the label: 1." in shop
    assert card_number(shop, "hotel") == 1  # the shared hotel review
    assert card_number(shop, "Contains traditional characters (t2s changes it)") == 1
    assert card_number(shop, "Starts with a byte-order mark (stripped from `text` too)") == 1
    cold = (tmp_path / "cards" / "cold.md").read_text(encoding="utf-8")
    assert card_number(cold, "Normalised texts in more than one split") == 1
    assert card_number(cold, "Rows whose `split` column disagrees with their file") == 1
    sms = (tmp_path / "cards" / "spam_sms.md").read_text(encoding="utf-8")
    assert card_number(sms, "Rows with `x`-masked numbers") == 1
    for name in CORPORA:
        assert f"wrote {tmp_path / 'cards' / name}.md" in output


def test_cards_command_can_write_one_corpus(synthetic_corpora: Path, tmp_path: Path) -> None:
    code, output = _cli("data", "cards", "--out", str(tmp_path), "--name", "waimai")
    assert code == 0, output
    assert [p.name for p in tmp_path.glob("*.md")] == ["waimai.md"]


def test_stats_command_prints_a_table(synthetic_corpora: Path) -> None:
    code, output = _cli("data", "stats", "cold")
    assert code == 0, output
    assert "cold" in output and "race" in output
    assert "disagrees with their file" in output


@pytest.mark.parametrize("args", [("data", "stats", "weibo"), ("data", "cards", "--name", "weibo")])
def test_unknown_corpus_is_a_clear_cli_error(
    args: tuple[str, ...], synthetic_corpora: Path
) -> None:
    code, output = _cli(*args)
    assert code == 2
    assert "unknown corpus 'weibo'" in output
    assert "Traceback" not in output


def test_missing_corpora_folder_is_a_clear_cli_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_CORPORA_DIR", str(tmp_path / "nowhere"))
    code, output = _cli("data", "stats")
    assert code == 2
    assert "QUANZI_CORPORA_DIR" in output
    assert "Traceback" not in output
