"""Limits shared by every resource's schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, ValidationInfo

# A text must hold a character that is neither whitespace nor a separator control (the
# same set in Python's `str.isspace`, pydantic's Rust regex and the OpenAPI's ECMA regex).
NON_BLANK = r"[^\s\x1c-\x1f]"
# Request numbers and booleans as JSON types: `"5"`, `0` for false or `true` for 1 are
# refused, as the OpenAPI document says (pydantic's lax mode would coerce them). The
# console's HTML forms send text: validated with ``context={FORM: True}``, the same
# schemas convert it as pydantic's lax mode does.
FORM = "form"


def _from_form(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(FORM))


def _json_integer(value: Any, info: ValidationInfo) -> Any:
    """A JSON integer: ``5`` or ``5.0`` (JSON Schema counts both), never ``"5"`` or ``true``."""
    if _from_form(info):
        return value
    if isinstance(value, bool | str | bytes):
        raise ValueError("Input should be a valid integer (a JSON number, not a string)")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_number(value: Any, info: ValidationInfo) -> Any:
    if not _from_form(info) and isinstance(value, bool | str | bytes):
        raise ValueError("Input should be a valid number (a JSON number, not a string)")
    return value


def _json_boolean(value: Any, info: ValidationInfo) -> Any:
    if not _from_form(info) and not isinstance(value, bool):
        raise ValueError("Input should be a valid boolean (JSON true or false)")
    return value


JSON_INTEGER = BeforeValidator(_json_integer)
StrictInt = Annotated[int, JSON_INTEGER]
# With bounds inside a union (``… | None``) the bounds go before the check, or pydantic
# cannot show them in the JSON schema: ``Annotated[int, Field(ge=0), JSON_INTEGER]``.
JSON_NUMBER = BeforeValidator(_json_number)
StrictFloat = Annotated[float, JSON_NUMBER]
StrictBool = Annotated[bool, BeforeValidator(_json_boolean)]


def optional_not_null(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a field that may be omitted but never sent as null: the
    OpenAPI then shows no ``default: null`` that the field's own type would refuse."""
    schema.pop("default", None)


MAX_PAGE = 200  # rows per page: a cap, so one request can never read a whole table
DEFAULT_PAGE = 50
MAX_OFFSET = 100_000
ID_MAX_LENGTH = 64  # ids are String(64) in the store

ResourceId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
