"""Leases in the database: one active scheduler, one running crawl per (platform, brand).

A lease is a ``service_locks`` row with an owner and an expiry. Taking it is one atomic
upsert that succeeds only when the row is free, expired, or already ours, so it works the
same on SQLite and PostgreSQL, across processes, machines and restarts. The holder renews
it while it works (:class:`Lease` does that from a background thread); a holder killed with
``kill -9`` frees it when the lease runs out, or at once for a process of the same host
that no longer exists. Clocks of machines sharing a database are
assumed to be NTP-synchronised (leases are tens of seconds, skew should be far below).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from loguru import logger
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from crawler.clock import utcnow
from crawler.procs import pid_alive
from crawler.storage.models import SERVICE_LOCKS as LOCKS


def new_owner(role: str) -> str:
    """A unique owner id for this process: ``role@host:pid:random``."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def crawl_lock_name(platform: str, brand: str) -> str:
    return f"crawl:{platform}:{brand}"


@dataclass(frozen=True, slots=True)
class LockInfo:
    name: str
    owner: str
    host: str | None
    pid: int | None
    acquired_at: datetime
    expires_at: datetime
    note: str | None


def try_acquire(
    engine: Engine,
    name: str,
    owner: str,
    lease_seconds: float,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Take (or renew) the lease ``name`` for ``owner``; False when someone else holds it."""
    now = now or utcnow()
    values = {
        "name": name,
        "owner": owner,
        "host": socket.gethostname()[:128],
        "pid": os.getpid(),
        "acquired_at": now,
        "expires_at": now + timedelta(seconds=lease_seconds),
        "note": note,
    }
    dialect = engine.dialect.name
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(LOCKS).values(values)
    free = (LOCKS.c.expires_at < now) | (LOCKS.c.owner == owner)
    stmt = ins.on_conflict_do_update(
        index_elements=["name"],
        set_={k: ins.excluded[k] for k in ("owner", "host", "pid", "acquired_at", "expires_at", "note")},
        where=free,
    ).returning(LOCKS.c.owner)
    with engine.begin() as conn:
        row = conn.execute(stmt).first()
    if row is not None and row.owner == owner:
        return True
    return _take_from_dead(engine, name, owner, values)


def _take_from_dead(engine: Engine, name: str, owner: str, values: dict[str, object]) -> bool:
    """Take a lease whose holder is a process of this host that no longer exists (kill -9):
    waiting for it to expire would only delay the next crawl."""

    with engine.connect() as conn:
        rec = conn.execute(
            select(LOCKS.c.owner, LOCKS.c.host, LOCKS.c.pid).where(LOCKS.c.name == name)
        ).first()
    if rec is None or rec.host != values["host"] or rec.pid is None or pid_alive(int(rec.pid)):
        return False
    with engine.begin() as conn:
        res = conn.execute(
            update(LOCKS)
            .where(LOCKS.c.name == name, LOCKS.c.owner == rec.owner)
            .values({k: v for k, v in values.items() if k != "name"})
        )
    if res.rowcount:
        logger.warning("lease {} taken over from {} (its process {} is gone)", name, rec.owner, rec.pid)
    return bool(res.rowcount)


def renew(engine: Engine, name: str, owner: str, lease_seconds: float) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and was taken)."""
    now = utcnow()
    with engine.begin() as conn:
        res = conn.execute(
            update(LOCKS)
            .where(LOCKS.c.name == name, LOCKS.c.owner == owner)
            .values(expires_at=now + timedelta(seconds=lease_seconds))
        )
    return bool(res.rowcount)


def release(engine: Engine, name: str, owner: str) -> None:
    """Give the lease back (no-op when it is not ours any more)."""
    with engine.begin() as conn:
        conn.execute(delete(LOCKS).where(LOCKS.c.name == name, LOCKS.c.owner == owner))


def holder(engine: Engine, name: str, *, now: datetime | None = None) -> LockInfo | None:
    """Who holds ``name`` right now (None when free or expired)."""
    now = now or utcnow()
    with engine.connect() as conn:
        rec = (
            conn.execute(select(LOCKS).where(LOCKS.c.name == name, LOCKS.c.expires_at >= now))
            .mappings()
            .first()
        )
    return LockInfo(**dict(rec)) if rec else None


def held_locks(engine: Engine, prefix: str = "", *, now: datetime | None = None) -> list[LockInfo]:
    now = now or utcnow()
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(LOCKS)
                .where(LOCKS.c.name.startswith(prefix), LOCKS.c.expires_at >= now)
                .order_by(LOCKS.c.name)
            )
            .mappings()
            .all()
        )
    return [LockInfo(**dict(r)) for r in rows]


class Lease:
    """A held lease renewed every ``lease/3`` seconds by a daemon thread until released.

    ``lost`` is set when a renewal finds the lease taken by someone else (we were paused
    longer than the lease); the holder should then stop what it protects.
    """

    def __init__(self, engine: Engine, name: str, owner: str, lease_seconds: float) -> None:
        self.engine = engine
        self.name = name
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def acquire(
        cls, engine: Engine, name: str, owner: str, lease_seconds: float, *, note: str | None = None
    ) -> Lease | None:
        """The started lease, or None when someone else holds ``name``."""
        if not try_acquire(engine, name, owner, lease_seconds, note=note):
            return None
        lease = cls(engine, name, owner, lease_seconds)
        lease._thread = threading.Thread(target=lease._renew_loop, name=f"lease:{name}", daemon=True)
        lease._thread.start()
        return lease

    def _renew_loop(self) -> None:
        period = max(self.lease_seconds / 3.0, 0.5)
        while not self._stop.wait(period):
            try:
                if not renew(self.engine, self.name, self.owner, self.lease_seconds):
                    logger.error("lease {} was lost (taken by another holder after it expired)", self.name)
                    self.lost.set()
                    return
            except SQLAlchemyError as exc:  # database hiccup: try again next period, the lease still runs
                logger.warning("could not renew lease {}: {}", self.name, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            release(self.engine, self.name, self.owner)
        except SQLAlchemyError as exc:
            logger.warning("could not release lease {} (it will expire): {}", self.name, exc)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
