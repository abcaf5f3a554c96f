"""The MLflow pyfunc wrapper of the learned feed ranker, logged as "models from code".

Like ``pyfunc_model.py`` for the text models, nothing is cloudpickled: the weights are the
ranker folder (``ranker.json``) logged as the artifact ``model_dir``. Input: a DataFrame
(or list of dicts) with one column per ranker feature (``models.ranker.FEATURES``; a
missing one counts as 0); output: one ``{"score": s}`` per row.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from quanzi.models.ranker import LinearRanker


class QuanziRankerModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.ranker = LinearRanker.load(Path(context.artifacts["model_dir"]))

    # No type hints on purpose (see pyfunc_model.py): MLflow 3 would convert inputs by them.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        rows = (
            model_input.to_dict("records")
            if isinstance(model_input, pd.DataFrame)
            else list(model_input)
        )
        return self.ranker.predict(rows)


mlflow.models.set_model(QuanziRankerModel())
