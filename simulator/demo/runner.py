"""``yuqing demo``: the whole product offline — simulator → spiders → database → analysis → alerts.

:func:`run_demo` starts the simulator on a free loopback port, points every spider of
:data:`spiders.SPIDERS` at it (the simulator's ``crawl_settings``), crawls
every configured brand on every platform in subprocesses (two at a time), and then
collects the demo sections. ``SECTIONS`` is the hook for later parts: each entry is
``"module:function"``, a function ``(DemoContext) -> DemoSection | None`` run after the
crawls (analysis here; alerts and complaint records are added by their owners).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import func, select

from crawler.errors import YuqingError
from crawler.platform.browser import find_chromium, platform_needs_browser
from crawler.service.crawl_runner import CrawlJob, run_crawls
from crawler.storage.engine import safe_url
from crawler.storage.models import MENTIONS
from simulator import Simulator
from simulator.world import now_utc
from spiders import SPIDERS

HOT_SPEED = 60.0  # the simulator runs the topic's path on the lists this many times faster

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

# Demo sections, run in order after the crawls. Add yours: "package.module:function".
SECTIONS: list[str] = [
    "simulator.demo.runner:truth_section",
    "simulator.demo.runner:analysis_section",
    "simulator.demo.alerts:complaints_section",
    "simulator.demo.crisis:crisis_section",
    "simulator.demo.alerts:alerts_section",
]

# Settings every demo crawl gets: the simulator needs no politeness delays.
DEMO_SETTINGS: dict[str, Any] = {
    "YUQING_RATE_LIMIT_PER_MINUTE": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "YUQING_BACKOFF_BASE": 0.2,
    "YUQING_BACKOFF_MAX": 2.0,
    "DOWNLOAD_TIMEOUT": 10,
    "YUQING_MAX_PAGES": 50,
    "YUQING_PAGE_PREFETCH": 4,
}


@dataclass
class DemoSection:
    """One block of the demo's report: a title, a table (columns + rows) and the same as data."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    data: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass
class DemoContext:
    cfg: AppConfig
    engine: Engine
    database_url: str
    simulator: Any
    platforms: list[str]
    crawls: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    skipped: dict[str, str] = field(default_factory=dict)  # platform → why it was not crawled
    config_path: str | None = None


def demo_platforms(cfg: AppConfig, wanted: list[str] | None) -> list[str]:
    """Platforms with a spider, enabled in the config (or the ``wanted`` subset)."""
    have = [p for p in SPIDERS if cfg.platforms.get(p).enabled]
    if not wanted:
        return have
    unknown = [p for p in wanted if p not in SPIDERS]
    if unknown:
        raise YuqingError(f"no spider for {', '.join(unknown)} (have: {', '.join(SPIDERS)})")
    return [p for p in SPIDERS if p in wanted]


def unavailable(cfg: AppConfig, platforms: list[str]) -> dict[str, str]:
    """The platforms this machine cannot crawl, with the reason and the fix (no Chromium for the browser ones)."""

    needy = [p for p in platforms if platform_needs_browser(cfg, p)]
    if not needy:
        return {}
    found = find_chromium()
    return {} if found.path is not None else {p: found.message() for p in needy}


def crawl_jobs(cfg: AppConfig, platforms: list[str]) -> list[tuple[str, str]]:
    """(platform, brand) pairs: every brand on every platform it is monitored on."""
    return [(p, b.name) for p in platforms for b in cfg.brands if b.platforms is None or p in b.platforms]


def _overrides(simulator: Any, platform: str, database_url: str) -> dict[str, Any]:
    return {
        **DEMO_SETTINGS,
        **simulator.crawl_settings(platform),
        "YUQING_DATABASE_URL": database_url,
    }


REUSE_WORLD = timedelta(hours=12)


