"""Engines, sessions and migrations. No engine exists at import time.

SQLite (the default, ``sqlite:///data/yuqing.db``) gets WAL, a busy timeout and
foreign keys; PostgreSQL is reached by a ``postgresql+psycopg://`` URL. Every
command that touches the database calls :func:`open_database`, which runs the
Alembic migrations first (under an advisory lock on PostgreSQL so that many
workers starting at once migrate once).

A SQLite file that this process may not write (its permissions, a file with no write
bit at all — which also binds root — a read-only folder or file system) is opened
read-only (``mode=ro``): reads work, migrations are skipped when the schema is already
current, and a write fails with "attempt to write a readonly database", which
:func:`describe_error` turns into one line.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from loguru import logger
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from crawler.errors import StorageError
from crawler.paths import package_path
from crawler.storage.types import dumps_json

_MIGRATIONS = package_path("crawler", "storage", "migrations")
_engines: dict[str, Engine] = {}
_read_only: dict[Engine, str] = {}  # engine -> why its SQLite file is opened read-only
_lock = threading.Lock()
_MIGRATION_LOCK_ID = 7_310_221  # pg_advisory_lock key for "yuqing migrations"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_error(exc: BaseException, url: str | None) -> str:
    """One line for a database error: which database (password masked) and what went wrong."""
    where = safe_url(url) if url else "the database"
    orig = getattr(exc, "orig", None)
    detail = _one_line(str(orig if orig is not None else exc)) or type(exc).__name__
    if url:
        password = _password(url)
        if password:
            detail = detail.replace(password, "***")
    engine = _engines.get(normalize_url(url)) if url else None
    reason = _read_only.get(engine) if engine is not None else None
    if reason is not None:
        return f"the database {where} is read-only ({reason}): {detail}"
    if detail.lower().startswith("connection"):  # psycopg: "connection failed: …", "connection to server …"
        return f"cannot reach the database {where}: {detail}"
    return f"database error on {where}: {detail}"


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def read_only_reason(engine: Engine) -> str | None:
    """Why ``engine``'s SQLite file was opened read-only, or None for a writable database."""
    return _read_only.get(engine)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # no journal_mode / synchronous: changing them writes the file
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _not_writable(path: Path) -> bool:
    """True if this process cannot write ``path``, or nobody may (no write bit: root too, by intent)."""
    try:
        mode = path.stat().st_mode
        read_only_fs = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
    return (
        read_only_fs
        or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        or not os.access(path, os.W_OK)
    )


def sqlite_read_only(path: Path) -> str | None:
    """Why the existing SQLite file at ``path`` must be opened read-only, or None."""
    if not path.is_file():
        return None
    if _not_writable(path):
        return "the file is not writable"
    if _not_writable(path.parent):
        return "its folder is not writable"
    return None


def _read_only_connect(path: Path) -> Any:
    """A ``mode=ro`` connection. A WAL database in a folder where the ``-shm`` file cannot be
    created opens only as ``immutable``, which is safe while no ``-wal`` file holds changes."""

    base = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(base, uri=True, timeout=30, check_same_thread=False)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if not _not_writable(path.parent) or (wal.exists() and wal.stat().st_size > 0):
            raise
    return sqlite3.connect(base + "&immutable=1", uri=True, timeout=30, check_same_thread=False)


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
            engine = _sqlite_engine(url, parsed.database)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                json_serializer=dumps_json,
                connect_args={"connect_timeout": 10, "application_name": "yuqing"},
            )
        else:
            raise StorageError(
                f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
            )
        _engines[url] = engine
        return engine


def _sqlite_engine(url: str, db: str | None) -> Engine:
    """A SQLite engine: read-write with WAL, or read-only when the file may not be written."""
    path = Path(db).expanduser() if db and db != ":memory:" and not db.startswith("file:") else None
    reason = sqlite_read_only(path) if path is not None else None
    if path is not None and reason is None and not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the folder of the database {safe_url(url)}: {exc.strerror or exc}"
            ) from exc
        if _not_writable(path.parent):
            raise StorageError(f"the database {safe_url(url)} does not exist and its folder is not writable")
    if reason is not None:
        assert path is not None
        engine = create_engine(url, creator=lambda: _read_only_connect(path), json_serializer=dumps_json)
        event.listen(engine, "connect", _sqlite_read_only_pragmas)
        _read_only[engine] = reason
        return engine
    engine = create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, json_serializer=dumps_json
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _read_only.clear()


def last_url() -> str | None:
    """The URL of the most recently opened database (for error messages), or None."""
    with _lock:
        return next(reversed(_engines), None)


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
        raise StorageError(_unreachable(engine, exc)) from exc
    except DBAPIError as exc:
        raise StorageError(
            f"migration failed on {safe_url(str(engine.url))}: {_detail(engine, exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed on {safe_url(str(engine.url))}: {_one_line(str(exc))}") from exc


def _detail(engine: Engine, exc: DBAPIError) -> str:
    """The driver's message on one line, with the password (if it appears) masked."""
    detail = _one_line(str(exc.orig if exc.orig is not None else exc))
    password = engine.url.password
    return detail.replace(str(password), "***") if password else detail


def _unreachable(engine: Engine, exc: DBAPIError) -> str:
    return f"cannot reach the database {safe_url(str(engine.url))}: {_detail(engine, exc)}"


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
    """The engine for ``url``, migrated to head once per process (a read-only SQLite file is
    only checked: at head it serves reads, behind head it is an error)."""
    engine = make_engine(url)
    key = str(engine.url)
    if migrate and key not in _migrated:
        reason = read_only_reason(engine)
        if reason is None:
            upgrade(engine)
        else:
            _check_read_only_schema(engine, reason)
        _migrated.add(key)
    return engine


def _check_read_only_schema(engine: Engine, reason: str) -> None:
    where = safe_url(str(engine.url))
    try:
        current = current_revision(engine)
    except DBAPIError as exc:
        raise StorageError(
            f"cannot read the database {where} (read-only: {reason}): {_detail(engine, exc)}"
        ) from exc
    head = head_revision()
    if current != head:
        raise StorageError(
            f"the database {where} is read-only ({reason}) and its schema is at revision "
            f"{current or 'none'}, not {head}: migrate it once with write access "
            "(`yuqing db upgrade`)"
        )
    logger.info(
        "database {url} is read-only ({reason}): schema current, migrations skipped; reads only",
        url=where,
        reason=reason,
    )


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


def database_trouble(exc: BaseException, engine: Any) -> str:
    """One line naming the database (password masked) and what it said."""
    where = engine.url.render_as_string(hide_password=True) if engine is not None else "the database"
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        said = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    else:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"database {where}: {said[:300]}"


# every raw-DDL object of migration 0002 (FTS table, shadow tables, triggers, the PG vector
# column and its index, the covering stats index) starts with one of these
RAW_DDL_PREFIXES = ("mentions_fts", "mentions_stats")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic hook: leave the raw-DDL search and stats objects out of autogenerate comparisons."""
    return not (name or "").startswith(RAW_DDL_PREFIXES)
