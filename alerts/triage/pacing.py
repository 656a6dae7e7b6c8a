"""Pacing of immediate alerts: backfill stays out of them, and each brand and channel has an hourly budget.

**Backfill.** A mention first seen more than ``[alerts].max_age_hours`` after it was published
(the first crawl of a new brand or platform, a crawler that was down for a day) is history:
it never goes out as an immediate alert. Triage holds it (table ``alert_holds``, kind
``backfill``) for one backfill summary per brand and channel (``alerts/triage/summaries.py``).

**Budget.** At most ``[alerts].max_immediate_per_hour`` immediate messages (mention, event,
surge and complaint-report alerts) go to one channel for one brand in any hour. Each one is
charged in ``alert_charges`` at the time it is due (the end of quiet hours for a delayed one),
so every process that triages or flushes sees the same budget. Past it, alerts are held (kind
``rollup``) for one roll-up message, sent when the hour has room again. A new 非常紧急 event
(its first alert, or its escalation to 非常紧急) is never held back; it is charged all the same.

Everything here runs in the caller's transaction (triage's, or the summary flush's): triage
serialises per brand (PostgreSQL advisory lock; SQLite has one writer), so two crawls of the
same brand cannot both take the last slot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from alerts.delivery.outbox import routable_channels
from crawler.storage.models import ALERT_CHARGES as CHARGES
from crawler.storage.models import ALERT_HOLDS as HOLDS

if TYPE_CHECKING:
    from crawler.config import AppConfig

HOUR = timedelta(hours=1)
BUDGETED_KINDS: tuple[str, ...] = ("mention", "event", "surge", "complaint")


def first_seen_lag(m: dict[str, Any], now: datetime) -> timedelta | None:
    """How long after its publication the mention was first seen (None without a publication time)."""
    published = m.get("published_at")
    if published is None:
        return None
    seen: datetime = m.get("first_seen_at") or now
    lag: timedelta = seen - published
    return lag


def is_backfill(cfg: AppConfig, m: dict[str, Any], now: datetime) -> bool:
    """Whether ``m`` was first seen more than ``max_age_hours`` after it was published."""
    hours = cfg.alerts.max_age_hours
    if hours <= 0:
        return False
    lag = first_seen_lag(m, now)
    return lag is not None and lag > timedelta(hours=hours)


@dataclass(slots=True)
class Hold:
    """One thing held back for a summary (see ``AlertHold``)."""

    kind: str  # backfill | rollup
    brand: str
    channel: str
    ref: str
    alert_kind: str
    mention_id: int | None = None
    event_id: int | None = None
    complaint_id: int | None = None
    urgency: str | None = None
    risk: int | None = None
    note: str | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "brand": self.brand,
            "channel": self.channel,
            "ref": self.ref[:120],
            "alert_kind": self.alert_kind,
            "mention_id": self.mention_id,
            "event_id": self.event_id,
            "complaint_id": self.complaint_id,
            "urgency": self.urgency,
            "risk": self.risk,
            "note": self.note,
            "created_at": now,
        }


def hold(conn: Connection, holds: Sequence[Hold], now: datetime) -> int:
    """Insert holds; one already held (same kind, channel and ref) is skipped. Returns how many are new."""
    rows = [h.row(now) for h in holds]
    if not rows:
        return 0
    ins: Any = postgresql.insert(HOLDS) if conn.dialect.name == "postgresql" else sqlite.insert(HOLDS)
    stmt = ins.on_conflict_do_nothing(index_elements=["kind", "channel", "ref"]).returning(HOLDS.c.id)
    return len(conn.execute(stmt, rows).all())


def charged(conn: Connection, brand: str, channel: str, at: datetime) -> int:
    """Immediate messages charged to ``brand`` on ``channel`` in the hour before ``at`` (and any due later)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(CHARGES)
            .where(CHARGES.c.brand == brand, CHARGES.c.channel == channel, CHARGES.c.at > at - HOUR)
        ).scalar_one()
    )


def rollup_waiting(conn: Connection, brand: str, channel: str) -> bool:
    """Whether alerts of ``brand`` are already held for a roll-up on ``channel`` (newcomers queue behind it)."""
    return (
        conn.execute(
            select(HOLDS.c.id)
            .where(
                HOLDS.c.kind == "rollup",
                HOLDS.c.brand == brand,
                HOLDS.c.channel == channel,
                HOLDS.c.flushed_at.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )


def has_room(conn: Connection, cfg: AppConfig, brand: str, channel: str, at: datetime) -> bool:
    """Whether one more non-exempt immediate message of ``brand`` may go to ``channel`` at ``at``."""
    budget = cfg.alerts.max_immediate_per_hour
    if budget <= 0:
        return True
    return charged(conn, brand, channel, at) < budget


def charge(
    conn: Connection,
    brand: str,
    channels: Iterable[str],
    at: datetime,
    alert_id: int | None,
    *,
    exempt: bool = False,
) -> None:
    """Charge one message per channel to ``brand``'s budget, due at ``at``."""
    rows = [
        {"brand": brand, "channel": ch, "at": at, "alert_id": alert_id, "exempt": exempt} for ch in channels
    ]
    if rows:
        conn.execute(insert(CHARGES), rows)


def split(
    conn: Connection, cfg: AppConfig, brand: str, channels: Iterable[str], at: datetime, *, exempt: bool
) -> tuple[list[str], list[str]]:
    """(channels to send to now, channels to hold for the roll-up) for one immediate alert of ``brand``.

    An exempt alert (a new 非常紧急 event) goes everywhere. Otherwise a channel takes it while
    its hourly budget has room and no roll-up is waiting there (a waiting roll-up goes first).
    """
    names = routable_channels(cfg, channels)
    if exempt or cfg.alerts.max_immediate_per_hour <= 0:
        return names, []
    send, held = [], []
    for ch in names:
        if not rollup_waiting(conn, brand, ch) and has_room(conn, cfg, brand, ch, at):
            send.append(ch)
        else:
            held.append(ch)
    return send, held


def lock_brands(conn: Connection, brands: set[str]) -> None:
    """On PostgreSQL, serialise triage per brand across workers until this transaction ends.

    Two workers storing the same story at once would otherwise each open an event (or register
    the same post twice); SQLite has a single writer already.
    """
    if conn.dialect.name != "postgresql":
        return
    for brand in sorted(brands):
        key = int.from_bytes(
            hashlib.blake2b(f"yuqing-triage:{brand}".encode(), digest_size=8).digest(), "big", signed=True
        )
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
