"""Downloader middlewares: platform fault classification with retries, and the rate ceiling.

:class:`PlatformFaultsMiddleware` (replaces Scrapy's RetryMiddleware) asks the spider
what a response means (:meth:`spiders._base.MonitorSpider.check_response`: HTTP status,
captcha pages, JSON envelopes) and classifies download exceptions (timeout, network).
Transient kinds (rate_limited, server_error, timeout, network) are retried with
``get_retry_request`` after an exponential backoff (``YUQING_BACKOFF_BASE`` doubling up
to ``YUQING_BACKOFF_MAX``, or the server's ``Retry-After``); a rate limit also pauses
the whole platform. Anything else, or a retry budget spent, reaches the request's
errback as the typed :class:`~crawler.errors.PlatformError`.

:class:`RateCeilingMiddleware` holds every request of the crawl to the platform's
``YUQING_RATE_LIMIT_PER_MINUTE`` (0 = none) through the limiter named by
``YUQING_RATE_LIMITER`` (see :mod:`crawler.scraping.extensions`).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from loguru import logger
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.misc import load_object

from crawler.errors import ErrorKind, PlatformError
from crawler.platform.faults import classify_exception
from crawler.scraping.extensions import add_seconds

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


def backoff_delay(
    attempt: int, *, base: float, cap: float, retry_after: str | None = None, jitter: float = 0.2
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, jittered, capped.

    A numeric ``Retry-After`` header wins when it is longer (still capped).
    """
    delay: float = base * (2 ** max(attempt - 1, 0))
    delay *= 1 + random.uniform(-jitter, jitter)
    if retry_after:
        try:
            delay = max(delay, float(retry_after))
        except ValueError:
            pass
    return max(0.0, min(delay, cap))


def _spider_of(crawler: Crawler) -> Any:
    """The running spider when it is a yuqing platform spider (it checks its own responses), else None."""
    spider = crawler.spider
    return spider if callable(getattr(spider, "check_response", None)) else None


class PlatformFaultsMiddleware:
    """Classify, retry transient faults with backoff, raise the rest to the errback."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED"):
            self.max_retries = 0
        else:
            self.max_retries = s.getint("RETRY_TIMES")
        self.base = s.getfloat("YUQING_BACKOFF_BASE")
        self.cap = s.getfloat("YUQING_BACKOFF_MAX")
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        spider = _spider_of(self.crawler)
        if spider is None:
            return response
        if self.crawler.stats is not None:
            add_seconds(
                self.crawler.stats, "yuqing/time/download", float(request.meta.get("download_latency") or 0.0)
            )
        try:
            spider.check_response(request, response)
        except PlatformError as err:
            retry_after = response.headers.get(b"Retry-After")
            return await self._retry_or_raise(
                spider, request, err, retry_after.decode("latin-1") if retry_after else None
            )
        return response

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        spider = _spider_of(self.crawler)
        if spider is None or isinstance(exception, IgnoreRequest):
            return None
        err = classify_exception(spider.name, exception, request.url)
        return await self._retry_or_raise(spider, request, err, None)

    async def _retry_or_raise(
        self, spider: Any, request: Request, err: PlatformError, retry_after: str | None
    ) -> Request:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(f"{spider.name}/error/{err.kind}")
        if err.kind.transient and not request.meta.get("dont_retry"):
            retry = get_retry_request(
                request,
                spider=spider,
                reason=str(err.kind),
                max_retry_times=self.max_retries,
                give_up_log_level="WARNING",
            )
            if retry is not None:
                delay = backoff_delay(
                    retry.meta["retry_times"], base=self.base, cap=self.cap, retry_after=retry_after
                )
                if err.kind is ErrorKind.RATE_LIMITED:
                    limiter = getattr(spider, "rate_limiter", None)
                    if limiter is not None:
                        limiter.pause(delay)
                logger.info(
                    "{}: {} on {}; retry {} of {} in {:.1f}s",
                    spider.name,
                    err.kind,
                    request.meta.get("yq_endpoint", "request"),
                    retry.meta["retry_times"],
                    self.max_retries,
                    delay,
                )
                add_seconds(stats, "yuqing/time/backoff", delay)
                if delay > 0:
                    await asyncio.sleep(delay)
                return retry
        raise err


class RateCeilingMiddleware:
    """Wait for the platform's limiter before each download (the hard per-minute ceiling)."""

    def __init__(self, crawler: Crawler, per_minute: int, limiter_cls: Any) -> None:
        self.crawler = crawler
        self.per_minute = per_minute
        self.limiter_cls = limiter_cls
        self.limiter: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        per_minute = crawler.settings.getint("YUQING_RATE_LIMIT_PER_MINUTE")
        if per_minute <= 0:
            raise NotConfigured  # no ceiling (no message: Scrapy would log it as a warning)
        return cls(crawler, per_minute, load_object(crawler.settings.get("YUQING_RATE_LIMITER")))

    def _get_limiter(self) -> Any:
        if self.limiter is None:
            # Any: the limiter rides on the spider (PlatformFaultsMiddleware reads it back to pause it),
            # an attribute scrapy's Spider does not declare.
            spider: Any = self.crawler.spider
            platform = getattr(spider, "name", "unknown")
            self.limiter = self.limiter_cls(platform, self.per_minute, self.crawler.settings)
            if spider is not None:
                spider.rate_limiter = self.limiter
        return self.limiter

    async def process_request(self, request: Request) -> None:
        limiter = self._get_limiter()
        started = time.monotonic()
        await limiter.acquire()
        waited = time.monotonic() - started
        if waited > 0.0005 and self.crawler.stats is not None:
            add_seconds(self.crawler.stats, "yuqing/time/rate_wait", waited)
        return None
