"""The hot-list watch: fetch a list, store the snapshot, alert on brand topics, crawl their posts.

:func:`watch_once` is one run (the scheduler's ``hot:<platform>`` job, every ``[hot_lists].schedule``):

1. fetch the list with the light fetcher (session, faults, retries, rate ceiling; a ``crawl_runs``
   row with spider ``hotlist``); Douyin first loads its home page for the web cookies;
2. in one transaction: every line into ``hot_snapshots`` (with the brand it matched), each brand
   topic into ``hot_topics`` (first seen, best rank, labels, heat), topics gone from the list marked
   off it, and the alerts :mod:`alerts.triage.hotlist` decides, queued in the outbox;
3. a brand topic new to the list has its posts crawled at once (a keyword search for the topic on
   the same platform, ``crawler.service.crawl_runner.run_crawl``); the event most of them joined becomes the
   topic's event, shown on the event page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import func, insert, select, update

from alerts.triage import hotlist
from crawler.clock import utcnow
from crawler.service.crawl_runner import run_crawl
from crawler.service.fetch import DESKTOP_UA, LightFetcher, recorded_run
from crawler.storage.mentions import get_watermark
from crawler.storage.models import HOT_SNAPSHOTS as SNAPSHOTS
from crawler.storage.models import HOT_TOPICS as TOPICS
from crawler.storage.models import MENTIONS
from spiders import _hot_api as api

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from crawler.config import AppConfig

TopicCrawl = Callable[[str, str, str], Any]
"""``(platform, brand, keyword) -> outcome``: crawl one topic's posts (a keyword search)."""


@dataclass
class WatchResult:
    platform: str
    status: str = "ok"
    run_id: int | None = None
    lines: int = 0
    topics: list[str] = field(default_factory=list)  # brand topics on the list now
    entered: list[str] = field(default_factory=list)  # brand topics new to the list
    alerts: list[int] = field(default_factory=list)
    crawled: dict[str, str] = field(default_factory=dict)  # topic -> crawl status
    error_kind: str | None = None
    fetched_at: datetime | None = None


def list_host(cfg: AppConfig, platform: str) -> str:
    """Where a list is fetched: ``[hot_lists].<platform>_url``, else derived from the platform's base URL
    (the real m.weibo.cn → the PC site weibo.com; a simulator or mirror serves both under one base)."""
    if platform == "weibo":
        if cfg.hot_lists.weibo_url:
            return cfg.hot_lists.weibo_url.rstrip("/")
        base = cfg.platforms.weibo.base_url.rstrip("/")
        return "https://weibo.com" if base == "https://m.weibo.cn" else base
    return (cfg.hot_lists.douyin_url or cfg.platforms.douyin.base_url).rstrip("/")


def list_url(cfg: AppConfig, platform: str) -> str:
    return list_host(cfg, platform) + (api.WEIBO_HOT_PATH if platform == "weibo" else api.DOUYIN_HOT_PATH)


def fetch_list(cfg: AppConfig, fetcher: LightFetcher, platform: str) -> api.HotPage:
    url = list_url(cfg, platform)
    if platform == "weibo":
        return api.parse_weibo_hot(fetcher.get(url, headers={"Referer": "https://weibo.com/"}), url=url)
    home = list_host(cfg, platform) + "/"
    if "ttwid" not in fetcher.client.cookies:
        fetcher.get(home, raw=True)  # the web cookies (ttwid) the API wants
    return api.parse_douyin_hot(
        fetcher.get(url, params=api.DOUYIN_HOT_PARAMS, headers={"Referer": home}), url=url
    )


