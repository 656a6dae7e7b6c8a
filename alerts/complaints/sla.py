"""SLA policy and the sweeper: warnings before deadlines, breaches, escalation levels, callbacks.

Policy (``[complaints]``): per urgency, minutes to report, first check, answer and resolve
(or escalate), on calendar time or business hours (``alerts/complaints/clock.py``); defaults from the
seeds. :func:`sweep` (``yuqing complaints sweep``, also scheduled) looks at open records:
``warn_before_minutes`` before a deadline it warns once, when the record is overdue on a
milestone (``alerts.complaints.model``: the deadline has passed, the milestone is unmet) it
marks the breach once, and ``after_breach_minutes`` after the first breach it escalates to
each configured level once (status 已升级, optional new assignee/team, alerts to the level's
channels). A resolved record's callback (回访) reminder goes out once when it is overdue. Alerts are
``kind="complaint_sla"`` to ``sla_channels`` (+ the level's channels); state is kept in
``complaints.sla_state`` so every notice is sent once, even with two sweepers running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, Engine

from alerts.complaints import records as complaints
from alerts.complaints.clock import add_minutes, business_add, callback_due, deadlines
from alerts.complaints.model import (
    MILESTONES,
    OPEN_STATUSES,
    REGISTRATION_MILESTONES,
    done_at,
    due_soon_on,
    overdue_on,
    overdue_on_clause,
    runs,
)
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue
from crawler.storage.models import COMPLAINTS, MENTIONS
from crawler.storage.types import utcnow

if TYPE_CHECKING:
    from crawler.config import AppConfig

__all__ = [
    "SweepStats",
    "add_minutes",
    "business_add",
    "callback_due",
    "deadlines",
    "milestone_status",
    "sweep",
]

ACTOR = "system:sla"


@dataclass(slots=True)
class SweepStats:
    checked: int = 0
    warned: int = 0
    breached: int = 0
    escalated: int = 0
    callbacks: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "warned": self.warned,
            "breached": self.breached,
            "escalated": self.escalated,
            "callbacks": self.callbacks,
        }


def milestone_status(rec: dict[str, Any], now: datetime, warn_minutes: int = 0) -> dict[str, str]:
    """Per milestone with a deadline that is met or whose clock runs in the record's status:
    done | overdue | due_soon | pending (overdue and due soon as ``alerts.complaints.model`` defines them)."""
    out: dict[str, str] = {}
    for ms, m in MILESTONES.items():
        if rec.get(m.due) is None:
            continue
        if done_at(rec, ms) is not None:
            out[ms] = "done"
        elif not runs(rec, ms):
            continue
        elif overdue_on(rec, ms, now):
            out[ms] = "overdue"
        elif due_soon_on(rec, ms, now, warn_minutes):
            out[ms] = "due_soon"
        else:
            out[ms] = "pending"
    return out


def _candidates(conn: Connection, horizon: datetime, now: datetime) -> list[int]:
    c = COMPLAINTS.c
    due_cols = [COMPLAINTS.c[m.due] <= horizon for m in REGISTRATION_MILESTONES]
    stmt = (
        select(c.id)
        .where(or_(c.status.in_(OPEN_STATUSES) & or_(*due_cols), overdue_on_clause("callback", now)))
        .order_by(c.id)
    )
    return [int(r[0]) for r in conn.execute(stmt)]


def _lock(conn: Connection, complaint_id: int) -> dict[str, Any] | None:
    stmt = select(COMPLAINTS).where(COMPLAINTS.c.id == complaint_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rec = conn.execute(stmt).mappings().first()
    return dict(rec) if rec else None


def sweep(engine: Engine, cfg: AppConfig, *, now: datetime | None = None) -> SweepStats:
    """One pass over the records with a deadline within the warning horizon (each in its own transaction)."""
    now = now or utcnow()
    stats = SweepStats()
    horizon = now + timedelta(minutes=cfg.complaints.warn_before_minutes)
    with engine.connect() as conn:
        ids = _candidates(conn, horizon, now)
    for cid in ids:
        with engine.begin() as conn:
            rec = _lock(conn, cid)
            if rec is None:
                continue  # another sweeper holds it
            stats.checked += 1
            _Sweeper(conn, cfg, rec, now, stats).run()
    if stats.warned or stats.breached or stats.escalated or stats.callbacks:
        logger.info("SLA sweep: {s}", s=stats.as_dict())
    return stats


class _Sweeper:
    """The SLA checks of one record, in one transaction."""

    def __init__(
        self, conn: Connection, cfg: AppConfig, rec: dict[str, Any], now: datetime, stats: SweepStats
    ) -> None:
        self.conn, self.cfg, self.rec, self.now, self.stats = conn, cfg, rec, now, stats
        self.state: dict[str, Any] = dict(rec["sla_state"] or {})
        self.dirty = False

    def run(self) -> None:
        if self.rec["status"] == "已解决":
            self._callback()
        else:
            status = milestone_status(self.rec, self.now, self.cfg.complaints.warn_before_minutes)
            for ms, st in status.items():
                if st == "due_soon":
                    self._warn(ms)
                elif st == "overdue":
                    self._breach(ms)
            self._escalate()
        if self.dirty:
            self.conn.execute(
                update(COMPLAINTS)
                .where(COMPLAINTS.c.id == self.rec["id"])
                .values(sla_state=self.state, updated_at=self.now)
            )

    def _mark(self, kind: str, ms: str) -> bool:
        marks = dict(self.state.get(kind) or {})
        if ms in marks:
            return False
        marks[ms] = self.now.isoformat()
        self.state[kind] = marks
        self.dirty = True
        return True

    def _notify(self, key: str, title: str, text: str, channels: list[str]) -> None:
        rec = self.rec
        m = None
        if rec["mention_id"]:
            row = (
                self.conn.execute(select(MENTIONS).where(MENTIONS.c.id == rec["mention_id"]))
                .mappings()
                .first()
            )
            m = dict(row) if row else None
        payload = {
            "kind": "complaint_sla",
            "title": title,
            "brand": rec["brand"],
            "urgency": rec["urgency"],
            "risk": rec["risk"],
            "reasons": list(rec["reasons"] or []),
            "text": text,
            "mention": payloads.mention_part(m) if m else None,
            "event": None,
            "complaint": payloads.complaint_part(rec),
            "links": payloads.links(self.cfg, complaint_number=rec["number"]),
        }
        enqueue(
            self.conn,
            self.cfg,
            kind="complaint_sla",
            dedup_key=f"complaint:{rec['id']}:{key}",
            title=title,
            payload=payload,
            channels=list(dict.fromkeys([*self.cfg.complaints.sla_channels, *channels])),
            brand=rec["brand"],
            complaint_id=rec["id"],
            mention_id=rec["mention_id"],
            urgency=rec["urgency"],
            risk=rec["risk"],
        )

    def _warn(self, ms: str) -> None:
        if not self._mark("warned", ms):
            return
        column, name = MILESTONES[ms].due, MILESTONES[ms].title
        left = max(0, int((self.rec[column] - self.now).total_seconds() // 60))
        text = f"{self.rec['number']}「{name}」将于 {left} 分钟后到期（负责人 {self._owner()}）"
        self._notify(f"warn:{ms}", f"{self.rec['number']} {name}即将超时", text, [])
        complaints.write_history(
            self.conn,
            self.rec["id"],
            actor=ACTOR,
            action="sla_warning",
            field=ms,
            new=self.rec[column].isoformat(),
            note=text,
            at=self.now,
        )
        self.stats.warned += 1

    def _breach(self, ms: str) -> None:
        if not self._mark("breached", ms):
            return
        column, name = MILESTONES[ms].due, MILESTONES[ms].title
        text = f"{self.rec['number']}「{name}」已超时（时限 {self._local(self.rec[column])}，负责人 {self._owner()}）"
        self._notify(f"breach:{ms}", f"{self.rec['number']} {name}已超时", text, [])
        complaints.write_history(
            self.conn,
            self.rec["id"],
            actor=ACTOR,
            action="breach",
            field=ms,
            new=self.rec[column].isoformat(),
            note=text,
            at=self.now,
        )
        self.stats.breached += 1

    def _escalate(self) -> None:
        breached = self.state.get("breached") or {}
        if not breached:
            return
        first = min(datetime.fromisoformat(v) for v in breached.values())
        done = list(self.state.get("escalated") or [])
        for i, level in enumerate(self.cfg.complaints.escalation):
            if level.name in done or self.now < first + timedelta(minutes=level.after_breach_minutes):
                continue
            self._escalate_to(i + 1, level)
            done.append(level.name)
            self.state["escalated"] = done
            self.dirty = True

    def _escalate_to(self, number: int, level: Any) -> None:
        rec = self.rec
        if rec["status"] in ("待处理", "处理中"):
            complaints.change_status(
                self.conn,
                rec["id"],
                "已升级",
                actor=ACTOR,
                note=f"SLA 超时自动升级至「{level.name}」",
                now=self.now,
            )
            # an automatic escalation does not meet the "resolve or escalate" clock
            self.conn.execute(
                update(COMPLAINTS)
                .where(COMPLAINTS.c.id == rec["id"])
                .values(escalated_at=rec["escalated_at"])
            )
        if level.assignee or level.team:
            complaints.assign(
                self.conn,
                rec["id"],
                assignee=level.assignee,
                team=level.team,
                actor=ACTOR,
                note=f"升级至「{level.name}」",
                now=self.now,
            )
        self.conn.execute(
            update(COMPLAINTS)
            .where(COMPLAINTS.c.id == rec["id"])
            .values(escalation_level=max(number, int(rec["escalation_level"] or 0)))
        )
        self.rec = complaints.get(self.conn, rec["id"])
        text = f"{rec['number']} SLA 超时，已升级至第 {number} 级「{level.name}」（负责人 {self._owner()}）"
        self._notify(
            f"escalate:{level.name}", f"{rec['number']} 超时升级至{level.name}", text, list(level.channels)
        )
        complaints.write_history(
            self.conn,
            rec["id"],
            actor=ACTOR,
            action="escalate",
            field="escalation_level",
            old=rec["escalation_level"],
            new=number,
            note=text,
            at=self.now,
        )
        self.stats.escalated += 1

    def _callback(self) -> None:
        if self.state.get("callback_reminded") or self.rec["callback_due_at"] is None:
            return
        self.state["callback_reminded"] = self.now.isoformat()
        self.dirty = True
        text = f"{self.rec['number']} 已解决满 {int((self.rec['sla_state'] or {}).get('callback_days') or 7)} 天，请回访客户"
        self._notify("callback", f"{self.rec['number']} 回访到期", text, [])
        complaints.write_history(
            self.conn,
            self.rec["id"],
            actor=ACTOR,
            action="callback_due",
            new=self.rec["callback_due_at"].isoformat(),
            note=text,
            at=self.now,
        )
        self.stats.callbacks += 1

    def _owner(self) -> str:
        return " / ".join(x for x in (self.rec.get("team"), self.rec.get("assignee")) if x) or "待分派"

    def _local(self, t: datetime) -> str:

        return t.astimezone(ZoneInfo(self.cfg.scheduler.timezone)).strftime("%m-%d %H:%M")
