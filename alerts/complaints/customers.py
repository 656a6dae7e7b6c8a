"""Customers: the ``authors`` table (counts per platform account) and tags from complaint history.

Triage counts every new mention per author; complaint registration adds complaints and
escalations (an author who threatened or started escalation outside the company: 12315,
消协, media, lawyer...). Seed 003: history tags (previous complaints, previous escalation,
preferred channel) let the complaint team spot escalation risk at first contact.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crawler.config import PLATFORM_NAMES
from crawler.storage.models import AUTHORS, COMPLAINTS

ESCALATION_RE = re.compile(
    r"12315|12345|消协|消费者协会|市场监管|工商局|315晚会|媒体|记者|电视台|曝光|律师|起诉|法院|诉讼|报警|派出所|警察"
)


def is_escalation(m: dict[str, Any]) -> bool:
    """Whether a mention threatens or reports escalation outside the company."""
    text = f"{m.get('title') or ''} {m.get('text') or ''} {' '.join(m.get('reasons') or [])}"
    return bool(ESCALATION_RE.search(text))


@dataclass(slots=True)
class Profile:
    """What history says about a customer before the current mention."""

    complaints: int = 0
    escalations: int = 0
    platforms: dict[str, int] = field(default_factory=dict)

    @property
    def preferred_channel(self) -> str | None:
        if not self.platforms:
            return None
        return max(sorted(self.platforms), key=lambda p: self.platforms[p])

    def tags(self, current_platform: str, *, escalating_now: bool, big_v: bool) -> list[str]:
        out: list[str] = []
        if self.complaints:
            out.append(f"历史投诉{self.complaints}次")
        if self.escalations:
            out.append("有升级投诉史")
        pref = self.preferred_channel or current_platform
        out.append(f"偏好渠道:{PLATFORM_NAMES.get(pref, pref)}")
        if escalating_now:
            out.append("本次扬言升级")
        if big_v:
            out.append("大V")
        return out


def _upsert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(AUTHORS)
    return sqlite.insert(AUTHORS)


def touch(conn: Connection, mentions: list[dict[str, Any]], now: datetime) -> None:
    """Count new mentions per author (insert the author or update name, followers, last seen)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for m in mentions:
        if not m.get("author_id"):
            continue
        key = (m["platform"], str(m["author_id"]))
        counts[key] += 1
        seen[key] = m
    if not seen:
        return
    rows = [
        {
            "platform": k[0],
            "author_id": k[1],
            "name": m.get("author_name"),
            "followers": int(m.get("author_followers") or 0),
            "verified": bool(m.get("author_verified")),
            "region": m.get("ip_region"),
            "first_seen_at": now,
            "last_seen_at": now,
            "mention_count": counts[k],
            "complaint_count": 0,
            "escalation_count": 0,
        }
        for k, m in sorted(seen.items())
    ]
    stmt = _upsert(conn)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["platform", "author_id"],
            set_={
                "name": func.coalesce(stmt.excluded.name, AUTHORS.c.name),
                "followers": stmt.excluded.followers,
                "verified": stmt.excluded.verified,
                "region": func.coalesce(stmt.excluded.region, AUTHORS.c.region),
                "last_seen_at": stmt.excluded.last_seen_at,
                "mention_count": AUTHORS.c.mention_count + stmt.excluded.mention_count,
            },
        ),
        rows,
    )


def profiles(conn: Connection, people: set[tuple[str, str]]) -> dict[tuple[str, str], Profile]:
    """History of each (platform, author id): complaint and escalation counts, platforms of past records."""
    out: dict[tuple[str, str], Profile] = {}
    for platform in sorted({p for p, _ in people}):
        ids = sorted(a for p, a in people if p == platform)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in conn.execute(
                select(AUTHORS.c.author_id, AUTHORS.c.complaint_count, AUTHORS.c.escalation_count).where(
                    AUTHORS.c.platform == platform, AUTHORS.c.author_id.in_(chunk)
                )
            ):
                out[(platform, r[0])] = Profile(int(r[1]), int(r[2]))
            for r in conn.execute(
                select(COMPLAINTS.c.customer_id, COMPLAINTS.c.platform, func.count())
                .where(COMPLAINTS.c.customer_platform == platform, COMPLAINTS.c.customer_id.in_(chunk))
                .group_by(COMPLAINTS.c.customer_id, COMPLAINTS.c.platform)
            ):
                out.setdefault((platform, r[0]), Profile()).platforms[r[1]] = int(r[2])
    return out


def profile(conn: Connection, platform: str, author_id: str | None) -> Profile:
    """The customer's history (see :func:`profiles`)."""
    if not author_id:
        return Profile()
    return profiles(conn, {(platform, author_id)}).get((platform, author_id), Profile())


def record_many(conn: Connection, deltas: dict[tuple[str, str], list[Any]], now: datetime) -> None:
    """Add complaints/escalations per (platform, author): ``[complaints, escalations, tags]``; store the tags
    (``tags`` None leaves the author's tags as they are)."""
    if not deltas:
        return
    for with_tags in (True, False):  # tags None: someone else's record was joined, keep their own tags
        rows = [
            {
                "platform": p,
                "author_id": a,
                "first_seen_at": now,
                "last_seen_at": now,
                "mention_count": 0,
                "complaint_count": int(d[0]),
                "escalation_count": int(d[1]),
                "tags": d[2] if with_tags else [],
                "followers": 0,
                "verified": False,
            }
            for (p, a), d in sorted(deltas.items())
            if (d[2] is not None) == with_tags
        ]
        if not rows:
            continue
        stmt = _upsert(conn)
        changes = {
            "complaint_count": AUTHORS.c.complaint_count + stmt.excluded.complaint_count,
            "escalation_count": AUTHORS.c.escalation_count + stmt.excluded.escalation_count,
        }
        if with_tags:
            changes["tags"] = stmt.excluded.tags
        conn.execute(stmt.on_conflict_do_update(index_elements=["platform", "author_id"], set_=changes), rows)
