"""The Scrapy side of distributed mode: scrapy-redis, made lossless, plus a shared rate limit.

Enabled only in a worker's crawl subprocess, by :class:`DistributedAddon` (the worker adds
``-s ADDONS={"crawler.scraping.redis_scrapy.DistributedAddon": 0}`` and the task's settings; the
Redis URL comes from the ``YUQING_REDIS_URL`` environment variable so that it never shows
in a process list). It sets:

- ``SCHEDULER`` = :class:`TaskScheduler` (scrapy-redis, keys per task, persisted);
- its queue :class:`LeasedPriorityQueue`: popping a request atomically records it in the
  task's ``processing`` hash; everything popped stays there until the task finishes, and a
  crawl that resumes a task (its worker died or stopped) puts those requests back first —
  the Store pipeline may still have held their items in a batch when the worker died, so
  only a finished task drops them. Mentions are upserted by (platform, post_id), so a
  replayed request never stores a mention twice;
- ``DUPEFILTER_CLASS`` = :class:`SearchAwareDupeFilter`: a Redis dupe filter per task that
  lets search pages through (they are re-crawled on purpose, every run);
- :class:`RateLimitedDownloadHandler` around the http(s) download handlers: each
  platform's ``rate_limit_per_minute`` holds across all workers together (a reservation
  limiter in Redis spacing requests ``60/rate`` seconds apart, taken when a request is
  actually sent), alongside the per-process ceiling middleware of every crawl.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

from loguru import logger
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler.storage.redis_conn import connect, task_keys

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

ADDON_PATH = "crawler.scraping.redis_scrapy.DistributedAddon"
RATE_HANDLER_PATH = "crawler.scraping.redis_scrapy.RateLimitedDownloadHandler"

# Search and listing endpoints of each platform (PLATFORMS.md): always fetched again.
SEARCH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"/api/container/getIndex\?(?:.*&)?containerid=100103",  # weibo keyword search
        r"/api/index/(?:s|feed)\b",  # heimao search and latest feed
        r"/api/company/received_complaints\b",  # heimao complaints against a company
        r"/api/sns/web/v1/search/notes\b",  # xiaohongshu search
        r"/aweme/v1/web/(?:general/search|search/item)\b",  # douyin search
        r"/search(?:/|\?|$)",  # douyin search page (browser mode)
    )
)
SEARCH_META = "yuqing_search"


def is_search_request(request: Request) -> bool:
    """A search page: marked ``meta["yuqing_search"]`` by the spider, or a known search URL."""
    if request.meta.get(SEARCH_META):
        return True
    return any(p.search(request.url) for p in SEARCH_PATTERNS)


def _redis_from_env() -> Any:
    url = os.environ.get("YUQING_REDIS_URL") or os.environ.get("REDIS_URL")
    if not url:
        raise NotConfigured("distributed crawl without YUQING_REDIS_URL")
    return connect(url)


class DistributedAddon:
    """Switches a crawl process to the Redis scheduler, dupe filter and shared rate limit."""

    def update_settings(self, settings: BaseSettings) -> None:
        task_id = settings.get("YUQING_TASK_ID")
        prefix = settings.get("YUQING_KEY_PREFIX", "yuqing")
        if not task_id:
            raise NotConfigured("DistributedAddon needs the YUQING_TASK_ID setting")
        keys = task_keys(prefix, task_id)
        settings.set("SCHEDULER", "crawler.scraping.redis_scrapy.TaskScheduler", priority="addon")
        settings.set(
            "SCHEDULER_QUEUE_CLASS", "crawler.scraping.redis_scrapy.LeasedPriorityQueue", priority="addon"
        )
        settings.set(
            "DUPEFILTER_CLASS", "crawler.scraping.redis_scrapy.SearchAwareDupeFilter", priority="addon"
        )
        settings.set("SCHEDULER_QUEUE_KEY", keys["requests"], priority="addon")
        settings.set("SCHEDULER_DUPEFILTER_KEY", keys["dupefilter"], priority="addon")
        settings.set("YUQING_PROCESSING_KEY", keys["processing"], priority="addon")
        settings.set("SCHEDULER_PERSIST", True, priority="addon")
        settings.set(
            "REDIS_URL", os.environ.get("YUQING_REDIS_URL") or os.environ.get("REDIS_URL"), priority="addon"
        )
        handlers = dict(settings.getwithbase("DOWNLOAD_HANDLERS"))
        inner = {scheme: handlers[scheme] for scheme in ("http", "https") if handlers.get(scheme)}
        inner = {k: v if isinstance(v, str) else f"{v.__module__}.{v.__qualname__}" for k, v in inner.items()}
        settings.set("YUQING_INNER_HANDLERS", inner, priority="addon")
        settings.set(
            "DOWNLOAD_HANDLERS", {**handlers, **dict.fromkeys(inner, RATE_HANDLER_PATH)}, priority="addon"
        )


_POP_LEASED = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], r[1], r[2])
return r[1]
"""
_REQUEUE_PROCESSING = """
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do redis.call('ZADD', KEYS[1], tonumber(all[i + 1]), all[i]) end
redis.call('DEL', KEYS[2])
return #all / 2
"""


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis' priority queue whose pop keeps a copy in the task's processing hash."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.processing_key = spider.settings.get("YUQING_PROCESSING_KEY") or f"{self.key}:processing"
        self._pop = server.register_script(_POP_LEASED)
        self._requeue = server.register_script(_REQUEUE_PROCESSING)

    def pop(self, timeout: int = 0) -> Request | None:
        data = self._pop(keys=[self.key, self.processing_key])
        return self._decode_request(data) if data else None

    def requeue_processing(self) -> int:
        """Put back every request a previous run of this task took but may not have finished."""
        return int(self._requeue(keys=[self.key, self.processing_key]))

    def clear(self) -> None:
        self.server.delete(self.key, self.processing_key)


