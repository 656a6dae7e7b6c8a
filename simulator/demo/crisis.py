"""``yuqing demo``'s crisis tracking: the brand topic lands on the hot lists, its crisis post is followed.

Runs after the crawls (``simulator.demo.runner.SECTIONS``, before the alerts are delivered), against the
same simulator, with the product's own code: :func:`crawler.service.hotwatch.watch_once` for the lists and
:func:`crawler.service.tracking.run_due` for the watched posts, over HTTP with the light fetcher.

1. **Hot lists.** The lists are fetched once (the brand is not on them), then the simulator lets
   the brand topic in (Weibo now, Douyin :data:`DOUYIN_AFTER` seconds later) and the lists are
   fetched every :data:`HOT_EVERY` seconds instead of every 5 minutes. The simulator runs the
   topic's path :data:`HOT_SPEED` times faster, so within half a minute it climbs into the top 10 and
   gains 沸 then 爆. Every alert (登榜 first, then the updates) is queued for the crisis channels and
   delivered by the alerts section; the topic's posts are crawled by a keyword search (a Scrapy
   process, in the background) and the topic is joined to the crisis event.
2. **Tracking.** The crawls' triage already put the crisis' first Weibo post on watch (the earliest
   post of its event). Between two list fetches the watch is visited on a **simulated clock**: the
   clock jumps to the next due visit and the simulator's repost cascade jumps with it, so a few
   hours of the schedule (:data:`TRACK_HOURS` at most, :data:`TRACK_VISITS` visits of the crisis
   post) pass in seconds. The visits' times are therefore ahead of the wall clock; the summary says
   by how much.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import func, select

from crawler.analytics.spread import tracked_view
from crawler.clock import utcnow
from crawler.service.crawl_runner import CrawlJob, run_crawls
from crawler.service.fetch import DESKTOP_UA, LightFetcher, session_cookies
from crawler.service.hotwatch import _crawl_topic, watch_once
from crawler.service.tracking import run_due
from crawler.storage.models import ALERT_HOLDS as HOLDS
from crawler.storage.models import ALERTS
from crawler.storage.models import HOT_TOPICS as TOPICS
from crawler.storage.models import TRACKED_POSTS as TRACKED
from simulator.demo.runner import HOT_SPEED, DemoSection, _overrides

if TYPE_CHECKING:
    from crawler.config import AppConfig, PlatformConfig
    from crawler.service.fetch import LightFetcher
    from simulator.demo.runner import DemoContext, DemoSection

HOT_EVERY = 3.0  # seconds between two fetches of a list (the product's default: 5 minutes)
HOT_SECONDS = 36.0  # watch the lists this long at most after the topic entered
DOUYIN_AFTER = 4.0  # the topic reaches the Douyin hot list this many seconds after Weibo hot search
TRACK_HOURS = 4.0  # simulated hours of tracking at most
TRACK_VISITS = 12  # visits of the crisis post at most
TOPIC_CRAWL_TIMEOUT = 90.0


def demo_config(ctx: DemoContext) -> AppConfig:
    """The demo's config pointed at the simulator: lists, repost timelines and comment pages."""
    cfg, sim = ctx.cfg, ctx.simulator
    platforms: dict[str, PlatformConfig] = {
        p: cfg.platforms.get(p).model_copy(update={"base_url": sim.base_url(p)})
        for p in ("weibo", "douyin")
        if p in ctx.platforms
    }
    hot = {f"{p}_url": sim.base_url(p) for p in platforms}
    return cfg.model_copy(
        update={
            "platforms": cfg.platforms.model_copy(update=platforms),
            "hot_lists": cfg.hot_lists.model_copy(update={**hot, "crawl_topics": False}),
        }
    )


def _fetcher(ctx: DemoContext, cfg: AppConfig, platform: str, *, desktop: bool) -> LightFetcher:
    """A light fetcher with the demo crawls' session; no per-minute ceiling (the simulator needs none)."""

    cookies = session_cookies(cfg, platform, _overrides(ctx.simulator, platform, ctx.database_url))
    kw: dict[str, Any] = {"per_minute": 0, "retries": 2, "timeout": 10.0}
    if desktop:  # the lists are PC endpoints, as in crawler.service.hotwatch
        kw["user_agent"] = DESKTOP_UA
    return LightFetcher.for_platform(cfg, platform, cookies=cookies, **kw)


def _topic_crawl(ctx: DemoContext) -> Any:
    """``(platform, brand, keyword) -> outcome``: a keyword search in a Scrapy process, pointed at the simulator."""

    def crawl(platform: str, brand: str, keyword: str) -> Any:
        job = CrawlJob(
            platform, brand, keyword=keyword, settings=_overrides(ctx.simulator, platform, ctx.database_url)
        )
        [outcome] = run_crawls([job], config_path=ctx.config_path, timeout=TOPIC_CRAWL_TIMEOUT)
        return outcome

    return crawl


