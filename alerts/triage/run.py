"""Triage: turn freshly stored mentions into events, alerts and complaint records.

Called by the crawl's Store pipeline inside its transaction (in a SAVEPOINT), with
``UpsertResult.rows``; everything goes through the caller's connection. Steps: count
authors → cluster into events → register/join complaint records → detect surges →
decide alerts. One crisis = one thread: an event gets ONE immediate alert, then a new
one only when it escalates (a higher urgency, a big-V author joins, a surge); every other
matching mention is folded into the digest (``flush_digest``, run by the scheduler).

Pacing (``alerts/triage/pacing.py``): a mention first seen long after it was published is backfill
and is held for the backfill summary instead; an immediate alert over the hourly budget of
its brand and channel is held for the roll-up (a new 非常紧急 event never is). An event surge
found in the same batch as the event's alert is told in that alert, not in a second one; a
surge measured against a baseline a first crawl just brought in joins the backfill summary.
The brand's own official accounts (``rules.is_brand_voice``) never alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from alerts import rules
from alerts.complaints import customers, registration
from alerts.complaints import records as complaints
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue
from alerts.triage import events, pacing, surge
from alerts.triage.digest import flush_digest, fold
from alerts.triage.pacing import lock_brands
from alerts.triage.watch import start_from_triage
from crawler.clock import utcnow
from crawler.storage.models import EVENTS, MENTIONS

if TYPE_CHECKING:
    from alerts.complaints.registration import Registrations
    from crawler.config import AppConfig

__all__ = ["flush_digest", "load_mentions", "triage"]

_ACTIVE = ("new", "updated")


# Triage never reads the raw platform payload: leaving it out keeps a batch's memory small
# (decoding a few hundred raw JSON documents cost ~30 MB at the crawl's peak).
_TRIAGE_COLUMNS = [c for c in MENTIONS.columns if c.name != "raw"]


def load_mentions(conn: Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The mention rows for ``ids`` (in id order), as plain dicts, without the ``raw`` payload."""
    out: list[dict[str, Any]] = []
    ids = sorted(set(ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(select(*_TRIAGE_COLUMNS).where(MENTIONS.c.id.in_(chunk)).order_by(MENTIONS.c.id))
        out.extend(dict(r) for r in rows.mappings())
    return out


def triage(
    conn: Connection,
    cfg: AppConfig,
    rows: Sequence[tuple[int, str, str, str]],
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Cluster, alert on and register the mentions of ``rows`` (``UpsertResult.rows``).

    Returns counts: events (created), alerts (queued), digest (folded), complaints (new records),
    joined (repeat posts joined to an open record), surges, backfill and rollup (newly held).
    """
    now = now or utcnow()
    counts = dict.fromkeys(
        ("events", "alerts", "digest", "complaints", "joined", "surges", "backfill", "rollup", "muted"), 0
    )
    outcome = {int(r[0]): r[3] for r in rows if r[3] in _ACTIVE}
    if not outcome:
        return counts
    mentions = load_mentions(conn, list(outcome))
    lock_brands(conn, {m["brand"] for m in mentions})
    fresh = [m for m in mentions if outcome[m["id"]] == "new"]
    customers.touch(conn, fresh, now)
    assignment = events.assign(conn, cfg, mentions, now=now)
    counts["events"] = len(assignment.created)
    regs = registration.register_mentions(conn, cfg, mentions, now=now)
    counts["complaints"] = sum(r.created for r in regs.values())
    counts["joined"] = sum(not r.created for r in regs.values())
    grown = {
        m["event_id"]
        for m in fresh
        if m.get("event_id")
        and assignment.events[m["event_id"]]["mention_count"] >= cfg.alerts.surge.min_count
    }
    surges = surge.check(conn, cfg, brands={m["brand"] for m in fresh}, event_ids=grown, now=now)
    counts["surges"] = len(surges)
    decider = _Decider(conn, cfg, assignment, regs, mentions, now)
    decider.surge_of = {s.event_id: s for s in surges if s.event_id is not None}
    decider.mentions(mentions)
    decider.surges(surges)
    decider.reports(regs)
    decider.finish()
    if cfg.tracking.enabled:
        counts["tracked"] = start_from_triage(
            conn, cfg, [m for m in mentions if outcome[m["id"]] in _ACTIVE], decider.featured_first, now
        )
    counts["alerts"], counts["digest"] = decider.queued, decider.folded
    counts["backfill"], counts["rollup"] = decider.held["backfill"], decider.held["rollup"]
    counts["muted"] = decider.muted
    logger.debug("triage: {n} mention(s) → {counts}", n=len(mentions), counts=counts)
    return counts


def _top(ms: list[dict[str, Any]]) -> dict[str, Any]:
    return max(
        ms,
        key=lambda m: (
            rules.rank(m.get("urgency")),
            int(m.get("risk") or 0),
            int(m.get("author_followers") or 0),
            -m["id"],
        ),
    )


class _Decider:
    """Alert decisions for one triage batch (state per event lives in ``events.alert_state``)."""

    def __init__(
        self,
        conn: Connection,
        cfg: AppConfig,
        assignment: events.Assignment,
        regs: Registrations,
        mentions: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        self.conn, self.cfg, self.now = conn, cfg, now
        self.by_id = {m["id"]: m for m in mentions}
        self.events = assignment.events
        self.regs = regs
        self.queued = self.folded = self.muted = 0
        self.folds: dict[int, tuple[dict[str, Any], list[str], str]] = {}
        self.states: dict[int, dict[str, Any]] = {}
        self.reported: dict[str, list[int]] = {}
        self.created = assignment.created
        self.big_v = cfg.analysis.big_v_followers
        self.holds: list[pacing.Hold] = []
        self.held = {"backfill": 0, "rollup": 0}
        self.surge_of: dict[
            int, surge.Surge
        ] = {}  # event surges of this batch, told in the event's alert if any
        self.told: set[str] = set()  # surge scopes already told in an event alert
        self.featured_first: list[int] = []  # mentions featured in an event's first alert (put on watch)

    # -- helpers ---------------------------------------------------------------

    def _enqueue(
        self,
        *,
        kind: str,
        key: str,
        title: str,
        payload: dict[str, Any],
        channels: list[str],
        brand: str,
        urgency: str | None,
        m: dict[str, Any] | None = None,
        event_id: int | None = None,
        complaint_id: int | None = None,
        risk: int | None = None,
        exempt: bool = False,
        ref: str | None = None,
        note: str | None = None,
    ) -> bool:
        """Queue an immediate alert to the channels whose hourly budget has room; hold it for the others.

        ``exempt`` (a new 非常紧急 event) passes a spent budget. Returns whether it was queued anywhere.
        """
        if not channels:
            return False
        not_before = rules.quiet_until(self.cfg, self.now, urgency)
        due = not_before or self.now
        send, held = pacing.split(self.conn, self.cfg, brand, channels, due, exempt=exempt)
        for ch in held:
            self._hold(
                "rollup",
                ch,
                brand=brand,
                ref=ref or (f"m:{m['id']}" if m else key),
                alert_kind=kind,
                m=m,
                event_id=event_id,
                complaint_id=complaint_id,
                urgency=urgency,
                risk=risk,
                note=note,
            )
        if not send:
            return False
        alert_id = enqueue(
            self.conn,
            self.cfg,
            kind=kind,
            dedup_key=key,
            title=title,
            payload=payload,
            channels=send,
            brand=brand,
            event_id=event_id,
            mention_id=m["id"] if m else None,
            complaint_id=complaint_id,
            urgency=urgency,
            risk=risk,
            not_before=not_before,
        )
        if alert_id is not None:
            pacing.charge(self.conn, brand, send, due, alert_id, exempt=exempt)
            self.queued += 1
        return alert_id is not None

    def _hold(
        self,
        kind: str,
        channel: str,
        *,
        brand: str,
        ref: str,
        alert_kind: str,
        m: dict[str, Any] | None,
        event_id: int | None = None,
        complaint_id: int | None = None,
        urgency: str | None = None,
        risk: int | None = None,
        note: str | None = None,
    ) -> None:
        self.holds.append(
            pacing.Hold(
                kind=kind,
                brand=brand,
                channel=channel,
                ref=ref,
                alert_kind=alert_kind,
                mention_id=m["id"] if m else None,
                event_id=event_id if event_id is not None else (m or {}).get("event_id"),
                complaint_id=complaint_id,
                urgency=urgency if urgency is not None else (m or {}).get("urgency"),
                risk=risk if risk is not None else (m or {}).get("risk"),
                note=note,
            )
        )

    def _payload(
        self,
        kind: str,
        title: str,
        m: dict[str, Any] | None,
        e: dict[str, Any] | None,
        reasons: list[str],
        text: str | None = None,
    ) -> tuple[dict[str, Any], int | None]:
        reg = self.regs.get(m["id"]) if m else None
        comp = reg.complaint if reg else None
        p = {
            "kind": kind,
            "title": title,
            "brand": (m or e or {}).get("brand"),
            "urgency": m.get("urgency") if m else (e or {}).get("max_urgency"),
            "risk": m.get("risk") if m else (e or {}).get("max_risk"),
            "reasons": reasons,
            "mention": payloads.mention_part(m) if m else None,
            "post": payloads.thread_part(self.conn, self.cfg, m) if m else None,
            "event": self._event_part(e, m) if e else None,
            "complaint": payloads.complaint_part(comp) if comp else None,
            "links": payloads.links(
                self.cfg, mention_id=m["id"] if m else None, event_id=e["id"] if e else None
            ),
        }
        if text:
            p["text"] = text
        return p, (comp["id"] if comp else None)

    def _event_part(self, e: dict[str, Any], m: dict[str, Any] | None = None) -> dict[str, Any]:
        """The event with its speed (mentions in the last hour vs the hour before) and its top spreader."""
        single = e["id"] in self.created and int(e.get("mention_count") or 0) <= 1
        if (
            single and m is not None and m.get("event_id") == e["id"]
        ):  # its one mention is ``m``: counted here
            g = payloads.growth_of_one(m, self.now)
        else:
            g = payloads.growth(self.conn, e["id"], self.now)
        return payloads.event_part(
            e,
            "new" if single else payloads.trend_of(g),
            growth_counts=g,
            spreader=None if single else payloads.top_spreader(self.conn, e["id"]),
        )

    def _save_state(self, event_id: int, state: dict[str, Any]) -> None:
        self.states[event_id] = state
        self.events[event_id]["alert_state"] = state

    def _reported(self, complaint_id: int, via: str) -> None:
        self.reported.setdefault(via, []).append(complaint_id)

    def finish(self) -> None:
        """Write what the batch decided: event alert states, reported records, digest items."""
        if self.states:
            self.conn.execute(
                update(EVENTS)
                .where(EVENTS.c.id == bindparam("_eid"))
                .values(alert_state=bindparam("_state")),
                [{"_eid": k, "_state": v} for k, v in self.states.items()],
            )
        for via, ids in self.reported.items():
            complaints.mark_reported(self.conn, ids, via=via, now=self.now)
        self.folded += fold(self.conn, list(self.folds.values()), self.now)
        for kind in self.held:
            self.held[kind] += pacing.hold(self.conn, [h for h in self.holds if h.kind == kind], self.now)

    def _fold(self, m: dict[str, Any], channels: list[str], reason: str) -> None:
        merged = self.folds.setdefault(m["id"], (m, [], reason))
        merged[1].extend(ch for ch in channels if ch not in merged[1])

    # -- mentions ------------------------------------------------------------------

    def mentions(self, mentions: list[dict[str, Any]]) -> None:
        by_event: dict[int, list[tuple[dict[str, Any], rules.Route]]] = defaultdict(list)
        for m in mentions:
            r = rules.route(self.cfg, m)
            if pacing.is_backfill(self.cfg, m, self.now):
                for ch in [*r.immediate, *r.digest]:
                    self._hold(
                        "backfill", ch, brand=m["brand"], ref=f"m:{m['id']}", alert_kind="mention", m=m
                    )
                continue
            if r.digest:
                self._fold(m, r.digest, "摘要规则")
            if r.immediate:
                by_event[m["event_id"]].append((m, r))
        for event_id, items in sorted(by_event.items()):
            self._event(event_id, items)

    def _event(self, event_id: int, items: list[tuple[dict[str, Any], rules.Route]]) -> None:
        e = self.events[event_id]
        state = dict(e.get("alert_state") or {})
        if state.get("muted"):  # a handler marked the event's record 误报: no more immediate alerts
            self.muted += len(items)
            return
        ms = [m for m, _ in items]
        channels = list(dict.fromkeys(ch for _, r in items for ch in r.immediate))
        if not state.get("first"):
            featured: int | None = self._first(e, _top(ms), ms, channels, state)
        else:
            featured = self._escalate(e, ms, channels, state)
        for m, r in items:
            if m["id"] != featured:
                self._fold(m, r.immediate, "事件后续（已告警，未升级）")

    def _told_surge(self, e: dict[str, Any], state: dict[str, Any]) -> list[str]:
        """This batch's surge of event ``e`` as a reason, told in the event's alert instead of its own."""
        s = self.surge_of.get(e["id"])
        if s is None or s.scope in self.told:
            return []
        self.told.add(s.scope)
        state["surges"] = int(state.get("surges") or 0) + 1
        return [s.describe()]

    def _first(
        self,
        e: dict[str, Any],
        top: dict[str, Any],
        ms: list[dict[str, Any]],
        channels: list[str],
        state: dict[str, Any],
    ) -> int:
        urgency = top.get("urgency")
        title = payloads.masked_excerpt(top, 40)
        level = max(rules.rank(m.get("urgency")) for m in ms)
        payload, cid = self._payload(
            "mention", title, top, e, list(top.get("reasons") or []) + self._told_surge(e, state)
        )
        sent = self._enqueue(
            kind="mention",
            key=f"event:{e['id']}:first",
            title=title,
            payload=payload,
            channels=channels,
            brand=top["brand"],
            urgency=urgency,
            m=top,
            event_id=e["id"],
            complaint_id=cid,
            risk=top.get("risk"),
            exempt=rules.rank(urgency) >= 3,
        )
        state.update(
            first=self.now.isoformat(),
            channels=channels,
            urgency=level,
            big_v=any(int(m.get("author_followers") or 0) >= self.big_v for m in ms),
            alerts=1,
        )
        self._save_state(e["id"], state)
        if sent and cid:
            self._reported(cid, "即时告警")
        self.featured_first.append(int(top["id"]))
        return int(top["id"])

    def _escalate(
        self, e: dict[str, Any], ms: list[dict[str, Any]], channels: list[str], state: dict[str, Any]
    ) -> int | None:
        reasons: list[str] = []
        level = max(rules.rank(m.get("urgency")) for m in ms)
        featured = _top(ms)
        if level > int(state.get("urgency") or 0):
            reasons.append(f"事件升级为「{rules.urgency_of_rank(level)}」")
            featured = max(
                (m for m in ms if rules.rank(m.get("urgency")) == level), key=lambda m: m.get("risk") or 0
            )
        bigs = [m for m in ms if int(m.get("author_followers") or 0) >= self.big_v]
        if bigs and not state.get("big_v"):
            big = max(bigs, key=lambda m: int(m.get("author_followers") or 0))
            reasons.append(
                f"大V加入：{big.get('author_name') or '未知作者'}（粉丝 {big.get('author_followers')}）"
            )
            featured = featured if level > int(state.get("urgency") or 0) else big
        if not reasons:
            return None
        targets = list(dict.fromkeys([*state.get("channels", []), *channels]))
        n = int(state.get("alerts") or 1) + 1
        title = f"事件升级 · {e.get('title') or ''}"[:80]
        reached_top = (
            level > int(state.get("urgency") or 0) and level >= 3
        )  # a new 非常紧急 event: never held
        surge_note = self._told_surge(e, state)
        payload, cid = self._payload(
            "event",
            title,
            featured,
            e,
            reasons + surge_note + list(featured.get("reasons") or []),
            text="；".join(reasons),
        )
        urgency = rules.urgency_of_rank(max(level, int(state.get("urgency") or 0)))
        sent = self._enqueue(
            kind="event",
            key=f"event:{e['id']}:esc:{max(level, int(state.get('urgency') or 0))}"
            f":{int(bool(bigs) or bool(state.get('big_v')))}",
            title=title,
            payload=payload,
            channels=targets,
            brand=e["brand"],
            urgency=urgency,
            m=featured,
            event_id=e["id"],
            complaint_id=cid,
            risk=featured.get("risk"),
            exempt=reached_top,
            ref=f"e:{e['id']}:{n}",
            note="；".join(reasons),
        )
        state.update(
            channels=targets,
            alerts=n,
            urgency=max(level, int(state.get("urgency") or 0)),
            big_v=bool(bigs) or bool(state.get("big_v")),
        )
        self._save_state(e["id"], state)
        if sent and cid:
            self._reported(cid, "事件升级告警")
        return int(featured["id"])

    # -- surges and complaint reports ------------------------------------------------

    def surges(self, fired: list[surge.Surge]) -> None:
        for s in fired:
            if s.scope in self.told:
                continue
            channels = rules.surge_channels(self.cfg, s.brand)
            if self.cfg.alerts.max_age_hours > 0 and self._unwatched(s):
                for ch in channels:  # measured against a backfill, not against what we watched: summarised
                    self._hold(
                        "backfill",
                        ch,
                        brand=s.brand,
                        ref=f"s:{s.scope}:{s.fired_count}",
                        alert_kind="surge",
                        m=None,
                        note=s.describe(),
                    )
                continue
            if s.event_id is None and self._told_in_events(s):
                continue
            e = None
            if s.event_id is not None:
                e = self.events.get(s.event_id) or self._load_event(s.event_id)
                state = dict(e.get("alert_state") or {})
                channels = list(dict.fromkeys([*state.get("channels", []), *channels]))
            title = f"事件 · {e.get('title') or ''}" if e else "品牌整体声量"
            payload, _ = self._payload("surge", title[:80], None, e, [s.describe()], text=s.describe())
            payload["brand"], payload["surge"] = (
                s.brand,
                {
                    "kind": s.kind,
                    "count": s.count,
                    "negative": s.negative,
                    "mean": s.mean,
                    "std": s.std,
                    "threshold": s.threshold,
                },
            )
            key = f"surge:{s.scope}:{s.fired_count}:{self.now:%Y%m%d%H%M}"
            if (
                self._enqueue(
                    kind="surge",
                    key=key,
                    title=title[:80],
                    payload=payload,
                    channels=channels,
                    brand=s.brand,
                    urgency=(e or {}).get("max_urgency"),
                    event_id=s.event_id,
                    ref=f"s:{s.scope}:{s.fired_count}",
                    note=s.describe(),
                )
                and e is not None
            ):
                state = dict(e.get("alert_state") or {})
                state["surges"] = int(state.get("surges") or 0) + 1
                state["alerts"] = int(state.get("alerts") or 0) + 1
                self._save_state(e["id"], state)

    def _told_in_events(self, s: surge.Surge) -> bool:
        """Whether a brand surge is mostly events that have already alerted (a crisis the group just
        read about): then it is noted in the biggest of them, not sent as a message of its own."""
        window = timedelta(minutes=self.cfg.alerts.surge.window_minutes)
        c = MENTIONS.c
        rows = self.conn.execute(
            select(c.event_id, func.count())
            .where(c.brand == s.brand, c.published_at > self.now - window)
            .group_by(c.event_id)
        ).all()
        total = sum(int(n) for _, n in rows)
        others = sorted({int(e) for e, _ in rows if e is not None and e not in self.events})
        states: dict[int, Any] = {int(e): ev.get("alert_state") for e, ev in self.events.items()}
        for start in range(0, len(others), 500):  # this batch's events are newer in memory than in the table
            states.update(
                self.conn.execute(
                    select(EVENTS.c.id, EVENTS.c.alert_state).where(
                        EVENTS.c.id.in_(others[start : start + 500])
                    )
                ).all()
            )
        told = [
            (int(n), int(e)) for e, n in rows if e is not None and (states.get(int(e)) or {}).get("first")
        ]
        if not told or sum(n for n, _ in told) * 2 <= total:
            return False
        _, biggest = max(told)
        e = self.events.get(biggest) or self._load_event(biggest)
        state = dict(e.get("alert_state") or {})
        state["surges"] = int(state.get("surges") or 0) + 1
        state["brand_surges"] = [*list(state.get("brand_surges") or []), s.describe()][-5:]
        self._save_state(biggest, state)
        self.told.add(s.scope)
        logger.debug("brand surge of {} told by event {}: {}", s.brand, biggest, s.describe())
        return True

    def _unwatched(self, s: surge.Surge) -> bool:
        """Whether the surge compares against something nobody watched as it happened: the brand's first
        mention was seen within the surge window (its first crawl), or the baseline is mostly history a
        crawl just brought in (first seen more than a window after publication). Either way it is news
        about a backfill, for the backfill summary."""
        sc = self.cfg.alerts.surge
        window = timedelta(minutes=sc.window_minutes)
        c = MENTIONS.c
        watched_before = self.conn.execute(
            select(c.id).where(c.brand == s.brand, c.first_seen_at <= self.now - window).limit(1)
        ).first()
        if watched_before is None:
            return True
        hi = self.now - window
        lo = hi - timedelta(hours=sc.baseline_hours)
        scope = c.event_id == s.event_id if s.event_id is not None else c.brand == s.brand
        rows = self.conn.execute(
            select(c.published_at, c.first_seen_at).where(scope, c.published_at > lo, c.published_at <= hi)
        ).all()
        late = sum(1 for published, seen in rows if seen - published > window)
        return late * 2 > len(rows) > 0

    def _load_event(self, event_id: int) -> dict[str, Any]:
        row = self.conn.execute(select(EVENTS).where(EVENTS.c.id == event_id)).mappings().one()
        self.events[event_id] = dict(row)
        return self.events[event_id]

    def reports(self, regs: Registrations) -> None:
        """Report this batch's new (or newly raised) 紧急/非常紧急 records to ``[complaints].report_channels``.

        This is the seeds' "urgent complaints reported within 30 minutes": per brand one message
        listing the batch's records, not one message per record. The records of a 群体投诉 (an
        event with ``group_min_records`` records) are reported once, as the group: one
        "群体投诉" message when the group forms, charged once to the hourly budget; later members
        of a reported group are reported by it (no further message).
        """
        channels = self.cfg.complaints.report_channels
        picked: dict[int, tuple[int, dict[str, Any]]] = {}
        for mid, r in regs.items():
            c = r.complaint
            if rules.rank(c["urgency"]) < 2 or c["id"] in picked:
                continue
            if r.created or (r.urgency_raised and c.get("reported_at") is None):
                picked[c["id"]] = (mid, c)
        urgent = sorted(picked.values(), key=lambda x: (-rules.rank(x[1]["urgency"]), x[1]["id"]))
        if not channels or not urgent:
            return
        old = [
            (mid, c)
            for mid, c in urgent
            if mid in self.by_id and pacing.is_backfill(self.cfg, self.by_id[mid], self.now)
        ]
        for mid, c in old:  # records of backfill: listed (and reported) by the backfill summary
            for ch in channels:
                self._hold(
                    "backfill",
                    ch,
                    brand=c["brand"],
                    ref=f"c:{c['id']}",
                    alert_kind="complaint",
                    m=self.by_id[mid],
                    complaint_id=c["id"],
                    urgency=c["urgency"],
                    risk=c.get("risk"),
                )
        urgent = [x for x in urgent if x not in old]
        groups = getattr(regs, "groups", {})
        for eid, group in sorted(groups.items()):
            mine = [x for x in urgent if x[1].get("event_id") == eid]
            if mine:
                self._group_report(channels, group, mine)
        urgent = [x for x in urgent if x[1].get("event_id") not in groups]
        for brand in sorted({c["brand"] for _, c in urgent}):
            self._report(channels, [x for x in urgent if x[1]["brand"] == brand])

    def _group_report(
        self, channels: list[str], group: registration.Group, fresh: list[tuple[int, dict[str, Any]]]
    ) -> None:
        """One "群体投诉" message for an event's records (once per event); later members ride on it."""
        e = self.events.get(group.event_id) or self._load_event(group.event_id)
        state = dict(e.get("alert_state") or {})
        done = state.get("complaint_group")
        if isinstance(done, dict):  # the group was reported (or held for the roll-up) already
            if done.get("sent"):
                for _, c in fresh:
                    self._reported(c["id"], f"群体投诉（事件 #{group.event_id} 已上报）")
            else:
                for m_id, c in fresh:
                    for ch in channels:
                        self._hold(
                            "rollup",
                            ch,
                            brand=c["brand"],
                            ref=f"c:{c['id']}",
                            alert_kind="complaint",
                            m=self.by_id.get(m_id),
                            complaint_id=c["id"],
                            urgency=c["urgency"],
                            risk=c.get("risk"),
                        )
            state["complaint_group"] = {**done, "size": group.size}
            self._save_state(group.event_id, state)
            return
        members = sorted(group.members, key=lambda c: (c["registered_at"], c["id"]))
        lead = members[0]
        mid = int(lead.get("mention_id") or fresh[0][0])
        title = f"群体投诉 {group.size} 张客诉单 · {(e.get('title') or '')[:30]}"
        owner = " / ".join(x for x in (lead.get("team"), lead.get("assignee")) if x) or "-"
        listing = "；".join(f"{c['number']} {c['category']} {c['urgency']}" for c in members[:20]) + (
            f"；等共 {len(members)} 张" if len(members) > 20 else ""
        )
        text = (
            f"同一事件 {group.size} 位消费者各自投诉（事件 #{group.event_id}，共 {e.get('mention_count') or 0} 条提及），"
            f"统一分派 {owner}：{listing}"
        )
        payload, _ = self._payload(
            "complaint", title, self.by_id.get(mid), e, list(lead.get("reasons") or []), text=text
        )
        payload["complaint"] = payloads.complaint_part(lead)
        payload["urgency"] = max((c["urgency"] for c in members), key=rules.rank)
        payload["group"] = {
            "event_id": group.event_id,
            "size": group.size,
            "numbers": [c["number"] for c in members],
        }
        payload["links"] = payloads.links(self.cfg, complaint_number=lead["number"])
        send, held = pacing.split(self.conn, self.cfg, lead["brand"], channels, self.now, exempt=False)
        for ch in held:
            for c in members:
                if c.get("reported_at") is None:
                    self._hold(
                        "rollup",
                        ch,
                        brand=c["brand"],
                        ref=f"c:{c['id']}",
                        alert_kind="complaint",
                        m=self.by_id.get(int(c.get("mention_id") or 0)),
                        complaint_id=c["id"],
                        urgency=c["urgency"],
                        risk=c.get("risk"),
                    )
        alert_id = None
        if send:
            alert_id = enqueue(
                self.conn,
                self.cfg,
                kind="complaint",
                dedup_key=f"complaint-group:{group.event_id}",
                title=title,
                payload=payload,
                channels=send,
                brand=lead["brand"],
                event_id=group.event_id,
                complaint_id=lead["id"],
                mention_id=mid,
                urgency=lead["urgency"],
                risk=lead.get("risk"),
            )
        if alert_id is not None:
            pacing.charge(self.conn, lead["brand"], send, self.now, alert_id)  # one message: charged once
            self.queued += 1
            for c in members:
                self._reported(c["id"], "群体投诉")
        state["complaint_group"] = {
            "reported_at": self.now.isoformat(),
            "size": group.size,
            "sent": alert_id is not None,
            "lead": lead["number"],
        }
        self._save_state(group.event_id, state)

    def _report(self, channels: list[str], urgent: list[tuple[int, dict[str, Any]]]) -> None:
        """One report message for one brand's new urgent records (budgeted; held records join the roll-up)."""
        mid, top = urgent[0]
        many = len(urgent) > 1
        title = (
            f"新登记紧急客诉 {len(urgent)} 条" if many else f"新登记客诉 {top['number']} {top['category']}"
        )
        listing = "；".join(
            f"{c['number']} {c['category']} {c['urgency']} → {c['team'] or '-'}" for _, c in urgent[:20]
        ) + (f"；等共 {len(urgent)} 条" if len(urgent) > 20 else "")
        payload, _ = self._payload(
            "complaint",
            title,
            self.by_id.get(mid),
            None,
            list(top.get("reasons") or []),
            text=listing if many else top.get("summary"),
        )
        payload["complaint"] = payloads.complaint_part(top)
        payload["links"] = payloads.links(self.cfg, complaint_number=top["number"])
        if many:
            payload["items"] = [
                payloads.mention_part(self.by_id[m]) | {"complaint": payloads.complaint_part(c)}
                for m, c in urgent[:50]
                if m in self.by_id
            ]
        key = f"complaint:{top['id']}:report" + (f"+{len(urgent) - 1}" if many else "")
        due = self.now  # reports are not delayed by quiet hours (the seeds' 30-minute report clock runs)
        send, held = pacing.split(self.conn, self.cfg, top["brand"], channels, due, exempt=False)
        for ch in held:
            for m_id, c in urgent:
                self._hold(
                    "rollup",
                    ch,
                    brand=c["brand"],
                    ref=f"c:{c['id']}",
                    alert_kind="complaint",
                    m=self.by_id.get(m_id),
                    complaint_id=c["id"],
                    urgency=c["urgency"],
                    risk=c.get("risk"),
                )
        if not send:
            return
        alert_id = enqueue(
            self.conn,
            self.cfg,
            kind="complaint",
            dedup_key=key,
            title=title,
            payload=payload,
            channels=send,
            brand=top["brand"],
            complaint_id=top["id"],
            mention_id=mid,
            urgency=top["urgency"],
            risk=top.get("risk"),
        )
        if alert_id is not None:
            pacing.charge(self.conn, top["brand"], send, due, alert_id)
            self.queued += 1
            for _, c in urgent:
                self._reported(c["id"], "客诉上报渠道")
