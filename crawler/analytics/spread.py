"""The read side of crisis tracking: an event's spread and hot-list history, hot-list appearances.

Used by the API (event page), ``yuqing query --hot`` and the weekly report's 传播 section. Scraped
values (topics, names, texts) are returned as data; every face escapes them where it shows them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from crawler.storage.models import HOT_SNAPSHOTS as SNAPS
from crawler.storage.models import HOT_TOPICS as TOPICS
from crawler.storage.models import MENTIONS, REPOSTS
from crawler.storage.models import TRACK_POINTS as POINTS
from crawler.storage.models import TRACKED_POSTS as TRACKED

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

    m = MENTIONS.c
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


def rates(points: Sequence[tuple[datetime, int]]) -> tuple[float, float]:
    """(velocity, acceleration) of reposts: per hour over the last interval, and its change per hour."""
    if len(points) < 2:
        return 0.0, 0.0
    (t1, c1), (t2, c2) = points[-2], points[-1]
    dt = max((t2 - t1).total_seconds() / 3600, 1e-6)
    v2 = (c2 - c1) / dt
    if len(points) < 3:
        return v2, 0.0
    t0, c0 = points[-3]
    dt0 = max((t1 - t0).total_seconds() / 3600, 1e-6)
    v1 = (c1 - c0) / dt0
    mid = max(((t2 - t1).total_seconds() + (t1 - t0).total_seconds()) / 7200, 1e-6)
    return v2, (v2 - v1) / mid


def resolve_parents(rows: Iterable[dict[str, Any]], root_author: str | None = None) -> dict[str, str | None]:
    """repost id → the repost id it was made from (None: the post itself), from the ``//@name`` chains.

    The parent is the latest repost by the named account published no later than the repost; a chain
    naming the post's own author, or an account with no repost seen, means the post itself.
    """
    ordered = sorted(rows, key=lambda r: (r.get("published_at") or datetime.min, r["repost_id"]))
    by_name: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for r in ordered:
        if r.get("author_name"):
            by_name[r["author_name"]].append((r.get("published_at"), r["repost_id"]))
    out: dict[str, str | None] = {}
    for r in ordered:
        name = r.get("parent_name")
        parent = None
        if name and name != root_author:
            when = r.get("published_at")
            for t, rid in reversed(by_name.get(name, [])):
                if rid != r["repost_id"] and (when is None or t is None or t <= when):
                    parent = rid
                    break
        out[r["repost_id"]] = parent
    return out


def spreaders(rows: Sequence[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """Reposts ranked by reach: followers plus the reach of everything reposted from them."""
    kids: dict[str | None, list[str]] = defaultdict(list)
    by_id = {r["repost_id"]: r for r in rows}
    for r in rows:
        kids[r.get("parent_id") if r.get("parent_id") in by_id else None].append(r["repost_id"])
    reach: dict[str, int] = {}
    below: dict[str, int] = {}

    def walk(rid: str) -> None:  # iterative post-order (chains can be deep)
        stack = [(rid, False)]
        while stack:
            node, done = stack.pop()
            if done:
                reach[node] = int(by_id[node].get("followers") or 0) + sum(reach[c] for c in kids[node])
                below[node] = sum(1 + below[c] for c in kids[node])
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in kids[node] if c not in reach)

    for rid in by_id:
        if rid not in reach:
            walk(rid)
    ranked = sorted(
        (
            {
                "repost_id": rid,
                "author_id": r.get("author_id"),
                "author_name": r.get("author_name"),
                "followers": int(r.get("followers") or 0),
                "verified": bool(r.get("verified")),
                "reach": reach[rid],
                "reposts_below": below[rid],
                "parent_id": r.get("parent_id"),
            }
            for rid, r in by_id.items()
        ),
        key=lambda s: (-s["reach"], s["repost_id"]),
    )
    return ranked[:limit] if limit else ranked


def tree_of(conn: Connection, tracked_id: int) -> list[dict[str, Any]]:
    """The stored reposts of a tracked post, oldest first (parent_id None: made from the post)."""
    return [
        dict(r)
        for r in conn.execute(
            select(REPOSTS)
            .where(REPOSTS.c.tracked_id == tracked_id)
            .order_by(REPOSTS.c.published_at, REPOSTS.c.id)
        ).mappings()
    ]
