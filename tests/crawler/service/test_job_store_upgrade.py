"""Upgrading a database whose job store holds the jobs of the old module layout (``crawler.jobs``).

Migration 0008 empties the job store; the service rebuilds every job from the config at its
next start, with no traceback for jobs whose functions moved.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import load_config
from crawler.service.scheduler import build_jobs, make_jobstore, sync_jobs
from crawler.storage.engine import _alembic_config, current_revision, make_engine, upgrade
from tests.crawler.service.conftest import ROOT


def _old_job_row() -> dict[str, Any]:
    state = {
        "version": 1,
        "id": "dispatch",
        "func": "crawler.jobs:dispatch",  # where the job function lived before the re-layering
        "trigger": IntervalTrigger(seconds=30),
        "executor": "default",
        "args": (),
        "kwargs": {},
        "name": "告警发送",
        "misfire_grace_time": 30,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": None,
    }
    return {"s": pickle.dumps(state)}


def test_old_job_paths_are_dropped_and_rebuilt(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:  # back to the schema of the old layout
        alembic_cfg = _alembic_config(engine)
        alembic_cfg.attributes["connection"] = conn
        command.downgrade(alembic_cfg, "0007")
    assert current_revision(engine) == "0007"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO apscheduler_jobs VALUES ('dispatch', NULL, :s)"), _old_job_row())

    upgrade(engine)
    assert current_revision(engine) == "0008"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar_one() == 0

    cfg = load_config(ROOT / "config" / "yuqing.toml")
    scheduler = BackgroundScheduler(jobstores={"default": make_jobstore(engine)})
    scheduler.start(paused=True)
    try:
        with caplog.at_level(logging.ERROR, logger="apscheduler"):
            report = sync_jobs(scheduler, build_jobs(cfg))
        assert "dispatch" in report.added and not report.removed
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert jobs["dispatch"].func_ref == "crawler.service.jobs:dispatch"
        assert not [r for r in caplog.records if "Unable to restore job" in r.getMessage()]
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()
