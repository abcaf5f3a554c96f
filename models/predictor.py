"""What a trained model is to everything that runs it: the ``Predictor`` protocol.

The service, ``quanzi score``, the MLflow pyfunc wrapper and the training pipeline all
know a model only through this: records in (``quanzi score``'s input schema), one
JSON-ready dict per record out. A predictor saves itself as a folder of JSON config and
safetensors weights (one subfolder per module, like sentence-transformers), never as an
opaque pickle; ``models/champions.py`` says which class loads which task's folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

# Fields of a scoring record (``quanzi score`` input) that a predictor may read.
INPUT_FIELDS = ("text", "circle_id", "author", "verified_purchase")


class Predictor(Protocol):
    """A trained model as the service uses it: batch in, JSON-ready dicts out."""

    name: str  # registered model name, e.g. "quanzi-quality"

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records as in ``quanzi score`` input (``text``, optional ``circle_id``,
        ``author``, ``verified_purchase``) → one output dict per record, in order."""
        ...

    def save(self, path: Path) -> None: ...


# A predictor that reads the sentence encoder's vectors of its records' texts says so with
# ``uses_vectors = True`` and takes them as ``predict(records, vectors=...)`` (one row per
# record, from the configured encoder): the service and ``quanzi score`` make them once per
# batch for every such model (``models/scoring.py``), so a post runs the transformer once.


def input_records(model_input: Any) -> list[dict[str, Any]]:
    """Scoring records from a DataFrame, a list of dicts or one dict; only input fields,
    and no key for a missing optional value (pandas fills those with NaN/None)."""
    if isinstance(model_input, pd.DataFrame):
        rows = model_input.to_dict("records")
    elif isinstance(model_input, dict):
        rows = [model_input]
    else:
        rows = list(model_input)
    records = []
    for row in rows:
        record = {}
        for key in INPUT_FIELDS:
            value = row.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            record[key] = value
        records.append(record)
    return records
