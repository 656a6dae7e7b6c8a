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

Notices are not sent one by one: a sweep that finds a hundred due records must not post a
hundred messages. Each notice is held (``alert_holds``, kind ``sla``) in its record's
transaction, and :func:`flush_notices`, at the end of every sweep, turns the held notices of a
brand and channel into one message: a single notice keeps the one-record message, several
become a list (counts per kind, the most pressing first, each with its record's page). A group
goes out at once when it holds a 非常紧急 record's notice, otherwise at most every
``[complaints].sla_notice_minutes``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
from alerts.delivery.outbox import enqueue, release_holds
from alerts.rules import rank
from crawler.clock import utcnow
from crawler.storage.models import ALERT_HOLDS as HOLDS
from crawler.storage.models import COMPLAINTS, MENTIONS

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
    messages: int = 0  # SLA messages queued (notices are gathered per brand and channel)

    def as_dict(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "warned": self.warned,
            "breached": self.breached,
            "escalated": self.escalated,
            "callbacks": self.callbacks,
            "messages": self.messages,
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
    with engine.begin() as conn:
        stats.messages = flush_notices(conn, cfg, now)
    if stats.warned or stats.breached or stats.escalated or stats.callbacks or stats.messages:
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

    def _notify(
        self, key: str, title: str, text: str, channels: list[str], due: datetime | None = None
    ) -> None:
        """Hold the notice for this record's brand on each channel (sent by :func:`flush_notices`);
        ``due``: the deadline a warning is about (it must arrive before it)."""
        rec = self.rec
        rows = [
            {
                "kind": HOLD_KIND,
                "brand": rec["brand"] or "",
                "channel": ch,
                # the sweep's time makes a notice that fires again (a reopened record) a new one
                "ref": f"c:{rec['id']}:{self.now:%Y%m%d%H%M%S}:{key}"[:120],
                "alert_kind": "complaint_sla",
                "mention_id": rec["mention_id"],
                "complaint_id": rec["id"],
                "urgency": rec["urgency"],
                "risk": rec["risk"],
                "note": json.dumps(
                    {"key": key, "title": title, "text": text, "due": due.isoformat() if due else None},
                    ensure_ascii=False,
                ),
                "created_at": self.now,
            }
            for ch in dict.fromkeys([*self.cfg.complaints.sla_channels, *channels])
        ]
        if rows:
            ins: Any = (
                postgresql.insert(HOLDS) if self.conn.dialect.name == "postgresql" else sqlite.insert(HOLDS)
            )
            self.conn.execute(ins.on_conflict_do_nothing(index_elements=["kind", "channel", "ref"]), rows)

    def _warn(self, ms: str) -> None:
        if not self._mark("warned", ms):
            return
        column, name = MILESTONES[ms].due, MILESTONES[ms].title
        left = max(0, int((self.rec[column] - self.now).total_seconds() // 60))
        text = f"{self.rec['number']}「{name}」将于 {left} 分钟后到期（负责人 {self._owner()}）"
        self._notify(f"warn:{ms}", f"{self.rec['number']} {name}即将超时", text, [], due=self.rec[column])
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


# --- the notices, gathered -------------------------------------------------------------------------

HOLD_KIND = "sla"  # alert_holds.kind of a held SLA notice
NOTICE_TOP = 8  # notices listed in one gathered message; the rest are counted
_ORDER = ("escalate", "breach", "warn", "callback")
_LABELS = {"escalate": "升级", "breach": "已超时", "warn": "即将超时", "callback": "回访到期"}


def _sort_key(it: dict[str, Any], note: dict[str, Any]) -> tuple[int, int, int, int]:
    kind = str(note.get("key") or "").split(":", 1)[0]
    order = _ORDER.index(kind) if kind in _ORDER else len(_ORDER)
    return (order, -rank(it["urgency"]), -int(it["risk"] or 0), int(it["id"]))


def _due(
    conn: Connection,
    cfg: AppConfig,
    brand: str,
    channel: str,
    group: list[dict[str, Any]],
    notes: dict[int, dict[str, Any]],
    now: datetime,
) -> bool:
    """A group goes out when it holds a 非常紧急 record's notice, when waiting for the next slot
    would deliver a warning after its deadline, or when the brand's last SLA message to the channel
    is ``[complaints].sla_notice_minutes`` old (or there was none)."""
    period = timedelta(minutes=cfg.complaints.sla_notice_minutes)
    if not period or any(it["urgency"] == "非常紧急" for it in group):
        return True
    last = conn.execute(
        select(func.max(HOLDS.c.flushed_at)).where(
            HOLDS.c.kind == HOLD_KIND,
            HOLDS.c.brand == brand,
            HOLDS.c.channel == channel,
            HOLDS.c.alert_id.is_not(None),
        )
    ).scalar()
    if last is None:
        return True
    slot = _aware(last) + period
    if slot <= now:
        return True
    for note in notes.values():
        due = note.get("due")
        if due and datetime.fromisoformat(due) <= slot:
            return True
    return False


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _superseded(group: list[dict[str, Any]], notes: dict[int, dict[str, Any]]) -> set[int]:
    """Warnings whose breach is in the same group: the breach says it, the warning would be stale."""
    breached = {
        (it["complaint_id"], str(notes[it["id"]].get("key") or "").split(":", 1)[1])
        for it in group
        if str(notes[it["id"]].get("key") or "").startswith("breach:")
    }
    return {
        it["id"]
        for it in group
        if str(notes[it["id"]].get("key") or "").startswith("warn:")
        and (it["complaint_id"], str(notes[it["id"]]["key"]).split(":", 1)[1]) in breached
    }


def flush_notices(conn: Connection, cfg: AppConfig, now: datetime, *, force: bool = False) -> int:
    """Queue one message per brand and channel for the held SLA notices that are due (``force``: all);
    a single notice keeps the one-record message, several become a list. Returns messages queued.
    Each group is its own savepoint: one that fails is logged and retried by the next sweep."""
    stmt = select(HOLDS).where(HOLDS.c.kind == HOLD_KIND, HOLDS.c.flushed_at.is_(None)).order_by(HOLDS.c.id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(stmt).mappings():
        groups[(row["brand"], row["channel"])].append(dict(row))
    queued = 0
    for (brand, channel), group in sorted(groups.items()):
        notes = {it["id"]: _note(it) for it in group}
        if not (force or _due(conn, cfg, brand, channel, group, notes, now)):
            continue
        try:
            with conn.begin_nested():
                queued += _send(conn, cfg, brand, channel, group, notes, now)
        except Exception:  # boundary: one group must not hold back the others
            logger.exception("SLA notices of {} for channel {} could not be queued", brand or "-", channel)
    return queued


def _send(
    conn: Connection,
    cfg: AppConfig,
    brand: str,
    channel: str,
    group: list[dict[str, Any]],
    notes: dict[int, dict[str, Any]],
    now: datetime,
) -> int:
    stale = _superseded(group, notes)
    shown = sorted(
        (it for it in group if it["id"] not in stale), key=lambda it: _sort_key(it, notes[it["id"]])
    )
    if len(shown) == 1:
        payload = _single(conn, cfg, shown[0], notes[shown[0]["id"]])
    else:
        payload = _gathered(conn, cfg, brand, shown, notes)
    one = shown[0] if len(shown) == 1 else None
    alert_id = enqueue(
        conn,
        cfg,
        kind="complaint_sla",
        dedup_key=f"sla:{channel}:{shown[0]['id']}-{shown[-1]['id']}-{len(shown)}",
        title=payload["title"],
        payload=payload,
        channels=[channel],
        brand=brand or None,
        complaint_id=one["complaint_id"] if one else None,
        mention_id=one["mention_id"] if one else None,
        urgency=payload["urgency"],
        risk=max((int(it["risk"] or 0) for it in shown), default=0),
    )
    if alert_id is None:
        logger.warning(
            "SLA notices of {} for channel {}: already queued, not sent again", brand or "-", channel
        )
    release_holds(conn, [it["id"] for it in group], alert_id, now)
    return int(alert_id is not None)


def _note(it: dict[str, Any]) -> dict[str, Any]:
    try:
        note = json.loads(it["note"] or "{}")
    except ValueError:
        note = {}
    return note if isinstance(note, dict) else {}


def _single(conn: Connection, cfg: AppConfig, it: dict[str, Any], note: dict[str, Any]) -> dict[str, Any]:
    """The one-record message: the notice with the record and its mention."""
    rec = conn.execute(select(COMPLAINTS).where(COMPLAINTS.c.id == it["complaint_id"])).mappings().first()
    m = None
    if rec is not None and rec["mention_id"]:
        row = conn.execute(select(MENTIONS).where(MENTIONS.c.id == rec["mention_id"])).mappings().first()
        m = dict(row) if row else None
    number = rec["number"] if rec is not None else None
    payload = {
        "kind": "complaint_sla",
        "title": str(note.get("title") or "客诉时限提醒"),
        "brand": it["brand"] or None,
        "urgency": it["urgency"],
        "risk": it["risk"],
        "reasons": list(rec["reasons"] or []) if rec is not None else [],
        "text": str(note.get("text") or ""),
        "mention": payloads.mention_part(m) if m else None,
        "event": None,
        "complaint": payloads.complaint_part(dict(rec)) if rec is not None else None,
        "links": payloads.links(cfg, complaint_number=number),
    }
    return payload


def _gathered(
    conn: Connection,
    cfg: AppConfig,
    brand: str,
    group: list[dict[str, Any]],
    notes: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Several notices of one brand for one channel: counts per kind, then the most pressing ones."""
    kinds = Counter(str(notes[it["id"]].get("key") or "").split(":", 1)[0] for it in group)
    records = {it["complaint_id"] for it in group}
    counts = "，".join(f"{_LABELS[k]} {kinds[k]} 条" for k in _ORDER if kinds[k])
    shown = group[:NOTICE_TOP]
    numbers = {
        r.id: r.number
        for r in conn.execute(
            select(COMPLAINTS.c.id, COMPLAINTS.c.number).where(
                COMPLAINTS.c.id.in_(sorted({it["complaint_id"] for it in shown if it["complaint_id"]}))
            )
        )
    }
    items = [
        {
            "note": (f"【{it['urgency']}】" if it["urgency"] else "")
            + str(notes[it["id"]].get("text") or notes[it["id"]].get("title") or ""),
            "brand": it["brand"],
            "urgency": it["urgency"],
            "risk": it["risk"],
            "link": payloads.links(cfg, complaint_number=numbers.get(it["complaint_id"]))["dashboard"]
            if numbers.get(it["complaint_id"])
            else None,
        }
        for it in shown
    ]
    more = len(group) - len(shown)
    text = f"{len(records)} 张客诉单有 {len(group)} 条时限提醒：{counts}。" + (
        f"以下为最紧迫的 {len(shown)} 条，其余 {more} 条见看板。" if more else ""
    )
    levels = Counter(
        it["urgency"] for it in {it["complaint_id"]: it for it in group}.values() if it["urgency"]
    )
    facts = [["客诉单", f"{len(records)} 张"]]
    level_line = payloads.levels_fact(levels)
    if level_line:
        facts.append(level_line)
    return payloads.list_payload(
        cfg,
        "complaint_sla",
        f"{len(group)} 条客诉时限提醒",
        brand or None,
        text,
        facts,
        items,
        total=len(group),
    )
