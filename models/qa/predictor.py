"""The Q&A models as one registered version (``quanzi-qa``): the answer model
(non-answer + helpfulness) and the ask-the-buyer ranker, saved side by side in one
folder (JSON + ``.npy``, no pickles), so they are trained, logged, promoted and served
together like every other task's model (``models/champions.py``).

A version may also carry a **question encoder** (``question_encoder/``, a
sentence-transformers folder fine-tuned on question paraphrases) that similar-question
retrieval embeds questions with; without one it uses the shared encoder.

As a ``Predictor`` it answers answer records — ``question``, ``text`` and optionally
``author_bought`` — with P(non-answer), the non-answer flag and the expected gain. The
service calls ``answer_model`` and ``ranker`` directly with the worker's own encoder."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quanzi.models.qa.answer_model import AnswerModel, AnswerRow
from quanzi.models.qa.invitee_ranker import InviteeRanker
from quanzi.settings import get_settings

REGISTERED_MODEL = "quanzi-qa"
QUESTION_ENCODER = "question_encoder"  # the sub-folder of a version that holds it
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class QAPredictor:
    answer_model: AnswerModel
    ranker: InviteeRanker
    encoder_name: str | None = None  # the encoder the answer model's features read
    embed: Embed | None = None  # set by whoever holds that encoder (else loaded on use)
    name: str = REGISTERED_MODEL
    question_encoder: Any | None = None  # fine-tuned question encoder (in memory), or …
    question_encoder_dir: Path | None = None  # … its folder, loaded on first use

    @property
    def has_question_encoder(self) -> bool:
        return self.question_encoder is not None or self.question_encoder_dir is not None

    def question_embedder(self, fallback: Embed | None) -> Embed | None:
        """What similar-question retrieval embeds with: this version's question encoder
        when it has one, else ``fallback`` (the shared encoder)."""
        return self.embed_questions if self.has_question_encoder else fallback

    def embed_questions(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of question texts from the question encoder (loaded once, in the
        configured runtime); call only when ``has_question_encoder``."""
        if self.question_encoder is None:
            if self.question_encoder_dir is None:
                raise ValueError("this quanzi-qa version has no question encoder")
            from quanzi.models.encoder import load_encoder_folder

            # onnx-fp32: torch's vectors at about half its CPU per question; not onnx-int8,
            # which gave 0.853 R@5 on the dev pairs against torch's 0.882 (measured before
            # the ONNX runtime applied the folder's "query: " prompt)
            self.question_encoder = load_encoder_folder(
                self.question_encoder_dir, get_settings(), runtime="onnx-fp32"
            )
        vectors = self.question_encoder.encode(
            list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _embedder(self) -> Embed | None:
        if not self.answer_model.uses_encoder:
            return None
        if self.embed is None:
            # torch loads only when a record is scored outside the service (MLflow pyfunc)
            from quanzi.models.encoder import embed_texts, load_encoder

            model = load_encoder(get_settings())
            self.embed = lambda texts: embed_texts(model, list(texts))
        return self.embed

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = [
            AnswerRow(str(r.get("question", "")), str(r["text"]), bool(r.get("author_bought")))
            for r in records
        ]
        p_na, gain = self.answer_model.predict(rows, self._embedder())
        return [
            {
                "non_answer": round(float(p), 6),
                "is_non_answer": bool(p >= self.answer_model.threshold),
                "helpfulness": round(float(g), 6),
            }
            for p, g in zip(p_na, gain, strict=True)
        ]

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.answer_model.save(path / "answer_model")
        self.ranker.save(path / "invitee_ranker")
        if self.question_encoder is not None:
            from quanzi.models.encoder import save_compact

            save_compact(self.question_encoder, path / QUESTION_ENCODER)
        meta = {"kind": "quanzi-qa", "encoder": self.encoder_name}
        (path / "qa.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path: Path) -> QAPredictor:
        meta = json.loads((path / "qa.json").read_text())
        folder = path / QUESTION_ENCODER
        return cls(
            AnswerModel.load(path / "answer_model"),
            InviteeRanker.load(path / "invitee_ranker"),
            meta.get("encoder"),
            question_encoder_dir=folder if (folder / "modules.json").is_file() else None,
        )
