"""One scheduled crawl of (platform, brand): lease, subprocess, timeout, and its record.

Used by ``yuqing run`` (local mode) and by ``yuqing worker`` (distributed mode). The
lease ``crawl:<platform>:<brand>`` in the database makes sure that no two crawls of the
same pair overlap, whoever starts them. The crawl itself records its ``crawl_runs`` row;
when it cannot (it hung and was killed at its timeout, crashed, or never started) this
module closes or writes the row so that every scheduled crawl leaves an outcome.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import select, update

from crawler.clock import utcnow
from crawler.procs import ChildProcess, ChildResult, pid_alive
from crawler.service.crawl_runner import crawl_argv
from crawler.storage.locks import Lease, crawl_lock_name, holder
from crawler.storage.mentions import brand_crawl_runs, finish_run, start_run
from crawler.storage.models import CRAWL_RUNS as RUNS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

CommandFactory = Callable[[str, str], Sequence[str]]
"""``(platform, brand) -> argv`` of the crawl subprocess."""


def default_command(
    cfg: AppConfig, config_path: str | None, overrides: dict[str, str] | None = None
) -> CommandFactory:
    """The crawl command: ``[scheduler].crawl_command`` if set, else ``crawler.service.crawl_runner.crawl_argv``."""
    template = cfg.scheduler.crawl_command

    def factory(platform: str, brand: str) -> Sequence[str]:
        if template:
            values = {"platform": platform, "brand": brand, "config": config_path or ""}
            return [part.format_map(values) for part in template]

        return crawl_argv(platform, brand, config_path=config_path, overrides=overrides)

    return factory


@dataclass(slots=True)
class CrawlJobResult:
    platform: str
    brand: str
    status: str  # skipped | ok | partial | failed | timeout | killed | ...
    run_ids: list[int] = field(default_factory=list)
    items: int = 0
    new: int = 0
    error_kind: str | None = None
    seconds: float = 0.0
    interrupted: bool = False  # stopped by a shutdown of this process (the work may be resumed)


class ChildRegistry:
    """The crawl subprocesses running in this process, so that shutdown can stop them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[int, ChildProcess] = {}
        self.stopping = threading.Event()

    def add(self, child: ChildProcess) -> None:
        with self._lock:
            self._children[id(child)] = child
        if self.stopping.is_set():
            child.stop()

    def remove(self, child: ChildProcess) -> None:
        with self._lock:
            self._children.pop(id(child), None)

    def stop_all(self) -> int:
        self.stopping.set()
        with self._lock:
            children = list(self._children.values())
        for child in children:
            child.stop()
        return len(children)

    def __len__(self) -> int:
        with self._lock:
            return len(self._children)


def crawl_log_path(cfg: AppConfig, platform: str, brand: str) -> Path:
    tag = hashlib.sha1(brand.encode()).hexdigest()[:8]
    return cfg.data_path() / "logs" / "crawls" / f"{platform}-{tag}.log"


def run_locked_crawl(
    engine: Engine,
    cfg: AppConfig,
    platform: str,
    brand: str,
    *,
    owner: str,
    command: CommandFactory,
    registry: ChildRegistry,
    env: dict[str, str] | None = None,
) -> CrawlJobResult:
    """Run one crawl under its lease; ``skipped`` when the pair is already being crawled."""
    name = crawl_lock_name(platform, brand)
    lease = Lease.acquire(engine, name, owner, cfg.scheduler.lock_lease_seconds, note="crawl")
    if lease is None:
        other = holder(engine, name)
        logger.info(
            "crawl {}/{} skipped: still running ({})",
            platform,
            brand,
            other.owner if other else "just finished",
        )
        return CrawlJobResult(platform, brand, "skipped")
    with lease:
        return _run_child(
            engine, cfg, platform, brand, command=command, registry=registry, lease=lease, env=env
        )


def _run_child(
    engine: Engine,
    cfg: AppConfig,
    platform: str,
    brand: str,
    *,
    command: CommandFactory,
    registry: ChildRegistry,
    lease: Lease,
    env: dict[str, str] | None,
) -> CrawlJobResult:
    timeout = cfg.scheduler.crawl_timeout_minutes * 60.0
    argv = list(command(platform, brand))
    child = ChildProcess(argv, log_path=crawl_log_path(cfg, platform, brand), env=env or dict(os.environ))
    since = utcnow() - timedelta(seconds=1)
    logger.info("crawl {}/{} starting (timeout {:.0f}s)", platform, brand, timeout)
    child.start()
    registry.add(child)
    try:
        result = child.wait(timeout, cfg.scheduler.stop_grace_seconds, also_stop=lease.lost)
    finally:
        registry.remove(child)
    outcome = record_outcome(engine, platform, brand, since=since, result=result, timeout=timeout)
    logger.info(
        "crawl {}/{} ended: {} ({} items, {} new, {:.1f}s)",
        platform,
        brand,
        outcome.status,
        outcome.items,
        outcome.new,
        result.seconds,
    )
    return outcome


