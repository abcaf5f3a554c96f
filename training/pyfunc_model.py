"""The MLflow pyfunc wrapper of every Quanzi task, logged as "models from code".

MLflow copies this file into each logged model and runs it at load time, so no class of
ours is cloudpickled: the weights are the predictor folder (JSON + safetensors) logged as
the artifact ``model_dir``, and ``model_config["task"]`` names the task whose predictor
(``models.champions.PREDICTORS``) rebuilds it.
``mlflow.pyfunc.load_model("models:/quanzi-quality@champion")`` therefore works in any
environment where the ``quanzi`` package is installed.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel, PythonModelContext

from quanzi.models.champions import PREDICTORS
from quanzi.models.predictor import input_records


class QuanziTaskModel(PythonModel):
    """Records in (a DataFrame or list of dicts), one JSON-ready dict per record out."""

    def load_context(self, context: PythonModelContext) -> None:
        kind = PREDICTORS[str(context.model_config["task"])]
        self.predictor = kind.load(Path(context.artifacts["model_dir"]))

    # No type hints here on purpose: MLflow 3 reads them as an input schema and would
    # convert inputs by them; the logged signature declares the schema instead. (MLflow
    # then prints a UserWarning asking for hints, under a filter of its own.)
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return self.predictor.predict(input_records(model_input))


mlflow.models.set_model(QuanziTaskModel())