def store(
    conn: Connection,
    cfg: AppConfig,
    platform: str,
    page: api.HotPage,
    now: datetime,
    run_id: int | None,
    result: WatchResult,
) -> list[int]:
    """Snapshot, topics and alerts of one fetched list, in the caller's transaction; returns new topic ids."""
    matched: dict[str, tuple[str, str]] = {}
    rows = []
    for it in page.items:
        m = None if it.is_ad else hotlist.match_topic(cfg, it.word)
        if m is not None and it.word not in matched:
            matched[it.word] = m
        rows.append(
            {
                "platform": platform,
                "fetched_at": now,
                "word": it.word,
                "rank": it.rank,
                "heat": it.heat,
                "label": it.label,
                "is_ad": it.is_ad,
                "brand": m[0] if m else None,
                "run_id": run_id,
            }
        )
    if rows:
        conn.execute(insert(SNAPSHOTS), rows)
    t = TOPICS.c
    known = {
        r["word"]: dict(r)
        for r in conn.execute(
            select(TOPICS).where(t.platform == platform, t.word.in_(list(matched) or [""]))
        ).mappings()
    }
    new_ids: list[int] = []
    for it in page.items:
        if it.word not in matched or it.word in result.topics:
            continue
        brand, term = matched[it.word]
        result.topics.append(it.word)
        topic = known.get(it.word)
        if topic is None:
            values = {
                "platform": platform,
                "word": it.word,
                "brand": brand,
                "matched_by": term,
                "first_seen_at": now,
                "last_seen_at": now,
                "first_rank": it.rank,
                "best_rank": it.rank,
                "last_rank": it.rank,
                "last_heat": it.heat,
                "peak_heat": it.heat,
                "last_label": it.label,
                "labels": [it.label] if it.label else [],
                "search_url": it.search_url,
                "alert_state": {},
            }
            tid = int(conn.execute(insert(TOPICS).returning(t.id), values).scalar_one())
            topic = {"id": tid, **values}
            new_ids.append(tid)
            result.entered.append(it.word)
        else:
            labels = list(topic.get("labels") or [])
            if it.label and it.label not in labels:
                labels.append(it.label)
            changes = {
                "last_seen_at": now,
                "last_rank": it.rank,
                "best_rank": min(int(topic["best_rank"] or it.rank), it.rank),
                "last_heat": it.heat,
                "peak_heat": max(int(topic["peak_heat"] or 0), it.heat),
                "last_label": it.label,
                "labels": labels,
            }
            if topic.get("last_rank") is None:  # back on the list after leaving it
                result.entered.append(it.word)
            conn.execute(update(TOPICS).where(t.id == topic["id"]).values(changes))
            topic.update(changes)
        reasons = hotlist.updates(
            topic.get("alert_state"), it.rank, it.label, top=cfg.hot_lists.top, jump=cfg.hot_lists.rank_jump
        )
        if reasons:
            alert_id = hotlist.send(conn, cfg, topic, it, reasons, now)
            state = hotlist.after_alert(topic.get("alert_state"), it.rank, it.label, now)
            conn.execute(update(TOPICS).where(t.id == topic["id"]).values(alert_state=state))
            if alert_id is not None:
                result.alerts.append(alert_id)
    # brand topics of this list that are gone from it
    conn.execute(
        update(TOPICS)
        .where(t.platform == platform, t.last_rank.is_not(None), t.word.not_in(result.topics or [""]))
        .values(last_rank=None)
    )
    return new_ids


def link_event(conn: Connection, topic_id: int, brand: str, keyword: str, platform: str) -> int | None:
    """The event most of the topic's crawled posts joined, recorded as the topic's event.

    Posts the topic search found first carry the topic as their keyword. When the brand's own
    searches stored them earlier (the usual case: a story is on the list because people already
    post about it), they keep their keyword; then the newest post the topic search saw (its
    watermark) names the event."""
    m = MENTIONS.c
    counts: Counter[int] = Counter(
        dict(
            conn.execute(
                select(m.event_id, func.count())
                .where(m.brand == brand, m.keyword == keyword, m.event_id.is_not(None))
                .group_by(m.event_id)
            ).all()
        )
    )
    if not counts:
        mark = get_watermark(conn, platform, brand, keyword)
        newest = mark.get("newest_post_id") if mark else None
        found = (
            conn.execute(select(m.event_id).where(m.platform == platform, m.post_id == str(newest))).scalar()
            if newest
            else None
        )
        if found is None:
            return None
        counts[found] = 1
    event_id = int(counts.most_common(1)[0][0])
    conn.execute(update(TOPICS).where(TOPICS.c.id == topic_id).values(event_id=event_id))
    return event_id


