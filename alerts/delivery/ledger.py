"""The outbox's bookkeeping in SQL: claims with a lease, progress, retries, the rate window, channel pauses.

Everything here is one short transaction, safe with several dispatchers on one
database (SQLite serialises writers; PostgreSQL uses ``SKIP LOCKED`` claims and an
advisory lock per channel around the rate-limit check). Used by ``alerts/delivery/dispatch.py``
and the ``yuqing alerts`` commands.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from crawler.storage.models import ALERT_CHANNELS as CHANNELS
from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
from crawler.storage.models import ALERT_SENDS as SENDS
from crawler.storage.models import ALERTS


@dataclass(slots=True)
class Claimed:
    """A delivery this dispatcher holds, with what is needed to send it."""

    id: int
    alert_id: int
    channel: str
    key: str
    attempts: int
    parts_sent: int
    payload: dict[str, Any]
    reclaimed: bool  # its previous lease expired (a dispatcher died while sending)


def _due(channel: str, now: datetime, lease_cutoff: datetime) -> Any:
    d = DELIVERIES.c
    return and_(
        d.channel == channel,
        or_(
            and_(d.status.in_(("pending", "failed")), d.next_attempt_at <= now),
            and_(d.status == "sending", d.claimed_at < lease_cutoff),
        ),
    )


def claim(
    engine: Engine, channel: str, *, now: datetime, lease_seconds: float, limit: int
) -> tuple[str, list[Claimed]]:
    """Claim up to ``limit`` due deliveries of ``channel`` (oldest first); returns (token, claims)."""
    token = uuid.uuid4().hex
    d = DELIVERIES.c
    cutoff = now - timedelta(seconds=lease_seconds)
    due = _due(channel, now, cutoff)
    pick = select(d.id).where(due).order_by(d.next_attempt_at, d.id).limit(limit)
    with engine.connect() as conn:  # a read first: an idle poll never takes the write lock
        if conn.execute(select(d.id).where(due).limit(1)).first() is None:
            return token, []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Lock the picked rows first (other dispatchers skip them); an IN (subquery ... LIMIT)
            # inside UPDATE may be re-evaluated by PostgreSQL and claim more than ``limit`` rows.
            ids: Any = [r[0] for r in conn.execute(pick.with_for_update(skip_locked=True))]
        else:  # SQLite: one statement, so the write lock is taken before anything is read
            ids = pick.scalar_subquery()
        stale = {r[0] for r in conn.execute(select(d.id).where(due, d.status == "sending").limit(limit))}
        # A stale 'sending' row means a dispatcher died mid-send: that try counts as an attempt.
        conn.execute(
            update(DELIVERIES)
            .where(d.id.in_(ids), due)
            .values(
                status="sending",
                claimed_at=now,
                claim_token=token,
                attempts=case((d.status == "sending", d.attempts + 1), else_=d.attempts),
            )
        )
        rows = conn.execute(
            select(d.id, d.alert_id, d.channel, d.idempotency_key, d.attempts, d.parts_sent, ALERTS.c.payload)
            .join(ALERTS, ALERTS.c.id == d.alert_id)
            .where(d.claim_token == token)
            .order_by(d.next_attempt_at, d.id)
        ).all()
    return token, [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], dict(r[6] or {}), r[0] in stale) for r in rows]


def _mine(delivery_id: int, token: str) -> Any:
    return and_(DELIVERIES.c.id == delivery_id, DELIVERIES.c.claim_token == token)


def mark_part(
    engine: Engine, delivery_id: int, token: str, *, parts_sent: int, parts_total: int, now: datetime
) -> bool:
    """Record that a part was accepted (and the delivery done after the last); False if the lease was lost."""
    values: dict[str, Any] = {"parts_sent": parts_sent, "parts_total": parts_total, "last_attempt_at": now}
    if parts_sent >= parts_total:
        values.update(
            status="sent", sent_at=now, claim_token=None, last_error=None, attempts=DELIVERIES.c.attempts + 1
        )
    with engine.begin() as conn:
        return (
            conn.execute(update(DELIVERIES).where(_mine(delivery_id, token)).values(**values)).rowcount == 1
        )


def mark_sent(engine: Engine, delivery_ids: list[int], token: str, *, now: datetime) -> int:
    """Record a group of single-part deliveries as sent in one transaction (idempotent channels)."""
    d = DELIVERIES.c
    with engine.begin() as conn:
        return conn.execute(
            update(DELIVERIES)
            .where(d.id.in_(delivery_ids), d.claim_token == token)
            .values(
                status="sent",
                sent_at=now,
                claim_token=None,
                last_error=None,
                parts_sent=d.parts_sent + 1,
                parts_total=d.parts_sent + 1,
                last_attempt_at=now,
                attempts=d.attempts + 1,
            )
        ).rowcount


def reschedule(
    engine: Engine,
    delivery_id: int,
    token: str,
    *,
    now: datetime,
    next_at: datetime,
    error: str,
    count_attempt: bool,
    dead: bool = False,
) -> None:
    """After a failure: ``failed`` (or ``dead``) with the reason; a rate limit does not count as an attempt."""
    d = DELIVERIES.c
    status: Any = (
        "dead"
        if dead
        else (case((d.attempts > 0, "failed"), else_="pending") if not count_attempt else "failed")
    )
    values: dict[str, Any] = {
        "status": status,
        "next_attempt_at": next_at,
        "claim_token": None,
        "last_error": error[:2000],
        "last_attempt_at": now,
    }
    if count_attempt:
        values["attempts"] = d.attempts + 1
    with engine.begin() as conn:
        conn.execute(update(DELIVERIES).where(_mine(delivery_id, token)).values(**values))


def release(engine: Engine, token: str, *, keep_ids: set[int] | None = None) -> int:
    """Give back the still-claimed deliveries of a pass (not tried: no attempt counted)."""
    d = DELIVERIES.c
    cond = and_(d.claim_token == token, d.status == "sending")
    if keep_ids:
        cond = and_(cond, d.id.not_in(keep_ids))
    with engine.begin() as conn:
        return conn.execute(
            update(DELIVERIES)
            .where(cond)
            .values(status=case((d.attempts > 0, "failed"), else_="pending"), claim_token=None)
        ).rowcount


def _lock_channel(conn: Connection, channel: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_310_000_000 + zlib.crc32(channel.encode())}
        )


def reserve_slots(
    engine: Engine,
    channel: str,
    windows: list[tuple[int, float]],
    *,
    now: datetime,
    delivery_ids: list[int | None],
) -> list[int]:
    """Record up to ``len(delivery_ids)`` sends in the channel's sliding windows; return the slots that fit.

    Slots not used after all go back with :func:`return_slots`.

    The rows are inserted first, so that on SQLite the write lock is held while counting
    (PostgreSQL takes an advisory lock per channel), then the excess is taken back: two
    dispatchers can never both see room for the same slot.
    """
    if not delivery_ids:
        return []
    s = SENDS.c
    with engine.begin() as conn:
        _lock_channel(conn, channel)
        ids = [
            r[0]
            for r in conn.execute(
                insert(SENDS).returning(s.id, sort_by_parameter_order=True),
                [
                    {"channel": channel, "delivery_id": d, "part": 0, "at": now, "outcome": "sent"}
                    for d in delivery_ids
                ],
            )
        ]
        excess = 0
        for limit, seconds in windows:
            since = now - timedelta(seconds=seconds)
            count = conn.execute(select(func.count()).where(s.channel == channel, s.at > since)).scalar_one()
            excess = max(excess, int(count) - limit)
        excess = min(excess, len(ids))
        if excess > 0:
            conn.execute(delete(SENDS).where(s.id.in_(ids[len(ids) - excess :])))
        # The windows look back a minute; older rows are only kept a day for `alerts show`-style audits.
        conn.execute(delete(SENDS).where(s.channel == channel, s.at < now - timedelta(days=1)))
    return ids[: len(ids) - excess]


def return_slots(engine: Engine, slot_ids: list[int]) -> None:
    """Give back reserved slots that were not used (the pass stopped early)."""
    if slot_ids:
        with engine.begin() as conn:
            conn.execute(delete(SENDS).where(SENDS.c.id.in_(slot_ids)))


def window_room(engine: Engine, channel: str, windows: list[tuple[int, float]], *, now: datetime) -> int:
    """How many more sends the windows allow right now (a hint for claiming; reserve_slots decides)."""
    room = 10**9
    with engine.connect() as conn:
        for limit, seconds in windows:
            since = now - timedelta(seconds=seconds)
            used = conn.execute(
                select(func.count()).where(SENDS.c.channel == channel, SENDS.c.at > since)
            ).scalar_one()
            room = min(room, limit - int(used))
    return max(0, room)


def note_outcome(
    engine: Engine, channel: str, *, now: datetime, error: str | None, pause: Callable[[int], float] | None
) -> int:
    """Update the channel's shared state after a send; returns its consecutive failure count.

    ``pause(failures)`` gives the seconds to pause the channel after a failure.
    """
    with engine.begin() as conn:
        _lock_channel(conn, channel)
        row = conn.execute(select(CHANNELS.c.failures).where(CHANNELS.c.name == channel)).first()
        failures = 0 if error is None else (row[0] if row else 0) + 1
        values: dict[str, Any] = {"failures": failures, "updated_at": now}
        if error is None:
            values.update(last_ok_at=now, paused_until=None, pause_reason=None)
        else:
            values.update(last_error=error[:2000], last_error_at=now)
            if pause is not None:
                values.update(paused_until=now + timedelta(seconds=pause(failures)), pause_reason=error[:500])
        if row is None:
            conn.execute(insert(CHANNELS).values(name=channel, **values))
        else:
            conn.execute(update(CHANNELS).where(CHANNELS.c.name == channel).values(**values))
    return failures


def channel_state(engine: Engine, channel: str) -> Any:
    """The channel's shared state row (paused_until, failures, last_ok_at ...), or None before its first send."""
    with engine.connect() as conn:
        return conn.execute(select(CHANNELS).where(CHANNELS.c.name == channel)).first()


def paused_until(engine: Engine, channel: str) -> datetime | None:
    row = channel_state(engine, channel)
    return None if row is None else row.paused_until


def requeue(
    engine: Engine,
    *,
    now: datetime,
    alert_id: int | None = None,
    delivery_id: int | None = None,
    dead_only: bool = False,
) -> int:
    """Put failed/dead deliveries back in the queue with fresh attempts (``yuqing alerts retry``)."""
    d = DELIVERIES.c
    cond = d.status == "dead" if dead_only else d.status.in_(("dead", "failed"))
    if alert_id is not None:
        cond = and_(cond, d.alert_id == alert_id)
    if delivery_id is not None:
        cond = and_(cond, d.id == delivery_id)
    with engine.begin() as conn:
        return conn.execute(
            update(DELIVERIES)
            .where(cond)
            .values(status="pending", attempts=0, next_attempt_at=now, claim_token=None)
        ).rowcount