class TaskScheduler(Scheduler):
    """scrapy-redis' scheduler for one task: resumes a dead run's requests; clears state when finished."""

    def open(self, spider: Spider) -> None:
        super().open(spider)
        resumed = self.queue.requeue_processing() if isinstance(self.queue, LeasedPriorityQueue) else 0
        if resumed:
            logger.warning("resuming task: {} in-flight request(s) of an interrupted run requeued", resumed)

    def close(self, reason: str) -> None:
        if reason == "finished":  # the task is done: nothing to resume
            self.flush()


class SearchAwareDupeFilter(RFPDupeFilter):
    """The Redis dupe filter of one task, except for search pages (re-crawled every run)."""

    def request_seen(self, request: Request) -> bool:
        if is_search_request(request):
            return False
        return bool(super().request_seen(request))


_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local step = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + step, 'PX', math.floor(tat + step - now + 60000))
return tat - now
"""


class SharedRateLimiter:
    """Requests of one platform, all workers together, at most ``per_minute`` a minute."""

    def __init__(self, server: Any, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self._reserve = server.register_script(_RESERVE)

    def reserve(self, platform: str, per_minute: int) -> float:
        """Book the next free slot; returns how many seconds to wait for it."""
        step_ms = max(1, int(60_000 / per_minute))
        return int(self._reserve(keys=[f"{self.prefix}:rate:{platform}"], args=[step_ms])) / 1000.0


LATE_RETRIES = 3  # fresh slots booked for one request woken late, before it goes out regardless


class RateLimitedDownloadHandler:
    """The scheme's usual download handler, behind the platform's shared rate-limit slot.

    The slot is taken here, at the moment Scrapy actually sends the request (after its own
    per-domain queue and delays), not in a downloader middleware: a middleware runs before
    that queue, so requests that waited there could leave in a burst and break the limit.
    """

    lazy = False

    def __init__(
        self, crawler: Crawler, limiter: SharedRateLimiter, rates: dict[str, int], inner_paths: dict[str, str]
    ) -> None:
        self.crawler = crawler
        self.limiter = limiter
        self.rates = rates
        self.inner_paths = inner_paths
        self._inner: dict[str, Any] = {}
        self.waited = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitedDownloadHandler:
        settings = crawler.settings
        rates = {k: int(v) for k, v in settings.getdict("YUQING_RATE_LIMITS").items()}
        limiter = SharedRateLimiter(_redis_from_env(), settings.get("YUQING_KEY_PREFIX", "yuqing"))
        return cls(crawler, limiter, rates, dict(settings.getdict("YUQING_INNER_HANDLERS")))

    def _handler(self, scheme: str) -> Any:
        handler = self._inner.get(scheme)
        if handler is None:
            from scrapy.utils.misc import build_from_crawler, load_object

            handler = build_from_crawler(load_object(self.inner_paths[scheme]), self.crawler)
            self._inner[scheme] = handler
        return handler

    def _platform(self, request: Request) -> str | None:
        spider = self.crawler.spider
        return request.meta.get("platform") or getattr(spider, "name", None)

    async def download_request(self, request: Request) -> Any:
        platform = str(self._platform(request))
        rate = self.rates.get(platform)
        if rate:
            step = 60.0 / rate
            for _ in range(LATE_RETRIES + 1):
                wait = self.limiter.reserve(platform, rate)
                due = time.monotonic() + wait
                if wait > 0:
                    from scrapy.utils.defer import maybe_deferred_to_future
                    from twisted.internet import reactor
                    from twisted.internet.task import deferLater

                    self.waited += wait
                    await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
                if time.monotonic() - due <= step:
                    break
                # woken more than a slot late (a busy process): the slots after ours may have gone out
                # already, and sending now would crowd them; book a fresh slot instead (the missed one
                # stays unused, so the limit holds)
        return await self._handler(urlparse_cached(request).scheme).download_request(request)

    async def close(self) -> None:
        for handler in self._inner.values():
            close = getattr(handler, "close", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
