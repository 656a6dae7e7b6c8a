"""A light fetcher for small, frequent jobs (hot lists, tracked posts) on the crawl machinery.

A hot list is one request every few minutes and a tracked post a page or two: starting a Scrapy
process for each would cost more than the work. :class:`LightFetcher` makes the same requests a
spider would, with the same pieces: the platform's session cookies (:func:`crawler.platform.cookies.load_cookies`,
i.e. the config account or the ``yuqing login`` session), the same failure classification
(:mod:`crawler.platform.faults`, the platform's status table and JSON envelope check), retries of transient
kinds with the same exponential backoff (:func:`crawler.scraping.middlewares.backoff_delay`), the platform's
per-minute ceiling (:class:`crawler.scraping.extensions.IntervalLimiter` per process; in distributed mode the
slot all crawl workers share in Redis, :class:`crawler.scraping.redis_scrapy.SharedRateLimiter`, so the service's
light jobs and the workers' crawls stay under one ceiling together) and a ``crawl_runs``
record per job (:func:`recorded_run`), so health checks and ``yuqing status`` see these jobs too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from loguru import logger

from crawler.errors import ErrorKind, PlatformError
from crawler.platform.cookies import load_cookies
from crawler.platform.faults import classify_exception, classify_status, decode_json
from crawler.scraping.extensions import IntervalLimiter
from crawler.scraping.middlewares import backoff_delay
from crawler.scraping.redis_scrapy import SharedRateLimiter
from crawler.storage.mentions import finish_run, start_run
from crawler.storage.redis_conn import connect
from spiders._weibo_api import STATUSES

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36"
)
_LIMITERS: dict[str, IntervalLimiter] = {}


def limiter_for(platform: str, per_minute: int) -> IntervalLimiter:
    """This process's limiter of ``platform`` (shared by every light job of the process)."""
    lim = _LIMITERS.get(platform)
    if lim is None or abs(lim.interval - (60.0 / per_minute if per_minute > 0 else 0.0)) > 1e-9:
        lim = _LIMITERS[platform] = IntervalLimiter(platform, per_minute)
    return lim


def session_cookies(
    cfg: AppConfig, platform: str, overrides: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The cookies a spider of ``platform`` would send (``<PLATFORM>_COOKIES`` in ``overrides`` wins)."""
    from scrapy.settings import Settings

    return load_cookies(platform, cfg, Settings(dict(overrides or {})))


@dataclass
class LightFetcher:
    """GET JSON from one platform with cookies, classification, retries, backoff and the rate ceiling."""

    platform: str
    cookies: dict[str, str]
    per_minute: int = 30
    retries: int = 3
    timeout: float = 20.0
    backoff_base: float = 2.0
    backoff_cap: float = 60.0
    user_agent: str = MOBILE_UA
    statuses: dict[int, ErrorKind] = field(default_factory=dict)
    requests: int = 0
    retried: int = 0
    sleep: Callable[[float], None] = time.sleep
    # the platform's slot shared with other processes (distributed mode): (platform, per_minute) -> wait
    shared_reserve: Callable[[str, int], float] | None = None
    _client: httpx.Client | None = None

    @classmethod
    def for_platform(
        cls, cfg: AppConfig, platform: str, *, cookies: dict[str, str] | None = None, **kw: Any
    ) -> LightFetcher:
        pc = cfg.platforms.get(platform)
        statuses: dict[int, ErrorKind] = {}
        if platform == "weibo":
            statuses = dict(STATUSES)
        options: dict[str, Any] = {
            "per_minute": pc.rate_limit_per_minute,
            "retries": pc.max_retries,
            "timeout": pc.timeout_seconds,
            "statuses": statuses,
        }
        if cfg.distributed.active and cfg.redis_url:
            options["shared_reserve"] = SharedRateLimiter(
                connect(cfg.redis_url), cfg.distributed.key_prefix
            ).reserve
        options.update(kw)
        return cls(platform, cookies if cookies is not None else session_cookies(cfg, platform), **options)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                cookies=self.cookies,
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": self.user_agent, "Accept": "application/json, text/plain, */*"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> LightFetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _once(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        check: Callable[[Any], None] | None,
        raw: bool,
    ) -> Any:
        wait = limiter_for(self.platform, self.per_minute).reserve()
        if self.shared_reserve is not None and self.per_minute > 0:
            wait = max(wait, self.shared_reserve(self.platform, self.per_minute))
        if wait > 0:
            self.sleep(wait)
        self.requests += 1
        try:
            resp = self.client.get(url, params=params, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            raise classify_exception(self.platform, exc, url) from None
        text = resp.text
        err = classify_status(
            self.platform, resp.status_code, str(resp.url), statuses=self.statuses, body=text[:4000]
        )
        if err is not None:
            raise err
        if raw:
            return text
        payload = decode_json(self.platform, text, str(resp.url))
        if check is not None:
            check(payload)
        return payload

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        check: Callable[[Any], None] | None = None,
        raw: bool = False,
    ) -> Any:
        """The decoded JSON (or text with ``raw``) of ``url``; transient failures retried, others raised."""
        attempt = 0
        while True:
            try:
                return self._once(url, params, headers, check, raw)
            except PlatformError as err:
                if not err.kind.transient or attempt >= self.retries:
                    raise
                attempt += 1
                self.retried += 1
                delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
                if err.kind is ErrorKind.RATE_LIMITED:
                    limiter_for(self.platform, self.per_minute).pause(delay)
                logger.info(
                    "{}: {} on {}; retry {} of {} in {:.1f}s",
                    self.platform,
                    err.kind,
                    url.split("?")[0],
                    attempt,
                    self.retries,
                    delay,
                )
                self.sleep(delay)


@dataclass
class RunRecord:
    """What a light job reports to its ``crawl_runs`` row."""

    run_id: int
    status: str = "ok"
    pages: int = 0
    items: int = 0
    new: int = 0
    error: PlatformError | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@contextmanager
def recorded_run(
    engine: Engine,
    fetcher: LightFetcher,
    *,
    spider: str,
    brand: str | None = None,
    keyword: str | None = None,
) -> Iterator[RunRecord]:
    """A ``crawl_runs`` row around a light job: a PlatformError ends it ``failed`` (and is not re-raised)."""
    rec = RunRecord(start_run(engine, spider=spider, platform=fetcher.platform, brand=brand, keyword=keyword))
    try:
        yield rec
    except PlatformError as err:
        rec.status, rec.error = ("partial" if rec.pages else "failed"), err
        logger.warning("{} {}: {}", spider, fetcher.platform, err)
    finally:
        finish_run(
            engine,
            rec.run_id,
            status=rec.status,
            requests=fetcher.requests,
            pages=rec.pages,
            items=rec.items,
            new_count=rec.new,
            retries=fetcher.retried,
            error_kind=str(rec.error.kind) if rec.error else None,
            error_message=str(rec.error)[:2000] if rec.error else None,
            stats=rec.stats or None,
        )