def world_start(cfg: AppConfig, database_url: str, seed: int) -> datetime:
    """When the demo's world began: the previous run's start, for a rerun within twelve hours on
    the same database and seed, else now.

    A rerun then rebuilds the same posts at the same times with the same ids (Xiaohongshu's and
    Douyin's embed the publication time, which their spiders read back), so it finds nothing new,
    as a second crawl of the real sites would; rebuilt at "now" every post would have moved by the
    time between the runs and been stored again under a new id. Kept in ``<data_dir>/demo_world.json``.
    """
    path = cfg.data_path() / "demo_world.json"
    key = f"{seed}|{safe_url(database_url)}"
    now = now_utc().replace(microsecond=0)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        start = datetime.fromisoformat(saved[key]) if isinstance(saved, dict) and key in saved else None
    except (OSError, ValueError, TypeError):
        saved, start = {}, None
    if start is not None and start.tzinfo is not None and now - REUSE_WORLD <= start <= now:
        return start
    saved = saved if isinstance(saved, dict) else {}
    saved[key] = now.isoformat()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:  # a read-only data directory costs only the rerun's ids
        logger.warning("cannot record the demo world's start in {}: {}", path, exc)
    return now


def run_demo(
    cfg: AppConfig,
    engine: Engine,
    database_url: str,
    *,
    config_path: str | None,
    seed: int = 7,
    platforms: list[str] | None = None,
    on_progress: Callable[[tuple[str, str], dict[str, Any]], None] | None = None,
    workers: int = 2,
    crawl_timeout: float = 90.0,
) -> tuple[DemoContext, list[DemoSection]]:
    """Run the demo end to end; returns the context (with every crawl's summary) and the sections."""

    chosen = demo_platforms(cfg, platforms)
    if not chosen:
        raise YuqingError("no platform to crawl: enable one in [platforms] or pass --platforms")
    skipped = unavailable(cfg, chosen)
    chosen = [p for p in chosen if p not in skipped]
    # The brand topic stays off the hot lists until the crisis section lets it in (simulator/demo/crisis.py).

    start = world_start(cfg, database_url, seed)
    with Simulator(
        seed=seed, cfg=cfg, port=0, now=start, hot_enter_after=365 * 86_400, hot_speed=HOT_SPEED
    ) as sim:
        ctx = DemoContext(
            cfg=cfg,
            engine=engine,
            database_url=database_url,
            simulator=sim,
            platforms=chosen,
            skipped=skipped,
            config_path=config_path,
        )
        for platform, reason in skipped.items():
            logger.debug("demo: {} skipped: {}", platform, reason)
        jobs = crawl_jobs(cfg, chosen)
        logger.info("demo: simulator at {}; {} crawls", sim.url, len(jobs))
        # One process per platform (its brands crawl side by side in one reactor), two platforms at a time.
        by_platform: dict[str, list[CrawlJob]] = {}
        for platform, brand in jobs:
            by_platform.setdefault(platform, []).append(
                CrawlJob(platform, brand, settings=_overrides(sim, platform, database_url))
            )

        def one(batch: list[CrawlJob]) -> list[dict[str, Any]]:
            def progress(i: int, summary: dict[str, Any]) -> None:
                if on_progress is not None:
                    on_progress((batch[i].platform, batch[i].brand), summary)

            outcomes = run_crawls(batch, config_path=config_path, timeout=crawl_timeout, on_progress=progress)
            return [
                {
                    "platform": j.platform,
                    "brand": j.brand,
                    **o.summary,
                    "status": o.status,
                    "returncode": o.returncode,
                }
                for j, o in zip(batch, outcomes, strict=True)
            ]

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            ctx.crawls = [c for batch in pool.map(one, by_platform.values()) for c in batch]
        sections = [s for s in (_run_section(name, ctx) for name in SECTIONS) if s is not None]
    return ctx, sections


def _run_section(name: str, ctx: DemoContext) -> DemoSection | None:
    module, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
        return fn(ctx)  # type: ignore[no-any-return]
    except Exception as exc:  # boundary: one broken section must not hide the others
        logger.exception("demo section {} failed", name)
        return DemoSection(title=name, columns=["error"], rows=[[f"{type(exc).__name__}: {exc}"]])


