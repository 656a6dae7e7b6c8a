"""Incremental crawling: what is already stored, when to stop paging, what to re-fetch.

At spider start :meth:`CrawlMemory.load` reads, for one platform, the posts stored
within the window (their engagement), the watermark of each keyword and the work the
previous run left pending (comments, details, long texts: the ``crawl_pending`` rows, written
with the posts that made them due, so even a killed run leaves them). A page is
worth following while it brings new posts, or recent posts whose engagement changed
(so a post that starts spreading is seen spreading), or until it reaches the region
the last clean run already covered (the watermark). An unchanged platform therefore
costs one request per search. A keyword's watermark only moves when its crawl ended
without faults, so a failed run's gap is re-crawled next time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crawler.clock import utcnow
from crawler.items import MentionItem
from crawler.storage.mentions import brand_crawl_runs, get_watermark, load_pending
from crawler.storage.models import CRAWL_RUNS as RUNS
from crawler.storage.models import MENTIONS

NEW, CHANGED, SEEN = "new", "changed", "seen"
PENDING_KINDS = ("comments", "details")


@dataclass(slots=True)
class KnownPost:
    likes: int
    comments: int
    shares: int
    status: Any = None


def engagement_key(item: MentionItem) -> KnownPost:
    status = (item.extra or {}).get("status")
    return KnownPost(item.likes, item.comments, item.shares, status)


@dataclass(slots=True)
class PageVerdict:
    follow: bool
    reason: str  # empty | window | covered | more | changes


def page_verdict(
    outcomes: Iterable[tuple[str, datetime | None]],
    *,
    watermark: datetime | None,
    window_start: datetime,
    refresh_start: datetime,
) -> PageVerdict:
    """Whether the next page is worth a request, from this page's (state, published_at) pairs."""
    pairs = list(outcomes)
    if not pairs:
        return PageVerdict(False, "empty")
    times = [t for _, t in pairs if t is not None]
    oldest = min(times) if times else None
    if oldest is not None and oldest < window_start:
        return PageVerdict(False, "window")
    covered = watermark is not None and oldest is not None and oldest <= watermark
    if not covered:
        return PageVerdict(True, "more")
    # Inside the covered region, only a missed post or a spreading post justifies going on.
    useful = any(
        (state == NEW and (t is None or t <= watermark))  # type: ignore[operator]
        or (state == CHANGED and (t is None or t >= refresh_start))
        for state, t in pairs
    )
    return PageVerdict(useful, "changes" if useful else "covered")


