"""The ``douyin`` spider: general search and comments, through a real browser (default) or signed API calls.

``scrapy crawl douyin -a brand=NAME [-a keyword=K]``. ``[platforms.douyin].mode``
(``DOUYIN_MODE``): ``browser`` opens the search page in Chromium with the session's cookies
and takes the search answers the page itself signs and fetches while scrolling; comments
are fetched inside the page with its own signing function. ``api`` sends the requests from
Scrapy with ``a_bogus`` from the pluggable signer (``crawler.platform.signing``). Either way every
answer goes through :func:`spiders._douyin_api.check_response` and the base's fault rules
(transient kinds retried with backoff, the rest recorded; an expired session ends the run).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import scrapy
from loguru import logger
from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.http import TextResponse

from crawler.errors import LoginRequired, PlatformError
from crawler.items import MentionItem
from crawler.platform.incremental import CHANGED, NEW
from crawler.platform.signing import DouyinSigner, enable_signing, make_douyin_signer
from crawler.scraping.extensions import add_seconds
from crawler.scraping.middlewares import backoff_delay
from spiders import _douyin_api as api
from spiders._accounts import pick_session, session_expired
from spiders._base import MonitorSpider
from spiders._douyin_browser import Capture, DouyinBrowser

if TYPE_CHECKING:
    from typing import Self

    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.platform.sessions import Session

SORT_NEWEST = '{"sort_type":"2","publish_time":"0"}'


def stand_in(url: str, **meta: Any) -> TextResponse:
    """A response object for the base's bookkeeping of a page the browser fetched."""
    return TextResponse(url, body=b"", request=scrapy.Request(url, meta=meta, dont_filter=True))


