"""One facade over the three champion models: records in, the scoring schema out.

``quanzi score`` (the batch and backfill tool) and the service's post endpoints use the
same ``Scorer``, so a post gets the same answer whichever way it arrives. Per record:

    {"id", "moderation": {"decision", "labels": [{"label", "prob", "spans"}], ...},
     "quality": {"score", "tier", ...}, "trust": {"level", "probs", "reasons", ...}}

Predictors may add keys of their own inside their part (e.g. the moderation risk level);
the keys above are checked, so a model that breaks the schema fails loudly here.

One transformer pass per post: a predictor that reads the encoder's sentence vectors
(``uses_vectors``, e.g. the quality model on the backbone) gets them handed in
(``predict(records, vectors=...)``): the caller's own (ingest embeds each post for the
index anyway) or, once per batch for every such predictor together, the ``embedder``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanzi.models.champions import champion_version, load_champion
from quanzi.models.loading import load_embedder
from quanzi.models.predictor import Predictor
from quanzi.settings import Settings

SCORED_TASKS = ("moderation", "quality", "trust")
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "moderation": ("decision", "labels"),
    "quality": ("score", "tier"),
    "trust": ("level", "probs", "reasons"),
}
LABEL_KEYS = ("label", "prob", "spans")
MAX_TEXT_CHARS = 100_000


class MissingChampionError(LookupError):
    """A task has no champion model; the message says which commands fix it."""


class RecordError(ValueError):
    """An input record that does not follow the scoring schema."""


class SchemaError(RuntimeError):
    """A predictor answered outside the scoring schema (a model bug, not an input error)."""


def missing_champion_message(task_name: str) -> str:
    name = f"quanzi-{task_name}"
    return f"no champion for {name}: run `quanzi train {task_name}` then `quanzi promote {name}`"


def validate_record(obj: Any) -> dict[str, Any]:
    """Check one input record; returns it with only the known fields (RecordError if bad)."""
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise RecordError("missing field 'id'")
    if isinstance(obj["id"], bool) or not isinstance(obj["id"], str | int):
        raise RecordError("'id' must be a string or an integer")
    text = obj.get("text")
    if not isinstance(text, str):
        raise RecordError("missing string field 'text'")
    if not text.strip():
        raise RecordError("'text' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise RecordError(f"'text' has {len(text)} characters (at most {MAX_TEXT_CHARS})")
    record: dict[str, Any] = {"id": obj["id"], "text": text}
    if obj.get("circle_id") is not None:
        if not isinstance(obj["circle_id"], str):
            raise RecordError("'circle_id' must be a string")
        record["circle_id"] = obj["circle_id"]
    if obj.get("author") is not None:
        if not isinstance(obj["author"], dict):
            raise RecordError("'author' must be a JSON object")
        record["author"] = obj["author"]
    if obj.get("verified_purchase") is not None:
        if not isinstance(obj["verified_purchase"], bool):
            raise RecordError("'verified_purchase' must be true or false")
        record["verified_purchase"] = obj["verified_purchase"]
    return record


def _check_output(task: str, out: Any) -> dict[str, Any]:
    if not isinstance(out, dict):
        raise SchemaError(f"{task} predictor returned {type(out).__name__}, not a dict")
    missing = [k for k in REQUIRED_KEYS[task] if k not in out]
    if missing:
        raise SchemaError(f"{task} predictor output lacks {', '.join(missing)}")
    if task == "moderation":
        for label in out["labels"]:
            if not isinstance(label, dict) or any(k not in label for k in LABEL_KEYS):
                raise SchemaError(f"moderation label {label!r} lacks one of {LABEL_KEYS}")
    return out


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def uses_vectors(predictor: Predictor | None) -> bool:
    """True for a predictor that takes the encoder's vectors of its records' texts."""
    return bool(getattr(predictor, "uses_vectors", False))


def reads_encoder(predictor: Predictor | None, encoder_version: str | None) -> bool:
    """Whether ``predictor`` can read the vectors of ``encoder_version``: it reads none, or
    it was trained on that encoder (the runtime suffix, e.g. ``-onnx-int8``, may differ:
    both runtimes' vectors agree to cosine ≈ 0.99). A model trained on another encoder's
    vectors would score the new ones without an error, and wrongly."""
    if not uses_vectors(predictor):
        return True
    trained = getattr(predictor, "encoder_version", None)
    if trained is None or encoder_version is None:  # unrecorded, or nothing hands it vectors
        return True
    a, b = str(trained), str(encoder_version)
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


@dataclass
class Scorer:
    """The three predictors (None where a task has no model), the batch size and the
    encoder that embeds a batch once for every predictor reading vectors (None: such a
    predictor embeds by itself unless the caller hands vectors in)."""

    moderation: Predictor | None
    quality: Predictor | None
    trust: Predictor | None
    batch_size: int = 256
    embedder: Callable[[Sequence[str]], np.ndarray] | None = None

    @classmethod
    def from_champions(
        cls, settings: Settings, require_all: bool = True, batch_size: int = 256
    ) -> Scorer:
        """Load every task's champion (``models:/quanzi-<task>@champion``).

        With ``require_all`` a missing champion is a ``MissingChampionError`` naming the
        commands that create it; without, that part of every answer is ``None``.
        """
        missing = [t for t in SCORED_TASKS if champion_version(settings, t) is None]
        if require_all and missing:  # before loading anything: fail fast
            raise MissingChampionError("; ".join(missing_champion_message(t) for t in missing))
        predictors = {
            task: None if task in missing else load_champion(settings, task)
            for task in SCORED_TASKS
        }
        wants = any(uses_vectors(p) for p in predictors.values())
        embedder = load_embedder(settings) if wants else None
        return cls(batch_size=batch_size, embedder=embedder, **predictors)

    def wants_vectors(self) -> bool:
        """True when some predictor reads the encoder's vectors."""
        return any(uses_vectors(p) for p in self.predictors().values())

    def predictors(self) -> dict[str, Predictor | None]:
        return {task: getattr(self, task) for task in SCORED_TASKS}

    def score(
        self, records: Sequence[dict[str, Any]], vectors: np.ndarray | None = None
    ) -> list[dict[str, Any]]:
        """Score validated records (``validate_record``) in batches, in order. ``vectors``:
        the configured encoder's vectors of the records' texts (one row per record) when
        the caller already has them; else the ``embedder`` makes them once per batch."""
        if vectors is not None and len(vectors) != len(records):
            raise ValueError(f"{len(vectors)} vectors for {len(records)} records")
        results: list[dict[str, Any]] = []
        wants = self.wants_vectors()
        for start, batch in zip(
            range(0, len(records), self.batch_size), batched(records, self.batch_size), strict=True
        ):
            inputs = [{k: v for k, v in r.items() if k != "id"} for r in batch]
            shared = None
            if wants and vectors is not None:
                shared = vectors[start : start + len(batch)]
            elif wants and self.embedder is not None:
                shared = np.asarray(self.embedder([r["text"] for r in inputs]), dtype=np.float32)
            parts: dict[str, list[Any]] = {}
            for task, predictor in self.predictors().items():
                if predictor is None:
                    parts[task] = [None] * len(batch)
                    continue
                if shared is not None and uses_vectors(predictor):
                    outputs = predictor.predict(inputs, vectors=shared)  # type: ignore[call-arg]
                else:
                    outputs = predictor.predict(inputs)
                if len(outputs) != len(batch):
                    raise SchemaError(
                        f"{task} predictor returned {len(outputs)} results for {len(batch)} records"
                    )
                parts[task] = [_check_output(task, out) for out in outputs]
            for i, record in enumerate(batch):
                results.append(
                    {"id": record["id"], **{task: parts[task][i] for task in SCORED_TASKS}}
                )
        return results
