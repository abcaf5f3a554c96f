"""The console's web plumbing: templates, the signed-in editor, CSRF, and error pages.

Every console route uses ``ConsoleRoute``, which turns what the editorial services raise
(``NotFound``, ``Conflict``, ``Invalid``, a 503 for a model that is not loaded) and bad
form input into an HTML answer with the same status the JSON API would give, after
rolling back the request's database session, so a refused action writes nothing. htmx
requests get the message in the page's flash area instead of a whole error page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from quanzi import __version__
from quanzi.models.ranking.params import CHINA
from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.common import FORM
from quanzi.serving.console import views
from quanzi.serving.console.sessions import SignedIn, csrf_matches, load_session
from quanzi.serving.editorial.errors import EditorialError
from quanzi.serving.worker_models import ModelRegistry, ModelSet

PREFIX = "/console"
COOKIE = "quanzi_console"  # the session token (HttpOnly, SameSite=Lax, path /console)
SIGN_IN_COOKIE = "quanzi_console_signin"  # double-submit token of the sign-in form
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def china_time(moment: datetime | None) -> str:
    """A stored UTC instant on the China clock, as the campaign calendar and editors read it."""
    return "" if moment is None else moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


templates.env.filters["china"] = china_time
templates.env.filters["china_day"] = lambda moment: moment.astimezone(CHINA).date().isoformat()
templates.env.globals.update(
    version=__version__,
    prefix=PREFIX,
    phases=views.PHASES,
    tier_names=views.TIER_NAMES,
    csrf_field=CSRF_FIELD,
)


class SignInRequired(Exception):
    """No live console session: sign in (again)."""


class CsrfRejected(Exception):
    """A state-changing request without this session's CSRF token."""


def is_htmx(request: Request) -> bool:
    """A request htmx made (it answers with a fragment, not a whole page)."""
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    name: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A template with what every page needs: the editor, the CSRF token, the path."""
    me: SignedIn | None = getattr(request.state, "console", None)
    base = {
        "me": me,
        "csrf_token": me.csrf_token if me else "",
        "htmx": is_htmx(request),
        "path": request.url.path,
    }
    return templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status, headers=headers
    )


def secure_cookies(request: Request) -> bool:
    """Mark cookies Secure behind HTTPS (plain-HTTP localhost development still works)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


# --------------------------------------------------------------------------- auth
def console_user(request: Request, db: SessionDep) -> SignedIn:
    """The editor behind the session cookie; raises ``SignInRequired`` without one."""
    request.state.console_db = db  # so a failed request can be rolled back (ConsoleRoute)
    signed = load_session(db, request.cookies.get(COOKIE, ""))
    if signed is None:
        raise SignInRequired
    request.state.console = signed
    return signed


async def console_action(
    request: Request, signed: Annotated[SignedIn, Depends(console_user)]
) -> SignedIn:
    """``console_user`` plus the CSRF check every POST needs: the token in the
    ``X-CSRF-Token`` header (htmx sends it) or the form's ``csrf_token`` field."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not csrf_matches(signed.csrf_token, given):
        raise CsrfRejected
    return signed


EditorPage = Annotated[SignedIn, Depends(console_user)]
EditorAction = Annotated[SignedIn, Depends(console_action)]


def ready_models(registry: ModelRegistry) -> ModelSet | None:
    """The models in force, or None while the first load is still running (the page says
    so instead of holding the request until it finishes)."""
    models = registry.peek()
    if models is None and registry.status.state != "running":
        models = registry.current()  # tests and first use: load now
    return models


def parse(schema: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate form input with the JSON API's own schema (same limits, same messages;
    numbers and checkboxes arrive as text, which the form context lets convert)."""
    return schema.model_validate(data, context={FORM: True})


# --------------------------------------------------------------------------- errors
def _messages(exc: ValidationError | RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts[:5])


def _failure(request: Request, exc: Exception) -> tuple[int, str, str] | Response | None:
    """(status, title, message) for an error the console explains; None to re-raise."""
    if isinstance(exc, SignInRequired):
        if is_htmx(request):  # htmx follows HX-Redirect with a full page load
            return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/sign-in"})
        target = quote(
            request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/?=&"
        )
        return RedirectResponse(f"{PREFIX}/sign-in?next={target}", status_code=303)
    if isinstance(exc, CsrfRejected):
        return (
            403,
            "Refused",
            (
                "This request did not carry the page's security token "
                "(CSRF). Reload the page and try again."
            ),
        )
    if isinstance(exc, EditorialError):
        title = {
            404: "Not found",
            409: "Not possible now",
            422: "Check the input",
            503: "A model is not loaded",
        }.get(exc.status_code, "Refused")
        return exc.status_code, title, str(exc)
    if isinstance(exc, ValidationError | RequestValidationError):
        return 422, "Check the input", _messages(exc)
    if isinstance(exc, HTTPException):
        return exc.status_code, "Refused" if exc.status_code < 500 else "Error", str(exc.detail)
    return None


def error_response(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error page, or for htmx the message in the flash area (the target is left alone)."""
    if is_htmx(request):
        return render(
            request,
            "_flash.html",
            status=status,
            level="error",
            title=title,
            message=message,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return render(request, "error.html", status=status, title=title, message=message)


class ConsoleRoute(APIRoute):
    """An ``APIRoute`` answering the editorial services' errors with HTML (module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                failure = _failure(request, exc)
                if failure is None:
                    raise
                db = getattr(request.state, "console_db", None)
                if db is not None:  # the session still commits after us: make it empty
                    await run_in_threadpool(db.rollback)
                if isinstance(failure, Response):
                    return failure
                return error_response(request, *failure)

        return guarded
