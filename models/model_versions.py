"""A model set chosen by version: which versions score a post, their key, and loading them.

``quanzi posts rescore`` re-scores stored posts with a chosen set — the champions, or
named registered versions — and every post records the set that produced its stored
scores, status and vector as one string (``versions_key``: ``posts.scored_versions``), so
"scored by a version other than the chosen one" is one indexed comparison.

Each process that scores (the command itself, or every Ray actor) loads the set here by
version from the MLflow registry's cache (``champions.download_model_version``): models
are never pickled from one process to another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from mlflow.exceptions import MlflowException

from quanzi.models.champions import (
    PREDICTORS,
    champion_version,
    download_model_version,
    mlflow_client,
    registered_name,
)
from quanzi.models.loading import (
    TASK_NAMES,
    UNAVAILABLE,
    LoadedModels,
    encoder_version,
    load_embedder,
    mlflow_store_missing,
)
from quanzi.models.moderation.policy import RULES_VERSION
from quanzi.settings import Settings

KEY_PARTS = (*TASK_NAMES, "encoder")
MAX_KEY_CHARS = 255  # posts.scored_versions


class UnknownVersionError(LookupError):
    """A named model version that is not registered; the message says what exists."""


def versions_key(versions: Mapping[str, str]) -> str:
    """The set as one comparable string, e.g. ``moderation=3;quality=2;trust=1;encoder=…``
    (a digest when a long encoder name would not fit the column)."""
    key = ";".join(f"{part}={versions.get(part, UNAVAILABLE)}" for part in KEY_PARTS)
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def chosen_versions(settings: Settings, named: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each task's version — the one named (``moderation=rules``: the rule detectors
    alone, the fallback serving uses without a model), else the champion
    (``rules``/``unavailable`` without one) — and the configured encoder's version.
    Checked before anything runs: an unknown task or version raises
    ``UnknownVersionError`` naming what exists."""
    named = dict(named or {})
    unknown = sorted(set(named) - set(KEY_PARTS))
    if unknown:
        raise UnknownVersionError(
            f"unknown model {', '.join(unknown)}: name versions of {', '.join(TASK_NAMES)}"
        )
    if "encoder" in named:
        raise UnknownVersionError(
            "the encoder is chosen by QUANZI_ENCODER and QUANZI_ENCODER_RUNTIME, not by version"
        )
    versions: dict[str, str] = {}
    no_store = not named and mlflow_store_missing(settings)  # nothing trained yet
    for task in TASK_NAMES:
        version = named.get(task)
        if version is None:
            version = None if no_store else champion_version(settings, task)
        elif not (task == "moderation" and version == RULES_VERSION):  # the fallback, by name
            check_registered(settings, task, version)
        if version is None:
            version = RULES_VERSION if task == "moderation" else UNAVAILABLE
        versions[task] = str(version)
    versions["encoder"] = encoder_version(settings)
    return versions


def check_registered(settings: Settings, task: str, version: str) -> None:
    """``UnknownVersionError`` unless ``version`` of the task's model is registered."""
    name = registered_name(task)
    client = mlflow_client(settings)
    try:
        client.get_model_version(name, str(version))
    except MlflowException as exc:
        try:
            known = sorted(
                (v.version for v in client.search_model_versions(f"name='{name}'")), key=int
            )
        except MlflowException:
            known = []
        listed = ", ".join(map(str, known)) or "none"
        raise UnknownVersionError(
            f"{name} has no version {version!r} (registered: {listed}); see `quanzi models`"
        ) from exc


def load_versions(settings: Settings, versions: Mapping[str, str]) -> LoadedModels:
    """Load exactly these versions (raises when one cannot load: a rescore must not
    silently score with less than it was asked to)."""
    predictors: dict[str, object | None] = dict.fromkeys(TASK_NAMES)
    for task in TASK_NAMES:
        version = versions[task]
        if version in (RULES_VERSION, UNAVAILABLE):
            continue
        folder = download_model_version(settings, registered_name(task), version)
        predictors[task] = PREDICTORS[task].load(folder)
    configured = encoder_version(settings)
    if configured != versions["encoder"]:
        raise UnknownVersionError(
            f"this process's encoder is {configured!r}, the run chose {versions['encoder']!r}: "
            "give every node the same QUANZI_ENCODER and QUANZI_ENCODER_RUNTIME"
        )
    embedder = load_embedder(settings)
    return LoadedModels(predictors, {t: versions[t] for t in TASK_NAMES}, embedder, configured)
