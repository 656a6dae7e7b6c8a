"""Putting a risky post on watch (``tracked_posts``), from triage; the visits live in ``crawler/tracking.py``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from crawler.storage.models import TrackedPost

if TYPE_CHECKING:
    from crawler.config import AppConfig

TRACKED = TrackedPost.__table__  # type: ignore[attr-defined]


def start_watch(conn: Connection, cfg: AppConfig, m: dict[str, Any], reason: str, now: datetime) -> bool:
    """Put mention ``m`` (a Weibo post) on watch; False when it is not one or already watched."""
    tc = cfg.tracking
    if not tc.enabled or m.get("platform") != "weibo" or m.get("kind") != "post" or m.get("parent_post_id"):
        return False
    t = TRACKED.c
    if conn.execute(select(t.id).where(t.platform == "weibo", t.post_id == m["post_id"])).first() is not None:
        return False
    conn.execute(insert(TRACKED), {
        "platform": "weibo", "post_id": m["post_id"], "brand": m["brand"], "mention_id": m.get("id"),
        "event_id": m.get("event_id"), "reason": reason, "started_at": now, "until": now + timedelta(hours=tc.hours),
        "next_at": now, "interval_s": tc.first_minutes * 60, "status": "watching", "fetches": 0, "requests": 0,
        "alert_state": {}})
    watching = conn.execute(select(t.id).where(t.status == "watching").order_by(t.started_at.desc(), t.id.desc())
                            ).scalars().all()
    if len(watching) > tc.max_posts:
        conn.execute(update(TRACKED).where(t.id.in_(watching[tc.max_posts:])).values(
            status="done", last_error="让位于更新的追踪（已达 max_posts）"))
    logger.info("tracking weibo post {} ({}) for {}h", m["post_id"], reason, tc.hours)
    return True


def start_from_triage(conn: Connection, cfg: AppConfig, mentions: Sequence[dict[str, Any]],
                      featured: Iterable[int], now: datetime) -> int:
    """Watch the featured posts of events' first alerts and every 非常紧急 post of a triage batch."""
    first = set(featured)
    n = 0
    for m in mentions:
        if m["id"] in first:
            n += start_watch(conn, cfg, m, "事件首帖", now)
        elif m.get("urgency") == "非常紧急":
            n += start_watch(conn, cfg, m, "非常紧急", now)
    return n


