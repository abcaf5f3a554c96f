"""The adversarial evaluation counts decisions, clean passes and recalls as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.datasets.moderation.adversarial import AdversarialPost
from quanzi.evaluation.adversarial_eval import evaluate_adversarial, predictor_fn, score_posts


def _post(i: int, labels: tuple[str, ...], decision: str, category: str) -> AdversarialPost:
    return AdversarialPost(f"adv-{i}", f"text {i}", labels, decision, category, "test", "")


POSTS = [
    _post(1, ("contact",), "reject", "contact-qq"),
    _post(2, ("contact", "ad"), "reject", "contact-qq"),
    _post(3, ("offensive",), "review", "offensive-pinyin"),
    _post(4, (), "pass", "clean-payment"),
    _post(5, (), "pass", "clean-payment"),
]
ANSWERS = {
    "text 1": ("reject", ["contact"]),
    "text 2": ("review", ["contact"]),  # caught, wrong decision, ad missed
    "text 3": ("pass", []),  # missed
    "text 4": ("pass", []),
    "text 5": ("review", ["contact"]),  # clean look-alike flagged
}


def fake(texts):
    return [ANSWERS[t] for t in texts]


def test_counts_against_written_answers() -> None:
    r = score_posts(POSTS, fake)
    assert r.n == 5 and r.n_clean == 2 and r.split == "test"
    assert r.decision_accuracy == pytest.approx(2 / 5)
    assert r.clean_pass_rate == pytest.approx(1 / 2)
    assert r.adversarial_caught == pytest.approx(2 / 3)
    assert r.adversarial_rejected == pytest.approx(1 / 3)
    assert r.label_recall["contact"] == 1.0
    assert r.label_recall["ad"] == 0.0
    assert r.label_recall["offensive"] == 0.0
    assert r.label_recall["gambling"] is None and r.label_support["gambling"] == 0
    assert r.category_recall == {
        "clean-payment": 0.5,
        "contact-qq": 1.0,
        "offensive-pinyin": 0.0,
    }
    assert [m["id"] for m in r.misses] == ["adv-2", "adv-3", "adv-5"]


def test_wrong_answer_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="answers"):
        score_posts(POSTS, lambda texts: [("pass", [])])


def test_real_set_with_a_pass_everything_predictor() -> None:
    r = evaluate_adversarial(lambda texts: [("pass", [])] * len(texts), split="dev")
    assert r.split == "dev"
    assert r.clean_pass_rate == 1.0 and r.adversarial_caught == 0.0
    assert all(v == 0.0 for v in r.label_recall.values())


class RejectEverything:
    """A stand-in champion: every post rejected as contact."""

    def predict(self, records):
        return [
            {"decision": "reject", "labels": [{"label": "contact", "prob": 0.9, "spans": []}]}
            for _ in records
        ]


def test_predictor_adapter_batches_and_reads_labels() -> None:
    out = predictor_fn(RejectEverything(), batch_size=2)(["a", "b", "c"])
    assert out == [("reject", ["contact"])] * 3


def test_cli_scores_the_champion(monkeypatch, tmp_path: Path) -> None:
    register_all()
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        "quanzi.models.champions.load_champion", lambda settings, task: RejectEverything()
    )
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["eval", "adversarial", "--split", "dev", "--json-out", out])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["split"] == "dev" and report["clean_pass_rate"] == 0.0
    assert report["label_recall"]["contact"] == 1.0


def test_cli_without_champion_says_run_bootstrap(monkeypatch, tmp_path: Path) -> None:
    register_all()
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("quanzi.models.champions.load_champion", lambda settings, task: None)
    result = CliRunner().invoke(app, ["eval", "adversarial"])
    assert result.exit_code == 2
    assert "quanzi bootstrap" in result.output