class _Clock:
    """The tracking clock: the wall clock plus how far the demo has jumped ahead (the cascades jump too)."""

    def __init__(self, world: Any) -> None:
        self.world, self.ahead = world, timedelta(0)

    def now(self) -> Any:
        return utcnow() + self.ahead

    def jump_to(self, when: Any) -> None:
        gap = (when - self.now()).total_seconds()
        if gap > 0:
            self.ahead += timedelta(seconds=gap)
            for cascade in self.world.cascades.values():
                cascade.advance(gap)


def _next_due(ctx: DemoContext) -> Any:
    with ctx.engine.connect() as conn:
        return conn.execute(
            select(func.min(TRACKED.c.next_at)).where(TRACKED.c.status == "watching")
        ).scalar()


def _aware(t: Any) -> Any:

    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def crisis_section(ctx: DemoContext) -> DemoSection | None:
    """The brand topic on the hot lists (alerts, posts, event) and the crisis post followed on a simulated clock."""

    world = ctx.simulator.world
    cfg = demo_config(ctx)
    lists: list[str] = [p for p in cfg.hot_lists.platforms if p in ctx.platforms and p in world.hot]
    if not lists or not cfg.hot_lists.enabled:
        return DemoSection(
            "热榜与传播追踪 (crisis tracking)",
            ["note"],
            [["no hot list to watch: Weibo and Douyin are not crawled or [hot_lists] is off"]],
        )
    started = time.monotonic()
    fetchers = {p: _fetcher(ctx, cfg, p, desktop=True) for p in lists}
    track_fetcher = _fetcher(ctx, cfg, "weibo", desktop=False) if "weibo" in ctx.platforms else None
    clock = _Clock(world)
    roots = set(world.cascades)
    crawl = _topic_crawl(ctx)
    crawls: dict[str, Future[str]] = {}
    visits: list[Any] = []
    fetches = failures = 0
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            before = {p: watch_once(ctx.engine, cfg, p, fetcher=fetchers[p]).topics for p in lists}
            entered = utcnow() + timedelta(seconds=1)
            world.hot_topic_enters(entered, douyin_after=DOUYIN_AFTER)
            while time.monotonic() - started < HOT_SECONDS + 3:
                tick = time.monotonic()
                for p in lists:
                    res = watch_once(ctx.engine, cfg, p, fetcher=fetchers[p])
                    fetches += 1
                    failures += res.status != "ok"
                    for word in res.entered:  # the topic's posts: a keyword search, in the background
                        with ctx.engine.connect() as conn:
                            topic = (
                                conn.execute(
                                    select(TOPICS).where(TOPICS.c.platform == p, TOPICS.c.word == word)
                                )
                                .mappings()
                                .one()
                            )
                        crawls[f"{p}:{word}"] = pool.submit(_crawl_topic, ctx.engine, cfg, dict(topic), crawl)
                if track_fetcher is not None and _root_visits(ctx, roots) < TRACK_VISITS:
                    due = _next_due(ctx)
                    if due is not None and clock.now() - utcnow() < timedelta(hours=TRACK_HOURS):
                        clock.jump_to(_aware(due))
                        visits += run_due(ctx.engine, cfg, fetcher=track_fetcher, now=clock.now())
                if _peaked(ctx, lists):
                    break
                time.sleep(max(0.0, HOT_EVERY - (time.monotonic() - tick)))
            while (
                track_fetcher is not None
                and _root_visits(ctx, roots) < TRACK_VISITS
                and clock.now() - utcnow() < timedelta(hours=TRACK_HOURS)
            ):
                due = _next_due(ctx)
                if due is None:
                    break
                clock.jump_to(_aware(due))
                visits += run_due(ctx.engine, cfg, fetcher=track_fetcher, now=clock.now())
            topic_status = {k: f.result() for k, f in crawls.items()}
    finally:
        for f in [*fetchers.values(), track_fetcher]:
            if f is not None:
                f.close()
    return _summary(
        ctx,
        lists,
        before,
        entered,
        fetches,
        failures,
        topic_status,
        visits,
        clock,
        roots,
        time.monotonic() - started,
    )


def _root_visits(ctx: DemoContext, roots: set[str]) -> int:
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.max(TRACKED.c.fetches), 0)).where(
                    TRACKED.c.platform == "weibo", TRACKED.c.post_id.in_(roots or {""})
                )
            ).scalar_one()
        )


