"""Signing in and out of the console, and its static files.

The sign-in form is protected by a double-submit token (a random cookie that the form
must repeat), since there is no session yet to hold a CSRF token. Only editor and admin
keys open a session; any other valid key gets the "not allowed" page, which says why.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.exceptions import HTTPException

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.console import web
from quanzi.serving.console.sessions import (
    CONSOLE_ROLES,
    MAX_AGE,
    csrf_matches,
    end_session,
    load_session,
    open_session,
)
from quanzi.storage.api_keys import verify_key

router = APIRouter(prefix=web.PREFIX, route_class=web.ConsoleRoute, include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".LICENSE": "text/plain",
}


def _safe_next(target: str | None) -> str:
    """Only a console path (never another site) may follow the sign-in."""
    if (
        target
        and target.startswith(web.PREFIX)
        and not target.startswith("//")
        and "\\" not in target
        and "://" not in target
    ):
        return target
    return f"{web.PREFIX}/candidates"


def _sign_in_page(
    request: Request,
    status: int = 200,
    error: str = "",
    next_url: str | None = None,
    notice: str = "",
) -> Response:
    token = secrets.token_urlsafe(32)
    response = web.render(
        request,
        "sign_in.html",
        status=status,
        error=error,
        notice=notice,
        sign_in_token=token,
        next_url=_safe_next(next_url),
    )
    response.set_cookie(
        web.SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=web.secure_cookies(request),
        path=web.PREFIX,
        max_age=3600,
    )
    return response


@router.get("/sign-in")
def read_sign_in(
    request: Request, db: SessionDep, next: str | None = None, signed_out: bool = False
) -> Response:
    """The sign-in form (an editor already signed in goes straight on)."""
    if load_session(db, request.cookies.get(web.COOKIE, "")) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _sign_in_page(request, next_url=next, notice="You are signed out." if signed_out else "")


@router.post("/sign-in")
def sign_in(
    request: Request,
    db: SessionDep,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Trade an editor or admin key for a session cookie (the key is not kept)."""
    if not csrf_matches(request.cookies.get(web.SIGN_IN_COOKIE, ""), csrf_token):
        raise web.CsrfRejected
    principal = verify_key(db, key.strip())
    if principal is None:
        return _sign_in_page(
            request,
            401,
            "That key is not valid: unknown, revoked or mistyped. Paste the whole key (qz_…).",
            next,
        )
    if principal.role not in CONSOLE_ROLES:
        return web.render(
            request,
            "not_allowed.html",
            status=403,
            role=principal.role,
            allowed=sorted(CONSOLE_ROLES),
        )
    token, signed = open_session(db, principal)
    request.state.console = signed
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        web.COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies(request),
        path=web.PREFIX,
        max_age=int(MAX_AGE.total_seconds()),
    )
    response.delete_cookie(web.SIGN_IN_COOKIE, path=web.PREFIX)
    return response


@router.post("/sign-out")
def sign_out(request: Request, _: web.EditorAction, db: SessionDep) -> Response:
    """End the session: its row is deleted, so the cookie is worthless even if kept."""
    end_session(db, request.cookies.get(web.COOKIE, ""))
    response = RedirectResponse(f"{web.PREFIX}/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(web.COOKIE, path=web.PREFIX)
    if web.is_htmx(request):
        response.headers["HX-Redirect"] = f"{web.PREFIX}/sign-in?signed_out=1"
    return response


@router.get("/static/{name}")
def read_static(name: str) -> FileResponse:
    """The console's own CSS and JavaScript and the vendored htmx (no CDN at run time)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600"},
    )