def platform_totals(crawls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sum the crawls per platform: requests, pages, new, updated, unchanged, retries, errors, time."""
    out: dict[str, dict[str, Any]] = {}
    for c in crawls:
        t = out.setdefault(
            c["platform"],
            {
                "crawls": 0,
                "requests": 0,
                "pages": 0,
                "new": 0,
                "updated": 0,
                "duplicate": 0,
                "retries": 0,
                "errors": 0,
                "seconds": 0.0,
                "status": "ok",
            },
        )
        t["crawls"] += 1
        for k in ("requests", "pages", "new", "updated", "duplicate", "retries"):
            t[k] += int(c.get(k) or 0)
        t["errors"] += sum((c.get("faults") or {}).values()) if isinstance(c.get("faults"), dict) else 0
        t["seconds"] = max(t["seconds"], float(c.get("elapsed") or 0.0))
        if c.get("status") != "ok":
            t["status"] = "failed" if c.get("status") in ("failed", "timeout") else "partial"
    return out


# --- sections -------------------------------------------------------------------


def expected_truth(ctx: DemoContext, platform: str) -> set[str]:
    """Post ids the crawls should have found: what matches each brand's keywords on ``platform``
    (and, on Heimao, every complaint against the brand's companies)."""
    sim = ctx.simulator
    ids: set[str] = set()
    for brand in ctx.cfg.brands:
        if brand.platforms is not None and platform not in brand.platforms:
            continue
        for keyword in brand.keywords:
            ids.update(str(t["post_id"]) for t in sim.truth(platform, keyword=keyword))
        if platform == "heimao" and brand.heimao_couid:
            ids.update(str(t["post_id"]) for t in sim.truth(platform, brand=brand.name))
    return ids


def truth_section(ctx: DemoContext) -> DemoSection:
    """What the simulator published for the searched keywords vs what the database now holds."""
    rows = []
    data: dict[str, Any] = {}
    with ctx.engine.connect() as conn:
        for platform in ctx.platforms:
            expected = sorted(expected_truth(ctx, platform))
            stored = 0
            for start in range(0, len(expected), 500):
                chunk = expected[start : start + 500]
                stored += conn.execute(
                    select(func.count())
                    .select_from(MENTIONS)
                    .where(MENTIONS.c.platform == platform, MENTIONS.c.post_id.in_(chunk))
                ).scalar_one()
            rows.append([platform, len(expected), stored, "✓" if stored == len(expected) else "✗"])
            data[platform] = {"published": len(expected), "stored": stored}
    return DemoSection(
        "Simulator ground truth vs database (posts, comments, complaints matching the keywords)",
        ["platform", "published", "stored", "complete"],
        rows,
        data,
    )


def analysis_section(ctx: DemoContext) -> DemoSection | None:
    """Analysis of the stored mentions: analysed, negative, complaints by urgency, top categories."""
    m = MENTIONS
    where = m.c.platform.in_(ctx.platforms)
    with ctx.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(m).where(where)).scalar_one()
        analysed = conn.execute(
            select(func.count()).select_from(m).where(where, m.c.analyzed_at.is_not(None))
        ).scalar_one()
        negative = conn.execute(
            select(func.count()).select_from(m).where(where, m.c.sentiment < 0.4)
        ).scalar_one()
        complaints = conn.execute(
            select(m.c.urgency, func.count()).where(where, m.c.is_complaint.is_(True)).group_by(m.c.urgency)
        ).all()
        categories = conn.execute(
            select(m.c.category, func.count())
            .where(where, m.c.is_complaint.is_(True))
            .group_by(m.c.category)
            .order_by(func.count().desc())
            .limit(5)
        ).all()
    by_urgency = {str(u): int(n) for u, n in complaints}
    rows = [
        ["mentions", total],
        ["analysed", analysed],
        ["negative (sentiment < 0.4)", negative],
        ["complaints", sum(by_urgency.values())],
    ]
    rows += [[f"  {u}", n] for u, n in sorted(by_urgency.items())]
    rows += [[f"  category {c}", int(n)] for c, n in categories]
    note = None if analysed else "analysis is not available yet: mentions were stored without it"
    return DemoSection(
        "Analysis",
        ["measure", "count"],
        rows,
        {
            "mentions": total,
            "analysed": analysed,
            "negative": negative,
            "complaints": by_urgency,
            "categories": {str(c): int(n) for c, n in categories},
        },
        note,
    )
