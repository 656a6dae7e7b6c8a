"""The read side of complaint records, for the API, the dashboard, ``yuqing complaints`` and reports.

Lists with filters (brand, status, urgency, team, assignee, overdue, due soon, event):
:func:`list_complaints` is the board's page (records as the API shows them: masked summary,
SLA milestones done / late / pending / overdue, next deadline), :func:`list_records` the
rows of ``yuqing complaints list|export``; both filter with the same conditions, so the
board and ``yuqing complaints list --overdue`` list the same records. Exports are CSV
(UTF-8 with BOM for Excel, formula-injection safe), XLSX or JSON, with Chinese headers.
:func:`sla_performance` gives the SLA figures of a period: registered within the
registration target, answered in time, breaches, callbacks done.

Statuses, milestones and what "overdue" means are ``alerts.complaints.model``; the workflow
itself (status, assignment, notes) is ``alerts.complaints.records``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.engine import Connection

from alerts.complaints.model import (
    MILESTONES,
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    done_at,
    due_soon_clause,
    is_overdue,
    milestone_state,
    overdue_clause,
)
from crawler.analytics.query import mask_text
from crawler.clock import utcnow
from crawler.storage.models import COMPLAINT_MENTIONS as LINKS
from crawler.storage.models import COMPLAINTS, MENTIONS

RELATION_NAMES = {
    "source": "首帖",
    "repeat": "同一客户再次发帖",
    "repost": "转发",
    "copy": "近似内容",
    "comment": "评论",
}
COLUMNS: tuple[tuple[str, str], ...] = (  # the export's columns and their Chinese headers
    ("number", "编号"),
    ("brand", "品牌"),
    ("platform", "平台"),
    ("customer_name", "客户"),
    ("customer_tags", "客户标签"),
    ("tags", "标签"),
    ("linked", "关联提及"),
    ("category", "类别"),
    ("urgency", "紧急程度"),
    ("risk", "风险"),
    ("status", "状态"),
    ("team", "团队"),
    ("assignee", "负责人"),
    ("registered_at", "登记时间"),
    ("due_report_at", "上报时限"),
    ("due_first_check_at", "初核时限"),
    ("due_answer_at", "答复时限"),
    ("due_resolve_at", "处理时限"),
    ("callback_due_at", "回访时限"),
    ("escalation_level", "升级级别"),
    ("registration_latency_s", "登记耗时(秒)"),
    ("summary", "摘要"),
)


def workflow_statuses() -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(all statuses, allowed transitions), from ``alerts.complaints.model``."""
    return STATUSES, TRANSITIONS


