"""Crawl health: turn ``crawl_runs`` into incidents that operators are told about once.

An incident opens when a problem shows up and clears when it is gone; each transition is
recorded in ``health_incidents`` and sent once through the alert outbox
(``alerts.delivery.outbox.enqueue(kind="health")``) to ``[alerts].health_channels``, with a
dedup key per incident and transition so re-evaluation never sends twice.

Problems (the ``kind`` of an incident):

- platform-wide, judged on the platform's latest finished crawl (any brand):
  ``session_expired`` (auth_expired; fix: ``yuqing login <platform>``), ``blocked``
  (captcha, ip_blocked, or a crawl that failed on rate limits), ``signature_rejected``,
  ``schema_change`` (bad_payload);
- per (platform, brand): ``timeout`` (the latest crawl was killed at its timeout),
  ``zero_results`` (the last N completed crawls found nothing where earlier ones did),
  ``crawl_failed`` (the last N crawls failed for another reason: 5xx, network, crash);
- service-wide: ``dispatcher_lag`` (an alert has waited longer than
  ``[scheduler].dispatch_lag_seconds`` to be delivered) and, in distributed mode,
  ``no_workers`` (crawl tasks are queued but no ``yuqing worker`` is alive).

The judging functions are pure (runs in, problems out); :func:`evaluate` applies them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from alerts.delivery.outbox import enqueue
from crawler.clock import utcnow
from crawler.service.health_text import describe
from crawler.storage.mentions import brand_crawl_runs
from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
from crawler.storage.models import CRAWL_RUNS as RUNS
from crawler.storage.models import HEALTH_INCIDENTS as INCIDENTS

if TYPE_CHECKING:
    from crawler.config import AppConfig

PLATFORM_WIDE: frozenset[str] = frozenset(
    {"session_expired", "blocked", "signature_rejected", "schema_change", "browser_missing"}
)
PER_BRAND: frozenset[str] = frozenset({"timeout", "zero_results", "crawl_failed"})
SERVICE_WIDE: frozenset[str] = frozenset({"dispatcher_lag", "no_workers"})
_ERROR_KINDS: dict[str, str] = {
    "auth_expired": "session_expired",
    "captcha": "blocked",
    "ip_blocked": "blocked",
    "signature_rejected": "signature_rejected",
    "bad_payload": "schema_change",
    "browser_missing": "browser_missing",
}
_COMPLETED = ("ok", "partial")
_JUDGED = ("ok", "partial", "failed", "timeout")
_HISTORY = 50
_eval_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    platform: str | None
    brand: str | None
    detail: str | None = None
    count: int = 1

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.kind, self.platform, self.brand)


@dataclass(slots=True)
class HealthChanges:
    opened: list[tuple[str, str | None, str | None]]
    cleared: list[tuple[str, str | None, str | None]]


Run = dict[str, Any]


def platform_problems(platform: str, runs: Sequence[Run], hot_runs: Sequence[Run] = ()) -> list[Problem]:
    """Platform-wide problems from the platform's runs (newest first, any brand).

    ``runs`` are the crawls and tracking polls (they carry the login), ``hot_runs`` the hot-list
    polls, judged apart. The lists are public: a poll that succeeds with an expired login, or
    fails for a passing reason, neither clears nor hides a crawl's problem (the incident would
    open and clear with every crawl and poll in turn). A poll that is blocked or refused counts
    while it is the newest word on the platform: a crawl or a poll that succeeds after it
    clears it (after ``yuqing login`` the next crawl closes the incident, not the next poll).
    """
    crawl, hot = _latest_judged(runs), _latest_judged(hot_runs)
    out = [p for p in (_problem_of(platform, crawl),) if p is not None]
    if hot is not None and (crawl is None or _when(hot) > _when(crawl)):
        problem = _problem_of(platform, hot)
        if problem is not None and all(p.key != problem.key for p in out):
            out.append(problem)
    return out


def _latest_judged(runs: Sequence[Run]) -> Run | None:
    return next((r for r in runs if r["status"] in ("ok", "partial", "failed")), None)


def _when(run: Run) -> tuple[Any, int]:
    return (run["started_at"], int(run.get("id") or 0))


def _problem_of(platform: str, latest: Run | None) -> Problem | None:
    if latest is None:
        return None
    error = latest.get("error_kind")
    kind = _ERROR_KINDS.get(error or "")
    if kind is None and error == "rate_limited" and latest["status"] == "failed":
        kind = "blocked"
    if kind is None:
        return None
    return Problem(kind, platform, None, detail=_detail(latest))


def brand_problems(
    platform: str, brand: str, runs: Sequence[Run], *, zero_runs: int, failed_runs: int
) -> list[Problem]:
    """Per-brand problems from the runs of (platform, brand), newest first."""
    judged = [r for r in runs if r["status"] in _JUDGED]
    if not judged:
        return []
    out: list[Problem] = []
    if judged[0]["status"] == "timeout":
        out.append(Problem("timeout", platform, brand, detail=_detail(judged[0])))
    completed = [r for r in judged if r["status"] in _COMPLETED]
    recent = completed[:zero_runs]
    if (
        len(recent) == zero_runs
        and judged[0]["status"] in _COMPLETED
        and all(int(r["items"] or 0) == 0 for r in recent)
        and any(int(r["items"] or 0) > 0 for r in completed[zero_runs:])
    ):
        out.append(Problem("zero_results", platform, brand, detail=f"{zero_runs}", count=zero_runs))
    failed = judged[:failed_runs]
    if (
        len(failed) == failed_runs
        and all(r["status"] == "failed" for r in failed)
        and not any(_ERROR_KINDS.get(r.get("error_kind") or "") for r in failed)
        and not all(r.get("error_kind") == "rate_limited" for r in failed)
    ):
        out.append(Problem("crawl_failed", platform, brand, detail=_detail(failed[0]), count=failed_runs))
    return out


def _detail(run: Run) -> str:
    parts = [str(run.get("error_kind") or run["status"])]
    if run.get("error_message"):
        parts.append(str(run["error_message"])[:300])
    return ": ".join(parts)


def dispatcher_problem(conn: Connection, lag_seconds: int, now: datetime) -> Problem | None:
    """``dispatcher_lag`` when a delivery has been due for longer than ``lag_seconds``."""
    cutoff = now - timedelta(seconds=lag_seconds)
    row = conn.execute(
        select(func.count(), func.min(DELIVERIES.c.next_attempt_at)).where(
            DELIVERIES.c.status.in_(("pending", "failed", "sending")), DELIVERIES.c.next_attempt_at < cutoff
        )
    ).one()
    if not row[0]:
        return None
    return Problem("dispatcher_lag", None, None, detail=f"{row[0]}|{row[1].isoformat() if row[1] else ''}")


# --- applying -------------------------------------------------------------------------


def _runs(conn: Connection, platform: str, brand: str | None, *, hot: bool | None = None) -> list[Run]:
    """The newest runs of ``platform``: a brand's crawls, or (brand None) every run, only the
    hot-list polls (``hot``) or all but them (``hot`` False)."""
    stmt = select(RUNS).where(RUNS.c.platform == platform)
    if brand is not None:
        stmt = stmt.where(RUNS.c.brand == brand, brand_crawl_runs())  # not hot lists or tracking
    elif hot is not None:
        stmt = stmt.where((RUNS.c.spider == "hotlist") if hot else (RUNS.c.spider != "hotlist"))
    stmt = (
        stmt.where(RUNS.c.status != "running")
        .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc())
        .limit(_HISTORY)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def pairs(cfg: AppConfig) -> list[tuple[str, str]]:
    """Every configured (platform, brand) crawl, in a stable order."""
    enabled = cfg.platforms.enabled()
    out = []
    for platform in enabled:
        for brand in cfg.brands:
            if brand.platforms is None or platform in brand.platforms:
                out.append((platform, brand.name))
    return out


def queue_problem(stats: dict[str, Any] | None, grace_seconds: float = 60.0) -> Problem | None:
    """``no_workers`` when distributed crawl tasks have waited ``grace_seconds`` with no worker alive."""
    if not stats or not stats.get("pending") or stats.get("workers"):
        return None
    if float(stats.get("oldest_wait_s") or 0.0) < grace_seconds:
        return None
    return Problem("no_workers", None, None, detail=str(stats["pending"]))


def evaluate(
    engine: Engine,
    cfg: AppConfig,
    *,
    platforms: Sequence[str] | None = None,
    service: bool = True,
    queue_stats: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> HealthChanges:
    """Re-judge the given platforms (default: all) and, with ``service``, the dispatcher
    (and, given ``queue_stats`` of the distributed task queue, whether workers are running).

    Opens new incidents, refreshes open ones and clears those whose problem is gone, in one
    transaction; serialised within the process (one evaluator at a time).
    """
    now = now or utcnow()
    wanted = [(p, b) for p, b in pairs(cfg) if platforms is None or p in platforms]
    scope_platforms = {p for p, _ in wanted} if platforms is not None else None
    with _eval_lock, engine.begin() as conn:
        problems: list[Problem] = []
        for platform in sorted({p for p, _ in wanted}):
            problems += platform_problems(
                platform, _runs(conn, platform, None, hot=False), _runs(conn, platform, None, hot=True)
            )
        for platform, brand in wanted:
            problems += brand_problems(
                platform,
                brand,
                _runs(conn, platform, brand),
                zero_runs=cfg.scheduler.zero_result_runs,
                failed_runs=cfg.scheduler.failed_runs,
            )
        if service:
            lag = dispatcher_problem(conn, cfg.scheduler.dispatch_lag_seconds, now)
            idle = queue_problem(queue_stats)
            problems += [p for p in (lag, idle) if p is not None]

        def in_scope(kind: str, platform: str | None, brand: str | None) -> bool:
            if kind in SERVICE_WIDE:
                return service
            return scope_platforms is None or platform in scope_platforms

        return apply(conn, cfg, problems, in_scope, now)


def apply(
    conn: Connection,
    cfg: AppConfig,
    problems: Sequence[Problem],
    in_scope: Callable[[str, str | None, str | None], bool],
    now: datetime,
) -> HealthChanges:
    """Make ``health_incidents`` match ``problems`` for the incidents ``in_scope``; send transitions."""
    open_rows = {
        (r["kind"], r["platform"], r["brand"]): r
        for r in conn.execute(select(INCIDENTS).where(INCIDENTS.c.cleared_at.is_(None))).mappings()
    }
    changes = HealthChanges([], [])
    current = {p.key: p for p in problems}
    for key, problem in current.items():
        text = describe(problem.kind, problem.platform, problem.brand, problem.detail, cfg)
        row = open_rows.get(key)
        if row is not None:
            conn.execute(
                update(INCIDENTS)
                .where(INCIDENTS.c.id == row["id"])
                .values(last_seen_at=now, message=text.message, detail=problem.detail)
            )
            continue
        incident_id = conn.execute(
            insert(INCIDENTS).returning(INCIDENTS.c.id),
            {
                "kind": problem.kind,
                "platform": problem.platform,
                "brand": problem.brand,
                "message": text.message,
                "fix": text.fix,
                "detail": problem.detail,
                "opened_at": now,
                "last_seen_at": now,
                "count": problem.count,
            },
        ).scalar_one()
        _send(
            conn,
            cfg,
            int(incident_id),
            problem.kind,
            problem.platform,
            problem.brand,
            "opened",
            text.title_opened,
            text.message,
            text.fix,
        )
        changes.opened.append(key)
        logger.warning(
            "health incident opened: {} {} {}: {}",
            problem.kind,
            problem.platform or "-",
            problem.brand or "-",
            text.message,
        )
    for key, row in open_rows.items():
        if key in current or not in_scope(*key):
            continue
        text = describe(row["kind"], row["platform"], row["brand"], row["detail"], cfg)
        conn.execute(
            update(INCIDENTS).where(INCIDENTS.c.id == row["id"]).values(cleared_at=now, last_seen_at=now)
        )
        _send(
            conn,
            cfg,
            int(row["id"]),
            row["kind"],
            row["platform"],
            row["brand"],
            "cleared",
            text.title_cleared,
            text.cleared_message,
            text.fix,
        )
        changes.cleared.append(key)
        logger.info(
            "health incident cleared: {} {} {}", row["kind"], row["platform"] or "-", row["brand"] or "-"
        )
    return changes


def _send(
    conn: Connection,
    cfg: AppConfig,
    incident_id: int,
    kind: str,
    platform: str | None,
    brand: str | None,
    state: str,
    title: str,
    message: str,
    fix: str,
) -> None:

    payload: dict[str, Any] = {
        "kind": "health",
        "brand": brand,
        "urgency": None,
        "risk": None,
        "reasons": [],
        "title": title,
        "mention": None,
        "event": None,
        "complaint": None,
        "items": [],
        "health": {
            "platform": platform,
            "brand": brand,
            "kind": kind,
            "message": message,
            "fix": fix,
            "state": state,
        },
        "text": message,
        "links": {"dashboard": cfg.alerts.dashboard_url},
    }
    enqueue(
        conn,
        cfg,
        kind="health",
        dedup_key=f"health:{incident_id}:{state}",
        title=title,
        payload=payload,
        channels=cfg.alerts.health_channels,
        brand=brand,
    )


def open_incidents(engine: Engine) -> list[dict[str, Any]]:
    """The open incidents, oldest first (for ``yuqing status``)."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(INCIDENTS).where(INCIDENTS.c.cleared_at.is_(None)).order_by(INCIDENTS.c.opened_at)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]
