"""/docs and /redoc render from packaged assets: no page names a host outside the service."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_packaged_assets(api: TestClient, page: str) -> None:
    response = api.get(page)
    assert response.status_code == 200
    html = response.text
    assert EXTERNAL.search(html) is None, "the page loads something from another host"
    assets = re.findall(r"""(?:src|href)=["']?(/docs/assets/[\w.\-]+)""", html)
    assert assets, "the page names no packaged asset"
    for url in assets:
        got = api.get(url)
        assert got.status_code == 200, url
        assert len(got.content) > 500
        assert b"cdn.jsdelivr" not in got.content[:2000]


def test_unknown_docs_asset_is_404(api: TestClient) -> None:
    assert api.get("/docs/assets/..%2Fapp.py").status_code == 404
    assert api.get("/docs/assets/secrets.txt").status_code == 404
