"""The folder format of the classifier predictors: sentence-transformers' module layout.

A moderation, quality or trust model is a stack of modules saved like a
sentence-transformers model: ``modules.json`` at the root lists the modules in order,
in that library's schema (``idx``, ``name``, ``path``, ``type``: the module's class),
and each module saves its own JSON config and safetensors weights in its own folder
(``models/text_linear.py``, ``models/moderation/linear.py``). The predictor's own
settings — thresholds, cut points, feature names — sit beside them in one JSON file, as
sentence-transformers keeps its own in ``config_sentence_transformers.json``.

Loading reads ``modules.json`` and rebuilds each module with its class's ``load``. Only
the classes in ``MODULE_TYPES`` are accepted, so a model folder can never make the
loader import or run code of its choosing (and there is never a pickle).

The modules are numpy/scikit-learn objects, not torch ones: a folder has the library's
layout and manifest, but ``SentenceTransformer(path)`` does not load it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from quanzi.models.moderation.linear import LinearTextClassifier
from quanzi.models.text_linear import CharTfidf, SoftmaxHead

MODULES_FILE = "modules.json"


class Module(Protocol):
    """What a module of the stack does: save itself into a folder; ``cls.load`` reads it."""

    def save(self, path: Path) -> None: ...


def type_name(cls: type) -> str:
    """The ``type`` a manifest entry names: the class's import path."""
    return f"{cls.__module__}.{cls.__qualname__}"


MODULE_TYPES: dict[str, Any] = {
    type_name(cls): cls for cls in (CharTfidf, SoftmaxHead, LinearTextClassifier)
}


def save_modules(path: Path, modules: Mapping[str, Module]) -> None:
    """Each module into ``path/<name>/`` and the manifest, in the given order."""
    path.mkdir(parents=True, exist_ok=True)
    manifest = []
    for idx, (name, module) in enumerate(modules.items()):
        kind = type_name(type(module))
        if kind not in MODULE_TYPES:
            raise TypeError(f"{kind} is not a module type the loader accepts (MODULE_TYPES)")
        module.save(path / name)
        manifest.append({"idx": idx, "name": name, "path": name, "type": kind})
    (path / MODULES_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def has_modules(path: Path) -> bool:
    return (path / MODULES_FILE).is_file()


def load_modules(path: Path) -> dict[str, Any]:
    """``name → module`` in the manifest's order, each rebuilt by its class's ``load``."""
    try:
        manifest = json.loads((path / MODULES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{path / MODULES_FILE}: not a readable module list") from exc
    modules: dict[str, Any] = {}
    for entry in sorted(manifest, key=lambda e: e["idx"]):
        cls = MODULE_TYPES.get(entry.get("type", ""))
        if cls is None:
            raise ValueError(
                f"{path / MODULES_FILE}: module {entry.get('name')!r} has type "
                f"{entry.get('type')!r}, not one of {sorted(MODULE_TYPES)}"
            )
        folder = (path / entry["path"]).resolve()
        if not folder.is_relative_to(path.resolve()):
            raise ValueError(
                f"{path / MODULES_FILE}: module path {entry['path']!r} leaves the model folder"
            )
        modules[entry["name"]] = cls.load(folder)
    return modules


def load_tfidf_head(path: Path, format_version: Any) -> tuple[CharTfidf, SoftmaxHead]:
    """The ``tfidf`` and ``head`` modules of a quality or trust model: from its module list
    (format 2), or from the fixed ``tfidf/`` and ``head/`` folders of versions registered
    before it (format 1)."""
    if format_version == 1:
        return CharTfidf.load(path / "tfidf"), SoftmaxHead.load(path / "head")
    if format_version != 2:
        raise ValueError(f"{path}: format version {format_version} is not 2 (nor the older 1)")
    modules = load_modules(path)
    tfidf, head = modules.get("tfidf"), modules.get("head")
    if not (isinstance(tfidf, CharTfidf) and isinstance(head, SoftmaxHead)):
        raise ValueError(f"{path}: the modules are not a ``tfidf`` and a ``head``")
    return tfidf, head
