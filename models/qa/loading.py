"""Where the Q&A models live in the data dir, and loading them (None when not trained)."""

from __future__ import annotations

from pathlib import Path

from quanzi.models.qa.answer_model import AnswerModel
from quanzi.models.qa.invitee_ranker import InviteeRanker
from quanzi.settings import Settings


def qa_models_dir(settings: Settings) -> Path:
    """``$QUANZI_DATA_DIR/models/qa``: ``answer_model/`` and ``invitee_ranker/``."""
    return settings.models_dir / "qa"


def load_answer_model(settings: Settings) -> AnswerModel | None:
    folder = qa_models_dir(settings) / "answer_model"
    return AnswerModel.load(folder) if (folder / "config.json").is_file() else None


def load_invitee_ranker(settings: Settings) -> InviteeRanker | None:
    folder = qa_models_dir(settings) / "invitee_ranker"
    return InviteeRanker.load(folder) if (folder / "invitee_ranker.json").is_file() else None
