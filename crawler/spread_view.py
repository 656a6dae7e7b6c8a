"""The read side of crisis tracking: an event's spread and hot-list history, hot-list appearances.

Used by the API (event page), ``yuqing query --hot`` and the weekly report's 传播 section. Scraped
values (topics, names, texts) are returned as data; every face escapes them where it shows them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from crawler.storage.models import HotSnapshot, HotTopic, TrackedPost, TrackPoint
from crawler.tracking import rates, spreaders, tree_of

TOPICS = HotTopic.__table__  # type: ignore[attr-defined]
SNAPS = HotSnapshot.__table__  # type: ignore[attr-defined]
TRACKED = TrackedPost.__table__  # type: ignore[attr-defined]
POINTS = TrackPoint.__table__  # type: ignore[attr-defined]
MAX_TREE = 500  # reposts drawn in a tree (the widest reach first)


def _topic(r: Any) -> dict[str, Any]:
    keys = (
        "id",
        "platform",
        "word",
        "brand",
        "matched_by",
        "first_seen_at",
        "last_seen_at",
        "first_rank",
        "best_rank",
        "last_rank",
        "last_heat",
        "peak_heat",
        "last_label",
        "labels",
        "search_url",
        "event_id",
        "crawl_status",
    )
    return {k: r[k] for k in keys}


def hot_topics(
    conn: Connection,
    *,
    brand: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    event_id: int | None = None,
) -> list[dict[str, Any]]:
    """Brand topics seen on hot lists, most recent first (``event_id``: the topics joined to that event)."""
    t = TOPICS.c
    stmt = select(TOPICS)
    if brand:
        stmt = stmt.where(t.brand == brand)
    if since is not None:
        stmt = stmt.where(t.last_seen_at >= since)
    if event_id is not None:
        stmt = stmt.where(t.event_id == event_id)
    return [
        _topic(r)
        for r in conn.execute(stmt.order_by(t.last_seen_at.desc(), t.id.desc()).limit(limit)).mappings()
    ]


def topic_history(conn: Connection, platform: str, word: str, limit: int = 500) -> list[dict[str, Any]]:
    s = SNAPS.c
    rows = (
        conn.execute(
            select(s.fetched_at, s.rank, s.heat, s.label)
            .where(s.platform == platform, s.word == word)
            .order_by(s.fetched_at.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in reversed(rows)]


def tracked_view(conn: Connection, tracked: dict[str, Any]) -> dict[str, Any]:
    points = [
        dict(r)
        for r in conn.execute(
            select(POINTS.c.at, POINTS.c.reposts, POINTS.c.comments, POINTS.c.requests)
            .where(POINTS.c.tracked_id == tracked["id"])
            .order_by(POINTS.c.at)
        ).mappings()
    ]
    tree = tree_of(conn, tracked["id"])
    ranked = spreaders(tree)
    keep = {s["repost_id"] for s in ranked[:MAX_TREE]}
    velocity, acceleration = rates([(p["at"], p["reposts"]) for p in points[-3:]])
    return {
        "id": tracked["id"],
        "post_id": tracked["post_id"],
        "mention_id": tracked["mention_id"],
        "reason": tracked["reason"],
        "status": tracked["status"],
        "started_at": tracked["started_at"],
        "until": tracked["until"],
        "next_at": tracked["next_at"],
        "fetches": tracked["fetches"],
        "requests": tracked["requests"],
        "points": points,
        "velocity": velocity,
        "acceleration": acceleration,
        "reposts": points[-1]["reposts"] if points else 0,
        "spreaders": ranked[:10],
        "edges": [
            {
                "id": r["repost_id"],
                "parent": r["parent_id"] if r["parent_id"] in keep else None,
                "name": r["author_name"],
                "followers": r["followers"],
                "verified": r["verified"],
            }
            for r in tree
            if r["repost_id"] in keep
        ],
    }


def event_spread(conn: Connection, event_id: int) -> dict[str, Any]:
    """What the event page shows under 传播: tracked posts (curve, tree, spreaders) and hot-list history."""
    from crawler.storage.models import Mention

    m = Mention.__table__.c  # type: ignore[attr-defined]
    ids = select(m.id).where(m.event_id == event_id).scalar_subquery()
    tracked = [
        dict(r)
        for r in conn.execute(
            select(TRACKED)
            .where(or_(TRACKED.c.event_id == event_id, TRACKED.c.mention_id.in_(ids)))
            .order_by(TRACKED.c.started_at)
        ).mappings()
    ]
    topics = hot_topics(conn, event_id=event_id, limit=20)
    for topic in topics:
        topic["history"] = topic_history(conn, topic["platform"], topic["word"])
    return {"event_id": event_id, "tracked": [tracked_view(conn, t) for t in tracked], "hot_topics": topics}
