"""Shared fixtures: an isolated data dir for every test, databases on SQLite and PostgreSQL.

PostgreSQL comes from ``QUANZI_TEST_POSTGRES_URL`` (``.ci/run`` starts one). Without it the
PostgreSQL half of ``db_url`` is skipped locally, but fails under ``CI=true`` so CI can
never pass while silently skipping it.
"""

from __future__ import annotations

import importlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import URL, Engine, text
from sqlalchemy.orm import Session

from quanzi.settings import Settings
from quanzi.storage.db import make_engine, normalize_url, session_factory, upgrade_url
from quanzi.storage.orm import Base

POSTGRES_ENV = "QUANZI_TEST_POSTGRES_URL"
# Read once, before the autouse fixture scrubs the environment of each test.
_POSTGRES_SERVER_URL = os.environ.get(POSTGRES_ENV, "")
_IN_CI = os.environ.get("CI", "").lower() == "true"


# ``tests/utils`` as the package ``quanzi_tests`` (importlib mode keeps tests/ off sys.path,
# and putting tests/ itself there would let tests/datasets shadow HF ``datasets``).
_utils = ModuleType("quanzi_tests")
_utils.__path__ = [str(Path(__file__).parent / "utils")]
sys.modules.setdefault("quanzi_tests", _utils)


def _load_util(name: str) -> ModuleType:
    """``tests/utils/<name>.py`` as ``quanzi_tests.<name>``."""
    return importlib.import_module(f"quanzi_tests.{name}")


factories = _load_util("factories")


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test ever reads or writes the developer's data dir, database or MLflow store."""
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path_factory.mktemp("quanzi-data")))
    # Tests run the encoder in torch unless they test the onnx-int8 runtime (the product
    # default) on purpose: exporting every tiny test encoder would only cost time.
    monkeypatch.setenv("QUANZI_ENCODER_RUNTIME", "torch")
    for name in ("QUANZI_DATABASE_URL", "MLFLOW_TRACKING_URI", POSTGRES_ENV):
        # set-then-delete, so teardown restores the variable's state from before the
        # test even when a library set it meanwhile (mlflow.set_tracking_uri exports
        # MLFLOW_TRACKING_URI, which then leaked into the next module's fixtures)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh data dir (also exported, so code calling ``Settings()`` agrees)."""
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    return Settings(data_dir=data_dir, env="test")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A database of its own for this test session on the server in QUANZI_TEST_POSTGRES_URL."""
    if not _POSTGRES_SERVER_URL:
        if _IN_CI:
            pytest.fail(
                f"{POSTGRES_ENV} is unset under CI=true: .ci/run must start PostgreSQL",
                pytrace=False,
            )
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL tests (see .ci/run)")
    admin = make_engine(_POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"quanzi_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalize_url(_POSTGRES_SERVER_URL).set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _empty_database(request: pytest.FixtureRequest, sqlite_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database on ``request.param``'s backend, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{sqlite_path}"
        return
    database: URL = request.getfixturevalue("postgres_database")
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = database.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no schema), once on SQLite and once on PostgreSQL."""
    yield from _empty_database(request, tmp_path / "quanzi.db")


@pytest.fixture(scope="session", params=BACKENDS)
def _migrated_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend, migrated to head once per test session."""
    for url in _empty_database(request, tmp_path_factory.mktemp("db") / "quanzi.db"):
        upgrade_url(url)
        yield url


@pytest.fixture
def engine(_migrated_url: str) -> Iterator[Engine]:
    """An engine on a database at head, with every table empty at the start of the test."""
    engine = make_engine(_migrated_url)
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """An open session on the migrated database; the test commits what it wants kept."""
    with session_factory(engine)() as session:
        yield session


@pytest.fixture(scope="session")
def factory_class() -> type[factories.Factory]:
    """The row-factory class, for tests that open sessions of their own."""
    return factories.Factory


@pytest.fixture
def factory(session: Session) -> factories.Factory:
    """Row factories writing into ``session``."""
    return factories.Factory(session)


# A tiny randomly initialised sentence-transformers encoder, built once per session.
TINY_TEXTS = [
    "这个手机很好用，电池耐用",
    "物流太慢了，差评",
    "酒店位置很好，早餐一般",
    "外卖送到已经凉了",
    "衣服质量不错，尺码偏小",
    "iPhone 13 拍照清楚",
] * 5


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 1-layer, 32-wide BERT encoder (16-d output) with its own char vocabulary."""
    from quanzi_tests.serving_models import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"), TINY_TEXTS, 200)