def _peaked(ctx: DemoContext, lists: list[str]) -> bool:
    """Every list shows the topic, and Weibo's has reached 爆 (the last label it gains)."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(TOPICS.c.platform, TOPICS.c.labels)).all()
    seen = {p for p, _ in rows}
    weibo_top = any("爆" in (labels or []) for p, labels in rows if p == "weibo")
    return set(lists) <= seen and ("weibo" not in lists or weibo_top)


def _summary(
    ctx: DemoContext,
    lists: list[str],
    before: dict[str, list[str]],
    entered: Any,
    fetches: int,
    failures: int,
    topic_status: dict[str, str],
    visits: list[Any],
    clock: _Clock,
    roots: set[str],
    seconds: float,
) -> DemoSection:

    rows: list[list[Any]] = []
    with ctx.engine.connect() as conn:
        topics = [dict(r) for r in conn.execute(select(TOPICS).order_by(TOPICS.c.id)).mappings()]
        hot_alerts = [
            dict(r)
            for r in conn.execute(
                select(ALERTS.c.id, ALERTS.c.payload, ALERTS.c.event_id)
                .where(ALERTS.c.kind == "hot")
                .order_by(ALERTS.c.id)
            ).mappings()
        ]
        spread_alerts = (
            conn.execute(select(ALERTS.c.payload).where(ALERTS.c.kind == "spread").order_by(ALERTS.c.id))
            .scalars()
            .all()
        )
        spread_held = int(
            conn.execute(
                select(func.count(func.distinct(HOLDS.c.ref))).where(HOLDS.c.alert_kind == "spread")
            ).scalar_one()
        )
        tracked = (
            conn.execute(
                select(TRACKED).where(TRACKED.c.platform == "weibo", TRACKED.c.post_id.in_(roots or {""}))
            )
            .mappings()
            .first()
        )
        view = tracked_view(conn, dict(tracked)) if tracked is not None else None
        watching = int(
            conn.execute(
                select(func.count()).select_from(TRACKED).where(TRACKED.c.status == "watching")
            ).scalar_one()
        )
    for t in topics:
        mine = [a for a in hot_alerts if (a["payload"] or {}).get("hot", {}).get("word") == t["word"]]
        reasons = "；".join("、".join(a["payload"].get("reasons") or []) for a in mine)
        rows.append(
            [
                "热榜预警 (hot-list alert)",
                f"{'微博热搜' if t['platform'] == 'weibo' else '抖音热榜'} · {t['word']}",
                f"entered at #{t['first_rank']}, best #{t['best_rank']}, labels {'/'.join(t['labels'] or []) or '-'}; "
                f"{len(mine)} alert(s): {reasons}; posts crawled: {t['crawl_status'] or '-'}; "
                f"event #{t['event_id'] or '-'}",
            ]
        )
    sim_hours = clock.ahead.total_seconds() / 3600
    if view is not None and tracked is not None:  # the view is of the tracked post
        pts = view["points"]
        top = ", ".join(f"{s['author_name']} ({s['followers']} followers)" for s in view["spreaders"][:3])
        rows.append(
            [
                "传播追踪 (watched post)",
                f"微博 {view['post_id']} · event #{tracked['event_id'] or '-'}",
                f"{view['fetches']} visit(s) over {sim_hours:.1f} simulated h; reposts "
                f"{pts[0]['reposts'] if pts else 0} → {view['reposts']}, {len(view['edges'])} in the tree; "
                f"top spreaders: {top or '-'}; "
                f"{len(spread_alerts)} spread alert(s) sent at once, {spread_held} over the hourly budget "
                f"(told in the roll-up)",
            ]
        )
    else:
        rows.append(["传播追踪 (watched post)", "-", "the crisis' first Weibo post is not on watch"])
    event_id = (tracked["event_id"] if tracked is not None else None) or next(
        (t["event_id"] for t in topics if t["event_id"]), None
    )
    note = (
        f"Hot lists fetched every {HOT_EVERY:g}s instead of every 5 min ({fetches} fetch(es), {failures} failed; "
        f"before the topic entered the brand was on {sum(map(len, before.values()))} list(s)); the simulator ran "
        f"the topic's path {HOT_SPEED:g}x faster. Tracking ran on a simulated clock: {sim_hours:.1f} h of the "
        f"schedule in {seconds:.0f}s of wall time ({len(visits)} visit(s) of {watching} watched post(s)), so the "
        f"growth curve's times run up to {sim_hours:.1f} h ahead of now. {len(hot_alerts)} hot-list and "
        f"{len(spread_alerts) + spread_held} spread alert(s) ({spread_held} held for the roll-up: the brand's "
        f"hourly budget was spent) queued for the crisis channels (delivered in the alerts section)."
        + (f" Event page: `yuqing serve`, then #/event/{event_id}" if event_id else "")
    )
    logger.info(
        "demo crisis: {} hot alert(s), {} spread alert(s), {} visit(s)",
        len(hot_alerts),
        len(spread_alerts),
        len(visits),
    )
    data = {
        "hot_topics": [
            {
                k: t[k]
                for k in ("platform", "word", "first_rank", "best_rank", "labels", "event_id", "crawl_status")
            }
            for t in topics
        ],
        "hot_alerts": len(hot_alerts),
        "hot_alert_ids": [a["id"] for a in hot_alerts],
        "spread_alerts": len(spread_alerts),
        "spread_held": spread_held,
        "event_id": event_id,
        "watched_post": None
        if view is None or tracked is None
        else {
            "post_id": view["post_id"],
            "event_id": tracked["event_id"],
            "visits": view["fetches"],
            "reposts": [p["reposts"] for p in view["points"]],
            "tree": len(view["edges"]),
            "spreaders": [s["author_name"] for s in view["spreaders"][:5]],
        },
        "simulated_hours": round(sim_hours, 2),
        "seconds": round(seconds, 1),
        "list_fetches": fetches,
        "topic_crawls": topic_status,
    }
    return DemoSection("热榜与传播追踪 (crisis tracking)", ["what", "where", "result"], rows, data, note)
