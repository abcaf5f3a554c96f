"""The ask-the-buyer ranker, trained on a world's logged invites only, beats random past
buyers on the world's later questions when scored with the hidden traits."""

from __future__ import annotations

from pathlib import Path

from quanzi.datasets.world.qa_tables import read_qa_truth, read_qa_world, traits_of
from quanzi.evaluation.qa_eval import ask_the_buyer_report
from quanzi.settings import Settings
from quanzi.training.qa import fit_invitee_ranker


def test_invited_buyers_answer_more_than_random_ones(world: Path, world_settings: Settings) -> None:
    tables = read_qa_world(world_settings, world.name)
    ranker = fit_invitee_ranker(tables)
    truth, qcfg = read_qa_truth(world_settings, world.name)
    traits, rows = traits_of(truth, [])
    report = ask_the_buyer_report(tables, traits, rows, qcfg, ranker, min_buyers=5)
    assert report.n >= 5
    assert report.top_rate > 1.3 * report.random_rate
