"""Errors the editorial logic raises; the app turns each into an HTTP status with its message.

The logic stays free of HTTP, and every handler gets the same mapping from one place
(``serving/api/errors.py`` answers each as ``{"detail": message, "code": code}``). The
message says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable


class EditorialError(Exception):
    """Base: a request the store cannot honour; ``status_code`` is the HTTP answer."""

    status_code = 400
    code = "bad_request"


class NotFound(EditorialError):
    status_code = 404
    code = "not_found"


class Conflict(EditorialError):
    """The request is valid but the resource's state forbids it (e.g. publishing a draft of
    posts still under review)."""

    status_code = 409
    code = "conflict"


class Invalid(EditorialError):
    """Input the schema admits but a rule it cannot express refuses."""

    status_code = 422
    code = "invalid"


def id_list(ids: Iterable[object], limit: int = 20) -> str:
    """A short, readable list of ids for an error message."""
    items = sorted(str(i) for i in ids)
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")