class DouyinSpider(MonitorSpider):
    name = "douyin"
    session: Session | None = None
    session_error: LoginRequired | None = None
    signer: DouyinSigner | None = None
    mode: str  # "browser" or "api"
    user_agent: str
    web_id: str
    comment_queue: list[tuple[str, str | None]]  # (aweme_id, keyword) whose comments to walk
    browser: DouyinBrowser | None

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        enable_signing(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        dcfg = spider.cfg.platforms.douyin
        spider.mode = crawler.settings.get("DOUYIN_MODE") or dcfg.mode
        spider.user_agent = dcfg.user_agent
        spider.web_id = api.new_web_id()
        spider.session, spider.session_error = pick_session(cls.name, spider.cfg, crawler.settings)
        spider.cookies = spider.session.cookies if spider.session else {}
        spider.comment_queue = []
        spider.browser = None
        if spider.mode == "api":
            spider.signer = make_douyin_signer(
                dcfg.model_copy(update={"base_url": spider.base_url}), spider.cookies
            )
        crawler.signals.connect(spider.close_browsers, signal=signals.spider_closed)
        return spider

    async def close_browsers(self, spider: Any) -> None:
        """However the crawl ends (finished, failed, stopped), its Chromium goes with it."""
        if self.signer is not None:
            await self.signer.close()
        if self.browser is not None:
            browser, self.browser = self.browser, None
            await browser.__aexit__(None, None, None)

    async def start(self) -> AsyncIterator[Any]:
        if self.session_error is not None:
            self.record_fault(self.session_error)  # raises CloseSpider: the run ends with auth_expired
        if self.mode == "browser" or self.cfg.platforms.douyin.signer == "browser":
            self.require_browser()
        async for request in super().start():
            yield request
        if self.mode == "browser":
            try:
                async for item in self.browse():
                    yield item
            except CloseSpider:
                # The fault is recorded (self.fatal): end start() instead of closing the engine now.
                # Scrapy 2.19 never re-checks a closing scraper when an item that came from start()
                # finishes, so closing while such items are still in the pipelines would hang.
                return

    # --- shared rules ------------------------------------------------------------

    def check_captured(
        self, status: int, body: bytes, url: str, *, first_page: bool = False
    ) -> dict[str, Any]:
        try:
            return api.check_response(status, body, url, first_page=first_page)
        except LoginRequired as err:
            raise session_expired(self.name, self.cfg, self.session, err) from None

    def wants_comments(self, item: MentionItem, state: str) -> bool:
        s = self.crawler.settings
        return (
            s.getbool("YUQING_COMMENTS")
            and s.getint("YUQING_MAX_COMMENT_PAGES") > 0
            and item.comments > 0
            and state in (NEW, CHANGED)
        )

    def take_search_page(self, page: api.SearchPage, response: Response) -> Iterator[MentionItem]:
        """Count the page, queue comment work for new or changed posts, yield items seen first this run."""
        outcomes = self.accept(page, response)
        response.meta["yq_outcomes"] = outcomes
        states = dict(zip((i.post_id for i in page.items), outcomes, strict=True))
        for item in self.fresh(page.items):
            if self.wants_comments(item, states[item.post_id][0]):
                self.open_task("comments", item.post_id)
                self.comment_queue.append((item.post_id, item.keyword))
            yield item

    def take_comment_page(self, page: api.CommentPage, aweme_id: str) -> Iterator[MentionItem]:
        self.crawler.stats.inc_value("yuqing/pages")
        for line in page.bad:
            self.crawler.stats.inc_value("yuqing/bad_items")
            logger.warning("douyin: skipped a malformed comment of {}: {}", aweme_id, line)
        yield from self.fresh(page.items)

    # --- browser mode ----------------------------------------------------------------

    async def browse(self) -> AsyncIterator[Any]:
        dcfg = self.cfg.platforms.douyin
        async with DouyinBrowser(
            self.base_url,
            self.cookies,
            user_agent=self.user_agent,
            headless=dcfg.headless,
            sign_expression=dcfg.sign_expression,
            timeout=self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT"),
        ) as browser:
            self.browser = browser
            assert self.memory is not None
            self.comment_queue.extend((pid, None) for pid in sorted(self.memory.pending.get("comments", ())))
            for keyword in self.keywords:
                async for item in self.retrying(
                    partial(self.walk_search, browser, keyword), "search", keyword
                ):
                    yield item
            for aweme_id, found_by in self.comment_queue:
                async for item in self.retrying(
                    partial(self.walk_comments, browser, aweme_id, found_by), "comments", found_by
                ):
                    yield item
        self.browser = None

    async def retrying(
        self, make: Callable[[], AsyncIterator[MentionItem]], endpoint: str, keyword: str | None
    ) -> AsyncIterator[MentionItem]:
        """Run one browser walk; transient faults start it again after a backoff (items dedupe)."""
        s = self.crawler.settings
        attempt = 0
        while True:
            try:
                async for item in make():
                    yield item
                return
            except PlatformError as err:
                if err.kind.transient and attempt < s.getint("RETRY_TIMES"):
                    attempt += 1
                    delay = backoff_delay(
                        attempt, base=s.getfloat("YUQING_BACKOFF_BASE"), cap=s.getfloat("YUQING_BACKOFF_MAX")
                    )
                    self.crawler.stats.inc_value("retry/count")
                    add_seconds(self.crawler.stats, "yuqing/time/backoff", delay)
                    logger.info("douyin: {} on {}; retry {} in {:.1f}s", err.kind, endpoint, attempt, delay)
                    await asyncio.sleep(delay)
                    continue
                chain = keyword if endpoint == "search" else None
                self.record_fault(
                    err,
                    stand_in(
                        err.url or self.base_url, yq_endpoint=endpoint, yq_keyword=keyword, yq_chain=chain
                    ).request,
                )
                return

    def _count_request(self) -> None:
        # The browser's API calls are this crawl's requests, as Scrapy's downloads are elsewhere.
        self.crawler.stats.inc_value("downloader/request_count")
        self.crawler.stats.inc_value("douyin/browser_requests")

    async def walk_search(self, browser: DouyinBrowser, keyword: str) -> AsyncIterator[MentionItem]:
        number = 0
        pages = min(self.max_pages, self.cfg.platforms.douyin.max_scrolls + 1)  # the first load + scrolls
        async for cap in browser.search(keyword, max_pages=pages):
            number += 1
            self._count_request()
            payload = self.check_captured(cap.status, cap.body, cap.url, first_page=number == 1)
            page = api.parse_search_page(
                payload, brand=self.brand.name, keyword=keyword, web_url=self.base_url
            )
            response = stand_in(cap.url, yq_chain=keyword, yq_keyword=keyword, yq_endpoint="search")
            for item in self.take_search_page(page, response):
                yield item
            if not self.follow_list(response, response.meta["yq_outcomes"], page, number):
                return

    async def walk_comments(
        self, browser: DouyinBrowser, aweme_id: str, keyword: str | None, comment_id: str | None = None
    ) -> AsyncIterator[MentionItem]:
        """A video's comments (and each thread's replies), or with ``comment_id`` one thread's replies."""
        cursor, number = 0, 0
        while True:
            number += 1
            if comment_id is None:
                path, params = api.COMMENT_PATH, api.comment_params(aweme_id, cursor, web_id=self.web_id)
            else:
                path, params = (
                    api.REPLY_PATH,
                    api.reply_params(aweme_id, comment_id, cursor, web_id=self.web_id),
                )
            cap: Capture = await browser.signed_get(path, params)
            self._count_request()
            payload = self.check_captured(cap.status, cap.body, cap.url)
            page = api.parse_comment_page(
                payload, brand=self.brand.name, aweme_id=aweme_id, keyword=keyword, web_url=self.base_url
            )
            for item in self.take_comment_page(page, aweme_id):
                yield item
                if comment_id is None and item.comments > 0:
                    async for reply in self.walk_comments(browser, aweme_id, keyword, item.post_id):
                        yield reply
            if page.cursor is None or number >= self.crawler.settings.getint("YUQING_MAX_COMMENT_PAGES"):
                if comment_id is None:
                    self.close_task("comments", aweme_id)
                return
            cursor = int(page.cursor)

    # --- api mode ------------------------------------------------------------------------

    def check_response(self, request: scrapy.Request, response: Response) -> None:
        first = request.meta.get("yq_endpoint") == "search" and request.meta.get("page") == 1
        request.meta["yq_payload"] = self.check_captured(
            response.status, response.body, response.url, first_page=first
        )

    async def sign_request(self, request: scrapy.Request) -> scrapy.Request | None:
        """Append ``a_bogus`` (signed for this exact query and User-Agent) once per attempt."""
        query = request.meta.get("yq_dy_query")
        attempt = request.meta.get("retry_times", 0)
        if query is None or self.signer is None or request.meta.get("yq_signed_try") == attempt:
            return None
        a_bogus = await self.signer.sign(query, self.user_agent)
        request.meta["yq_signed_try"] = attempt
        url = f"{request.meta['yq_unsigned_url']}&a_bogus={quote(a_bogus, safe='')}"
        return request.replace(url=url)

    def api_request(
        self,
        path: str,
        params: dict[str, str],
        *,
        callback: Any,
        endpoint: str,
        keyword: str | None,
        meta: dict[str, Any],
        priority: int = 0,
    ) -> scrapy.Request:
        query = urlencode(params)
        url = f"{self.base_url}{path}?{query}"
        meta = {**meta, "yq_dy_query": query, "yq_unsigned_url": url}
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json, text/plain, */*",
            "Referer": f"{self.base_url}/search/{quote(keyword or '', safe='')}?type=general",
        }
        return self.request(
            url,
            callback=callback,
            endpoint=endpoint,
            keyword=keyword,
            meta=meta,
            headers=headers,
            priority=priority,
        )

    def initial_requests(self) -> Iterable[scrapy.Request]:
        if self.mode != "api":
            return
        assert self.memory is not None
        for aweme_id in sorted(self.memory.pending.get("comments", ())):
            yield self.comments_request(aweme_id, None)
        for keyword in self.keywords:
            yield self.search_request(keyword, 0, "", 1)

    def search_request(self, keyword: str, offset: int, search_id: str, page: int) -> scrapy.Request:
        ms_token = secrets.token_urlsafe(80)[:107]
        params = api.search_params(keyword, offset, search_id, web_id=self.web_id, ms_token=ms_token)
        params.update(is_filter_search="1", filter_selected=SORT_NEWEST)
        return self.api_request(
            api.SEARCH_PATH,
            params,
            callback=self.parse_search,
            endpoint="search",
            keyword=keyword,
            meta={"yq_chain": keyword, "page": page},
        )

    def comments_request(
        self,
        aweme_id: str,
        keyword: str | None,
        cursor: int = 0,
        page: int = 1,
        comment_id: str | None = None,
    ) -> scrapy.Request:
        """A page of a video's comments, or with ``comment_id`` of one comment's replies."""
        if comment_id is None:
            self.open_task("comments", aweme_id)
            path, params = api.COMMENT_PATH, api.comment_params(aweme_id, cursor, web_id=self.web_id)
        else:
            path, params = api.REPLY_PATH, api.reply_params(aweme_id, comment_id, cursor, web_id=self.web_id)
        return self.api_request(
            path,
            params,
            callback=self.parse_comments,
            endpoint="comments",
            keyword=keyword,
            meta={"aweme_id": aweme_id, "page": page, "comment_id": comment_id},
            priority=-1 if comment_id is None else -2,
        )

    def parse_search(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        try:
            page = api.parse_search_page(
                self.payload(response),
                brand=self.brand.name,
                keyword=meta["yq_keyword"],
                web_url=self.base_url,
            )
        except PlatformError as err:
            self.fail_page(err, response)
            return
        yield from self.take_search_page(page, response)
        while self.comment_queue:
            aweme_id, keyword = self.comment_queue.pop(0)
            yield self.comments_request(aweme_id, keyword)
        if self.follow_list(response, meta["yq_outcomes"], page, meta["page"]):
            yield self.search_request(meta["yq_keyword"], int(page.cursor), page.search_id, meta["page"] + 1)

    def parse_comments(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        aweme_id = meta["aweme_id"]
        try:
            page = api.parse_comment_page(
                self.payload(response),
                brand=self.brand.name,
                aweme_id=aweme_id,
                keyword=meta["yq_keyword"],
                web_url=self.base_url,
            )
        except PlatformError as err:
            self.fail_page(err, response)
            return
        thread = meta.get("comment_id")
        for item in self.take_comment_page(page, aweme_id):
            yield item
            if thread is None and item.comments > 0:
                yield self.comments_request(aweme_id, meta["yq_keyword"], comment_id=item.post_id)
        if page.cursor is not None and meta["page"] < self.crawler.settings.getint(
            "YUQING_MAX_COMMENT_PAGES"
        ):
            yield self.comments_request(
                aweme_id, meta["yq_keyword"], int(page.cursor), meta["page"] + 1, comment_id=thread
            )
        elif thread is None:
            self.close_task("comments", aweme_id)
