"""Encoder training config: defaults, --small, file, then --set; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanzi.training.encoder import EncoderTrainConfig, resolve_config


def test_unknown_key_is_an_error_naming_the_key() -> None:
    with pytest.raises(ValueError, match="hiden_size"):
        resolve_config(overrides=["hiden_size=64"])


def test_cli_override_wins_over_file_which_wins_over_small(tmp_path: Path) -> None:
    file = tmp_path / "enc.toml"
    file.write_text('hidden_size = 48\nnum_heads = 2\nepochs = 3\ncorpora = ["waimai"]\n')
    cfg = resolve_config(file, ["epochs=5"], small=True)
    assert (cfg.hidden_size, cfg.epochs, cfg.corpora) == (48, 5, ("waimai",))
    assert cfg.max_train_texts == 400  # from --small, untouched by the file


def test_badly_typed_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="batch_size must be int"):
        resolve_config(overrides=["batch_size=lots"])


def test_unknown_teacher_or_corpus_is_an_error() -> None:
    with pytest.raises(ValueError, match="teacher"):
        resolve_config(overrides=["teacher=bert"])
    with pytest.raises(ValueError, match="corpora"):
        resolve_config(overrides=["corpora=weibo"])


def test_defaults_are_the_dataclass_defaults() -> None:
    assert resolve_config() == EncoderTrainConfig()
