"""The job plan, the persistent job store, overlap leases and crawl timeouts."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import psutil
import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from crawler.service.crawl_job import ChildRegistry, default_command, run_locked_crawl
from crawler.service.scheduler import build_jobs, cron_trigger, make_scheduler, sync_jobs
from crawler.storage.engine import make_engine
from crawler.storage.locks import crawl_lock_name, holder, try_acquire
from crawler.storage.mentions import RUNS
from tests.crawler.service.conftest import max_concurrency, standin_command, standin_events

TZ = ZoneInfo("Asia/Shanghai")


def test_jobs_from_config_have_the_right_triggers(make_config, sqlite_url) -> None:
    cfg = make_config(
        sqlite_url,
        platforms={
            "weibo": {"schedule": "every 10m"},
            "heimao": {"schedule": "every 10m"},
            "xiaohongshu": {"schedule": "every 30m"},
            "douyin": {"enabled": False},
        },
        scheduler={"daily_report": "0 9 * * *", "weekly_report": "30 8 * * 1", "retention": "15 4 * * *"},
    )
    specs = {s.id: s for s in build_jobs(cfg)}
    crawl_ids = sorted(i for i in specs if i.startswith("crawl:"))
    assert crawl_ids == sorted(
        f"crawl:{p}:{b}" for p in ("weibo", "heimao", "xiaohongshu") for b in ("鲜果时光", "小鹿宝贝")
    )
    assert {"dispatch", "digest", "sla", "health", "report:daily", "report:weekly", "retention"} <= set(specs)
    for spec in specs.values():  # the timezone is explicit on every trigger
        assert str(spec.trigger.timezone) == "Asia/Shanghai", spec.id
    weibo = [specs[f"crawl:{p}:{b}"].trigger for p in ("weibo", "heimao") for b in ("鲜果时光", "小鹿宝贝")]
    assert all(isinstance(t, IntervalTrigger) and t.interval.total_seconds() == 600 for t in weibo)
    offsets = sorted(t.start_date.minute * 60 + t.start_date.second for t in weibo)
    assert offsets == [0, 150, 300, 450]  # four 10-minute jobs spread evenly
    xhs = [specs[f"crawl:xiaohongshu:{b}"].trigger for b in ("鲜果时光", "小鹿宝贝")]
    assert [t.interval.total_seconds() for t in xhs] == [1800, 1800]
    assert sorted(t.start_date.minute for t in xhs) == [0, 15]
    assert specs["crawl:weibo:鲜果时光"].args == ("weibo", "鲜果时光")
    assert specs["dispatch"].trigger.interval.total_seconds() == cfg.scheduler.dispatch_seconds
    assert isinstance(specs["report:weekly"].trigger, CronTrigger)
    monday = specs["report:weekly"].trigger.get_next_fire_time(None, datetime(2026, 3, 4, tzinfo=TZ))
    assert (monday.strftime("%A %H:%M"), str(monday.tzinfo)) == ("Monday 08:30", "Asia/Shanghai")


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        ("0 9 * * 1", {"Monday"}),
        ("0 9 * * 0", {"Sunday"}),
        ("0 9 * * 7", {"Sunday"}),
        ("0 9 * * 1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
        ("0 9 * * 5-1", {"Friday", "Saturday", "Sunday", "Monday"}),
        ("0 9 * * sat,sun", {"Saturday", "Sunday"}),
    ],
)
def test_cron_weekdays_follow_crontab(expr: str, days: set[str]) -> None:
    trig = cron_trigger(expr, "Asia/Shanghai")
    seen, t = set(), datetime(2026, 3, 1, tzinfo=TZ)
    for _ in range(10):
        t = trig.get_next_fire_time(None, t)
        seen.add(t.strftime("%A"))
        t = t.replace(hour=10)
    assert seen == days


def test_job_store_survives_a_restart_and_follows_config_changes(make_config, db_url) -> None:
    cfg = make_config(db_url)
    engine = make_engine(db_url)
    first = make_scheduler(engine, cfg)
    first.start(paused=True)
    report = sync_jobs(first, build_jobs(cfg))
    assert len(report.added) == 8 + 7 + 3 and not report.changed  # + hot:weibo, hot:douyin, tracking
    before = {j.id: j.next_run_time for j in first.get_jobs()}
    first.shutdown(wait=False)

    second = make_scheduler(engine, cfg)  # "restart": a new scheduler on the same database
    second.start(paused=True)
    try:
        report = sync_jobs(second, build_jobs(cfg))
        assert report.added == [] and report.changed == [] and report.removed == []
        assert {j.id: j.next_run_time for j in second.get_jobs()} == before
        changed = make_config(
            db_url,
            brands=["鲜果时光", "新品牌"],
            platforms={
                "weibo": {"schedule": "every 5m"},
                "heimao": {"schedule": "every 10m"},
                "xiaohongshu": {"enabled": False},
                "douyin": {"enabled": False},
            },
        )
        report = sync_jobs(second, build_jobs(changed))
        assert sorted(report.added) == ["crawl:heimao:新品牌", "crawl:weibo:新品牌"]
        assert "crawl:weibo:鲜果时光" in report.changed and "crawl:heimao:鲜果时光" in report.changed
        assert set(report.removed) == {
            "crawl:weibo:小鹿宝贝",
            "crawl:heimao:小鹿宝贝",
            "crawl:xiaohongshu:鲜果时光",
            "crawl:xiaohongshu:小鹿宝贝",
            "crawl:douyin:鲜果时光",
            "crawl:douyin:小鹿宝贝",
            "hot:douyin",
        }
        job = second.get_job("crawl:weibo:鲜果时光")
        assert job.trigger.interval.total_seconds() == 300 and job.max_instances == 1 and job.coalesce
    finally:
        second.shutdown(wait=False)


def _crawl_cfg(make_config, db_url, **scheduler):
    return make_config(
        db_url,
        platforms={
            "weibo": {"schedule": "every 10m"},
            "heimao": {"enabled": False},
            "xiaohongshu": {"enabled": False},
            "douyin": {"enabled": False},
        },
        scheduler={"crawl_command": standin_command(), **scheduler},
    )


def test_overlapping_crawls_of_one_pair_are_skipped(make_config, db_url, control, tmp_path) -> None:
    cfg = _crawl_cfg(make_config, db_url)
    control({"weibo": {"mode": "ok", "seconds": 1.5, "items": 4}})
    engine = make_engine(db_url)
    registry = ChildRegistry()
    results: list[str] = []

    def crawl(owner: str) -> None:
        res = run_locked_crawl(
            engine,
            cfg,
            "weibo",
            "鲜果时光",
            owner=owner,
            command=default_command(cfg, cfg.source),
            registry=registry,
        )
        results.append(res.status)

    threads = [threading.Thread(target=crawl, args=(f"svc-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["ok", "skipped", "skipped"]
    assert max_concurrency(standin_events(tmp_path), "weibo", "鲜果时光") == 1
    # Another process (another machine) holds the lease: skipped without starting anything.
    assert try_acquire(engine, crawl_lock_name("weibo", "鲜果时光"), "other-host:1", 60)
    res = run_locked_crawl(
        engine,
        cfg,
        "weibo",
        "鲜果时光",
        owner="svc-9",
        command=default_command(cfg, cfg.source),
        registry=registry,
    )
    assert res.status == "skipped"
    assert len([e for e in standin_events(tmp_path) if e[0] == "start"]) == 1
    with engine.connect() as conn:
        rows = conn.execute(select(RUNS.c.status, RUNS.c["items"])).all()
    assert [(r.status, r.items) for r in rows] == [("ok", 4)]


def test_a_hanging_crawl_is_killed_at_its_timeout_and_recorded(
    make_config, db_url, control, tmp_path
) -> None:
    cfg = _crawl_cfg(make_config, db_url, crawl_timeout_minutes=3.5 / 60, stop_grace_seconds=0.5)
    control({"weibo": {"mode": "stubborn"}})  # ignores SIGTERM: needs the SIGKILL
    engine = make_engine(db_url)
    res = run_locked_crawl(
        engine,
        cfg,
        "weibo",
        "小鹿宝贝",
        owner="svc",
        command=default_command(cfg, cfg.source),
        registry=ChildRegistry(),
    )
    assert res.status == "timeout" and res.error_kind == "timeout"
    assert 3.4 < res.seconds < 10
    pids = [e[3] for e in standin_events(tmp_path) if e[0] == "start"]
    assert len(pids) == 1
    assert not psutil.pid_exists(pids[0])  # killed and reaped
    with engine.connect() as conn:
        row = conn.execute(select(RUNS)).mappings().one()
    assert row["status"] == "timeout" and row["error_kind"] == "timeout" and row["finished_at"] is not None
    assert "timeout" in row["error_message"]
    assert holder(engine, crawl_lock_name("weibo", "小鹿宝贝")) is None  # the lease was released


def test_a_crawl_that_cannot_start_still_leaves_a_record(make_config, sqlite_url) -> None:
    cfg = _crawl_cfg(make_config, sqlite_url)
    engine = make_engine(sqlite_url)
    res = run_locked_crawl(
        engine,
        cfg,
        "weibo",
        "鲜果时光",
        owner="svc",
        registry=ChildRegistry(),
        command=lambda p, b: [os.sys.executable, "-c", "import sys; sys.exit(3)"],
    )
    assert res.status == "failed"
    with engine.connect() as conn:
        row = conn.execute(select(RUNS)).mappings().one()
    assert row["status"] == "failed" and "status 3" in row["error_message"]
