"""``/docs`` (Swagger UI) and ``/redoc`` from assets shipped in the package, never a CDN.

Why: the service runs offline (no network at run time), and FastAPI's default pages load
their JavaScript and CSS from a CDN, so they render blank there. The assets are vendored
in ``serving/api/docs_static/`` from the npm packages ``swagger-ui-dist`` 5.35.0
(Apache-2.0) and ``redoc`` 2.5.4 (MIT), licences beside them; the pages are FastAPI's own
(``get_swagger_ui_html``, ``get_redoc_html``) pointed at those files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent.parent / "docs_static"
ASSETS = "/docs/assets"
TITLE = "Quanzi"
OPENAPI_URL = "/openapi.json"
# The only files served (name → media type): nothing else under the folder is reachable.
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def read_swagger_ui() -> HTMLResponse:
    """The interactive API reference (Swagger UI), from packaged assets."""
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{TITLE} — API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect")
def read_swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (inline: no asset needed)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def read_redoc() -> HTMLResponse:
    """The API reference as one page (ReDoc), from packaged assets, no web fonts."""
    return get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=f"{TITLE} — API",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
        with_google_fonts=False,
    )


@router.get(ASSETS + "/{name}")
def read_docs_asset(name: str) -> FileResponse:
    """One vendored asset of the two pages (cached by the browser for a day)."""
    media_type = FILES.get(name)
    if media_type is None:
        raise HTTPException(404, detail=f"no documentation asset {name!r}")
    return FileResponse(
        STATIC / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