def milestones(rec: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each SLA milestone of a record with its state: done, late (done after due, or left unmet past its
    deadline when its clock stopped), pending, overdue (``alerts.complaints.model.milestone_state``)."""
    out = []
    for key, m in MILESTONES.items():
        state = milestone_state(rec, key, now)
        if state is not None:
            out.append(
                {
                    "key": key,
                    "name": m.name,
                    "due_at": rec.get(m.due),
                    "done_at": done_at(rec, key),
                    "state": state,
                }
            )
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
        "overdue": is_overdue(rec, now),
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


def filters(
    now: datetime,
    *,
    brand: str | None = None,
    statuses: Sequence[str] = (),
    urgencies: Sequence[str] = (),
    team: str | None = None,
    assignee: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    due_soon_minutes: int | None = None,
    since: datetime | None = None,
    event_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a list: every given filter must hold. ``owner`` matches the assignee or
    the team; ``overdue`` True / False keeps the records that are / are not overdue at ``now``."""
    c = COMPLAINTS.c
    conds: list[ColumnElement[bool]] = []
    if statuses:
        conds.append(c.status.in_(list(statuses)))
    if urgencies:
        conds.append(c.urgency.in_(list(urgencies)))
    for col, value in ((c.brand, brand), (c.team, team), (c.assignee, assignee)):
        if value:
            conds.append(col == value)
    if owner:
        conds.append(or_(c.assignee == owner, c.team == owner))
    if since:
        conds.append(c.registered_at >= since)
    if event_id:
        conds.append(c.event_id == event_id)
    if overdue is not None:
        clause = overdue_clause(now)
        conds.append(clause if overdue else ~clause)
    if due_soon_minutes is not None:
        conds.append(due_soon_clause(now, due_soon_minutes))
    return conds


def _page(stmt: Select[Any], conn: Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(stmt.limit(limit).offset(offset)).mappings()]


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
    """The board's page of records (as :func:`present` shows them), most urgent deadline first among open
    ones, then newest; ``assignee`` matches the assignee or the team. Returns (items, has_more)."""
    now = now or utcnow()
    c = COMPLAINTS.c
    where = filters(
        now,
        brand=brand,
        statuses=statuses or (),
        urgencies=urgencies or (),
        owner=assignee,
        overdue=overdue,
        since=since,
        event_id=event_id,
    )
    stmt = (
        select(COMPLAINTS, MENTIONS.c.url)
        .select_from(COMPLAINTS.outerjoin(MENTIONS, MENTIONS.c.id == c.mention_id))
        .where(*where)
        .order_by(
            c.status.in_(OPEN_STATUSES).desc(),
            c.due_resolve_at.asc().nulls_last(),
            c.registered_at.desc(),
            c.id.desc(),
        )
    )
    rows = _page(stmt, conn, limit + 1, offset)
    page = rows[:limit]
    stats = link_stats(conn, [r["id"] for r in page])
    records = event_records(conn, [r["event_id"] for r in page if r["event_id"]])
    out = [
        present(r, now, r["url"], stats=stats.get(r["id"]), records=records.get(r["event_id"] or 0))
        for r in page
    ]
    return out, len(rows) > limit


def list_records(
    conn: Connection,
    *,
    status: Sequence[str] = (),
    team: str | None = None,
    brand: str | None = None,
    assignee: str | None = None,
    overdue: bool = False,
    due_soon_minutes: int | None = None,
    urgency: str | None = None,
    event_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Records matching every given filter, newest first, as stored, each with ``linked`` (mentions joined
    besides its source) and ``spread`` (see :func:`link_stats`): ``yuqing complaints list|export``."""
    now = now or utcnow()
    c = COMPLAINTS.c
    where = filters(
        now,
        brand=brand,
        statuses=status,
        urgencies=(urgency,) if urgency else (),
        team=team,
        assignee=assignee,
        overdue=True if overdue else None,
        due_soon_minutes=due_soon_minutes,
        event_id=event_id,
    )
    stmt = select(COMPLAINTS).where(*where).order_by(c.registered_at.desc(), c.id.desc())
    rows = _page(stmt, conn, limit, offset)
    stats = link_stats(conn, [r["id"] for r in rows])
    for r in rows:
        st = stats.get(r["id"]) or {}
        r["linked"] = int(st.get("linked") or 0)
        r["spread"] = (
            {k: st.get(k) for k in ("relations", "platforms", "engagement", "followers")} if st else None
        )
    return rows


def cell(value: Any, tz: ZoneInfo) -> Any:
    """A value for a spreadsheet cell: local times, joined lists, formula-looking text defused."""
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        value = "、".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export(rows: list[dict[str, Any]], path: Path, fmt: str, tz: ZoneInfo) -> int:
    """Write ``rows`` (from :func:`list_records`) to ``path`` as csv, xlsx or json; returns the number written."""
    headers = [h for _, h in COLUMNS]
    table = [[cell(r.get(k), tz) for k, _ in COLUMNS] for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            writer.writerows(table)
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "客诉记录"
        ws.append(headers)
        for line in table:
            ws.append(line)
        wb.save(path)
    elif fmt == "json":
        data = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items() if k in dict(COLUMNS)}
            for r in rows
        ]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        raise ValueError(f"unknown export format {fmt!r} (csv, xlsx, json)")
    return len(rows)


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
        "overdue_open": sum(1 for r in recs if r["status"] in OPEN_STATUSES and is_overdue(r, now)),
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
