"""The alert outbox: triage (and health, reports, SLA) enqueue alerts here, the dispatcher delivers them.

``enqueue`` writes one ``alerts`` row and one ``alert_deliveries`` row per channel in the
caller's transaction, so an alert exists exactly when the mention that caused it is
committed. A ``dedup_key`` that already exists writes nothing. Each delivery carries an
idempotency key that is stable per (alert, channel); see ``alerts/delivery/dispatch.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crawler.clock import utcnow
from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
from crawler.storage.models import ALERT_HOLDS as HOLDS
from crawler.storage.models import ALERTS

if TYPE_CHECKING:
    from crawler.config import AppConfig

KINDS: tuple[str, ...] = (
    "mention",
    "event",
    "surge",
    "digest",
    "backfill",
    "rollup",
    "health",
    "complaint_sla",
    "complaint",
    "report",
    "hot",
    "spread",
)


def idempotency_key(dedup_key: str, channel: str) -> str:
    """The key a channel sees for one alert: stable across retries, dispatchers and restarts."""
    digest = hashlib.sha256(f"{dedup_key}\x00{channel}".encode()).hexdigest()
    return f"yq-{digest[:32]}"


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 strings and tuples as lists, ready for a JSON column."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def routable_channels(cfg: AppConfig, channels: Iterable[str]) -> list[str]:
    """The configured, enabled channels among ``channels``, in order, without repeats."""
    out: list[str] = []
    for name in channels:
        ch = cfg.alerts.channels.get(name)
        if ch is None:
            logger.warning("alert routed to unknown channel {name!r}: skipped", name=name)
        elif not ch.enabled:
            logger.info("alert routed to disabled channel {name!r}: skipped", name=name)
        elif name not in out:
            out.append(name)
    return out


def _connection(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


def _insert_alert(conn: Connection, values: dict[str, Any]) -> int | None:
    if conn.dialect.name == "postgresql":
        stmt: Any = (
            postgresql.insert(ALERTS).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
        )
    elif conn.dialect.name == "sqlite":
        stmt = sqlite.insert(ALERTS).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    else:  # pragma: no cover - only the two supported databases exist
        raise ValueError(f"unsupported database {conn.dialect.name!r}")
    row = conn.execute(stmt.returning(ALERTS.c.id)).first()
    return None if row is None else int(row[0])


def enqueue(
    conn: Connection | Session,
    cfg: AppConfig,
    *,
    kind: str,
    dedup_key: str,
    title: str,
    payload: Mapping[str, Any],
    channels: Iterable[str],
    brand: str | None = None,
    event_id: int | None = None,
    mention_id: int | None = None,
    complaint_id: int | None = None,
    urgency: str | None = None,
    risk: int | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Insert an alert and its per-channel deliveries; return its id, or None if ``dedup_key`` exists.

    Unknown or disabled channels are skipped with a log line (the alert is still recorded).
    ``not_before`` delays delivery (e.g. until quiet hours end).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r} (known: {', '.join(KINDS)})")
    if not dedup_key or len(dedup_key) > 200:
        raise ValueError("dedup_key must be 1-200 characters")
    c = _connection(conn)
    now = utcnow()
    body = jsonable(dict(payload))
    body.setdefault("kind", kind)
    body.setdefault("title", title)
    alert_id = _insert_alert(
        c,
        {
            "kind": kind,
            "dedup_key": dedup_key,
            "brand": brand,
            "event_id": event_id,
            "mention_id": mention_id,
            "complaint_id": complaint_id,
            "urgency": urgency,
            "risk": risk,
            "title": title,
            "payload": body,
            "status": "open",
            "created_at": now,
        },
    )
    if alert_id is None:
        return None
    names = routable_channels(cfg, channels)
    if names:
        due = not_before if not_before is not None and not_before > now else now
        c.execute(
            insert(DELIVERIES),
            [
                {
                    "alert_id": alert_id,
                    "channel": name,
                    "idempotency_key": idempotency_key(dedup_key, name),
                    "status": "pending",
                    "attempts": 0,
                    "parts_sent": 0,
                    "next_attempt_at": due,
                    "created_at": now,
                }
                for name in names
            ],
        )
    logger.debug("alert {id} ({kind}) queued for {n} channel(s)", id=alert_id, kind=kind, n=len(names))
    return alert_id


def release_holds(conn: Connection, hold_ids: list[int], alert_id: int | None, now: datetime) -> None:
    """Mark held items (``alert_holds``) as sent in the summary alert ``alert_id`` (or dropped: None)."""
    for start in range(0, len(hold_ids), 500):
        conn.execute(
            update(HOLDS)
            .where(HOLDS.c.id.in_(hold_ids[start : start + 500]))
            .values(flushed_at=now, alert_id=alert_id)
        )
