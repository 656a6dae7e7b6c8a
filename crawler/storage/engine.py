"""Engines, sessions and migrations. No engine exists at import time.

SQLite (the default, ``sqlite:///data/yuqing.db``) gets WAL, a busy timeout and
foreign keys; PostgreSQL is reached by a ``postgresql+psycopg://`` URL. Every
command that touches the database calls :func:`open_database`, which runs the
Alembic migrations first (under an advisory lock on PostgreSQL so that many
workers starting at once migrate once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from crawler.errors import StorageError
from crawler.storage.types import dumps_json

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_MIGRATION_LOCK_ID = 7_310_221  # pg_advisory_lock key for "yuqing migrations"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """The (cached) engine for ``url``; creates the SQLite file's folder if needed."""
    url = normalize_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StorageError(f"invalid database URL: {exc}") from exc
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                   json_serializer=dumps_json)
            event.listen(engine, "connect", _sqlite_pragmas)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=5, max_overflow=10, json_serializer=dumps_json,
                connect_args={"connect_timeout": 10, "application_name": "yuqing"},
            )
        else:
            raise StorageError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
        _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        with _migration_file_lock(engine), engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database {safe_url(str(engine.url))}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed on {safe_url(str(engine.url))}: {exc}") from exc


@contextmanager
def _migration_file_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file: an exclusive lock on ``<db>.migrate-lock`` while migrating, so that two
    first starts at once take turns (the second finds the schema at head) instead of both
    creating the tables. PostgreSQL uses an advisory lock inside the transaction instead."""
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        yield
        return
    import fcntl

    path = Path(db).expanduser()
    with open(path.with_name(path.name + ".migrate-lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(create_engine("sqlite://"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


_migrated: set[str] = set()


def open_database(url: str, *, migrate: bool = True) -> Engine:
    """The engine for ``url``, migrated to head once per process."""
    engine = make_engine(url)
    key = str(engine.url)
    if migrate and key not in _migrated:
        upgrade(engine)
        _migrated.add(key)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
