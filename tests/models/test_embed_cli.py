"""`quanzi embed`: input order preserved; bad JSONL is an error naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.models.encoder import embed_texts, load_encoder
from quanzi.settings import Settings

register_all()
runner = CliRunner()
TEXTS = ["这是一条很长很长的评论，物流很快，包装完好，味道也不错", "短评", "中等长度的评论内容"]


@pytest.fixture
def tiny(tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANZI_ENCODER", str(tiny_encoder_dir))
    return tiny_encoder_dir


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_embed_writes_one_row_per_line_in_input_order(tiny: Path, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "in.jsonl",
        [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(TEXTS)],
    )
    out = tmp_path / "out.npy"
    result = runner.invoke(
        app, ["embed", "--input", str(src), "--output", str(out), "--batch-size", "2"]
    )
    assert result.exit_code == 0, result.output
    got = np.load(out)
    expected = np.vstack([embed_texts(load_encoder(Settings()), [t]) for t in TEXTS])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_invalid_json_names_the_line(tiny: Path, tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", ['{"text": "好"}', '{"text": "坏"', '{"text": "中"}'])
    result = runner.invoke(app, ["embed", "--input", str(src), "--output", str(tmp_path / "o.npy")])
    assert result.exit_code == 2
    assert "in.jsonl:2: invalid JSON" in result.output


def test_missing_text_field_names_the_line(tiny: Path, tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", ['{"text": "好"}', '{"body": "坏"}'])
    result = runner.invoke(app, ["embed", "--input", str(src), "--output", str(tmp_path / "o.npy")])
    assert result.exit_code == 2
    assert "in.jsonl:2: no string field 'text'" in result.output
    assert not (tmp_path / "o.npy").exists()
