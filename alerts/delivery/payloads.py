"""Alert payload parts (CONTRACTS.md): mention, event, complaint and links dicts, masked text only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from crawler.config import PLATFORM_NAMES
from crawler.storage.models import MENTIONS
from sentiment.pii import mask

if TYPE_CHECKING:
    from crawler.config import AppConfig

EXCERPT = 300
POST_EXCERPT = 120  # the post a comment answers: enough to know what it is about


def masked_excerpt(m: dict[str, Any], limit: int = EXCERPT) -> str:
    """The PII-masked text (the analysis' masking, else long digit runs starred), cut to ``limit``."""
    text = m.get("masked_text")
    if text is None:
        text = mask(m.get("text") or "")
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def mention_part(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m.get("id"),
        "platform": m.get("platform"),
        "kind": m.get("kind"),
        "platform_name": PLATFORM_NAMES.get(m.get("platform") or "", m.get("platform")),
        "author_name": m.get("author_name"),
        "author_followers": int(m.get("author_followers") or 0),
        "author_verified": bool(m.get("author_verified")),
        "text": masked_excerpt(m),
        "likes": int(m.get("likes") or 0),
        "comments": int(m.get("comments") or 0),
        "shares": int(m.get("shares") or 0),
        "url": m.get("url"),
        "published_at": m.get("published_at"),
        "ip_region": m.get("ip_region"),
        "category": m.get("category"),
        "urgency": m.get("urgency"),
        "risk": m.get("risk"),
    }


def growth(conn: Connection, event_id: int, now: datetime, minutes: int = 60) -> dict[str, int]:
    """The event's mentions published in the last window, the one before it and earlier; posts vs comments."""
    m = MENTIONS.c
    t = m.published_at
    w = timedelta(minutes=minutes)
    recent, before, older, comments = conn.execute(
        select(
            func.sum(case((t > now - w, 1), else_=0)),
            func.sum(case((and_(t > now - 2 * w, t <= now - w), 1), else_=0)),
            func.sum(case((t <= now - 2 * w, 1), else_=0)),
            func.sum(case((m.kind == "comment", 1), else_=0)),
        ).where(m.event_id == event_id)
    ).one()
    return {
        "last_hour": int(recent or 0),
        "prev_hour": int(before or 0),
        "older": int(older or 0),
        "comments": int(comments or 0),
        "minutes": minutes,
    }


def growth_of_one(m: dict[str, Any], now: datetime, minutes: int = 60) -> dict[str, int]:
    """:func:`growth` of an event whose only mention is ``m`` (a story seen once), without a query."""
    t, w = m.get("published_at"), timedelta(minutes=minutes)
    recent = int(t is not None and t > now - w)
    before = int(t is not None and now - 2 * w < t <= now - w)
    older = int(t is not None and t <= now - 2 * w)
    return {
        "last_hour": recent,
        "prev_hour": before,
        "older": older,
        "comments": int(m.get("kind") == "comment"),
        "minutes": minutes,
    }


def trend_of(g: dict[str, int]) -> str:
    """rising / falling / stable / new from :func:`growth`'s counts."""
    recent, before, older = g["last_hour"], g["prev_hour"], g["older"]
    if not before and not older:
        return "new"
    if recent > before * 1.5 + 1:
        return "rising"
    if recent * 1.5 + 1 < before:
        return "falling"
    return "stable"


def trend(conn: Connection, event_id: int, now: datetime, minutes: int = 60) -> str:
    """rising / falling / stable / new: the event's mentions in the last window vs the one before."""
    return trend_of(growth(conn, event_id, now, minutes))


def top_spreader(conn: Connection, event_id: int) -> dict[str, Any] | None:
    """The event's member with the widest spread (engagement, then followers): who carries the story."""
    m = MENTIONS.c
    row = (
        conn.execute(
            select(
                m.platform,
                m.kind,
                m.author_name,
                m.author_followers,
                m.author_verified,
                (m.likes + m.comments + m.shares).label("engagement"),
                m.shares,
            )
            .where(m.event_id == event_id)
            .order_by((m.likes + m.comments + m.shares).desc(), m.author_followers.desc(), m.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return {
        "platform": row["platform"],
        "platform_name": PLATFORM_NAMES.get(row["platform"], row["platform"]),
        "kind": row["kind"],
        "author_name": row["author_name"],
        "followers": int(row["author_followers"] or 0),
        "verified": bool(row["author_verified"]),
        "engagement": int(row["engagement"] or 0),
        "shares": int(row["shares"] or 0),
    }


def event_part(
    e: dict[str, Any],
    trend_name: str | None = None,
    *,
    growth_counts: dict[str, int] | None = None,
    spreader: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event's size per platform, engagement and trend; with ``growth_counts`` its speed, and its top spreader."""
    out = {
        "id": e["id"],
        "title": e.get("title") or "",
        "mention_count": int(e.get("mention_count") or 0),
        "platform_counts": dict(e.get("platform_counts") or {}),
        "engagement": int(e.get("engagement") or 0),
        "trend": trend_name,
        "first_seen_at": e.get("first_seen_at"),
        "last_seen_at": e.get("last_seen_at"),
        "negative_count": int(e.get("negative_count") or 0),
        "complaint_count": int(e.get("complaint_count") or 0),
        "max_urgency": e.get("max_urgency"),
    }
    if growth_counts is not None:
        out["growth"] = dict(growth_counts)
        out["comment_count"] = int(growth_counts.get("comments") or 0)
    if spreader is not None:
        out["spreader"] = spreader
    return out


def is_risky(cfg: AppConfig, m: dict[str, Any]) -> bool:
    """A risky mention: a complaint with a risk of at least ``[complaints].min_risk`` (what gets a record)."""
    return bool(m.get("is_complaint")) and int(m.get("risk") or 0) >= cfg.complaints.min_risk


def thread_part(conn: Connection, cfg: AppConfig, m: dict[str, Any]) -> dict[str, Any] | None:
    """For a comment: the post it answers (masked excerpt, author, followers, engagement) and how many of
    the post's stored comments are risky. None for a post; ``{"missing": True}`` when the post is not stored."""
    parent_id = m.get("parent_post_id")
    if not parent_id:
        return None
    c = MENTIONS.c
    risky = and_(c.is_complaint.is_(True), func.coalesce(c.risk, 0) >= cfg.complaints.min_risk)
    total, risky_n = conn.execute(
        select(func.count(), func.sum(case((risky, 1), else_=0))).where(
            c.platform == m["platform"], c.parent_post_id == parent_id
        )
    ).one()
    row = (
        conn.execute(
            select(
                c.platform,
                c.post_id,
                c.title,
                c.text,
                c.masked_text,
                c.author_name,
                c.author_followers,
                c.author_verified,
                c.likes,
                c.comments,
                c.shares,
                c.url,
                c.published_at,
            ).where(c.platform == m["platform"], c.post_id == parent_id)
        )
        .mappings()
        .first()
    )
    counts = {"stored_comments": int(total or 0), "risky_comments": int(risky_n or 0)}
    if row is None:
        return {"missing": True, "post_id": parent_id, **counts}
    post = dict(row)
    return {
        "missing": False,
        "post_id": parent_id,
        "text": masked_excerpt(post, POST_EXCERPT),
        "title": (post.get("title") or "")[:60] or None,
        "author_name": post.get("author_name"),
        "author_followers": int(post.get("author_followers") or 0),
        "author_verified": bool(post.get("author_verified")),
        "likes": int(post.get("likes") or 0),
        "comments": int(post.get("comments") or 0),
        "shares": int(post.get("shares") or 0),
        "url": post.get("url"),
        "published_at": post.get("published_at"),
        **counts,
    }


def complaint_part(c: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "number",
        "category",
        "urgency",
        "assignee",
        "team",
        "status",
        "due_report_at",
        "due_first_check_at",
        "due_answer_at",
        "due_resolve_at",
        "callback_due_at",
    )
    return {k: c.get(k) for k in keys} | {"customer_tags": list(c.get("customer_tags") or [])}


def links(
    cfg: AppConfig,
    *,
    mention_id: int | None = None,
    event_id: int | None = None,
    complaint_number: str | None = None,
) -> dict[str, str | None]:
    """The dashboard page of an alert (``[alerts].dashboard_url``, else ``[api].public_url``): the
    complaint record's page, else the mention's, else the event's, else the start page."""
    base = cfg.alerts.dashboard_url or cfg.api.public_url
    if not base:
        return {"dashboard": None}
    root = base.split("#", 1)[0].rstrip("/") + "/"
    if complaint_number:
        page = f"#/complaint/{quote(str(complaint_number), safe='')}"
    elif mention_id is not None:
        page = f"#/mention/{int(mention_id)}"
    elif event_id is not None:
        page = f"#/event/{int(event_id)}"
    else:
        page = ""
    return {"dashboard": root + page}


def levels_fact(levels: Any) -> list[str] | None:
    """The ``[等级, "非常紧急 2 · 紧急 5"]`` line of a summary from a Counter of urgencies (None: none)."""
    text = " · ".join(f"{u} {levels[u]}" for u in ("非常紧急", "紧急", "一般") if levels[u])
    return ["等级", text] if text else None


def list_payload(
    cfg: AppConfig,
    kind: str,
    title: str,
    brand: str | None,
    text: str,
    facts: list[list[str]],
    items: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A message that lists several things (a backfill summary, a roll-up, gathered SLA notices):
    no single mention, event or record; a text, ``[label, value]`` facts and the listed items."""
    return {
        "kind": kind,
        "title": title,
        "brand": brand,
        "urgency": None,
        "risk": None,
        "reasons": [],
        "mention": None,
        "event": None,
        "complaint": None,
        "text": text,
        "facts": facts,
        "items": items,
        "links": links(cfg),
        **extra,
    }
