"""The job plan of ``yuqing run``: which jobs exist, on which triggers, built from the config.

:func:`build_jobs` turns an :class:`~crawler.config.AppConfig` into :class:`JobSpec` values
(pure, testable); :func:`sync_jobs` makes an APScheduler 3.11 scheduler's persistent job
store match them (jobs added, changed, removed; unchanged jobs keep their next run time,
so a restart or a SIGHUP reload never re-runs or skips work); :func:`make_scheduler`
builds the scheduler on a SQLAlchemy job store in the project's database.

Jobs: one crawl per (platform, brand) on the platform's ``schedule`` (interval schedules
anchored to a fixed instant and staggered evenly across the jobs that share an interval),
the alert dispatcher, the digest flush, the complaint SLA sweeper, crawl health, the daily
and weekly reports and data retention. Every trigger carries the configured timezone
(Asia/Shanghai by default); every job has ``coalesce=True``, ``max_instances=1`` and a
misfire grace time. Job functions are referenced by name (``crawler.service.jobs:...``) so the job
store can persist them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import PLATFORM_NAMES, parse_schedule
from crawler.service.health import pairs

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.base import BaseScheduler
    from apscheduler.triggers.base import BaseTrigger
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

ANCHOR = (2024, 1, 1)  # interval triggers count from this local midnight: stable across restarts
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class JobSpec:
    """One job as the config wants it."""

    id: str
    func: str
    trigger: BaseTrigger
    name: str
    args: tuple[Any, ...] = ()
    misfire_grace_time: int = 300

    def signature(self) -> str:
        return _signature(self.func, self.args, self.trigger, self.misfire_grace_time)


def _signature(func: str, args: tuple[Any, ...], trigger: BaseTrigger, grace: int | None) -> str:
    return f"{func}|{args!r}|{trigger!r}|{grace}"


def job_signature(job: Job) -> str:
    return _signature(job.func_ref, tuple(job.args), job.trigger, job.misfire_grace_time)


# --- triggers -----------------------------------------------------------------------


def _cron_dow(field: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday) in APScheduler 3's terms (0 = Monday), as names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _dow_num(a), _dow_num(b)
        else:
            lo = hi = _dow_num(rng)
            if step_s:
                hi = 6
        if hi < lo:  # e.g. fri-mon wraps over the weekend
            days.update(d % 7 for d in range(lo, hi + 8, step))
        else:
            days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DOW_NAMES[d] for d in sorted(days))


def _dow_num(token: str) -> int:
    if token.isdigit():
        n = int(token)
        if not 0 <= n <= 7:
            raise ValueError(f"day of week out of range: {token}")
        return n % 7
    return _DOW_NAMES.index(token[:3])


def cron_trigger(expr: str, tz: str) -> CronTrigger:
    """A 5-field crontab line with standard weekday numbers (APScheduler 3's ``from_crontab`` is off by one)."""
    minute, hour, day, month, dow = expr.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_dow(dow), timezone=tz
    )


def interval_trigger(seconds: int, tz: str, offset: float = 0.0) -> IntervalTrigger:
    start = datetime(*ANCHOR, tzinfo=ZoneInfo(tz)) + timedelta(seconds=round(offset))
    return IntervalTrigger(seconds=seconds, start_date=start, timezone=tz)


def schedule_trigger(expr: str, tz: str, offset: float = 0.0) -> BaseTrigger:
    kind, value = parse_schedule(expr)
    if kind == "interval":
        return interval_trigger(int(value), tz, offset)
    return cron_trigger(str(value), tz)


# --- the plan -----------------------------------------------------------------------


def crawl_job_id(platform: str, brand: str) -> str:
    return f"crawl:{platform}:{brand}"


def build_jobs(cfg: AppConfig) -> list[JobSpec]:
    """Every job ``cfg`` asks for, in a stable order."""
    sc = cfg.scheduler
    tz = sc.timezone
    grace = sc.misfire_grace_seconds
    specs = _crawl_jobs(cfg)
    periodic = [
        ("dispatch", "crawler.service.jobs:dispatch", sc.dispatch_seconds, "告警发送"),
        ("digest", "crawler.service.jobs:flush_digest", sc.digest_seconds, "告警摘要"),
        ("sla", "crawler.service.jobs:sla_sweep", sc.sweep_seconds, "客诉 SLA 巡检"),
        ("health", "crawler.service.jobs:health", sc.health_seconds, "采集健康检查"),
    ]
    for job_id, func, seconds, name in periodic:
        specs.append(JobSpec(job_id, func, interval_trigger(seconds, tz), name, misfire_grace_time=grace))
    specs += _crisis_jobs(cfg)
    for kind, expr, name in (("daily", sc.daily_report, "日报"), ("weekly", sc.weekly_report, "周报")):
        if expr:
            specs.append(
                JobSpec(
                    f"report:{kind}",
                    "crawler.service.jobs:report",
                    schedule_trigger(expr, tz),
                    name,
                    args=(kind,),
                    misfire_grace_time=max(grace, 3600),
                )
            )
    if sc.retention:
        specs.append(
            JobSpec(
                "retention",
                "crawler.service.jobs:retention",
                schedule_trigger(sc.retention, tz),
                "数据保留清理",
                misfire_grace_time=max(grace, 3600),
            )
        )
    return specs