def _runs_since(engine: Engine, platform: str, brand: str, since: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(RUNS)
        .where(
            RUNS.c.platform == platform,
            RUNS.c.brand == brand,
            RUNS.c.started_at >= since,
            RUNS.c.host == socket.gethostname()[:128],
            brand_crawl_runs(),  # not a tracking poll running beside it
        )
        .order_by(RUNS.c.id)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def record_outcome(
    engine: Engine, platform: str, brand: str, *, since: datetime, result: ChildResult, timeout: float
) -> CrawlJobResult:
    """Close the crawl's ``crawl_runs`` rows the crawl could not close itself; summarise them."""
    runs = _runs_since(engine, platform, brand, since)
    if result.timed_out:
        status, kind, message = (
            "timeout",
            "timeout",
            f"crawl exceeded its {timeout:.0f}s timeout and was stopped",
        )
    elif result.stopped:
        status, kind, message = "killed", None, "stopped by a service shutdown"
    else:
        status, kind, message = "failed", None, f"crawl process exited with status {result.returncode}"
    if not runs and (result.timed_out or result.stopped or result.returncode != 0):
        run_id = start_run(engine, spider=platform, platform=platform, brand=brand)
        finish_run(engine, run_id, status=status, error_kind=kind, error_message=message)
        runs = _runs_since(engine, platform, brand, since)
    for run in runs:
        if result.timed_out or run["status"] == "running":
            fields = {"error_kind": kind or run["error_kind"], "error_message": message}
            finish_run(engine, int(run["id"]), status=status, **fields)
    runs = _runs_since(engine, platform, brand, since)
    final = runs[-1] if runs else {"status": "ok" if result.returncode == 0 else status}
    return CrawlJobResult(
        platform,
        brand,
        str(final["status"]),
        run_ids=[int(r["id"]) for r in runs],
        items=sum(int(r["items"] or 0) for r in runs),
        new=sum(int(r["new_count"] or 0) for r in runs),
        error_kind=final.get("error_kind"),
        seconds=result.seconds,
        interrupted=result.stopped,
    )


def stale_age(cfg: AppConfig) -> timedelta:
    """How long a ``running`` row without heartbeats may be before it counts as left by a dead
    process: twice the crawl timeout, plus a margin."""
    return timedelta(minutes=cfg.scheduler.crawl_timeout_minutes * 2 + 5)


def mark_stale_runs(
    engine: Engine,
    *,
    older_than: timedelta,
    now: datetime | None = None,
    heartbeat_grace: timedelta = timedelta(minutes=3),
) -> int:
    """Close ``running`` crawl_runs whose process is gone (after a crash or ``kill -9``) as ``killed``.

    On this host a run is stale when its pid no longer exists; on other hosts when its
    heartbeat (renewed every 30 s by a live crawl) is older than ``heartbeat_grace``, or,
    for a run without heartbeats, when it started longer ago than ``older_than``.
    """
    now = now or utcnow()
    me = socket.gethostname()[:128]
    with engine.connect() as conn:
        rows = conn.execute(
            select(RUNS.c.id, RUNS.c.host, RUNS.c.pid, RUNS.c.started_at, RUNS.c.heartbeat_at).where(
                RUNS.c.status == "running"
            )
        ).all()

    def dead(r: Any) -> bool:
        if r.host == me:
            return r.pid is None or not _alive(r.pid)
        if r.heartbeat_at is not None:
            return bool(r.heartbeat_at < now - heartbeat_grace)
        return bool(r.started_at < now - older_than)

    stale = [r.id for r in rows if dead(r)]
    if stale:
        with engine.begin() as conn:
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id.in_(stale), RUNS.c.status == "running")
                .values(
                    status="killed",
                    finished_at=now,
                    error_message="crawl process disappeared (killed, crashed or its machine was lost); "
                    "its stored posts and open work are kept and the next crawl goes on from them",
                )
            )
        logger.warning("closed {} stale crawl run(s) left by a stopped process", len(stale))
    return len(stale)


def _alive(pid: int) -> bool:

    return pid_alive(pid)


def python_argv(*args: str) -> list[str]:
    """``[sys.executable, *args]`` (used by tests' stand-in crawl commands and the bench)."""
    return [sys.executable, *args]
