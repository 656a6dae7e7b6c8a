"""Digest mode: mentions below the immediate threshold (and non-escalating event updates) are
folded into ``digest_items``; :func:`flush_digest` (called often by the scheduler) sends one
summary per channel once its oldest pending item has waited ``[alerts].digest_minutes``.

During quiet hours nothing is flushed: the items wait for the first digest after them.
Each mention is folded at most once (a re-crawl that updates it adds nothing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from alerts import rules
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue
from alerts.triage.summaries import flush_holds
from crawler.clock import utcnow
from crawler.storage.models import DIGEST_ITEMS as ITEMS
from crawler.storage.models import EVENTS, MENTIONS

if TYPE_CHECKING:
    from crawler.config import AppConfig

_BATCH = 5000


def fold(conn: Connection, items: list[tuple[dict[str, Any], list[str], str]], now: datetime) -> int:
    """Queue mentions for the next digest: ``(mention, channels, reason)``; a mention queued before is skipped.

    Returns how many were queued now.
    """
    rows = [
        {
            "mention_id": m["id"],
            "event_id": m.get("event_id"),
            "brand": m["brand"],
            "channels": channels,
            "reason": reason,
            "urgency": m.get("urgency"),
            "risk": m.get("risk"),
            "created_at": now,
        }
        for m, channels, reason in items
        if channels
    ]
    if not rows:
        return 0
    ins: Any = postgresql.insert(ITEMS) if conn.dialect.name == "postgresql" else sqlite.insert(ITEMS)
    stmt = ins.on_conflict_do_nothing(index_elements=["mention_id"]).returning(ITEMS.c.id)
    return len(conn.execute(stmt, rows).all())


def _pending(conn: Connection) -> list[dict[str, Any]]:
    stmt = select(ITEMS).where(ITEMS.c.flushed_at.is_(None)).order_by(ITEMS.c.id).limit(_BATCH)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _rows(conn: Connection, table: Any, ids: set[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        rows = conn.execute(select(table).where(table.c.id.in_(ordered[start : start + 500]))).mappings()
        out.update({r["id"]: dict(r) for r in rows})
    return out


def digest_payload(
    cfg: AppConfig,
    items: list[dict[str, Any]],
    mentions: dict[int, dict[str, Any]],
    evts: dict[int, dict[str, Any]],
    start: datetime,
    now: datetime,
) -> dict[str, Any]:
    """One digest: the most urgent items (one per event, with how many the event added), totals per brand."""
    per_event: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        per_event[it["event_id"] or f"m{it['mention_id']}"].append(it)
    lines = []
    for group in per_event.values():
        best = max(group, key=lambda it: (rules.rank(it["urgency"]), it["risk"] or 0, -it["mention_id"]))
        m = mentions.get(best["mention_id"])
        if m is None:
            continue
        entry = payloads.mention_part(m) | {
            "brand": m["brand"],
            "count": len(group),
            "reason": best["reason"],
        }
        e = evts.get(best["event_id"] or -1)
        if e is not None:
            entry["event_title"] = e.get("title")
            entry["event_mentions"] = e.get("mention_count")
        lines.append(entry)
    lines.sort(key=lambda x: (-rules.rank(x.get("urgency")), -(x.get("risk") or 0), -(x.get("count") or 0)))
    shown = lines[: cfg.alerts.digest_max_items]
    brands = Counter(it["brand"] for it in items)
    urgent = Counter(it["brand"] for it in items if rules.rank(it["urgency"]) >= 2)
    tz = ZoneInfo(cfg.scheduler.timezone)
    span = f"{start.astimezone(tz):%m-%d %H:%M}–{now.astimezone(tz):%H:%M}"
    text = "；".join(
        f"{b} {n} 条" + (f"（紧急及以上 {urgent[b]}）" if urgent[b] else "") for b, n in brands.most_common()
    )
    if len(lines) > len(shown):
        text += f"；另有 {len(lines) - len(shown)} 个话题未列出"
    title = f"{span} 共 {len(items)} 条待关注"
    return {
        "kind": "digest",
        "title": title,
        "brand": next(iter(brands)) if len(brands) == 1 else None,
        "urgency": None,
        "risk": max((it["risk"] or 0) for it in items),
        "reasons": [],
        "mention": None,
        "event": None,
        "complaint": None,
        "items": shown,
        "total": len(items),
        "text": text,
        "links": payloads.links(cfg),
    }


def _mark(
    conn: Connection, items: list[dict[str, Any]], due: set[str], alerts: dict[str, int], now: datetime
) -> None:
    """Take the flushed channels off each item; an item with none left is done."""
    groups: dict[tuple[tuple[str, ...], int | None], list[int]] = defaultdict(list)
    for it in items:
        sent = [c for c in it["channels"] or [] if c in due]
        if not sent:
            continue
        left = tuple(c for c in it["channels"] or [] if c not in due)
        groups[(left, it["alert_id"] or alerts.get(sent[0]))].append(it["id"])
    for (left, alert_id), ids in groups.items():
        values = {"channels": list(left), "alert_id": alert_id, "flushed_at": None if left else now}
        for i in range(0, len(ids), 500):
            conn.execute(update(ITEMS).where(ITEMS.c.id.in_(ids[i : i + 500])).values(**values))


def flush_digest(engine: Engine, cfg: AppConfig, now: datetime | None = None, *, force: bool = False) -> int:
    """Send the due digests, one per channel, and the due backfill summaries and roll-ups
    (``alerts/triage/summaries.py``); returns the alerts queued.

    The scheduler calls this often; a channel's digest is due when its oldest pending item
    has waited ``[alerts].digest_minutes`` (``force`` sends every pending item now). Nothing
    is sent during quiet hours.
    """

    now = now or utcnow()
    if rules.quiet_until(cfg, now) is not None:
        return 0
    with engine.begin() as conn:
        queued = _flush_items(conn, cfg, now, force=force)
        queued += flush_holds(conn, cfg, now, force=force)
    return queued


def _flush_items(conn: Connection, cfg: AppConfig, now: datetime, *, force: bool) -> int:
    """The digests of ``digest_items`` that are due, in the caller's transaction."""
    items = _pending(conn)
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        for ch in it["channels"] or []:
            by_channel[ch].append(it)
    ripe = now - timedelta(minutes=cfg.alerts.digest_minutes)
    due = {ch for ch, group in by_channel.items() if force or min(it["created_at"] for it in group) <= ripe}
    if not due:
        return 0
    wanted = [it for it in items if set(it["channels"] or []) & due]
    mentions = _rows(conn, MENTIONS, {it["mention_id"] for it in wanted})
    evts = _rows(conn, EVENTS, {it["event_id"] for it in wanted if it["event_id"]})
    alerts: dict[str, int] = {}
    for channel in sorted(due):
        group = by_channel[channel]
        payload = digest_payload(cfg, group, mentions, evts, min(it["created_at"] for it in group), now)
        key = f"digest:{channel}:{group[0]['id']}-{group[-1]['id']}-{len(group)}"
        alert_id = enqueue(
            conn,
            cfg,
            kind="digest",
            dedup_key=key,
            title=payload["title"],
            payload=payload,
            channels=[channel],
            brand=payload["brand"],
            risk=payload["risk"],
        )
        if alert_id is not None:
            alerts[channel] = alert_id
    _mark(conn, wanted, due, alerts, now)
    logger.info("digest: {n} item(s) → {q} alert(s)", n=len(wanted), q=len(alerts))
    return len(alerts)
