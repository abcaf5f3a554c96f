"""The Q&A ``Task`` (issue 17): the answer model and the ask-the-buyer ranker, trained,
logged and registered together as ``quanzi-qa`` and promoted like every other model.

Reads top to bottom in the order the pipeline runs it: config → data → fit → evaluate →
load.

- **Data**: the hand-written Q&A set (``datasets/qa/eval``): its **dev** split trains the
  answer model (threshold by 5-fold cross-validation inside it), its **test** split is
  only evaluated; the world's distinct generated answers (labels from its generator) are
  extra training rows. The ranker learns from the world's logged invites of its first
  80 % of questions (time split) and is scored on the invites of the rest, from the log
  alone (no hidden trait is read here).
- **Question encoder**: the backbone (full multilingual-e5-small, ``QUANZI_BACKBONE``)
  fine-tuned on the hand-written training triplets (``datasets/qa/train``, never the
  evaluation pairs) for similar-question retrieval (``training/qa_question_encoder.py``);
  ``small`` skips it (retrieval then uses the shared encoder).
- **Fit**: ``training/qa.py`` (``fit_answer_model``, ``fit_invitee_ranker``).
- **Evaluate**: non-answer F1 and answer NDCG@3 on test (``models/qa/metrics.py``, the
  same code as ``quanzi eval qa``), the ranker's AUC at telling who answered among
  the held-out questions' invitees, and similar-question R@5 on the pairs' test part
  (dev part logged beside it), the shared encoder's and char TF-IDF's on the same pools.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from quanzi.datasets.qa.eval_set import EVAL_DIR, EvalQuestion, load_pairs, load_questions
from quanzi.datasets.qa.train_set import load_triplets
from quanzi.datasets.world.build import default_name
from quanzi.datasets.world.qa_tables import read_qa_world, world_answer_rows
from quanzi.datasets.world.tables import require_world
from quanzi.models.backbone.load import ensure_backbone
from quanzi.models.encoder import embed_texts, load_encoder, resolve_encoder
from quanzi.models.qa.buyer_log import buyer_log_of, time_split
from quanzi.models.qa.metrics import answer_ndcg, non_answer_f1
from quanzi.models.qa.predictor import REGISTERED_MODEL, QAPredictor
from quanzi.models.qa.similar_recall import embed_scorer, similar_recall, tfidf_scorer
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.pipeline import ModelFormat
from quanzi.training.qa import cached, fit_answer_model, fit_invitee_ranker, invite_rows
from quanzi.training.qa_question_encoder import QuestionEncoderConfig, fit_question_encoder
from quanzi.training.tasks import Evaluation, TaskData

Embed = Callable[[Sequence[str]], np.ndarray]
TRAIN_SHARE = 0.8  # of the world's questions by time: the ranker's training invites


def _frame(questions: Sequence[EvalQuestion]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "question_id": q.id,
                "question": q.question,
                "text": a.text,
                "label": a.label,
                "author_bought": a.author_bought,
            }
            for q in questions
            for a in q.answers
        ]
    )


# The Q&A model: answer records in (``qa_pyfunc.py``), no text signature.
QA_MODEL = ModelFormat(
    code=Path(__file__).parent.parent / "qa_pyfunc.py",
    requirements=("quanzi", "mlflow", "numpy", "pandas", "scikit-learn"),
    example=lambda data: (
        data.test[["question", "text", "author_bought"]].head(5).reset_index(drop=True)
    ),
    records=lambda rows: rows.to_dict("records"),
    signature=False,
)


@dataclass
class QATask:
    name: str = "qa"
    registered_model: str = REGISTERED_MODEL
    primary_metric: str = "test_non_answer_f1"
    gate: dict[str, tuple[bool, float]] = field(
        default_factory=lambda: {
            "test_non_answer_f1": (True, 0.01),
            "test_answer_ndcg3": (True, 0.01),
            "test_invite_answer_auc": (True, 0.01),
            "test_similar_r5": (True, 0.02),
        }
    )
    model_format: ModelFormat = QA_MODEL
    world: str | None = None  # None: the demo world
    # The question encoder's starting point: None = the backbone (full e5; small runs skip
    # it), "" = none (retrieval uses the shared encoder), else a sentence-transformers folder.
    question_base: str | None = None
    question_config: QuestionEncoderConfig = field(default_factory=QuestionEncoderConfig)
    _embed: Embed | None = None
    _state: dict[str, Any] = field(default_factory=dict)

    def world_name(self, settings: Settings) -> str:
        return self.world or default_name(settings.demo_posts, settings.demo_seed)

    def preflight(self, settings: Settings) -> None:
        """A missing world is the user's to fix: say so before touching MLflow."""
        require_world(settings, self.world_name(settings))

    # -- data
    def load_data(
        self, settings: Settings, small: bool, progress: ProgressCallback | None = None
    ) -> TaskData:
        """``small``: no encoder features (seconds, for tests and CI)."""
        world = self.world_name(settings)
        tables = read_qa_world(settings, world)
        dev, test = load_questions(EVAL_DIR, "dev"), load_questions(EVAL_DIR, "test")
        extra = world_answer_rows(settings, world)
        if not small and self._embed is None:
            model = load_encoder(settings)
            self._embed = lambda texts: embed_texts(model, list(texts))
            self._state["encoder"] = resolve_encoder(settings)
        if small:
            self._embed = None
        _, test_q, _ = time_split(tables, TRAIN_SHARE)
        invites = tables["question_invites"]
        held_out = invites[invites.question_id.isin(test_q)]
        self._state.update(tables=tables, dev=dev, test=test, extra=extra, world=world)
        self._state.update(pairs=load_pairs(EVAL_DIR), questions=dev + test)
        if self.question_base if small else self.question_base != "":
            self._state["triplets"] = load_triplets()
            self._state["question_base"] = self.question_base or ensure_backbone(settings)
            self._state["threads"] = settings.torch_threads
        digest = hashlib.sha256(
            "\n".join(sorted(held_out.question_id + ":" + held_out.user_id)).encode()
        ).hexdigest()
        return TaskData(
            train=pd.DataFrame(extra, columns=["question", "text", "label"]),
            dev=_frame(dev),
            test=_frame(test),
            extra={"invites_test": held_out[["question_id", "user_id"]].reset_index(drop=True)},
            hashes={"world": world, "invites_test": digest},
        )

    def run_params(self, data: TaskData) -> dict[str, str]:
        s = self._state
        out = {"world": s["world"], "encoder_features": str(self._embed is not None)}
        if "triplets" in s:
            out |= self.question_config.params()
            out |= {"question_base": s["question_base"], "question_triplets": len(s["triplets"])}
        return out

    # -- fit
    def fit(self, data: TaskData, settings: Settings, small: bool) -> QAPredictor:
        s = self._state
        texts = [
            t for q in s["dev"] + s["test"] for t in (q.question, *(a.text for a in q.answers))
        ]
        self._embed = cached(self._embed, texts)
        model = fit_answer_model(s["dev"], self._embed, s["extra"])
        ranker = fit_invitee_ranker(s["tables"], TRAIN_SHARE)
        question_encoder = (
            fit_question_encoder(
                s["question_base"], s["triplets"], self.question_config, s["threads"]
            )
            if "triplets" in s
            else None
        )
        return QAPredictor(
            model, ranker, s.get("encoder"), self._embed, question_encoder=question_encoder
        )

    # -- evaluate
    def evaluate(self, predictor: QAPredictor, data: TaskData) -> Evaluation:
        s = self._state
        embed = self._embed if predictor.answer_model.uses_encoder else None
        f1 = non_answer_f1(predictor.answer_model, embed, s["test"])
        ndcg = answer_ndcg(predictor.answer_model, embed, s["test"])
        tables = s["tables"]
        _, test_q, _ = time_split(tables, TRAIN_SHARE)
        rows = invite_rows(tables, buyer_log_of(tables), test_q)
        scores = predictor.ranker.answer.predict_proba(rows.x)[:, 1]
        auc = roc_auc_score(rows.answered, scores) if len(set(rows.answered)) > 1 else 0.5
        return Evaluation(
            metrics={
                "test_non_answer_f1": f1["f1"],
                "test_non_answer_precision": f1["precision"],
                "test_non_answer_recall": f1["recall"],
                "test_answer_ndcg3": ndcg["model"],
                "test_answer_ndcg3_newest": ndcg["newest"],
                "test_answer_ndcg3_longest": ndcg["longest"],
                "test_invite_answer_auc": float(auc),
                "test_invites": float(len(rows.answered)),
                **self._similar_metrics(predictor),
            }
        )

    def _similar_metrics(self, predictor: QAPredictor) -> dict[str, float]:
        """R@5 on the pairs' test part (dev beside it) of this version's retrieval — its
        question encoder, else the shared encoder, else (a ``small`` run without either)
        char TF-IDF — and of the shared encoder and TF-IDF on the same pools."""
        s = self._state
        scorers = {"tfidf": tfidf_scorer}
        if self._embed is not None:
            scorers["encoder"] = embed_scorer(self._embed)
        if predictor.has_question_encoder:
            scorers["question"] = embed_scorer(predictor.embed_questions)
        served = next(n for n in ("question", "encoder", "tfidf") if n in scorers)
        r = similar_recall(scorers, s["pairs"], s["questions"])
        out = {
            f"{part}_similar_r5_{name}": r[f"{name}_r@5_{part}"]
            for name in scorers
            for part in ("dev", "test")
            if f"{name}_r@5_{part}" in r
        }
        out["test_similar_r5"] = r.get(f"{served}_r@5_test", 0.0)
        out["dev_similar_r5"] = r.get(f"{served}_r@5_dev", 0.0)
        return out

    def load(self, path: Path) -> QAPredictor:
        predictor = QAPredictor.load(path)
        predictor.embed = self._embed  # the task's encoder (no second load)
        return predictor


TASK = QATask()