@dataclass
class CrawlMemory:
    """Per-run view of what the database already holds for one platform."""

    platform: str
    known: dict[str, KnownPost] = field(default_factory=dict)
    published: dict[str, datetime] = field(default_factory=dict)
    watermarks: dict[str, datetime | None] = field(default_factory=dict)
    pending: dict[str, set[str]] = field(default_factory=dict)
    window_days: int = 7
    refresh_hours: int = 24
    now: datetime = field(default_factory=utcnow)
    newest: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    seen_this_run: set[str] = field(default_factory=set)

    @property
    def window_start(self) -> datetime:
        return self.now - timedelta(days=self.window_days)

    @property
    def refresh_start(self) -> datetime:
        return self.now - timedelta(hours=self.refresh_hours)

    @classmethod
    def load(
        cls,
        engine: Engine,
        *,
        platform: str,
        brand: str,
        keywords: list[str],
        window_days: int = 7,
        refresh_hours: int = 24,
        now: datetime | None = None,
    ) -> CrawlMemory:
        mem = cls(
            platform=platform,
            window_days=window_days,
            refresh_hours=refresh_hours,
            now=now or utcnow(),
        )
        # A margin past the window: posts just outside it still count as known.
        since = mem.window_start - timedelta(days=1)
        cols = (
            MENTIONS.c.post_id,
            MENTIONS.c.kind,
            MENTIONS.c.published_at,
            MENTIONS.c.likes,
            MENTIONS.c.comments,
            MENTIONS.c.shares,
            MENTIONS.c.extra,
        )
        stmt = select(*cols).where(
            MENTIONS.c.platform == platform,
            (MENTIONS.c.published_at >= since) | (MENTIONS.c.published_at.is_(None)),
        )
        with engine.connect() as conn:
            for row in conn.execute(stmt):
                if row.published_at is not None:
                    mem.published[row.post_id] = row.published_at
                if row.kind == "comment":
                    continue
                status = row.extra.get("status") if isinstance(row.extra, dict) else None
                mem.known[row.post_id] = KnownPost(row.likes or 0, row.comments or 0, row.shares or 0, status)
            for kw in keywords:
                wm = get_watermark(conn, platform, brand, kw)
                mem.watermarks[kw] = wm["newest_published_at"] if wm else None
            mem.pending = _last_pending(conn, platform, brand)  # runs of versions before crawl_pending
            for kind, ids in load_pending(conn, platform, brand, PENDING_KINDS).items():
                mem.pending.setdefault(kind, set()).update(ids)
        return mem

    def classify(self, item: MentionItem) -> str:
        """new / changed (engagement or status moved) / seen; remembers the item for this run."""
        key = engagement_key(item)
        old = self.known.get(item.post_id)
        self.known[item.post_id] = key
        if old is None:
            return NEW
        return SEEN if old == key else CHANGED

    def was_known(self, post_id: str) -> bool:
        return post_id in self.known

    def pin_time(self, item: MentionItem) -> None:
        """Keep the first observed publish time: relative forms (5分钟前, 昨天 12:00, 06-01) drift between crawls."""
        first = self.published.get(item.post_id)
        if first is not None:
            item.published_at = first
        elif item.published_at is not None:
            self.published[item.post_id] = item.published_at

    def note_published(self, keyword: str, item: MentionItem) -> None:
        if item.published_at is None or item.published_at > self.now + timedelta(hours=1):
            return
        best = self.newest.get(keyword)
        if best is None or item.published_at > best[0]:
            self.newest[keyword] = (item.published_at, item.post_id)

    def verdict(self, keyword: str, outcomes: list[tuple[str, datetime | None]]) -> PageVerdict:
        return page_verdict(
            outcomes,
            watermark=self.watermarks.get(keyword),
            window_start=self.window_start,
            refresh_start=self.refresh_start,
        )

    def first_time_in_run(self, post_id: str) -> bool:
        """False when this run already handled the post (found by two searches)."""
        if post_id in self.seen_this_run:
            return False
        self.seen_this_run.add(post_id)
        return True


def _last_pending(conn: Any, platform: str, brand: str) -> dict[str, set[str]]:
    stmt = (
        select(RUNS.c.stats)
        .where(
            RUNS.c.platform == platform,
            RUNS.c.brand == brand,
            RUNS.c.status != "running",
            brand_crawl_runs(),
        )
        .order_by(RUNS.c.id.desc())
        .limit(1)
    )
    stats = conn.execute(stmt).scalar()
    raw = stats.get("pending") if isinstance(stats, dict) else None
    out: dict[str, set[str]] = {k: set() for k in PENDING_KINDS}
    if isinstance(raw, dict):
        for kind in PENDING_KINDS:
            ids = raw.get(kind)
            if isinstance(ids, list):
                out[kind].update(str(i) for i in ids[:5000])
    return out


def load_items(engine: Engine, platform: str, post_ids: Iterable[str]) -> list[MentionItem]:
    """Stored mentions back as items (to finish pending work on them without losing fields)."""
    ids = list(post_ids)
    if not ids:
        return []
    names = [f.name for f in MentionItem.__dataclass_fields__.values() if f.name != "analysis"]
    stmt = select(*(MENTIONS.c[n] for n in names)).where(
        MENTIONS.c.platform == platform, MENTIONS.c.post_id.in_(ids)
    )
    with engine.connect() as conn:
        return [MentionItem(**dict(row)) for row in conn.execute(stmt).mappings()]
