"""Fixtures for the editor console: a seeded app behind TestClient, a signed-in editor, and
(for the end-to-end walk) Debian's chromium driven by Playwright.

The browser is found at ``QUANZI_TEST_CHROMIUM`` (default ``/usr/bin/chromium``; ``.ci/run``
installs it with apt, since Playwright's own browser download is not available here).
Without it or without Playwright the browser tests skip locally and fail under
``CI=true``, so CI can never pass by silently skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import console_world as cw  # tests/utils, see tests/conftest.py
from quanzi_tests import serving_models as sm

from quanzi.serving.app import create_app
from quanzi.settings import Settings

settings = sm.settings  # a fresh data dir with a fast index sync

CHROMIUM = os.environ.get("QUANZI_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium hangs on refused connections here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(
    os.environ.get("QUANZI_TEST_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts")
)


@pytest.fixture
def keys(seed: Callable[[Callable[[Any], Any]], Any]) -> dict[str, str]:
    """The console world's store (circles, authors) and one raw key per role."""
    return seed(cw.seed_store)


@pytest.fixture
def console(settings: Settings, keys: dict[str, str]) -> Iterator[TestClient]:
    """The app with its real key checks and the small models (no one signed in yet)."""
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sm.use_models(client, sm.fake_loader())
        yield client


@pytest.fixture
def editor(console: TestClient, keys: dict[str, str]) -> TestClient:
    """``console`` with an editor signed in (the session cookie is in the client)."""
    response = cw.sign_in(console, keys["editor"])
    assert response.status_code == 303, response.text
    return console


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium through Playwright (see the module docstring). One per test
    module, not per session: Playwright's sync API keeps an event loop running in the main
    thread until it stops, and every later test that calls ``asyncio.run`` (the benches'
    load generators) failed after it."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "Playwright for Python is missing: `pip install -e '.[dev]'`"
    if problem is None and not Path(CHROMIUM).is_file():
        problem = (
            f"no chromium at {CHROMIUM}: `apt-get install -y chromium fonts-noto-cjk` "
            "(or set QUANZI_TEST_CHROMIUM)"
        )
    if problem is not None:
        if IN_CI:
            pytest.fail(
                f"{problem}; .ci/run installs it, and CI must not skip the console's browser tests",
                pytrace=False,
            )
        pytest.skip(problem)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a browser test leaves its screenshots (kept after the run)."""
    folder = ARTIFACTS / "console" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder
