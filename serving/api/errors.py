"""One error shape for every answer that is not a success, and the OpenAPI that says so.

Every 4xx and 5xx of the JSON API is ``{"detail": <message>, "code": <machine code>}``:
``detail`` is always one human-readable string saying what to fix, ``code`` a short
stable word a client can branch on (``unauthorized``, ``forbidden``, ``not_found``,
``conflict``, ``validation_error``, ``payload_too_large``, ``rate_limited``, …). A
validation error also lists the fields under ``errors`` (``loc`` and ``msg`` each).

The handlers here replace FastAPI's (whose ``detail`` was a string for some errors and a
list for validation ones), a 405 names every method its path accepts in ``Allow`` (not only
those of the first route matching the path), and ``install_openapi`` adds the statuses a
route can answer to its OpenAPI entry from what the route depends on: 401/403/429 for
every keyed route, 422 for routes with input, 413 for routes with a body. What a route
answers beyond those (404, 409, 503) it declares itself; it gets the error body too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from quanzi.serving.editorial.errors import EditorialError

# Status → the code an error of that status carries unless it names its own.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """What every error answer carries."""

    detail: str = Field(description="What went wrong and what to do about it.")
    code: str = Field(description="A short machine-readable code (e.g. `not_found`).")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where in the request: `body`, `query`, … then path.")
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    """A request that does not match the schema: the message, and each field at fault."""

    errors: list[FieldError] = Field(
        default_factory=list, description="Every field at fault (at most 50)."
    )


class ApiError(Exception):
    """An error with its own machine code (``HTTPException`` gets the status's default)."""

    def __init__(
        self, status_code: int, detail: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.code = code
        self.headers = headers


def error_json(
    status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error response (also used by middleware that answers before routing)."""
    body = {"detail": detail, "code": code or STATUS_CODES.get(status, f"http_{status}")}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in list(errors)[:50]
    ]


def validation_message(errors: list[dict[str, Any]]) -> str:
    """The field errors as one sentence: ``body.posts.0.text: String should have …``."""
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc.errors())
    body = {"detail": validation_message(errors), "code": "validation_error", "errors": errors}
    return JSONResponse(body, status_code=422)


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route of the app accepts at this request's path."""
    path = scope.get("path", "")
    matched = [r for r in api_routes(getattr(app, "routes", ())) if r.path_regex.match(path)]
    # A literal path (`/v1/circles/applications`) is its own resource, not an id of the
    # templated one beside it (`/v1/circles/{circle_id}`): the OpenAPI lists them apart.
    literal = [r for r in matched if "{" not in r.path]
    methods: set[str] = set()
    for route in literal or matched:
        methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 405:
        detail = f"method {request.method} not allowed here; allowed: {headers['Allow']}"
    return error_json(exc.status_code, detail, headers=headers or None)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_json(exc.status_code, exc.detail, exc.code, exc.headers)


async def _editorial_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EditorialError)
    return error_json(exc.status_code, str(exc), getattr(exc, "code", None))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the JSON API raises through the one shape."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(EditorialError, _editorial_error)


# --------------------------------------------------------------------------- OpenAPI
_DESCRIPTIONS = {
    400: "The body could not be read as JSON (send UTF-8 JSON)",
    401: "No API key, or an unknown or revoked one (`WWW-Authenticate: Bearer`)",
    403: "The key's role may not use this route",
    413: "The body is over the size or nesting limit",
    422: "The request does not match the schema (each field at fault under `errors`)",
    429: "This key's request rate is over its role's limit (`Retry-After` says when to retry)",
}


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every API route of an app (FastAPI lists included routers as contexts)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.original_route


def route_roles(dependant: Any) -> set[str]:
    """The roles a route's key dependencies admit (empty: an open route)."""
    found: set[str] = set()
    for sub in dependant.dependencies:
        found |= set(getattr(sub.call, "roles", ())) | route_roles(sub)
    return found


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _ref(ValidationErrorBody if status == 422 else ErrorBody),
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if status == 405:
        response["headers"] = {"Allow": {"schema": {"type": "string"}}}
    return response


def _document_errors(app: FastAPI, schema: dict[str, Any]) -> None:
    """Give every operation the error statuses it can answer, with the one error body."""
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        statuses: dict[int, str] = {}
        if route_roles(route.dependant):
            statuses |= {s: _DESCRIPTIONS[s] for s in (401, 403, 429)}
        if route.body_field or route.dependant.query_params or route.dependant.path_params:
            statuses[422] = _DESCRIPTIONS[422]
        if route.body_field is not None:
            statuses |= {s: _DESCRIPTIONS[s] for s in (400, 413)}
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                declared = responses.get(str(status), {}).get("description")
                responses[str(status)] = _error_response(status, declared or description)
            for status, declared in list(responses.items()):  # the route's own 404/409/503
                if status.isdigit() and int(status) >= 400 and status not in map(str, statuses):
                    responses[status] = _error_response(int(status), declared["description"])


def install_openapi(app: FastAPI) -> None:
    """The OpenAPI document with every route's errors in the one shape (``ErrorBody``)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ErrorBody, ValidationErrorBody):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            _document_errors(app, schema)
            # FastAPI's own validation-error schema is replaced everywhere: drop it.
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