def _crisis_jobs(cfg: AppConfig) -> list[JobSpec]:
    """The hot-list watch of each listed platform, and the tracked-post visits."""
    tz, grace = cfg.scheduler.timezone, cfg.scheduler.misfire_grace_seconds
    specs = []
    if cfg.hot_lists.enabled:
        for platform in cfg.hot_lists.platforms:
            if cfg.platforms.get(platform).enabled:
                specs.append(
                    JobSpec(
                        f"hot:{platform}",
                        "crawler.service.jobs:hot_watch",
                        schedule_trigger(cfg.hot_lists.schedule, tz),
                        f"热榜监测 {PLATFORM_NAMES.get(platform, platform)}",
                        args=(platform,),
                        misfire_grace_time=grace,
                    )
                )
    if cfg.tracking.enabled and cfg.platforms.weibo.enabled:
        specs.append(
            JobSpec(
                "tracking",
                "crawler.service.jobs:track",
                interval_trigger(cfg.tracking.check_seconds, tz),
                "传播追踪",
                misfire_grace_time=grace,
            )
        )
    return specs


def _crawl_jobs(cfg: AppConfig) -> list[JobSpec]:
    tz = cfg.scheduler.timezone
    plan = [(p, b, cfg.platforms.get(p).schedule) for p, b in pairs(cfg)]
    groups: dict[str, list[int]] = {}
    for i, (_, _, expr) in enumerate(plan):
        groups.setdefault(expr, []).append(i)
    specs = []
    for i, (platform, brand, expr) in enumerate(plan):
        kind, value = parse_schedule(expr)
        offset = 0.0
        if kind == "interval" and cfg.scheduler.stagger:
            members = groups[expr]
            offset = members.index(i) * int(value) / len(members)
        specs.append(
            JobSpec(
                crawl_job_id(platform, brand),
                "crawler.service.jobs:crawl",
                schedule_trigger(expr, tz, offset),
                f"采集 {PLATFORM_NAMES.get(platform, platform)} · {brand}",
                args=(platform, brand),
                misfire_grace_time=cfg.scheduler.misfire_grace_seconds,
            )
        )
    return specs


# --- APScheduler ------------------------------------------------------------------


@dataclass(slots=True)
class SyncReport:
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]

    def __str__(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )


def sync_jobs(scheduler: BaseScheduler, specs: list[JobSpec]) -> SyncReport:
    """Make the scheduler's jobs match ``specs``; unchanged jobs keep their next run time."""
    report = SyncReport([], [], [], [])
    existing = {job.id: job for job in scheduler.get_jobs()}
    for spec in specs:
        job = existing.pop(spec.id, None)
        if job is not None and job_signature(job) == spec.signature() and job.name == spec.name:
            report.unchanged.append(spec.id)
            continue
        scheduler.add_job(
            spec.func,
            trigger=spec.trigger,
            args=spec.args,
            id=spec.id,
            name=spec.name,
            misfire_grace_time=spec.misfire_grace_time,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        (report.added if job is None else report.changed).append(spec.id)
    for job_id in existing:
        scheduler.remove_job(job_id)
        report.removed.append(job_id)
    return report


def make_jobstore(engine: Engine) -> Any:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")


def make_scheduler(engine: Engine, cfg: AppConfig, *, threads: int | None = None) -> BaseScheduler:
    """A background scheduler on the database job store, with the project's job defaults."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    workers = threads or (len(pairs(cfg)) + 9)
    return BackgroundScheduler(
        jobstores={"default": make_jobstore(engine)},
        executors={"default": ThreadPoolExecutor(max_workers=workers)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": cfg.scheduler.misfire_grace_seconds,
        },
        timezone=ZoneInfo(cfg.scheduler.timezone),
    )


def describe_trigger(trigger: BaseTrigger) -> str:
    """A short human form: ``every 10m (+2m30s)`` or ``cron 0 9 * * mon``."""
    if isinstance(trigger, IntervalTrigger):
        secs = int(trigger.interval.total_seconds())
        text = f"every {_dur(secs)}"
        start = trigger.start_date
        if start is not None:
            anchor = datetime(*ANCHOR, tzinfo=start.tzinfo)
            off = int((start - anchor).total_seconds())
            if off:
                text += f" (+{_dur(off)})"
        return text
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields}
        return "cron " + " ".join(fields[k] for k in ("minute", "hour", "day", "month", "day_of_week"))
    return re.sub(r"\s+", " ", str(trigger))


def _dur(secs: int) -> str:
    out = ""
    for unit, n in (("h", 3600), ("m", 60), ("s", 1)):
        if secs >= n:
            out += f"{secs // n}{unit}"
            secs %= n
    return out or "0s"
