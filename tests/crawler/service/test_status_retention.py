"""``yuqing status`` (tables and JSON) and the retention job."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import insert, select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.clock import utcnow
from crawler.service.health import evaluate
from crawler.service.scheduler import build_jobs, make_scheduler, sync_jobs
from crawler.storage.engine import make_engine
from crawler.storage.locks import crawl_lock_name, try_acquire
from crawler.storage.mentions import RUNS, upsert_mentions
from crawler.storage.models import Alert, Complaint, ComplaintMention, Mention
from crawler.storage.retention import purge

M = Mention.__table__
A = Alert.__table__
C = Complaint.__table__
CM = ComplaintMention.__table__


def _complaint(conn, number: str, mention_id: int | None, **values) -> int:
    now = utcnow()
    row = {
        "number": number,
        "brand": "鲜果时光",
        "platform": "weibo",
        "mention_id": mention_id,
        "registered_at": now,
        "updated_at": now,
        "status": "待处理",
        "urgency": "紧急",
        **values,
    }
    return conn.execute(insert(C).returning(C.c.id), row).scalar_one()


def test_status_shows_jobs_runs_alerts_complaints_and_health(make_config, db_url, monkeypatch) -> None:
    from crawler.cli._common import console

    monkeypatch.setattr(console, "width", 220)  # wide enough for the tables, with or without a terminal
    cfg = make_config(
        db_url,
        platforms={
            "weibo": {},
            "heimao": {"enabled": False},
            "xiaohongshu": {"enabled": False},
            "douyin": {"enabled": False},
        },
    )
    engine = make_engine(db_url)
    sched = make_scheduler(engine, cfg)
    sched.start(paused=True)
    sync_jobs(sched, build_jobs(cfg))
    sched.shutdown(wait=False)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(RUNS),
            [
                {
                    "spider": "weibo",
                    "platform": "weibo",
                    "brand": "鲜果时光",
                    "status": "ok",
                    "items": 9,
                    "new_count": 4,
                    "error_kind": None,
                    "started_at": now - timedelta(minutes=30),
                    "finished_at": now - timedelta(minutes=29),
                },
                {
                    "spider": "weibo",
                    "platform": "weibo",
                    "brand": "鲜果时光",
                    "status": "failed",
                    "items": 0,
                    "new_count": 0,
                    "error_kind": "auth_expired",
                    "started_at": now - timedelta(minutes=5),
                    "finished_at": now,
                },
            ],
        )
        _complaint(
            conn,
            "TS1",
            None,
            due_first_check_at=now - timedelta(minutes=3),
            due_resolve_at=now + timedelta(hours=3),
        )
        _complaint(conn, "TS2", None, due_first_check_at=now + timedelta(minutes=30))
    try_acquire(engine, crawl_lock_name("weibo", "小鹿宝贝"), "worker@x", 60)
    evaluate(engine, cfg)  # opens session_expired (and its health alert)

    result = CliRunner().invoke(app, ["--config", cfg.source, "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["scheduler"]["active"] is False and status["mode"] == "local"
    jobs = {j["id"]: j for j in status["jobs"]}
    assert (
        jobs["crawl:weibo:鲜果时光"]["trigger"] == "every 10m"
        and jobs["crawl:weibo:小鹿宝贝"]["trigger"] == "every 10m (+5m)"
    )
    assert jobs["crawl:weibo:鲜果时光"]["next_run"].endswith("+08:00")
    crawls = {(c["platform"], c["brand"]): c for c in status["crawls"]}
    assert crawls[("weibo", "鲜果时光")]["last_status"] == "failed"
    assert crawls[("weibo", "鲜果时光")]["error_kind"] == "auth_expired"
    assert (
        crawls[("weibo", "小鹿宝贝")]["running"] is True
        and crawls[("weibo", "小鹿宝贝")]["last_status"] is None
    )
    assert status["alerts"]["open_by_kind"] == {"health": 1} and status["alerts"]["undelivered"] == 1
    assert [c["number"] for c in status["overdue_complaints"]] == ["TS1"]
    assert status["overdue_complaints"][0]["overdue"] == ["first_check"]
    assert [h["kind"] for h in status["health"]] == ["session_expired"]

    result = CliRunner().invoke(app, ["--config", cfg.source, "status"])
    assert result.exit_code == 0
    for text in (
        "no scheduler running",
        "crawl:weibo:鲜果时光",
        "auth_expired",
        "open alerts: 1",
        "overdue complaints: 1",
        "TS1",
        "[session_expired] weibo",
        "yuqing login weibo",
    ):
        assert text in result.output, text


def test_retention_keeps_complaints_and_drops_old_raw(make_config, db_url) -> None:
    cfg = make_config(db_url, scheduler={"raw_retention_days": 7})
    engine = make_engine(db_url)
    now = utcnow()
    old = now - timedelta(days=cfg.storage.retention_days + 5)

    def row(post_id: str, published, **extra):
        return {
            "platform": "weibo",
            "post_id": post_id,
            "brand": "鲜果时光",
            "text": "内容",
            "published_at": published,
            "raw": {"k": post_id},
            **extra,
        }

    upsert_mentions(
        engine,
        [
            row("old1", old),
            row("old2", old),
            row("old3", old),
            row("old4", old),
            row("mid", now - timedelta(days=10)),
            row("new", now),
        ],
        now=now,
    )
    with engine.begin() as conn:
        ids = dict(conn.execute(select(M.c.post_id, M.c.id)).all())
        _complaint(conn, "TS9", ids["old2"])
        cid = _complaint(conn, "TS10", None)
        conn.execute(insert(CM), {"complaint_id": cid, "mention_id": ids["old3"], "added_at": now})
        conn.execute(
            insert(A),
            {
                "kind": "mention",
                "dedup_key": "m-old4",
                "mention_id": ids["old4"],
                "title": "t",
                "payload": {"title": "t"},
                "status": "open",
                "created_at": old,
            },
        )
    with engine.begin() as conn:  # make mid's raw payload old enough to drop
        conn.execute(M.update().where(M.c.post_id == "mid").values(first_seen_at=now - timedelta(days=10)))
    result = purge(engine, cfg, now=now)
    assert result.mentions_deleted == 2  # old1 and old4; old2/old3 belong to complaints
    with engine.connect() as conn:
        left = dict(conn.execute(select(M.c.post_id, M.c.raw)).all())
        alert = conn.execute(select(A.c.mention_id, A.c.payload)).one()
    assert set(left) == {"old2", "old3", "mid", "new"}
    assert left["mid"] is None and left["new"] == {"k": "new"}
    assert alert.mention_id is None and alert.payload == {"title": "t"}  # the alert stays, unlinked
    assert purge(engine, cfg, now=now).mentions_deleted == 0


def test_status_closes_a_run_whose_process_was_killed(make_config, db_url) -> None:
    """A crawl killed with SIGKILL leaves a 'running' row; the next 'yuqing status' (or crawl) closes it."""
    import socket
    import subprocess
    import sys

    cfg = make_config(db_url)
    engine = make_engine(db_url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer exists on this host
    alive_pid = __import__("os").getpid()
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(RUNS),
            [
                {
                    "spider": "weibo",
                    "platform": "weibo",
                    "brand": "鲜果时光",
                    "status": "running",
                    "started_at": now,
                    "host": socket.gethostname()[:128],
                    "pid": dead.pid,
                },
                {
                    "spider": "heimao",
                    "platform": "heimao",
                    "brand": "鲜果时光",
                    "status": "running",
                    "started_at": now,
                    "host": socket.gethostname()[:128],
                    "pid": alive_pid,
                },
            ],
        )
    result = CliRunner().invoke(app, ["--config", cfg.source, "status", "--json"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rows = {r.spider: r for r in conn.execute(select(RUNS.c.spider, RUNS.c.status, RUNS.c.error_message))}
    assert rows["weibo"].status == "killed" and "disappeared" in rows["weibo"].error_message
    assert rows["heimao"].status == "running"  # its process is alive: left alone


def test_retention_drops_flushed_holds_and_old_budget_charges(make_config, db_url) -> None:
    from crawler.storage.models import ALERT_CHARGES, ALERT_HOLDS

    cfg = make_config(db_url)
    engine = make_engine(db_url)
    now = utcnow()
    old = now - timedelta(days=cfg.storage.retention_days + 1)

    upsert_mentions(
        engine,
        [{"platform": "heimao", "post_id": "kept", "brand": "鲜果时光", "text": "投诉", "published_at": now}],
        now=now,
    )
    with engine.connect() as conn:
        kept_id = conn.execute(select(M.c.id)).scalar_one()

    def hold(ref: str, created, flushed, kind: str = "sla", mention_id: int | None = None):
        return {
            "kind": kind,
            "brand": "鲜果时光",
            "channel": "kefu",
            "ref": ref,
            "alert_kind": "complaint",
            "mention_id": mention_id,
            "created_at": created,
            "flushed_at": flushed,
        }

    with engine.begin() as conn:
        conn.execute(
            insert(ALERT_HOLDS),
            [
                hold("old-flushed", old, old),
                hold("old-pending", old, None),  # never told: kept, whatever its age
                hold("recent-flushed", old, now - timedelta(days=1)),  # created long ago, told lately
                # its mention is still stored: the row keeps a re-crawl of it out of a second summary
                hold(f"m:{kept_id}", old, old, kind="backfill", mention_id=kept_id),
            ],
        )
        conn.execute(
            insert(ALERT_CHARGES),
            [
                {"brand": "鲜果时光", "channel": "pr", "at": at}
                for at in (now - timedelta(days=8), now - timedelta(days=6), now - timedelta(minutes=5))
            ],
        )
    result = purge(engine, cfg, now=now)
    assert (result.holds_deleted, result.charges_deleted) == (1, 1)
    with engine.connect() as conn:
        refs = set(conn.execute(select(ALERT_HOLDS.c.ref)).scalars())
        charges = conn.execute(select(ALERT_CHARGES.c.at)).scalars().all()
    assert refs == {"old-pending", "recent-flushed", f"m:{kept_id}"}
    assert len(charges) == 2
    assert purge(engine, cfg, now=now).holds_deleted == 0
