"""The functions APScheduler runs, referenced by name from the persistent job store.

Each job imports what it runs when it first runs (the one place outside the command line where
project imports sit in functions, ``tests/test_architecture.py``): the scheduler process stays
small (about 60 MB instead of 160 MB with the crawl, analysis and report stacks) when a job
kind is never scheduled.

A job store can only persist a job as ``module:function`` plus picklable arguments, so the
running service registers its context here (:func:`bind`) and each job function reads it:
the current config (reloaded on SIGHUP), the engine, the crawl runner. Every job is a
process boundary: an exception is logged with its traceback and counted, never allowed to
stop the scheduler.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig


@dataclass
class JobContext:
    """What job functions need from the running service."""

    engine: Engine
    config: Callable[[], AppConfig]
    crawl: Callable[[str, str], Any]
    queue_stats: Callable[[], dict[str, Any]] | None = None  # distributed mode: the task queue's stats
    counters: Counter[str] = field(default_factory=Counter)
    last_results: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, job: str, outcome: str, result: Any = None) -> None:
        with self.lock:
            self.counters[f"{job}:{outcome}"] += 1
            if result is not None:
                self.last_results[job] = result


_context: JobContext | None = None


def bind(ctx: JobContext | None) -> None:
    """Make ``ctx`` the context jobs run in (None unbinds)."""
    global _context
    _context = ctx


def context() -> JobContext:
    if _context is None:
        raise RuntimeError(
            "no yuqing service is running in this process (crawler.service.jobs.bind was not called)"
        )
    return _context


def _guarded(name: str, fn: Callable[[JobContext], Any]) -> Any:
    ctx = context()
    try:
        result = fn(ctx)
    except Exception:  # process boundary: one failing job must not stop the scheduler
        logger.exception("job {} failed", name)
        ctx.record(name, "error")
        return None
    ctx.record(name, "ok", result)
    return result


# --- job functions (names are persisted in the job store: keep them stable) ------------


def crawl(platform: str, brand: str) -> Any:
    """One crawl of (platform, brand): run it here, or enqueue it for a worker (distributed)."""
    result = _guarded(f"crawl:{platform}:{brand}", lambda ctx: ctx.crawl(platform, brand))
    status = getattr(result, "status", None)
    if status is not None:
        context().record("crawl", str(status))
    return result


def dispatch() -> Any:
    def run(ctx: JobContext) -> Any:
        from alerts.delivery.dispatch import dispatch_once

        return dispatch_once(ctx.engine, ctx.config())

    return _guarded("dispatch", run)


def flush_digest() -> Any:
    def run(ctx: JobContext) -> Any:
        from alerts.triage.run import flush_digest as flush

        return flush(ctx.engine, ctx.config())

    return _guarded("digest", run)


def sla_sweep() -> Any:
    def run(ctx: JobContext) -> Any:
        from alerts.complaints.sla import sweep

        return sweep(ctx.engine, ctx.config())

    return _guarded("sla", run)


def health() -> Any:
    def run(ctx: JobContext) -> Any:
        from crawler.service.crawl_job import mark_stale_runs, stale_age
        from crawler.service.health import evaluate

        cfg = ctx.config()
        mark_stale_runs(ctx.engine, older_than=stale_age(cfg))
        stats = ctx.queue_stats() if ctx.queue_stats is not None else None
        return evaluate(ctx.engine, cfg, queue_stats=stats)

    return _guarded("health", run)


def report(kind: str) -> Any:
    def run(ctx: JobContext) -> Any:
        from crawler.analytics.reports import scheduled_report

        return scheduled_report(ctx.engine, ctx.config(), kind)

    return _guarded(f"report:{kind}", run)


def retention() -> Any:
    def run(ctx: JobContext) -> Any:
        from crawler.storage.retention import purge

        return purge(ctx.engine, ctx.config())

    return _guarded("retention", run)


def hot_watch(platform: str) -> Any:
    """One fetch of ``platform``'s hot list (alerts, snapshot, the topic's posts crawled)."""

    def run(ctx: JobContext) -> Any:
        from crawler.service.hotwatch import watch_once

        return watch_once(ctx.engine, ctx.config(), platform)

    return _guarded(f"hot:{platform}", run)


def track() -> Any:
    """Visit the tracked posts that are due (reposts, comments, growth, spreaders)."""

    def run(ctx: JobContext) -> Any:
        from crawler.service.tracking import run_due

        return run_due(ctx.engine, ctx.config())

    return _guarded("tracking", run)
