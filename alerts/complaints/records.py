"""Complaint records: registration in the crawl's transaction, numbering, assignment, workflow.

Reads ``[complaints]``: ``min_risk``, ``number_prefix``, ``assignment`` rules (first match
wins, else ``default_team``/``default_assignee``), ``sla`` per urgency, ``repeat_window_days``
and ``report_channels``. Every change writes a ``complaint_history`` row (who, what, when).
The statuses and their transitions are ``alerts.complaints.model`` (re-exported here).
The workflow functions (:func:`change_status`, :func:`assign`, :func:`add_note`,
:func:`set_urgency`) are what the CLI and the REST API call; they take a Connection or a
Session and work in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from alerts.complaints import clock
from alerts.complaints.model import OPEN_STATUSES, REGISTRATION_MILESTONES, STATUSES, TRANSITIONS
from alerts.rules import rank
from crawler.clock import utcnow
from crawler.errors import YuqingError
from crawler.storage.models import COMPLAINT_COUNTERS as COUNTERS
from crawler.storage.models import COMPLAINT_HISTORY as HISTORY
from crawler.storage.models import COMPLAINT_MENTIONS as LINKS
from crawler.storage.models import (
    COMPLAINTS,
    EVENTS,
    MENTIONS,
)

if TYPE_CHECKING:
    from crawler.config import AppConfig

SYSTEM = "system"


class ComplaintError(YuqingError):
    """A complaint record that does not exist, or a change the workflow does not allow."""


def _conn(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


# --- numbering, assignment, history -------------------------------------------


def next_numbers(conn: Connection, cfg: AppConfig, now: datetime, count: int = 1) -> list[str]:
    """``count`` new record numbers of the local day, e.g. TS20261122-0001 (atomic under concurrency)."""
    day = now.astimezone(ZoneInfo(cfg.scheduler.timezone)).strftime("%Y%m%d")
    key = f"{cfg.complaints.number_prefix}{day}"
    ins: Any = postgresql.insert(COUNTERS) if conn.dialect.name == "postgresql" else sqlite.insert(COUNTERS)
    stmt = (
        ins.values(day=key, last=count)
        .on_conflict_do_update(index_elements=["day"], set_={"last": COUNTERS.c.last + count})
        .returning(COUNTERS.c.last)
    )
    last = int(conn.execute(stmt).scalar_one())
    return [f"{key}-{seq:04d}" for seq in range(last - count + 1, last + 1)]


def next_number(conn: Connection, cfg: AppConfig, now: datetime) -> str:
    """The next record number of the local day."""
    return next_numbers(conn, cfg, now, 1)[0]


def pick_assignee(
    cfg: AppConfig, *, category: str | None, urgency: str, platform: str, brand: str
) -> tuple[str | None, str | None]:
    """(assignee, team) from the first matching assignment rule, else the defaults."""
    for rule in cfg.complaints.assignment:
        if (
            (not rule.categories or category in rule.categories)
            and (not rule.urgencies or urgency in rule.urgencies)
            and (not rule.platforms or platform in rule.platforms)
            and (not rule.brands or brand in rule.brands)
        ):
            return rule.assignee, rule.team or cfg.complaints.default_team
    return cfg.complaints.default_assignee, cfg.complaints.default_team


def write_history(
    conn: Connection,
    complaint_id: int,
    *,
    actor: str,
    action: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    conn.execute(
        insert(HISTORY),
        {
            "complaint_id": complaint_id,
            "at": at or utcnow(),
            "actor": actor or SYSTEM,
            "action": action,
            "field": field,
            "old": None if old is None else str(old),
            "new": None if new is None else str(new),
            "note": note,
        },
    )


# --- reading ----------------------------------------------------------------------


def get(conn: Connection | Session, key: int | str) -> dict[str, Any]:
    """One record by id or number; raises ComplaintError if it does not exist."""
    c = _conn(conn)
    if isinstance(key, str) and not key.isdigit():
        where = COMPLAINTS.c.number == key.strip().upper()
    else:
        where = COMPLAINTS.c.id == int(key)
    rec = c.execute(select(COMPLAINTS).where(where)).mappings().first()
    if rec is None:
        raise ComplaintError(f"no complaint record {key!r}")
    return dict(rec)


def history(conn: Connection | Session, complaint_id: int) -> list[dict[str, Any]]:
    rows = _conn(conn).execute(
        select(HISTORY).where(HISTORY.c.complaint_id == complaint_id).order_by(HISTORY.c.id)
    )
    return [dict(r) for r in rows.mappings()]


def links(conn: Connection | Session, complaint_id: int) -> list[dict[str, Any]]:
    """The record's mentions: id, relation (source, repeat, repost, copy, comment), why (note), when added."""
    rows = _conn(conn).execute(
        select(LINKS.c.mention_id, LINKS.c.relation, LINKS.c.note, LINKS.c.added_at)
        .where(LINKS.c.complaint_id == complaint_id)
        .order_by(LINKS.c.added_at, LINKS.c.mention_id)
    )
    return [dict(r) for r in rows.mappings()]


