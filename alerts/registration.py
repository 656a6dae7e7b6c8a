"""Complaint registration for a triage batch, in the crawl's transaction, in a few statements.

Each mention the rubric calls a complaint with ``risk >= [complaints].min_risk`` gets a
record (number, customer with tags from history, category, urgency, assignee/team, SLA
deadlines, registration latency), unless the same customer has an open record about the same
problem (same category or same event, within ``repeat_window_days``): then it joins it and may
raise its urgency. Seed 003: a customer with escalation history raises the urgency one level.
New records of a batch are numbered, inserted, linked and logged in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import insert, select, update

from alerts import clock, customers
from alerts.complaints import (
    COMPLAINTS,
    HISTORY,
    LINKS,
    OPEN_STATUSES,
    SYSTEM,
    get,
    next_numbers,
    pick_assignee,
    set_urgency,
    write_history,
)
from alerts.payloads import masked_excerpt
from alerts.rules import rank, urgency_of_rank
from crawler.storage.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from crawler.config import AppConfig

Key = tuple[str, str, str]  # brand, platform, author id


def eligible(cfg: AppConfig, m: dict[str, Any]) -> bool:
    """Whether the rubric calls ``m`` a complaint above ``[complaints].min_risk``."""
    return (cfg.complaints.enabled and bool(m.get("is_complaint"))
            and int(m.get("risk") or 0) >= cfg.complaints.min_risk)


def base_urgency(m: dict[str, Any]) -> str:
    """The analysed urgency, else the risk band (RUBRIC.md); Heimao complaints are at least 紧急."""
    urgency = m.get("urgency")
    if rank(urgency) == 0:
        risk = int(m.get("risk") or 0)
        urgency = "非常紧急" if risk >= 80 else "紧急" if risk >= 60 else "一般"
    if m.get("platform") == "heimao" and rank(urgency) < 2:
        urgency = "紧急"
    return str(urgency)


def summary(m: dict[str, Any], category: str | None) -> str:
    """A one-line Chinese summary from the PII-masked text."""
    name = m.get("author_name") or "匿名用户"
    excerpt = masked_excerpt(m, 80)
    where = customers.PLATFORM_NAMES.get(m.get("platform") or "", m.get("platform") or "")
    return f"{where}用户「{name}」反映{category or '其他'}问题：{excerpt}"


@dataclass(slots=True)
class Registration:
    """What happened to one mention: a new record, or joined to an open one."""

    complaint: dict[str, Any]
    created: bool
    urgency_raised: bool = False


@dataclass(slots=True)
class _Pending:
    values: dict[str, Any]
    mentions: list[int] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def _key(m: dict[str, Any]) -> Key | None:
    return (m["brand"], m["platform"], str(m["author_id"])) if m.get("author_id") else None


def registered_mentions(conn: Connection, mention_ids: list[int]) -> set[int]:
    out: set[int] = set()
    for start in range(0, len(mention_ids), 500):
        chunk = mention_ids[start:start + 500]
        out.update(int(r[0]) for r in conn.execute(select(LINKS.c.mention_id).where(LINKS.c.mention_id.in_(chunk))))
    return out


class _Batch:
    def __init__(self, conn: Connection, cfg: AppConfig, now: datetime) -> None:
        self.conn, self.cfg, self.now = conn, cfg, now
        self.profiles: dict[tuple[str, str], customers.Profile] = {}
        self.open: dict[Key, list[dict[str, Any] | _Pending]] = defaultdict(list)
        self.pending: list[_Pending] = []
        self.deltas: dict[tuple[str, str], list[Any]] = {}  # (platform, author) -> [complaints, escalations, tags]
        self.out: dict[int, Registration] = {}
        self.joined: dict[int, tuple[_Pending, bool]] = {}

    def prefetch(self, todo: list[dict[str, Any]]) -> None:
        people = {(m["platform"], str(m["author_id"])) for m in todo if m.get("author_id")}
        self.profiles = customers.profiles(self.conn, people)
        keys = {k for m in todo if (k := _key(m))}
        if not keys:
            return
        since = self.now - timedelta(days=self.cfg.complaints.repeat_window_days)
        c = COMPLAINTS.c
        for platform in {k[1] for k in keys}:
            ids = sorted({k[2] for k in keys if k[1] == platform})
            for start in range(0, len(ids), 500):
                rows = self.conn.execute(select(COMPLAINTS).where(
                    c.customer_platform == platform, c.customer_id.in_(ids[start:start + 500]),
                    c.status.in_(OPEN_STATUSES), c.registered_at >= since,
                ).order_by(c.registered_at.desc(), c.id.desc())).mappings()
                for r in rows:
                    self.open[(r["brand"], platform, r["customer_id"])].append(dict(r))

    def _match(self, m: dict[str, Any]) -> dict[str, Any] | _Pending | None:
        key = _key(m)
        for rec in self.open.get(key, []) if key else []:
            values = rec.values if isinstance(rec, _Pending) else rec
            if values["category"] == (m.get("category") or "其他") or (
                    m.get("event_id") and values["event_id"] == m.get("event_id")):
                return rec
        return None

    def _delta(self, m: dict[str, Any], *, complaint: bool, escalation: bool, tags: list[str]) -> None:
        if not m.get("author_id"):
            return
        who = (m["platform"], str(m["author_id"]))
        d = self.deltas.setdefault(who, [0, 0, tags])
        d[0] += int(complaint)
        d[1] += int(escalation)
        d[2] = tags
        prof = self.profiles.setdefault(who, customers.Profile())
        prof.complaints += int(complaint)
        prof.escalations += int(escalation)
        if complaint:
            prof.platforms[m["platform"]] = prof.platforms.get(m["platform"], 0) + 1

    def add(self, m: dict[str, Any]) -> None:
        rec = self._match(m)
        if rec is None:
            self._new(m)
        elif isinstance(rec, _Pending):
            self._join_pending(rec, m)
        else:
            self._join_existing(rec, m)

    def _new(self, m: dict[str, Any]) -> None:
        author = str(m["author_id"]) if m.get("author_id") else None
        prof = self.profiles.get((m["platform"], author or ""), customers.Profile())
        escalating = customers.is_escalation(m)
        urgency, reasons = base_urgency(m), list(m.get("reasons") or [])
        if prof.escalations and rank(urgency) < 3:
            urgency = str(urgency_of_rank(rank(urgency) + 1))
            reasons.append("客户有升级投诉史，紧急程度上调一级")
        big_v = int(m.get("author_followers") or 0) >= self.cfg.analysis.big_v_followers
        tags = prof.tags(m["platform"], escalating_now=escalating, big_v=big_v)
        category = m.get("category") or "其他"
        assignee, team = pick_assignee(self.cfg, category=category, urgency=urgency, platform=m["platform"],
                                       brand=m["brand"])
        fetched = m.get("fetched_at") or m.get("first_seen_at")
        values = {
            "number": None, "brand": m["brand"], "platform": m["platform"], "mention_id": m["id"],
            "event_id": m.get("event_id"), "customer_platform": m["platform"] if author else None,
            "customer_id": author, "customer_name": m.get("author_name"), "customer_tags": tags,
            "category": category, "urgency": urgency, "risk": int(m.get("risk") or 0), "reasons": reasons,
            "summary": summary(m, category), "assignee": assignee, "team": team, "status": "待处理",
            "registered_at": self.now, "source_fetched_at": fetched, "registration_latency_s": None,
            "escalation_level": 0, "updated_at": self.now,
            "sla_state": {"callback_days": self.cfg.complaints.callback_days, "clock": self.cfg.complaints.clock},
            **clock.deadlines(self.cfg, urgency, self.now),
        }
        where = customers.PLATFORM_NAMES.get(m["platform"], m["platform"])
        p = _Pending(values, [m["id"]], [{"action": "registered", "field": "status", "old": None, "new": "待处理",
                                          "note": f"自动登记：{where} 帖子 #{m['id']}，分派 {team or '-'} / "
                                                  f"{assignee or '-'}"}])
        self.pending.append(p)
        if (key := _key(m)) is not None:
            self.open[key].insert(0, p)
        self._delta(m, complaint=True, escalation=escalating, tags=tags)

    def _raised(self, m: dict[str, Any], current: str) -> str | None:
        wanted = base_urgency(m)
        if customers.is_escalation(m) and rank(wanted) < 3:
            wanted = "非常紧急"  # seed 003: escalation now + strong opinion on an open record
        return wanted if rank(wanted) > rank(current) else None

    def _join_pending(self, p: _Pending, m: dict[str, Any]) -> None:
        v = p.values
        p.mentions.append(m["id"])
        p.history.append({"action": "merged", "field": "mention", "old": None, "new": str(m["id"]),
                          "note": "同一客户就同一问题再次发帖，已并入本记录"})
        v["risk"] = max(v["risk"], int(m.get("risk") or 0))
        wanted = self._raised(m, v["urgency"])
        if wanted:
            p.history.append({"action": "urgency", "field": "urgency", "old": v["urgency"], "new": wanted,
                              "note": "重复投诉，紧急程度上调；SLA 重算"})
            v["urgency"] = wanted
            v.update(clock.deadlines(self.cfg, wanted, v["registered_at"]))
        self.joined[m["id"]] = (p, bool(wanted))
        self._delta(m, complaint=False, escalation=customers.is_escalation(m), tags=v["customer_tags"])

    def _join_existing(self, rec: dict[str, Any], m: dict[str, Any]) -> None:
        c = self.conn
        c.execute(insert(LINKS), {"complaint_id": rec["id"], "mention_id": m["id"], "added_at": self.now})
        write_history(c, rec["id"], actor=SYSTEM, action="merged", field="mention", new=m["id"], at=self.now,
                      note="同一客户就同一问题再次发帖，已并入本记录")
        c.execute(update(COMPLAINTS).where(COMPLAINTS.c.id == rec["id"]).values(
            risk=max(int(rec["risk"] or 0), int(m.get("risk") or 0)), updated_at=self.now))
        wanted = self._raised(m, rec["urgency"])
        if wanted:
            set_urgency(c, self.cfg, rec["id"], wanted, actor=SYSTEM, note="重复投诉，紧急程度上调", now=self.now)
        rec.update(get(c, rec["id"]))
        self.out[m["id"]] = Registration(dict(rec), created=False, urgency_raised=bool(wanted))
        self._delta(m, complaint=False, escalation=customers.is_escalation(m), tags=list(rec["customer_tags"] or []))

    def finish(self) -> dict[int, Registration]:
        if self.pending:
            self._insert()
        customers.record_many(self.conn, self.deltas, self.now)
        return self.out

    def _insert(self) -> None:
        c = self.conn
        numbers = next_numbers(c, self.cfg, self.now, len(self.pending))
        done = utcnow()
        rows = []
        for p, number in zip(self.pending, numbers, strict=True):
            v = p.values
            v["number"] = number
            if v["source_fetched_at"] is not None:
                v["registration_latency_s"] = (done - v["source_fetched_at"]).total_seconds()
            rows.append(v)
        ids = c.execute(insert(COMPLAINTS).returning(COMPLAINTS.c.id, sort_by_parameter_order=True), rows).scalars()
        links, history = [], []
        for p, cid in zip(self.pending, ids, strict=True):
            p.values["id"] = int(cid)
            links += [{"complaint_id": cid, "mention_id": mid, "added_at": self.now} for mid in p.mentions]
            history += [{"complaint_id": cid, "at": self.now, "actor": SYSTEM, **h} for h in p.history]
            reg = Registration(p.values, created=True)
            self.out[p.mentions[0]] = reg
        for mid, (p, raised) in self.joined.items():
            self.out[mid] = Registration(p.values, created=False, urgency_raised=raised)
        c.execute(insert(LINKS), links)
        c.execute(insert(HISTORY), history)
        logger.info("{n} complaint record(s) registered: {first}…{last}", n=len(rows), first=numbers[0],
                    last=numbers[-1])


def register_mentions(conn: Connection, cfg: AppConfig, mentions: list[dict[str, Any]], *,
                      now: datetime) -> dict[int, Registration]:
    """Register (or join) every eligible mention not registered yet; returns them by mention id."""
    todo = [m for m in mentions if eligible(cfg, m)]
    if not todo:
        return {}
    done = registered_mentions(conn, [m["id"] for m in todo])
    todo = sorted((m for m in todo if m["id"] not in done), key=lambda x: x["id"])
    batch = _Batch(conn, cfg, now)
    batch.prefetch(todo)
    for m in todo:
        batch.add(m)
    return batch.finish()