def default_topic_crawl(cfg: AppConfig) -> TopicCrawl:
    def crawl(platform: str, brand: str, keyword: str) -> Any:

        return run_crawl(
            platform,
            brand,
            keyword=keyword,
            config_path=cfg.source,
            timeout=cfg.scheduler.crawl_timeout_minutes * 60,
        )

    return crawl


def watch_once(
    engine: Engine,
    cfg: AppConfig,
    platform: str,
    *,
    fetcher: LightFetcher | None = None,
    crawl: TopicCrawl | None = None,
    now: datetime | None = None,
) -> WatchResult:
    """One fetch of ``platform``'s hot list, stored and alerted; new brand topics crawled (``crawl``)."""
    result = WatchResult(platform)
    own = fetcher is None
    if fetcher is None:
        desktop: dict[str, Any] = {"user_agent": DESKTOP_UA} if platform in ("weibo", "douyin") else {}
        fetcher = LightFetcher.for_platform(
            cfg,
            platform,
            timeout=cfg.hot_lists.timeout_seconds,
            **desktop,
        )
    new_ids: list[int] = []
    try:
        with recorded_run(engine, fetcher, spider="hotlist") as run:
            result.run_id = run.run_id
            page = fetch_list(cfg, fetcher, platform)
            result.fetched_at = now or utcnow()
            run.pages, run.items = 1, len(page.items)
            with engine.begin() as conn:
                new_ids = store(conn, cfg, platform, page, result.fetched_at, run.run_id, result)
            run.new = len(new_ids)
            run.stats = {
                "bad_items": len(page.bad),
                "brand_topics": result.topics,
                "alerts": len(result.alerts),
            }
            result.lines = len(page.items)
            if page.bad:
                logger.warning(
                    "hot list {}: skipped {} malformed line(s): {}", platform, len(page.bad), page.bad[:3]
                )
        if run.error is not None:
            result.status, result.error_kind = run.status, str(run.error.kind)
    finally:
        if own:
            fetcher.close()
    if new_ids and cfg.hot_lists.crawl_topics:
        crawl = crawl or default_topic_crawl(cfg)
        with engine.connect() as conn:
            topics = [
                dict(r) for r in conn.execute(select(TOPICS).where(TOPICS.c.id.in_(new_ids))).mappings()
            ]
        for topic in topics:
            result.crawled[topic["word"]] = _crawl_topic(engine, cfg, topic, crawl)
    return result


def _crawl_topic(engine: Engine, cfg: AppConfig, topic: dict[str, Any], crawl: TopicCrawl) -> str:
    platform = topic["platform"] if topic["platform"] in cfg.platforms.enabled() else "weibo"
    try:
        outcome = crawl(platform, topic["brand"], topic["word"])
        status = str(getattr(outcome, "status", None) or "ok")
    except Exception as exc:  # boundary: a failed topic crawl is recorded, the watch goes on
        logger.exception("crawl of hot topic {!r} failed", topic["word"])
        status = f"error: {type(exc).__name__}"[:16]
    with engine.begin() as conn:
        event_id = link_event(conn, topic["id"], topic["brand"], topic["word"], platform)
        conn.execute(
            update(TOPICS)
            .where(TOPICS.c.id == topic["id"])
            .values(crawled_at=utcnow(), crawl_status=status[:16])
        )
    logger.info("hot topic {!r}: posts crawled ({}), event {}", topic["word"], status, event_id)
    return status
