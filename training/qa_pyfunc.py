"""The MLflow pyfunc wrapper of the Q&A models (``quanzi-qa``), logged as "models from
code" like ``pyfunc_model.py``: the weights are the predictor folder logged as the
artifact ``model_dir``. Input: a DataFrame (or list of dicts) of answers with
``question``, ``text`` and optionally ``author_bought``; output: one
``{"non_answer", "is_non_answer", "helpfulness"}`` per row."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from quanzi.models.qa.predictor import QAPredictor


class QuanziQAModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.predictor = QAPredictor.load(Path(context.artifacts["model_dir"]))

    # No type hints on purpose (see pyfunc_model.py): MLflow 3 would convert inputs by them.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        rows = (
            model_input.to_dict("records")
            if isinstance(model_input, pd.DataFrame)
            else list(model_input)
        )
        return self.predictor.predict(rows)


mlflow.models.set_model(QuanziQAModel())
