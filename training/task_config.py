"""A task's config from its defaults, a file, then ``key=value`` overrides (nanoGPT's order).

``quanzi train moderation|quality|trust --config FILE --set key=value`` resolve the
task's typed config dataclass here, as ``quanzi train encoder`` does its own: the file
(TOML, or JSON by its suffix) holds nested tables for nested configs, an override names
a nested field with dots (``contact.n_train=600``, ``models.ad.C=2``,
``reject_precision.ad=0.97``) and its value is read as TOML (``C_grid=[1.0, 3.0]``,
``cold_limit=600``, ``use_encoder="auto"``; a bare word is a string). Unknown keys are
errors that list the known ones: a misspelt knob must not silently train the default.
Values are checked against the field's type.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A config file or override that does not fit the task's config."""


def resolve_task_config(
    base: C, config_file: Path | None = None, overrides: Iterable[str] = ()
) -> C:
    """``base`` (a config dataclass instance) with the file's values, then the overrides."""
    values: dict[str, Any] = {}
    if config_file is not None:
        text = Path(config_file).read_text(encoding="utf-8")
        try:
            values = json.loads(text) if str(config_file).endswith(".json") else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{config_file}: {exc}") from exc
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value")
        target = values
        *parents, leaf = key.strip().split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a table")
        target[leaf] = _parse(raw.strip())
    return _apply(base, values, "")


def _parse(raw: str) -> Any:
    """A TOML value (number, boolean, string, array, inline table), else the raw string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply(config: Any, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(type(config))
    known = {f.name for f in dataclasses.fields(config) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {[where + k for k in unknown]}; known "
            f"keys{' of ' + where.rstrip('.') if where else ''}: {sorted(known)}"
        )
    changes = {
        name: _coerce(getattr(config, name), hints[name], value, f"{where}{name}")
        for name, value in values.items()
    }
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where.rstrip('.') or 'config'}: {exc}") from exc


def _coerce(current: Any, hint: Any, value: Any, key: str) -> Any:
    """``value`` as the field's type; nested dataclasses and dicts are merged into."""
    if dataclasses.is_dataclass(current) and isinstance(value, dict):
        return _apply(current, value, key + ".")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin in (types.UnionType, typing.Union):
        none = value is None or (isinstance(value, str) and value.lower() == "none")
        if none and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(current, option, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: cannot be {value!r}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of values, got {value!r}")
        merged = dict(current or {})
        for name, item in value.items():
            merged[name] = _coerce(
                merged.get(name), args[1] if args else Any, item, f"{key}.{name}"
            )
        return merged
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected an array, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(None, args[0], v, key) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(None, a, v, key) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _apply(hint(), value, key + ".")
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        raise ConfigError(f"{key}: cannot set a field of type {hint} from a file or override")
    raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
