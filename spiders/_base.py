"""MonitorSpider: the shared base of the platform spiders.

Arguments ``-a brand=NAME [-a keyword=K]``; the config file comes from the
``YUQING_CONFIG`` setting, else the environment, else ``config/yuqing.toml``, and is
bridged into settings by :func:`crawler.settings.bridge_config`. The base URL comes
from ``<PLATFORM>_BASE_URL``. The base owns what every platform shares: request
building, response checking (called by :class:`crawler.scraping.middlewares.PlatformFaultsMiddleware`),
fault recording (an expired session ends the crawl with ``auth_expired``), incremental
paging decisions (:mod:`crawler.platform.incremental`) and the run report for ``crawl_runs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlencode

import scrapy
from loguru import logger
from scrapy.exceptions import CloseSpider

from crawler.errors import BrowserUnavailable, ConfigError, ErrorKind, PlatformError
from crawler.items import MentionItem
from crawler.platform.browser import find_chromium
from crawler.platform.cookies import load_cookies, offline_public_suffixes
from crawler.platform.faults import (
    classify_exception,
    classify_status,
    decode_json,
    looks_like_captcha,
    make_error,
)
from crawler.platform.incremental import NEW, CrawlMemory
from crawler.scraping.extensions import crawl_engine
from crawler.settings import bridge_config, config_for
from spiders._page import ParsedPage

if TYPE_CHECKING:
    from typing import Self

    from scrapy.http import Response
    from scrapy.http.request import CookiesT
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from crawler.config import AppConfig, BrandConfig

# Kinds after which further requests of this run are pointless or harmful.
FATAL_KINDS = frozenset(
    {
        ErrorKind.AUTH_EXPIRED,
        ErrorKind.CAPTCHA,
        ErrorKind.IP_BLOCKED,
        ErrorKind.SIGNATURE_REJECTED,
        ErrorKind.RATE_LIMITED,
        ErrorKind.BROWSER_MISSING,
    }
)
offline_public_suffixes()


@dataclass(slots=True)
class Fault:
    kind: ErrorKind
    message: str
    url: str | None
    endpoint: str | None
    keyword: str | None


@dataclass
class RunReport:
    """How the run went, for ``crawl_runs`` (written by :class:`crawler.scraping.extensions.CrawlRunRecorder`)."""

    status: str
    error_kind: str | None = None
    error_message: str | None = None
    faults: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    watermarks: dict[str, tuple[datetime, str]] = field(default_factory=dict)


class MonitorSpider(scrapy.Spider):
    """Base of yuqing's platform spiders; subclasses implement :meth:`initial_requests`."""

    name: str = ""  # abstract: no spider of its own
    statuses: ClassVar[dict[int, ErrorKind]] = {}
    cfg: AppConfig
    brand: BrandConfig
    base_url: str
    keywords: list[str]
    max_pages: int
    cookies: dict[str, str]

    def __init__(self, brand: str | None = None, keyword: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not brand:
            raise ConfigError(f"missing spider argument: -a brand=NAME (spider {self.name})")
        self.brand_arg = brand
        self.keyword_arg = keyword or None
        self.faults: list[Fault] = []
        self.fatal: PlatformError | None = None
        self.run_id: int | None = None
        self.pages_ok = 0
        self.memory: CrawlMemory | None = None
        self.open_work: dict[str, set[str]] = {"comments": set(), "details": set()}
        self.done_work: set[tuple[str, str]] = set()
        self.unsaved_work: dict[tuple[str, str], None] = {}  # opened, not yet in crawl_pending
        self.dirty_chains: set[str] = set()
        self.list_state: dict[str, list[Any]] = {}

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        if cls.name:
            bridge_config(settings, config_for(settings), cls.name)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.cfg = config_for(crawler.settings)
        spider.brand = spider.cfg.brand(spider.brand_arg)
        spider.base_url = crawler.settings.get(f"{cls.name.upper()}_BASE_URL").rstrip("/")
        spider.keywords = [spider.keyword_arg] if spider.keyword_arg else list(spider.brand.keywords)
        spider.max_pages = crawler.settings.getint("YUQING_MAX_PAGES")
        spider.cookies = load_cookies(cls.name, spider.cfg, crawler.settings)
        return spider

    # --- start --------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:

        s = self.crawler.settings
        self.memory = CrawlMemory.load(
            crawl_engine(s),
            platform=self.name,
            brand=self.brand.name,
            keywords=self.chains,
            window_days=s.getint("YUQING_WINDOW_DAYS"),
            refresh_hours=s.getint("YUQING_REFRESH_HOURS"),
        )
        # What earlier runs left open stays open (and in crawl_pending) until this run finishes it.
        for kind, ids in self.memory.pending.items():
            self.open_work.setdefault(kind, set()).update(ids)
        logger.info(
            "{} crawl of {} ({}) from {}", self.name, self.brand.name, ", ".join(self.keywords), self.base_url
        )
        for request in self.initial_requests():
            yield request

    @property
    def chains(self) -> list[str]:
        """The keys of this run's paged lists (their watermarks): the keywords by default."""
        return list(self.keywords)

    def initial_requests(self) -> Iterable[scrapy.Request]:
        raise NotImplementedError

    # --- requests -----------------------------------------------------------

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def request(
        self,
        url: str,
        *,
        callback: Any,
        endpoint: str,
        keyword: str | None,
        fmt: str = "json",
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        priority: int = 0,
    ) -> scrapy.Request:
        """A request the fault middleware checks as ``fmt`` (json / html) before ``callback`` sees it."""
        m = {"yq_endpoint": endpoint, "yq_keyword": keyword, "yq_format": fmt, **(meta or {})}
        if fmt == "html":
            m.setdefault("handle_httpstatus_list", [404, 410])
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta=m,
            headers=headers,
            # A str → str dict is a valid cookie dict: the cast only drops dict invariance (Scrapy
            # reads the cookies, it never writes into them).
            cookies=cast("CookiesT", self.cookies) or None,
            dont_filter=True,
            priority=priority,
        )

    # --- responses ----------------------------------------------------------

    def check_response(self, request: scrapy.Request, response: Response) -> None:
        """Raise the PlatformError a response stands for; stash decoded JSON in ``meta``."""
        fmt = request.meta.get("yq_format", "json")
        if fmt == "html" and response.status in (404, 410):
            return
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
        err = classify_status(
            self.name, response.status, response.url, statuses=self.statuses, body=text[:4000]
        )
        if err is None and response.status == 404:
            err = make_error(
                ErrorKind.BAD_PAYLOAD, "endpoint not found (HTTP 404)", platform=self.name, url=response.url
            )
        if err is not None:
            raise err
        if fmt == "json":
            payload = decode_json(self.name, text, response.url)
            self.check_envelope(payload, request)
            request.meta["yq_payload"] = payload
        elif looks_like_captcha(text) and not self.page_is_content(text):
            raise make_error(ErrorKind.CAPTCHA, "a captcha page", platform=self.name, url=response.url)

    def check_envelope(self, payload: Any, request: scrapy.Request) -> None:
        """Platform hook: raise for an error envelope (rate limit, login, signature)."""

    def page_is_content(self, text: str) -> bool:
        """Platform hook: True when an HTML page is real content even if it mentions 验证码."""
        return False

    @staticmethod
    def payload(response: Response) -> Any:
        cached = response.meta.get("yq_payload")
        return cached if cached is not None else decode_json("unknown", response.text, response.url)

    def accept(self, page: ParsedPage, response: Response) -> list[tuple[str, Any]]:
        """Count a parsed page, log what it skipped, classify its items; returns (state, published_at)."""
        self.pages_ok += 1
        stats = self.crawler.stats
        stats.inc_value("yuqing/pages")
        for line in page.bad:
            stats.inc_value("yuqing/bad_items")
            logger.warning("{}: skipped a malformed entry on {}: {}", self.name, response.url, line)
        outcomes: list[tuple[str, Any]] = []
        assert self.memory is not None
        chain = response.meta.get("yq_chain")
        for item in page.items:
            self.memory.pin_time(item)
            state = self.memory.classify(item)
            outcomes.append((state, item.published_at))
            if chain:
                self.memory.note_published(chain, item)
        return outcomes

    def follow_list(
        self, response: Response, outcomes: list[tuple[str, Any]], page: ParsedPage, number: int
    ) -> bool:
        """Whether to request the next page of a search/list chain (incremental stop rule)."""
        assert self.memory is not None
        if page.cursor is None or number >= self.max_pages:
            return False
        verdict = self.memory.verdict(response.meta.get("yq_chain") or "", outcomes)
        if not verdict.follow:
            self.crawler.stats.inc_value(f"yuqing/stop/{verdict.reason}")
        return verdict.follow

    def next_pages(
        self, response: Response, outcomes: list[tuple[str, Any]], page: ParsedPage, number: int, key: str
    ) -> list[int]:
        """Page numbers of list ``key`` to request now: up to ``YUQING_PAGE_PREFETCH`` pages ahead while
        the stop rule says go on (numbered lists only: a first crawl need not wait page by page)."""
        state = self.list_state.setdefault(key, [number, False])  # [highest page requested, stopped]
        state[0] = max(state[0], number)
        if state[1]:
            return []
        if not self.follow_list(response, outcomes, page, number):
            state[1] = True
            return []
        ahead = max(1, self.crawler.settings.getint("YUQING_PAGE_PREFETCH", 1))
        upto = min(number + ahead, self.max_pages)
        wanted = list(range(state[0] + 1, upto + 1))
        state[0] = max(state[0], upto)
        return wanted

    def fresh(self, items: Iterable[MentionItem]) -> Iterator[MentionItem]:
        """Items not yet handled in this run (a post found by two searches is yielded once)."""
        assert self.memory is not None
        for item in items:
            if self.memory.first_time_in_run(item.post_id):
                self.memory.pin_time(item)
                yield item
            else:
                self.crawler.stats.inc_value("yuqing/repeated_in_run")

    def is_new(self, state: str) -> bool:
        return state == NEW

    # --- faults -------------------------------------------------------------

    def on_error(self, failure: Failure) -> Iterator[Any]:
        """Errback of every request: keep a salvageable item (``yq_salvage``), record the fault."""
        request = failure.request  # type: ignore[attr-defined]
        item = request.meta.get("yq_item")
        if request.meta.get("yq_salvage") and isinstance(item, MentionItem):
            yield item
        exc = failure.value
        assert exc is not None  # a Failure always carries its exception
        err = exc if isinstance(exc, PlatformError) else classify_exception(self.name, exc, request.url)
        self.record_fault(err, request)

    def record_fault(self, err: PlatformError, request: scrapy.Request | None = None) -> None:
        meta = request.meta if request is not None else {}
        fault = Fault(
            err.kind,
            str(err),
            err.url or (request.url if request else None),
            meta.get("yq_endpoint"),
            meta.get("yq_keyword"),
        )
        self.faults.append(fault)
        if meta.get("yq_chain"):  # a failed list page leaves a gap: keep that chain's watermark
            self.dirty_chains.add(meta["yq_chain"])
        self.crawler.stats.inc_value(f"yuqing/faults/{err.kind}")
        logger.warning("{} {} failed: {}", self.name, fault.endpoint or "request", err)
        if err.kind in FATAL_KINDS and self.fatal is None:
            self.fatal = err
            logger.error("{}: stopping this crawl: {}", self.name, err)
            raise CloseSpider(str(err.kind))

    def require_browser(self) -> None:
        """End the crawl now (``browser_missing``, with the install command) when no Chromium can be found."""

        found = find_chromium()
        if found.path is None:
            self.record_fault(BrowserUnavailable(found.message(), platform=self.name))  # raises CloseSpider

    def fail_page(self, err: PlatformError, response: Response) -> None:
        """A callback found the payload unusable (a changed schema): record it, end this chain."""
        self.record_fault(err, response.request)

    # --- pending work (comments, details) ------------------------------------

    # A task is opened before the post that makes it due is yielded; the store pipeline writes
    # the unsaved tasks to crawl_pending in the transaction of its next batch, so a stored post
    # always has its open work recorded. Finished tasks are deleted when the crawl ends
    # (CrawlRunRecorder), after everything it fetched is stored; a crawl killed before that
    # leaves them, and the next one does them again (upserts make that harmless).

    def open_task(self, kind: str, post_id: str) -> None:
        self.open_work.setdefault(kind, set()).add(post_id)
        self.unsaved_work[(kind, post_id)] = None
        self.done_work.discard((kind, post_id))

    def close_task(self, kind: str, post_id: str) -> None:
        self.open_work.get(kind, set()).discard(post_id)
        self.done_work.add((kind, post_id))

    def take_unsaved_work(self) -> list[tuple[str, str]]:
        """Tasks opened since the last call (the store pipeline persists them with its batch)."""
        tasks, self.unsaved_work = list(self.unsaved_work), {}
        return tasks

    def return_unsaved_work(self, tasks: list[tuple[str, str]]) -> None:
        """A batch failed to commit: its tasks go with the next one."""
        for task in tasks:
            self.unsaved_work[task] = None

    # --- report -------------------------------------------------------------

    def run_report(self, reason: str) -> RunReport:
        counts: dict[str, int] = {}
        for f in self.faults:
            counts[str(f.kind)] = counts.get(str(f.kind), 0) + 1
        pending = {k: sorted(v) for k, v in self.open_work.items() if v}
        if self.fatal is not None:
            status, main = "failed", self.fatal
            kind, message = str(main.kind), str(main)
        elif self.faults:
            first = self.faults[0]
            status = "partial" if self.pages_ok else "failed"
            kind, message = str(first.kind), first.message
        else:
            status, kind, message = "ok", None, None
        if reason != "finished" and self.fatal is None:
            status = "failed" if not self.pages_ok else "partial"
            message = message or f"crawl ended early: {reason}"
        if len(self.faults) > 1 and message:
            message = f"{message} (+{len(self.faults) - 1} more faults)"
        watermarks: dict[str, tuple[datetime, str]] = {}
        if self.memory is not None and self.fatal is None and reason == "finished":
            for chain, newest in self.memory.newest.items():
                if chain not in self.dirty_chains:
                    watermarks[chain] = newest
        return RunReport(
            status=status,
            error_kind=kind,
            error_message=message,
            faults=counts,
            pending=pending,
            watermarks=watermarks,
        )
