"""Read-side views of complaint records for the API, the dashboard and reports.

Lists with filters (brand, status, urgency, overdue, assignee), per-record SLA
milestones (done / late / pending / overdue) and the SLA performance figures of a
period: registered within the registration target, answered in time, breaches,
callbacks done. The workflow itself (status, assignment, notes) is ``alerts.complaints``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from crawler.query import mask_text
from crawler.storage.models import Complaint, Mention
from crawler.storage.types import utcnow

COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]
MENTIONS = Mention.__table__  # type: ignore[attr-defined]
OPEN_STATUSES = ("待处理", "处理中", "已升级")
STATUSES = ("待处理", "处理中", "已升级", "已解决", "已回访", "已关闭")
# key: (due column, done columns (any), Chinese name)
MILESTONES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "report": ("due_report_at", ("reported_at",), "上报"),
    "first_check": ("due_first_check_at", ("first_checked_at",), "初步核实"),
    "answer": ("due_answer_at", ("answered_at",), "答复"),
    "resolve": ("due_resolve_at", ("resolved_at", "escalated_at"), "处理完成或升级"),
    "callback": ("callback_due_at", ("callback_done_at",), "回访"),
}


def workflow_statuses() -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(all statuses, allowed transitions) from ``alerts.complaints`` (the workflow's owner)."""
    from alerts import complaints

    return complaints.STATUSES, complaints.TRANSITIONS


def milestones(rec: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each SLA milestone of a record with its state: done, late (done after due), pending, overdue."""
    out = []
    closed = rec.get("status") == "已关闭"
    for key, (due_col, done_cols, name) in MILESTONES.items():
        due = rec.get(due_col)
        done = min((rec[c] for c in done_cols if rec.get(c) is not None), default=None)
        if due is None and done is None:
            continue
        if done is not None:
            state = "late" if due is not None and done > due else "done"
        elif closed:
            state = "done"
        else:
            state = "overdue" if due is not None and due < now else "pending"
        out.append({"key": key, "name": name, "due_at": due, "done_at": done, "state": state})
    return out


def present(rec: dict[str, Any], now: datetime, url: str | None = None) -> dict[str, Any]:
    """A record as the API shows it: masked summary, milestones, the next deadline, overdue flag."""
    ms = milestones(rec, now)
    pending = [m["due_at"] for m in ms if m["state"] in ("pending", "overdue") and m["due_at"] is not None]
    return {
        **{k: rec.get(k) for k in ("id", "number", "brand", "platform", "category", "urgency", "risk", "status",
                                   "assignee", "team", "customer_name", "customer_tags", "reasons", "registered_at",
                                   "registration_latency_s", "mention_id", "event_id")},
        "summary": mask_text(rec.get("summary") or ""),
        "milestones": ms, "next_due_at": min(pending, default=None),
        "overdue": any(m["state"] == "overdue" for m in ms), "url": url,
    }


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    c = COMPLAINTS.c
    parts = []
    for due_col, done_cols, _ in MILESTONES.values():
        parts.append(and_(c[due_col] < now, *[c[d].is_(None) for d in done_cols]))
    return and_(c.status != "已关闭", or_(*parts))


def list_complaints(conn: Connection, *, brand: str | None = None, statuses: list[str] | None = None,
                    urgencies: list[str] | None = None, overdue: bool | None = None, assignee: str | None = None,
                    since: datetime | None = None, limit: int = 50, offset: int = 0,
                    now: datetime | None = None) -> tuple[list[dict[str, Any]], bool]:
    """A page of records, most urgent deadline first among open ones, then newest."""
    now = now or utcnow()
    c = COMPLAINTS.c
    stmt = select(COMPLAINTS, MENTIONS.c.url).select_from(
        COMPLAINTS.outerjoin(MENTIONS, MENTIONS.c.id == c.mention_id))
    if brand:
        stmt = stmt.where(c.brand == brand)
    if statuses:
        stmt = stmt.where(c.status.in_(statuses))
    if urgencies:
        stmt = stmt.where(c.urgency.in_(urgencies))
    if assignee:
        stmt = stmt.where(or_(c.assignee == assignee, c.team == assignee))
    if since:
        stmt = stmt.where(c.registered_at >= since)
    if overdue is not None:
        clause = _overdue_clause(now)
        stmt = stmt.where(clause if overdue else ~clause)
    is_open = c.status.in_(OPEN_STATUSES)
    stmt = stmt.order_by(is_open.desc(), c.due_resolve_at.asc().nulls_last(), c.registered_at.desc(), c.id.desc())
    rows = conn.execute(stmt.limit(limit + 1).offset(offset)).mappings().all()
    out = [present(dict(r), now, r["url"]) for r in rows[:limit]]
    return out, len(rows) > limit


def sla_performance(conn: Connection, *, since: datetime, until: datetime, brand: str | None = None,
                    registration_minutes: int = 10, now: datetime | None = None) -> dict[str, Any]:
    """SLA figures for records registered in [since, until)."""
    now = now or utcnow()
    c = COMPLAINTS.c
    stmt = select(COMPLAINTS).where(c.registered_at >= since, c.registered_at < until)
    if brand:
        stmt = stmt.where(c.brand == brand)
    recs = [dict(r) for r in conn.execute(stmt).mappings()]
    fast = sum(1 for r in recs if r["registration_latency_s"] is not None
               and r["registration_latency_s"] <= registration_minutes * 60)
    timed = [r for r in recs if r["registration_latency_s"] is not None]
    answered = [r for r in recs if r["due_answer_at"] is not None and r["answered_at"] is not None]
    answered_ok = sum(1 for r in answered if r["answered_at"] <= r["due_answer_at"])
    breaches: dict[str, int] = {}
    breached_records = 0
    for r in recs:
        bad = [m for m in milestones(r, now) if m["state"] in ("late", "overdue")]
        breached_records += bool(bad)
        for m in bad:
            breaches[m["name"]] = breaches.get(m["name"], 0) + 1
    callbacks_due = [r for r in recs if r["callback_due_at"] is not None and r["callback_due_at"] <= now]
    latencies = sorted(r["registration_latency_s"] for r in timed)
    by_status = dict(conn.execute(select(c.status, func.count()).where(c.registered_at >= since,
                                  c.registered_at < until, *([c.brand == brand] if brand else []))
                                  .group_by(c.status)).all())
    return {
        "total": len(recs), "by_status": {k: int(v) for k, v in by_status.items()},
        "registered_in_time": fast, "registered_timed": len(timed),
        "registration_p50_s": latencies[len(latencies) // 2] if latencies else None,
        "answered": len(answered), "answered_in_time": answered_ok,
        "open": sum(1 for r in recs if r["status"] in OPEN_STATUSES),
        "overdue_open": sum(1 for r in recs if r["status"] in OPEN_STATUSES
                            and any(m["state"] == "overdue" for m in milestones(r, now))),
        "breached_records": breached_records, "breaches": breaches,
        "callbacks_due": len(callbacks_due),
        "callbacks_done": sum(1 for r in callbacks_due if r["callback_done_at"] is not None),
        "by_urgency": _count(recs, "urgency"), "by_category": _count(recs, "category"),
    }


def _count(recs: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in recs:
        k = r.get(key) or "未知"
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
