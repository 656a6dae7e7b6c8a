"""Reading complaint records: filtered lists (overdue, due soon, team, status, brand) and exports.

Used by ``yuqing complaints list|export`` and available to the REST API. Exports are CSV
(UTF-8 with BOM for Excel, formula-injection safe), XLSX or JSON, with Chinese headers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from alerts.complaints.clock import MILESTONES
from alerts.complaints.records import OPEN_STATUSES
from alerts.complaints.sla import DONE
from crawler.analytics.complaints import link_stats
from crawler.storage.models import COMPLAINTS
from crawler.storage.types import utcnow

COLUMNS: tuple[tuple[str, str], ...] = (
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


def _overdue(now: datetime) -> Any:
    parts = []
    for ms, (column, _, _) in MILESTONES.items():
        due = COMPLAINTS.c[column]
        parts.append(and_(due.is_not(None), due <= now, *(COMPLAINTS.c[c].is_(None) for c in DONE[ms])))
    return and_(COMPLAINTS.c.status.in_(OPEN_STATUSES), or_(*parts))


def _due_soon(now: datetime, minutes: int) -> Any:
    parts = []
    for ms, (column, _, _) in MILESTONES.items():
        due = COMPLAINTS.c[column]
        parts.append(
            and_(
                due > now,
                due <= now + timedelta(minutes=minutes),
                *(COMPLAINTS.c[c].is_(None) for c in DONE[ms]),
            )
        )
    return and_(COMPLAINTS.c.status.in_(OPEN_STATUSES), or_(*parts))


def list_complaints(
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
    """Records matching every given filter, newest first, each with ``linked`` (mentions joined besides its
    source) and ``spread`` (see :func:`crawler.analytics.complaints.link_stats`)."""
    now = now or utcnow()
    c = COMPLAINTS.c
    conds: list[Any] = []
    if status:
        conds.append(c.status.in_(list(status)))
    for col, value in ((c.team, team), (c.brand, brand), (c.assignee, assignee), (c.urgency, urgency)):
        if value:
            conds.append(col == value)
    if overdue:
        conds.append(_overdue(now))
    if due_soon_minutes is not None:
        conds.append(_due_soon(now, due_soon_minutes))
    if event_id is not None:
        conds.append(c.event_id == event_id)
    stmt = (
        select(COMPLAINTS)
        .where(*conds)
        .order_by(c.registered_at.desc(), c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
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
    """Write ``rows`` to ``path`` as csv, xlsx or json; returns the number written."""
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
