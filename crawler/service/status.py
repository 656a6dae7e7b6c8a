"""What ``yuqing status`` shows, gathered from the database as one JSON-able dict.

The active scheduler (its lease), each job's trigger and next run (from the persistent job
store), the latest crawl per (platform, brand) and whether one is running, open alerts and
undelivered deliveries, overdue complaints, open health incidents, and the distributed
task queue when Redis is configured.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from alerts.complaints.model import overdue_clause, overdue_milestones
from crawler.clock import utcnow
from crawler.service.daemon import LEADER_LOCK
from crawler.service.distributed import TaskQueue
from crawler.service.health import open_incidents, pairs
from crawler.service.scheduler import describe_trigger, make_jobstore
from crawler.storage.locks import crawl_lock_name, held_locks
from crawler.storage.mentions import brand_crawl_runs
from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
from crawler.storage.models import ALERTS, COMPLAINTS
from crawler.storage.models import CRAWL_RUNS as RUNS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from crawler.config import AppConfig


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def jobs_info(engine: Engine, tz: ZoneInfo) -> list[dict[str, Any]]:
    store = make_jobstore(engine)
    store.start(None, "default")
    try:
        jobs = store.get_all_jobs()
    finally:
        store.shutdown()
    return [
        {
            "id": j.id,
            "name": j.name,
            "trigger": describe_trigger(j.trigger),
            "next_run": _iso(j.next_run_time, tz),
        }
        for j in jobs
    ]


def crawl_info(conn: Connection, cfg: AppConfig, tz: ZoneInfo, running: set[str]) -> list[dict[str, Any]]:
    out = []
    for platform, brand in pairs(cfg):
        last = (
            conn.execute(
                select(RUNS)
                .where(
                    RUNS.c.platform == platform,
                    RUNS.c.brand == brand,
                    RUNS.c.status != "running",
                    brand_crawl_runs(),
                )
                .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        out.append(
            {
                "platform": platform,
                "brand": brand,
                "running": crawl_lock_name(platform, brand) in running,
                "last_status": last["status"] if last else None,
                "last_finished": _iso(last["finished_at"], tz) if last else None,
                "items": last["items"] if last else None,
                "new": last["new_count"] if last else None,
                "error_kind": last["error_kind"] if last else None,
            }
        )
    return out


def alerts_info(conn: Connection, tz: ZoneInfo) -> dict[str, Any]:
    open_count = conn.execute(
        select(func.count()).select_from(ALERTS).where(ALERTS.c.status == "open")
    ).scalar_one()
    by_kind: dict[str, int] = dict(
        conn.execute(
            select(ALERTS.c.kind, func.count()).where(ALERTS.c.status == "open").group_by(ALERTS.c.kind)
        ).all()
    )
    undelivered = conn.execute(
        select(func.count())
        .select_from(DELIVERIES)
        .where(DELIVERIES.c.status.in_(("pending", "failed", "sending")))
    ).scalar_one()
    latest = conn.execute(
        select(ALERTS.c.id, ALERTS.c.kind, ALERTS.c.title, ALERTS.c.created_at)
        .where(ALERTS.c.status == "open")
        .order_by(ALERTS.c.id.desc())
        .limit(5)
    ).all()
    return {
        "open": open_count,
        "open_by_kind": by_kind,
        "undelivered": undelivered,
        "latest": [
            {"id": r.id, "kind": r.kind, "title": r.title, "created_at": _iso(r.created_at, tz)}
            for r in latest
        ],
    }


def overdue_complaints(conn: Connection, tz: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    """Complaint records overdue on at least one SLA milestone (``alerts.complaints.model``)."""

    c = COMPLAINTS.c
    rows = (
        conn.execute(select(COMPLAINTS).where(overdue_clause(now)).order_by(c.due_resolve_at, c.id))
        .mappings()
        .all()
    )
    out = []
    for rec in rows:
        late = overdue_milestones(dict(rec), now)
        if late:
            out.append(
                {
                    "number": rec["number"],
                    "brand": rec["brand"],
                    "urgency": rec["urgency"],
                    "status": rec["status"],
                    "assignee": rec["assignee"] or rec["team"],
                    "overdue": late,
                    "due_resolve_at": _iso(rec["due_resolve_at"], tz),
                }
            )
    return out


def collect_status(engine: Engine, cfg: AppConfig) -> dict[str, Any]:
    """Everything ``yuqing status`` prints, as a JSON-able dict."""
    tz = ZoneInfo(cfg.scheduler.timezone)
    now = utcnow()
    locks = held_locks(engine)
    leader = next((lk for lk in locks if lk.name == LEADER_LOCK), None)
    running = {lk.name for lk in locks}
    with engine.connect() as conn:
        status: dict[str, Any] = {
            "now": _iso(now, tz),
            "scheduler": {
                "active": leader is not None,
                "owner": leader.owner if leader else None,
                "since": _iso(leader.acquired_at, tz) if leader else None,
            },
            "mode": "distributed" if cfg.distributed.active else "local",
            "jobs": jobs_info(engine, tz),
            "crawls": crawl_info(conn, cfg, tz, running),
            "alerts": alerts_info(conn, tz),
            "overdue_complaints": overdue_complaints(conn, tz, now),
        }
    status["health"] = [
        {
            "kind": i["kind"],
            "platform": i["platform"],
            "brand": i["brand"],
            "message": i["message"],
            "fix": i["fix"],
            "opened_at": _iso(i["opened_at"], tz),
        }
        for i in open_incidents(engine)
    ]
    if cfg.distributed.active:
        status["queue"] = TaskQueue.from_config(cfg).stats()
    return status
