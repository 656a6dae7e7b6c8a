"""Alert payload parts (CONTRACTS.md): mention, event, complaint and links dicts, masked text only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from alerts.customers import PLATFORM_NAMES
from crawler.storage.models import Mention

if TYPE_CHECKING:
    from crawler.config import AppConfig

MENTIONS = Mention.__table__  # type: ignore[attr-defined]
EXCERPT = 300
_LONG_DIGITS = re.compile(r"\d{5,}")


def masked_excerpt(m: dict[str, Any], limit: int = EXCERPT) -> str:
    """The PII-masked text (the analysis' masking, else long digit runs starred), cut to ``limit``."""
    text = m.get("masked_text")
    if text is None:
        try:
            from sentiment.pii import mask
        except ImportError:
            text = _LONG_DIGITS.sub(lambda x: "*" * len(x.group()), m.get("text") or "")
        else:
            text = mask(m.get("text") or "")
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def mention_part(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m.get("id"), "platform": m.get("platform"),
        "platform_name": PLATFORM_NAMES.get(m.get("platform") or "", m.get("platform")),
        "author_name": m.get("author_name"), "author_followers": int(m.get("author_followers") or 0),
        "author_verified": bool(m.get("author_verified")), "text": masked_excerpt(m),
        "likes": int(m.get("likes") or 0), "comments": int(m.get("comments") or 0),
        "shares": int(m.get("shares") or 0), "url": m.get("url"), "published_at": m.get("published_at"),
        "ip_region": m.get("ip_region"), "category": m.get("category"),
        "urgency": m.get("urgency"), "risk": m.get("risk"),
    }


def trend(conn: Connection, event_id: int, now: datetime, minutes: int = 60) -> str:
    """rising / falling / stable / new: the event's mentions in the last window vs the one before."""
    t = MENTIONS.c.published_at
    w = timedelta(minutes=minutes)
    recent, before, older = conn.execute(select(
        func.sum(case((t > now - w, 1), else_=0)),
        func.sum(case((and_(t > now - 2 * w, t <= now - w), 1), else_=0)),
        func.sum(case((t <= now - 2 * w, 1), else_=0)),
    ).where(MENTIONS.c.event_id == event_id)).one()
    recent, before, older = int(recent or 0), int(before or 0), int(older or 0)
    if not before and not older:
        return "new"
    if recent > before * 1.5 + 1:
        return "rising"
    if recent * 1.5 + 1 < before:
        return "falling"
    return "stable"


def event_part(e: dict[str, Any], trend_name: str | None = None) -> dict[str, Any]:
    return {
        "id": e["id"], "title": e.get("title") or "", "mention_count": int(e.get("mention_count") or 0),
        "platform_counts": dict(e.get("platform_counts") or {}), "engagement": int(e.get("engagement") or 0),
        "trend": trend_name, "first_seen_at": e.get("first_seen_at"), "last_seen_at": e.get("last_seen_at"),
        "negative_count": int(e.get("negative_count") or 0), "complaint_count": int(e.get("complaint_count") or 0),
        "max_urgency": e.get("max_urgency"),
    }


def complaint_part(c: dict[str, Any]) -> dict[str, Any]:
    keys = ("number", "category", "urgency", "assignee", "team", "status", "due_report_at",
            "due_first_check_at", "due_answer_at", "due_resolve_at", "callback_due_at")
    return {k: c.get(k) for k in keys} | {"customer_tags": list(c.get("customer_tags") or [])}


def links(cfg: AppConfig, *, mention_id: int | None = None, event_id: int | None = None,
          complaint_number: str | None = None) -> dict[str, str | None]:
    """The dashboard link of an alert (``[alerts].dashboard_url``, else ``[api].public_url``).

    The dashboard has no per-item pages yet, so every alert links to its start page.
    """
    base = cfg.alerts.dashboard_url or cfg.api.public_url
    return {"dashboard": base.rstrip("/") + "/" if base else None}
