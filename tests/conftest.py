"""Shared fixtures: databases (SQLite file and a real PostgreSQL), the real platform captures.

``db_url`` is parametrised over both backends; PostgreSQL tests run in a database
created for this test session (one per xdist worker) and dropped at the end, and
every test starts from empty tables. The server comes from ``YUQING_TEST_PG``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), Redis from
``YUQING_TEST_REDIS`` (default ``redis://127.0.0.1:6379/0``); when they are not
reachable those tests fail, they are not skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Real platform captures copied into the repository (see tests/fixtures/README.md).
REAL_CAPTURES = ROOT / "tests" / "fixtures"
PG_ADMIN = os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# The Redis server of the distributed-mode tests (scripts/test may start a private one).
REDIS_TEST = os.environ.get("YUQING_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head; dropped afterwards."""
    import psycopg

    name = f"yuqing_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc} (start it, see .ci/run)")
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    from crawler.storage.engine import open_database

    open_database(url)
    try:
        yield url
    finally:
        from crawler.storage.engine import dispose_engines

        dispose_engines()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    from crawler.storage.engine import make_engine
    from crawler.storage.models import ALL_TABLES

    names = ", ".join(m.__table__.name for m in ALL_TABLES)  # type: ignore[attr-defined]
    with make_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL: a SQLite file, then the real PostgreSQL."""
    from crawler.storage.engine import open_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'yuqing.db'}"
        open_database(url)
        yield url
    else:
        url = request.getfixturevalue("pg_database")
        _truncate_pg(url)
        yield url


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    from crawler.storage.engine import make_engine

    return make_engine(db_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from crawler.storage.engine import open_database

    url = f"sqlite:///{tmp_path / 'yuqing.db'}"
    open_database(url)
    return url


def real_capture(platform: str, name: str) -> Path:
    """The path of a real capture of ``platform`` under ``tests/fixtures/`` (it must exist)."""
    path = REAL_CAPTURES / platform / name
    assert path.is_file(), f"no capture {path}"
    return path
