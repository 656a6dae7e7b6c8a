"""Read-side views of complaint records for the API, the dashboard and reports.

Lists with filters (brand, status, urgency, overdue, assignee), per-record SLA
milestones (done / late / pending / overdue) and the SLA performance figures of a
period: registered within the registration target, answered in time, breaches,
callbacks done. The workflow itself (status, assignment, notes) is ``alerts.complaints.records``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from alerts.complaints import records as complaints
from crawler.analytics.query import mask_text
from crawler.storage.models import COMPLAINT_MENTIONS as LINKS
from crawler.storage.models import COMPLAINTS, MENTIONS
from crawler.storage.types import utcnow

RELATION_NAMES = {
    "source": "首帖",
    "repeat": "同一客户再次发帖",
    "repost": "转发",
    "copy": "近似内容",
    "comment": "评论",
}
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
    """(all statuses, allowed transitions) from ``alerts.complaints.records`` (the workflow's owner)."""

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


def link_stats(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per record: its linked mentions (``linked``: besides its source), by relation, and their spread
    (platforms, combined engagement, combined and largest follower counts)."""
    out: dict[int, dict[str, Any]] = {}
    m = MENTIONS.c
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), 500):
        stmt = (
            select(
                LINKS.c.complaint_id,
                LINKS.c.relation,
                m.platform,
                func.count(),
                func.sum(m.likes + m.comments + m.shares),
                func.sum(m.author_followers),
                func.max(m.author_followers),
            )
            .select_from(LINKS.join(MENTIONS, m.id == LINKS.c.mention_id))
            .where(LINKS.c.complaint_id.in_(ordered[start : start + 500]))
            .group_by(LINKS.c.complaint_id, LINKS.c.relation, m.platform)
        )
        for cid, relation, platform, n, eng, reach, top in conn.execute(stmt):
            s = out.setdefault(
                int(cid),
                {
                    "mentions": 0,
                    "linked": 0,
                    "relations": {},
                    "platforms": {},
                    "engagement": 0,
                    "followers": 0,
                    "max_followers": 0,
                },
            )
            s["mentions"] += int(n)
            s["relations"][relation or "source"] = s["relations"].get(relation or "source", 0) + int(n)
            s["platforms"][platform] = s["platforms"].get(platform, 0) + int(n)
            s["engagement"] += int(eng or 0)
            s["followers"] += int(reach or 0)
            s["max_followers"] = max(s["max_followers"], int(top or 0))
    for s in out.values():
        s["linked"] = max(0, s["mentions"] - 1)
    return out


def event_records(conn: Connection, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The records of each event (any status), oldest first: number, id, status, urgency, customer."""
    out: dict[int, list[dict[str, Any]]] = {}
    c = COMPLAINTS.c
    wanted = sorted({e for e in event_ids if e})
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(
                c.id, c.number, c.event_id, c.status, c.urgency, c.customer_name, c.assignee, c.team, c.tags
            )
            .where(c.event_id.in_(wanted[start : start + 500]))
            .order_by(c.registered_at, c.id)
        ).mappings()
        for r in rows:
            out.setdefault(int(r["event_id"]), []).append(dict(r))
    return out


def _group(rec: dict[str, Any], records: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The 群体投诉 a record belongs to: its event's records (when tagged, or when it has company)."""
    if not records or rec.get("event_id") is None:
        return None
    if "群体投诉" not in (rec.get("tags") or []) and len(records) < 2:
        return None
    return {
        "event_id": rec["event_id"],
        "size": len(records),
        "tagged": "群体投诉" in (rec.get("tags") or []),
        "records": [
            {
                "id": r["id"],
                "number": r["number"],
                "status": r["status"],
                "urgency": r["urgency"],
                "tags": r["tags"],
            }
            for r in records[:50]
        ],
    }


def present(
    rec: dict[str, Any],
    now: datetime,
    url: str | None = None,
    *,
    stats: dict[str, Any] | None = None,
    records: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A record as the API shows it: masked summary, milestones, the next deadline, overdue flag, its linked
    mentions (count and spread) and the other records of its event."""
    ms = milestones(rec, now)
    pending = [m["due_at"] for m in ms if m["state"] in ("pending", "overdue") and m["due_at"] is not None]
    stats = stats or {}
    return {
        **{
            k: rec.get(k)
            for k in (
                "id",
                "number",
                "brand",
                "platform",
                "category",
                "urgency",
                "risk",
                "status",
                "assignee",
                "team",
                "customer_name",
                "customer_tags",
                "reasons",
                "registered_at",
                "registration_latency_s",
                "mention_id",
                "event_id",
            )
        },
        "tags": list(rec.get("tags") or []),
        "summary": mask_text(rec.get("summary") or ""),
        "milestones": ms,
        "next_due_at": min(pending, default=None),
        "overdue": any(m["state"] == "overdue" for m in ms),
        "url": url,
        "linked_count": int(stats.get("linked") or 0),
        "spread": {
            k: stats[k]
            for k in ("mentions", "relations", "platforms", "engagement", "followers", "max_followers")
        }
        if stats
        else None,
        "group": _group(rec, records),
    }


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    c = COMPLAINTS.c
    parts = []
    for due_col, done_cols, _ in MILESTONES.values():
        parts.append(and_(c[due_col] < now, *[c[d].is_(None) for d in done_cols]))
    return and_(c.status != "已关闭", or_(*parts))


def list_complaints(
    conn: Connection,
    *,
    brand: str | None = None,
    statuses: list[str] | None = None,
    urgencies: list[str] | None = None,
    overdue: bool | None = None,
    assignee: str | None = None,
    since: datetime | None = None,
    event_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of records, most urgent deadline first among open ones, then newest."""
    now = now or utcnow()
    c = COMPLAINTS.c
    stmt = select(COMPLAINTS, MENTIONS.c.url).select_from(
        COMPLAINTS.outerjoin(MENTIONS, MENTIONS.c.id == c.mention_id)
    )
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
    if event_id:
        stmt = stmt.where(c.event_id == event_id)
    if overdue is not None:
        clause = _overdue_clause(now)
        stmt = stmt.where(clause if overdue else ~clause)
    is_open = c.status.in_(OPEN_STATUSES)
    stmt = stmt.order_by(
        is_open.desc(), c.due_resolve_at.asc().nulls_last(), c.registered_at.desc(), c.id.desc()
    )
    rows = [dict(r) for r in conn.execute(stmt.limit(limit + 1).offset(offset)).mappings().all()]
    page = rows[:limit]
    stats = link_stats(conn, [r["id"] for r in page])
    records = event_records(conn, [r["event_id"] for r in page if r["event_id"]])
    out = [
        present(r, now, r["url"], stats=stats.get(r["id"]), records=records.get(r["event_id"] or 0))
        for r in page
    ]
    return out, len(rows) > limit


def sla_performance(
    conn: Connection,
    *,
    since: datetime,
    until: datetime,
    brand: str | None = None,
    registration_minutes: int = 10,
    now: datetime | None = None,
) -> dict[str, Any]:
    """SLA figures for records registered in [since, until)."""
    now = now or utcnow()
    c = COMPLAINTS.c
    stmt = select(COMPLAINTS).where(c.registered_at >= since, c.registered_at < until)
    if brand:
        stmt = stmt.where(c.brand == brand)
    recs = [dict(r) for r in conn.execute(stmt).mappings()]
    fast = sum(
        1
        for r in recs
        if r["registration_latency_s"] is not None
        and r["registration_latency_s"] <= registration_minutes * 60
    )
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
    by_status: dict[str, int] = dict(
        conn.execute(
            select(c.status, func.count())
            .where(c.registered_at >= since, c.registered_at < until, *([c.brand == brand] if brand else []))
            .group_by(c.status)
        ).all()
    )
    return {
        "total": len(recs),
        "by_status": {k: int(v) for k, v in by_status.items()},
        "registered_in_time": fast,
        "registered_timed": len(timed),
        "registration_p50_s": latencies[len(latencies) // 2] if latencies else None,
        "answered": len(answered),
        "answered_in_time": answered_ok,
        "open": sum(1 for r in recs if r["status"] in OPEN_STATUSES),
        "overdue_open": sum(
            1
            for r in recs
            if r["status"] in OPEN_STATUSES and any(m["state"] == "overdue" for m in milestones(r, now))
        ),
        "breached_records": breached_records,
        "breaches": breaches,
        "callbacks_due": len(callbacks_due),
        "callbacks_done": sum(1 for r in callbacks_due if r["callback_done_at"] is not None),
        "by_urgency": _count(recs, "urgency"),
        "by_category": _count(recs, "category"),
    }


def _count(recs: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in recs:
        k = r.get(key) or "未知"
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
