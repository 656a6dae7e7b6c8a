"""``yuqing run`` as a real process: jobs in the database, SIGHUP, SIGTERM, kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.storage.engine import make_engine
from crawler.storage.locks import held_locks
from crawler.storage.mentions import RUNS
from crawler.storage.models import SchedulerJob
from tests.crawler.service.conftest import (
    ROOT,
    max_concurrency,
    standin_command,
    standin_events,
    write_config,
)

JOBS = SchedulerJob.__table__
pytestmark = pytest.mark.slow


def wait_for(cond: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_service(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.app", "--config", str(config), "run"],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def job_rows(engine) -> dict[str, float]:
    with engine.connect() as conn:
        return {r.id: r.next_run_time for r in conn.execute(select(JOBS.c.id, JOBS.c.next_run_time))}


def runs(engine, status: str | None = None) -> list[dict]:
    stmt = select(RUNS).order_by(RUNS.c.id)
    if status:
        stmt = stmt.where(RUNS.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def _config(tmp_path: Path, db_url: str, brands: list[str]) -> Path:
    return write_config(
        tmp_path / "yuqing.toml",
        db_url=db_url,
        brands=brands,
        platforms={
            "weibo": {"schedule": "every 2s"},
            "heimao": {"enabled": False},
            "xiaohongshu": {"enabled": False},
            "douyin": {"enabled": False},
        },
        scheduler={
            "crawl_command": standin_command(),
            "lock_lease_seconds": 5,
            "stop_grace_seconds": 3,
            "health_seconds": 5,
            "daily_report": "0 9 * * *",
            "retention": "30 3 * * *",
        },
    )


def test_run_sighup_sigterm_kill9_and_restart(tmp_path, pg_database, control) -> None:
    from tests.conftest import _truncate_pg

    _truncate_pg(pg_database)
    engine = make_engine(pg_database)
    config = _config(tmp_path, pg_database, ["鲜果时光", "小鹿宝贝"])
    control({"weibo": {"mode": "ok", "seconds": 0.3, "items": 3}})
    log = tmp_path / "run.log"
    proc = start_service(config, log)
    try:
        wait_for(
            lambda: (
                {"crawl:weibo:鲜果时光", "crawl:weibo:小鹿宝贝", "dispatch", "sla"} <= set(job_rows(engine))
            ),
            20,
            "the jobs in the job store",
        )
        wait_for(
            lambda: {r["brand"] for r in runs(engine, "ok")} == {"鲜果时光", "小鹿宝贝"},
            20,
            "crawls of both brands",
        )

        # SIGHUP: the file now has one brand; its job goes, the others stay.
        _config(tmp_path, pg_database, ["鲜果时光"])
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "crawl:weibo:小鹿宝贝" not in job_rows(engine), 10, "the removed brand's job to go")
        assert "crawl:weibo:鲜果时光" in job_rows(engine)

        # SIGTERM while a crawl hangs: the crawl is stopped cleanly, the service exits 0.
        control({"weibo": {"mode": "hang"}})
        wait_for(lambda: runs(engine, "running"), 10, "a hanging crawl")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert runs(engine, "running") == []
        assert held_locks(engine) == []  # scheduler and crawl leases released
        kept = job_rows(engine)
        assert "crawl:weibo:鲜果时光" in kept  # the job store outlives the process

        # Restart, then kill -9 in the middle of a crawl.
        proc = start_service(config, log)
        wait_for(lambda: len(runs(engine, "running")) == 1, 20, "a crawl after the restart")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        # The orphaned crawl got SIGTERM through PDEATHSIG and closed its run.
        wait_for(lambda: runs(engine, "running") == [], 10, "the orphaned crawl to stop")

        control({"weibo": {"mode": "ok", "seconds": 0.3, "items": 2}})
        done_before = len(runs(engine, "ok"))
        proc = start_service(config, log)  # takes the dead scheduler's lease over at once (its pid is gone)
        wait_for(lambda: len(runs(engine, "ok")) >= done_before + 2, 30, "crawls after the takeover")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    events = standin_events(tmp_path)
    assert max_concurrency(events, "weibo", "鲜果时光") == 1, "two crawls of one pair overlapped"
    text = log.read_text(encoding="utf-8")
    assert "jobs synced with the config" in text and "config reloaded" in text
    assert "taken over from" in text  # the restart did not wait for the dead scheduler's lease to expire
