"""Errors the editorial logic raises; the app turns each into an HTTP status with its message.

The logic stays free of HTTP, and every handler gets the same mapping from one place
(``create_app`` registers ``editorial_error_handler``). The message says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request
from fastapi.responses import JSONResponse


class EditorialError(Exception):
    """Base: a request the store cannot honour; ``status_code`` is the HTTP answer."""

    status_code = 400


class NotFound(EditorialError):
    status_code = 404


class Conflict(EditorialError):
    """The request is valid but the resource's state forbids it (e.g. publishing a draft of
    posts still under review)."""

    status_code = 409


class Invalid(EditorialError):
    status_code = 422


def id_list(ids: Iterable[object], limit: int = 20) -> str:
    """A short, readable list of ids for an error message."""
    items = sorted(str(i) for i in ids)
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")


async def editorial_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": message}`` with the error's status, like FastAPI's own HTTP errors."""
    status = exc.status_code if isinstance(exc, EditorialError) else 500
    return JSONResponse({"detail": str(exc)}, status_code=status)