def mention_ids(conn: Connection | Session, complaint_id: int) -> list[int]:
    rows = _conn(conn).execute(
        select(LINKS.c.mention_id)
        .where(LINKS.c.complaint_id == complaint_id)
        .order_by(LINKS.c.added_at, LINKS.c.mention_id)
    )
    return [int(r[0]) for r in rows]


# --- workflow -------------------------------------------------------------------------


def _update(c: Connection, rec: dict[str, Any], values: dict[str, Any]) -> None:
    """Update ``rec`` unless someone changed its status meanwhile (then ComplaintError)."""
    res = c.execute(
        update(COMPLAINTS)
        .where(COMPLAINTS.c.id == rec["id"], COMPLAINTS.c.status == rec["status"])
        .values(**values)
    )
    if res.rowcount != 1:
        raise ComplaintError(f"{rec['number']} was changed by someone else meanwhile: reload and retry")


def change_status(
    conn: Connection | Session,
    complaint_id: int | str,
    new_status: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move a record along 待处理 → 处理中 → 已升级 → 已解决 → 已回访 → 已关闭 (validated, with history)."""
    c, now = _conn(conn), now or utcnow()
    rec = get(c, complaint_id)
    old = rec["status"]
    if new_status not in STATUSES:
        raise ComplaintError(f"unknown status {new_status!r} (one of {' '.join(STATUSES)})")
    if new_status not in TRANSITIONS[old]:
        allowed = " ".join(TRANSITIONS[old]) or "none"
        raise ComplaintError(f"{rec['number']}: cannot go from {old} to {new_status} (allowed: {allowed})")
    if new_status == "已关闭" and old in OPEN_STATUSES and not (note or "").strip():
        raise ComplaintError(f"{rec['number']}: closing an unresolved record needs a note (the reason)")
    values: dict[str, Any] = {"status": new_status, "updated_at": now}
    if new_status in ("处理中", "已升级", "已解决") and rec["first_checked_at"] is None:
        values["first_checked_at"] = now
    if new_status == "已升级":
        values["escalated_at"] = now
    elif new_status == "已解决":
        days = int((rec["sla_state"] or {}).get("callback_days") or 7)
        values.update(
            resolved_at=now,
            answered_at=rec["answered_at"] or now,
            callback_due_at=clock.callback_due(now, days),
        )
    elif new_status == "已回访":
        values["callback_done_at"] = now
    elif new_status == "已关闭":
        values["closed_at"] = now
    elif new_status == "处理中" and old in ("已解决", "已回访"):
        state = {k: v for k, v in (rec["sla_state"] or {}).items() if k != "callback_reminded"}
        values.update(
            resolved_at=None, callback_due_at=None, callback_done_at=None, sla_state=state
        )  # reopened
    _update(c, rec, values)
    write_history(
        c, rec["id"], actor=actor, action="status", field="status", old=old, new=new_status, note=note, at=now
    )
    return get(c, rec["id"])


def assign(
    conn: Connection | Session,
    complaint_id: int | str,
    *,
    assignee: str | None = None,
    team: str | None = None,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give the record to ``assignee`` and/or ``team`` (history row per changed field)."""
    if not assignee and not team:
        raise ComplaintError("assign needs an assignee or a team")
    c, now = _conn(conn), now or utcnow()
    rec = get(c, complaint_id)
    changes = {k: v for k, v in (("assignee", assignee), ("team", team)) if v and v != rec[k]}
    if changes:
        _update(c, rec, {**changes, "updated_at": now})
    for key, value in changes.items():
        write_history(
            c, rec["id"], actor=actor, action="assign", field=key, old=rec[key], new=value, note=note, at=now
        )
    return get(c, rec["id"])


def add_note(
    conn: Connection | Session,
    complaint_id: int | str,
    *,
    actor: str,
    note: str,
    answer: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Add a note; ``answer=True`` records that the customer was answered (the answer SLA)."""
    if not (note or "").strip():
        raise ComplaintError("a note needs text")
    c, now = _conn(conn), now or utcnow()
    rec = get(c, complaint_id)
    if answer and rec["answered_at"] is None:
        _update(
            c,
            rec,
            {"answered_at": now, "first_checked_at": rec["first_checked_at"] or now, "updated_at": now},
        )
    write_history(c, rec["id"], actor=actor, action="answer" if answer else "note", note=note.strip(), at=now)
    return get(c, rec["id"])


def set_urgency(
    conn: Connection | Session,
    cfg: AppConfig,
    complaint_id: int | str,
    urgency: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change the urgency and recompute the SLA deadlines from the registration time."""
    if rank(urgency) == 0:
        raise ComplaintError(f"unknown urgency {urgency!r} (非常紧急 紧急 一般)")
    c, now = _conn(conn), now or utcnow()
    rec = get(c, complaint_id)
    if rec["urgency"] == urgency:
        return rec
    due = clock.deadlines(cfg, urgency, rec["registered_at"])
    state = dict(rec["sla_state"] or {})
    for kind in ("warned", "breached"):  # a moved deadline can warn / breach again
        marks = dict(state.get(kind) or {})
        for m in REGISTRATION_MILESTONES:
            moved = due[m.due]
            if m.key in marks and (moved is None or moved >= now):  # the new deadline has not passed
                marks.pop(m.key)
        state[kind] = marks
    _update(c, rec, {"urgency": urgency, "sla_state": state, "updated_at": now, **due})
    times = "，".join(
        f"{m.title} {when.isoformat(timespec='minutes')}"
        for m in REGISTRATION_MILESTONES
        if (when := due[m.due]) is not None
    )
    write_history(
        c,
        rec["id"],
        actor=actor,
        action="urgency",
        field="urgency",
        old=rec["urgency"],
        new=urgency,
        note=f"{note + '；' if note else ''}SLA 重算：{times}",
        at=now,
    )
    return get(c, rec["id"])


def mark_reported(
    conn: Connection | Session, complaint_ids: int | list[int], *, via: str, now: datetime | None = None
) -> int:
    """Record that records were reported (an alert was queued); only the first report counts for the SLA."""
    c, now = _conn(conn), now or utcnow()
    ids = [complaint_ids] if isinstance(complaint_ids, int) else sorted(set(complaint_ids))
    done: list[int] = []
    for start in range(0, len(ids), 500):
        res = c.execute(
            update(COMPLAINTS)
            .where(COMPLAINTS.c.id.in_(ids[start : start + 500]), COMPLAINTS.c.reported_at.is_(None))
            .values(reported_at=now, updated_at=now)
            .returning(COMPLAINTS.c.id)
        )
        done += [int(r[0]) for r in res]
    if done:
        c.execute(
            insert(HISTORY),
            [
                {
                    "complaint_id": cid,
                    "at": now,
                    "actor": SYSTEM,
                    "action": "reported",
                    "field": None,
                    "old": None,
                    "new": None,
                    "note": f"已上报：{via}",
                }
                for cid in done
            ],
        )
    return len(done)


# --- verdict corrections: training labels from the complaint team ------------------------

VERDICT_ACTION = "verdict"
CATEGORIES: tuple[str, ...] = (
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
)


def correct_verdict(
    conn: Connection | Session,
    key: int | str,
    *,
    actor: str,
    not_complaint: bool = False,
    category: str | None = None,
    urgency: str | None = None,
    cfg: AppConfig | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Mark a record 误报 (not a complaint; an open record is closed), correct its category or its urgency.

    Each correction is a ``verdict`` row in the record's history: ``yuqing complaints
    export-labels`` turns them into training labels for the complaint model. A corrected
    urgency moves the SLA deadlines as :func:`set_urgency` does (recomputed from the
    registration time, RUBRIC: the deadlines follow the urgency); it needs ``cfg`` for them.
    """
    c = _conn(conn)
    rec = get(c, key)
    now = now or utcnow()
    if not not_complaint and category is None and urgency is None:
        raise ComplaintError("say what is wrong: --not-complaint (误报), --category or --urgency")
    if category is not None and category not in CATEGORIES:
        raise ComplaintError(f"unknown category {category!r} (one of {' '.join(CATEGORIES)})")
    if urgency is not None and rank(urgency) == 0:
        raise ComplaintError(f"unknown urgency {urgency!r} (非常紧急 紧急 一般)")
    if urgency is not None and cfg is None:
        raise ValueError("correct_verdict(urgency=...) needs cfg for the SLA deadlines")
    if category is not None and category != rec["category"]:
        _update(c, rec, {"category": category, "updated_at": now})
        write_history(
            c,
            rec["id"],
            actor=actor,
            action=VERDICT_ACTION,
            field="category",
            old=rec["category"],
            new=category,
            note=note,
            at=now,
        )
        rec = get(c, rec["id"])
    if urgency is not None and urgency != rec["urgency"]:
        assert cfg is not None
        write_history(
            c,
            rec["id"],
            actor=actor,
            action=VERDICT_ACTION,
            field="urgency",
            old=rec["urgency"],
            new=urgency,
            note=note,
            at=now,
        )
        rec = set_urgency(c, cfg, rec["id"], urgency, actor=actor, note="纠正判定", now=now)
    if not_complaint:
        write_history(
            c,
            rec["id"],
            actor=actor,
            action=VERDICT_ACTION,
            field="is_complaint",
            old="true",
            new="false",
            note=note or "误报",
            at=now,
        )
        if rec["status"] in OPEN_STATUSES:
            rec = change_status(
                c, rec["id"], "已关闭", actor=actor, note=f"误报{'：' + note if note else ''}", now=now
            )
        if rec.get("event_id"):
            mute_event(c, int(rec["event_id"]), actor=actor, number=str(rec["number"]), now=now)
    return get(c, rec["id"])


def mute_event(conn: Connection, event_id: int, *, actor: str, number: str, now: datetime) -> None:
    """A 误报 mark silences the rest of the event's immediate alerts (``alert_state.muted``)."""

    events = EVENTS
    state = conn.execute(select(events.c.alert_state).where(events.c.id == event_id)).scalar()
    state = dict(state) if isinstance(state, dict) else {}
    state["muted"] = {"at": now.isoformat(), "by": actor, "record": number}
    conn.execute(update(events).where(events.c.id == event_id).values(alert_state=state, updated_at=now))


def training_labels(conn: Connection | Session) -> list[dict[str, Any]]:
    """Labelled records (RUBRIC format) from every corrected verdict: the record's mentions, with
    is_complaint false for 误报, else the record's category and urgency (as corrected, if they were)."""

    c = _conn(conn)
    mentions = MENTIONS
    rows = c.execute(
        select(HISTORY).where(HISTORY.c.action == VERDICT_ACTION).order_by(HISTORY.c.id)
    ).mappings()
    latest: dict[int, dict[str, str | None]] = {}
    for h in rows:
        latest.setdefault(int(h["complaint_id"]), {})[str(h["field"])] = h["new"]
    out: list[dict[str, Any]] = []
    for cid, fields in sorted(latest.items()):
        rec = get(c, cid)
        negative = fields.get("is_complaint") == "false"
        ids = mention_ids(c, cid)
        if not ids:
            continue
        for m in c.execute(select(mentions).where(mentions.c.id.in_(ids)).order_by(mentions.c.id)).mappings():
            if not (m["text"] or "").strip():
                continue
            out.append(
                {
                    "id": f"{rec['number']}-{m['id']}",
                    "platform": m["platform"],
                    "brand": m["brand"],
                    "text": m["text"],
                    "author_followers": int(m["author_followers"] or 0),
                    "likes": int(m["likes"] or 0),
                    "comments": int(m["comments"] or 0),
                    "shares": int(m["shares"] or 0),
                    "is_complaint": not negative,
                    "category": None if negative else rec["category"],
                    "urgency": None if negative else rec["urgency"],
                }
            )
    return out
