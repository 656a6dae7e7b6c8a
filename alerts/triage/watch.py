"""Putting a risky post on watch (``tracked_posts``), from triage; the visits live in ``crawler/service/tracking.py``.

**One watch per event.** A crisis is many posts of one story: on Weibo most are copies and reposts
of the first one, each graded 非常紧急. Watching each would fill ``[tracking].max_posts`` with posts
that have no reposts of their own and push out the one that has. So an event is followed through
one post, its earliest one seen so far: a triage batch proposes, per event, its earliest post among
those featured in the event's first immediate alert or graded 非常紧急; it takes the watch unless the
event is already watched through an earlier post. When an earlier post turns up later (the crawl
found the copies first), it takes the watch over; the later post's watch ends (and is dropped when
it was never visited). A post that belongs to no event is watched on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from crawler.storage.models import MENTIONS
from crawler.storage.models import TRACKED_POSTS as TRACKED

if TYPE_CHECKING:
    from crawler.config import AppConfig

_LATEST = datetime.max


def start_watch(conn: Connection, cfg: AppConfig, m: dict[str, Any], reason: str, now: datetime) -> bool:
    """Put mention ``m`` (a Weibo post) on watch; False when it is not one or already watched."""
    tc = cfg.tracking
    if not tc.enabled or m.get("platform") != "weibo" or m.get("kind") != "post" or m.get("parent_post_id"):
        return False
    t = TRACKED.c
    if conn.execute(select(t.id).where(t.platform == "weibo", t.post_id == m["post_id"])).first() is not None:
        return False
    conn.execute(
        insert(TRACKED),
        {
            "platform": "weibo",
            "post_id": m["post_id"],
            "brand": m["brand"],
            "mention_id": m.get("id"),
            "event_id": m.get("event_id"),
            "reason": reason,
            "started_at": now,
            "until": now + timedelta(hours=tc.hours),
            "next_at": now,
            "interval_s": tc.first_minutes * 60,
            "status": "watching",
            "fetches": 0,
            "requests": 0,
            "alert_state": {},
        },
    )
    watching = (
        conn.execute(select(t.id).where(t.status == "watching").order_by(t.started_at.desc(), t.id.desc()))
        .scalars()
        .all()
    )
    if len(watching) > tc.max_posts:
        conn.execute(
            update(TRACKED)
            .where(t.id.in_(watching[tc.max_posts :]))
            .values(status="done", last_error="让位于更新的追踪（已达 max_posts）")
        )
    logger.info("tracking weibo post {} ({}) for {}h", m["post_id"], reason, tc.hours)
    return True


def watchable(cfg: AppConfig, m: dict[str, Any]) -> bool:
    """Whether ``m`` can be followed: a Weibo post (not a comment), with tracking on."""
    return bool(
        cfg.tracking.enabled
        and m.get("platform") == "weibo"
        and m.get("kind") == "post"
        and not m.get("parent_post_id")
    )


def _when(m: dict[str, Any]) -> tuple[datetime, int]:
    t = m.get("published_at")
    if isinstance(t, datetime) and t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return (t if isinstance(t, datetime) else _LATEST, int(m.get("id") or 0))


def _event_watch(conn: Connection, event_id: int) -> dict[str, Any] | None:
    """The event's running watch with its post's publication time (None: the event is not watched)."""
    t, m = TRACKED.c, MENTIONS.c
    row = (
        conn.execute(
            select(t.id, t.post_id, t.fetches, m.published_at, t.mention_id)
            .select_from(TRACKED.outerjoin(MENTIONS, m.id == t.mention_id))
            .where(t.event_id == event_id, t.status == "watching")
            .order_by(t.started_at, t.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def start_from_triage(
    conn: Connection,
    cfg: AppConfig,
    mentions: Sequence[dict[str, Any]],
    featured: Iterable[int],
    now: datetime,
) -> int:
    """Watch the posts of a triage batch that need it: per event, its earliest post among those featured in
    the event's first alert or graded 非常紧急 (one watch per event); every such post outside an event."""
    first = set(featured)
    proposed: dict[int, tuple[dict[str, Any], str]] = {}
    loose: list[tuple[dict[str, Any], str]] = []
    for m in mentions:
        reason = "事件首帖" if m["id"] in first else "非常紧急" if m.get("urgency") == "非常紧急" else None
        if reason is None or not watchable(cfg, m):
            continue
        eid = m.get("event_id")
        if eid is None:
            loose.append((m, reason))
        elif eid not in proposed or _when(m) < _when(proposed[eid][0]):
            proposed[eid] = (m, reason)
    n = sum(start_watch(conn, cfg, m, reason, now) for m, reason in loose)
    for eid, (m, reason) in proposed.items():
        current = _event_watch(conn, eid)
        if current is not None:
            if current["post_id"] == m["post_id"] or _when(
                {"published_at": current["published_at"], "id": current["mention_id"]}
            ) <= _when(m):
                continue  # followed already, through this post or an earlier one
            if current["fetches"]:
                conn.execute(
                    update(TRACKED)
                    .where(TRACKED.c.id == current["id"])
                    .values(status="done", last_error="让位于同一事件更早的帖子")
                )
            else:
                conn.execute(delete(TRACKED).where(TRACKED.c.id == current["id"]))
        n += start_watch(conn, cfg, m, reason, now)
    return n
