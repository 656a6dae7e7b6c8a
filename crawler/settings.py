"""Scrapy settings for yuqing (``scrapy.cfg`` points here).

These are the defaults. Values from ``config/yuqing.toml`` are bridged in by
:func:`bridge_config` — the one place config becomes settings — which every yuqing
spider calls from ``update_settings`` at ``spider`` priority, so ``scrapy crawl -s``
(``cmdline`` priority) still wins. Keys of our own are prefixed ``YUQING_`` or by the
platform (``WEIBO_BASE_URL`` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler import clock
from crawler.config import load_config

# a malformed YUQING_CLOCK_OFFSET_SECONDS stops `scrapy crawl` at its start (exit 1), before a
# crawl run is opened, instead of surfacing inside the crawl's callbacks
clock.utcnow()

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.config import AppConfig

BOT_NAME = "yuqing"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
COOKIES_ENABLED = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Items of one response processed in parallel; Scrapy starts this many tasks per response.
CONCURRENT_ITEMS = 16
# Back-pressure: when analysis or storage falls behind, stop taking responses into the
# scraper at ~1 MB of bodies (Scrapy default 5 MB), so in-flight items stay in the hundreds.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1_000_000
DOWNLOAD_TIMEOUT = 20
FEED_EXPORT_ENCODING = "utf-8"

# Platform hosts: the real sites by default; the config, `-s` or `yuqing demo` point them elsewhere.
WEIBO_BASE_URL = "https://m.weibo.cn"
HEIMAO_BASE_URL = "https://tousu.sina.com.cn"
XIAOHONGSHU_BASE_URL = "https://edith.xiaohongshu.com"
DOUYIN_BASE_URL = "https://www.douyin.com"

# Faults: our middleware classifies and retries (transient kinds only) with exponential backoff.
RETRY_ENABLED = True
RETRY_TIMES = 3
YUQING_BACKOFF_BASE = 2.0  # seconds before the first retry; doubles each time
YUQING_BACKOFF_MAX = 60.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.scraping.middlewares.PlatformFaultsMiddleware": 580,
    "crawler.scraping.middlewares.RateCeilingMiddleware": 960,
}
# Pace: AutoThrottle adapts to latency; the per-platform ceiling is a hard limit on top.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
YUQING_RATE_LIMIT_PER_MINUTE = 30  # 0 = no ceiling
YUQING_RATE_LIMITER = "crawler.scraping.extensions.IntervalLimiter"

ITEM_PIPELINES = {
    "crawler.scraping.pipelines.NormalizePipeline": 100,
    "crawler.scraping.pipelines.AnalyzePipeline": 200,
    "crawler.scraping.pipelines.StorePipeline": 300,
}
EXTENSIONS = {"crawler.scraping.extensions.CrawlRunRecorder": 100}

# yuqing crawl behaviour (bridged from [platforms.X] and [storage]).
YUQING_CONFIG = None  # config file; default: $YUQING_CONFIG or config/yuqing.toml
YUQING_DATABASE_URL = None  # default: the config's [storage].url
YUQING_MAX_PAGES = 10
YUQING_PAGE_PREFETCH = 2  # numbered list pages requested ahead while paging goes on (bridged: concurrency)
YUQING_WINDOW_DAYS = 7
YUQING_REFRESH_HOURS = 24
YUQING_COMMENTS = True
YUQING_MAX_COMMENT_PAGES = 2
YUQING_STORE_BATCH = 200  # mentions per database transaction
YUQING_STORE_FLUSH_SECONDS = 2.0  # flush a partial batch this often
YUQING_STORE_THREAD = True  # write batches in a worker thread while the crawl goes on
YUQING_ANALYZE = True
YUQING_ANALYZE_WORKERS = "auto"  # analysis worker processes: auto = 1 with two or more CPUs; 0 = in-process
YUQING_ANALYZE_BATCH = 200
YUQING_TRIAGE = True  # alerts.triage.run in the store transaction
YUQING_SUMMARY_FILE = None  # JSON progress/summary written by the run recorder
WEIBO_SEARCH_TYPES = [1, 61]
HEIMAO_DETAIL_PAGES = True


def platform_settings(cfg: AppConfig, platform: str) -> dict[str, Any]:
    """The settings a platform's config section stands for."""
    pc = cfg.platforms.get(platform)
    values: dict[str, Any] = {
        f"{platform.upper()}_BASE_URL": pc.base_url,
        "YUQING_DATABASE_URL": cfg.database_url,
        "YUQING_STORE_BATCH": min(cfg.storage.batch_size, 1000),
        "YUQING_MAX_PAGES": pc.max_pages,
        "YUQING_PAGE_PREFETCH": pc.concurrency,
        "YUQING_WINDOW_DAYS": pc.window_days,
        "YUQING_REFRESH_HOURS": pc.refresh_hours,
        "YUQING_RATE_LIMIT_PER_MINUTE": pc.rate_limit_per_minute,
        "YUQING_COMMENTS": pc.comments,
        "YUQING_MAX_COMMENT_PAGES": pc.max_comment_pages,
        "AUTOTHROTTLE_START_DELAY": pc.request_delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(pc.concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": pc.concurrency,
        "DOWNLOAD_TIMEOUT": pc.timeout_seconds,
        "RETRY_TIMES": pc.max_retries,
    }
    search_types = getattr(pc, "search_types", None)
    if search_types is not None:
        values["WEIBO_SEARCH_TYPES"] = list(search_types)
    detail_pages = getattr(pc, "detail_pages", None)
    if detail_pages is not None:
        values["HEIMAO_DETAIL_PAGES"] = detail_pages
    return values


def bridge_config(settings: BaseSettings, cfg: AppConfig, platform: str) -> None:
    """Copy the config into ``settings`` at ``spider`` priority (``-s`` on the command line wins)."""
    settings.setdict(platform_settings(cfg, platform), priority="spider")


_configs: dict[str | None, AppConfig] = {}


def config_for(settings: BaseSettings) -> AppConfig:
    """The config named by the ``YUQING_CONFIG`` setting (or env / default path), loaded once."""

    path = settings.get("YUQING_CONFIG") or None
    if path not in _configs:
        _configs[path] = load_config(path)
    return _configs[path]
