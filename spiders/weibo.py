"""The ``weibo`` spider: m.weibo.cn keyword search, full texts of long posts, and comments.

``scrapy crawl weibo -a brand=NAME [-a keyword=K]``. Settings: ``WEIBO_BASE_URL``,
``WEIBO_SEARCH_TYPES`` (1 综合 and 61 实时 by default), ``WEIBO_COOKIES`` /
``WEIBO_COOKIE_FILE`` (else the config account or the ``yuqing login`` session),
``YUQING_COMMENTS`` and ``YUQING_MAX_COMMENT_PAGES``. Parsing lives in
:mod:`spiders._weibo_api`; the callbacks only turn cursors into requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import scrapy

from crawler.errors import ErrorKind, PlatformError
from crawler.items import MentionItem
from crawler.platform.faults import auth_error, make_error
from crawler.platform.incremental import CHANGED, NEW, load_items
from crawler.scraping.extensions import add_seconds, crawl_engine
from spiders import _weibo_api as api
from spiders._base import MonitorSpider

if TYPE_CHECKING:
    from scrapy.http import Response

MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


class WeiboSpider(MonitorSpider):
    name = "weibo"
    statuses = api.STATUSES
    custom_settings = {"USER_AGENT": MOBILE_UA}

    def api_headers(self, referer: str | None = None) -> dict[str, str]:
        return {
            "Accept": "application/json, text/plain, */*",
            "X-Requested-With": "XMLHttpRequest",
            "MWeibo-Pwa": "1",
            "Referer": referer or f"{api.WEB_URL}/",
        }

    def check_envelope(self, payload: Any, request: scrapy.Request) -> None:
        if request.meta.get("yq_endpoint") in ("search", "comments", "login_check"):
            api.check_envelope(payload, url=request.url)

    # --- requests -----------------------------------------------------------

    def initial_requests(self) -> Iterable[scrapy.Request]:
        assert self.memory is not None
        yield from self.pending_requests()
        types = [int(t) for t in self.crawler.settings.getlist("WEIBO_SEARCH_TYPES")] or [1]
        for keyword in self.keywords:
            for search_type in types:
                yield self.search_request(keyword, search_type, 1)

    def search_request(self, keyword: str, search_type: int, page: int) -> scrapy.Request:
        url = self.url(api.SEARCH_PATH, api.search_params(keyword, page, search_type))
        return self.request(
            url,
            callback=self.parse_search,
            endpoint="search",
            keyword=keyword,
            meta={"yq_chain": keyword, "page": page, "search_type": search_type},
            headers=self.api_headers(),
        )

    def comments_request(
        self,
        post_id: str,
        keyword: str | None,
        max_id: int | None = None,
        max_id_type: int = 0,
        page: int = 1,
    ) -> scrapy.Request:
        self.open_task("comments", post_id)
        url = self.url(api.HOTFLOW_PATH, api.comment_params(post_id, max_id, max_id_type))
        return self.request(
            url,
            callback=self.parse_comments,
            endpoint="comments",
            keyword=keyword,
            meta={"post_id": post_id, "page": page},
            headers=self.api_headers(api.detail_url(post_id)),
            priority=-1,
        )

    def long_text_request(self, item: MentionItem, *, salvage: bool = False) -> scrapy.Request:
        """The detail page of a truncated post; with ``salvage`` the snippet is stored if it fails."""
        self.open_task("details", item.post_id)
        return self.request(
            self.url(f"/detail/{item.post_id}"),
            callback=self.parse_detail,
            endpoint="detail",
            keyword=item.keyword,
            fmt="html",
            meta={"yq_item": item, "yq_salvage": salvage},
            headers={"Referer": f"{api.WEB_URL}/"},
            priority=1,
        )

    def pending_requests(self) -> Iterator[scrapy.Request]:
        """Finish what the previous run could not: comments and long texts."""
        assert self.memory is not None

        for post_id in sorted(self.memory.pending.get("comments", ())):
            yield self.comments_request(post_id, None)
        details = sorted(self.memory.pending.get("details", ()))
        for item in load_items(crawl_engine(self.crawler.settings), self.name, details):
            yield self.long_text_request(item)

    # --- callbacks ----------------------------------------------------------

    def parse_search(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        keyword, page_no = meta["yq_keyword"], meta["page"]
        started = time.perf_counter()
        try:
            page = api.parse_search_page(
                self.payload(response), brand=self.brand.name, keyword=keyword, page=page_no, url=response.url
            )
        except PlatformError as err:
            self.fail_page(err, response)
            return
        finally:
            add_seconds(self.crawler.stats, "yuqing/time/parse", time.perf_counter() - started)
        if not page.items and not page.bad and page_no == 1 and not meta.get("login_checked"):
            # Throttled or logged-out sessions get empty results: ask /api/config once per run.
            if not getattr(self, "_login_checked", False):
                self._login_checked = True
                yield self.request(
                    self.url(api.CONFIG_PATH),
                    callback=self.parse_login_check,
                    endpoint="login_check",
                    keyword=keyword,
                    headers=self.api_headers(),
                )
        outcomes = self.accept(page, response)
        states = dict(zip((i.post_id for i in page.items), outcomes, strict=True))
        for item in self.fresh(page.items):
            state, _ = states[item.post_id]
            yield from self.handle_post(item, state)
        for number in self.next_pages(response, outcomes, page, page_no, f"{keyword}|{meta['search_type']}"):
            yield self.search_request(keyword, meta["search_type"], number)

    def handle_post(self, item: MentionItem, state: str) -> Iterator[Any]:
        settings = self.crawler.settings
        wants_comments = (
            settings.getbool("YUQING_COMMENTS") and settings.getint("YUQING_MAX_COMMENT_PAGES") > 0
        )
        if wants_comments and item.comments > 0 and state in (NEW, CHANGED):
            yield self.comments_request(item.post_id, item.keyword)
        truncated = bool((item.extra or {}).get("truncated"))
        if truncated and state in (NEW, CHANGED):
            yield self.long_text_request(item, salvage=state == NEW)
        elif truncated:  # unchanged, and storing the snippet would overwrite the full text
            self.crawler.stats.inc_value("yuqing/unchanged")
        else:
            yield item

    def parse_login_check(self, response: Response) -> None:
        try:
            logged_in = api.check_login(self.payload(response), url=response.url)
        except PlatformError as err:
            self.record_fault(err, response.request)
            return
        if not logged_in:
            self.record_fault(
                auth_error(self.name, "the session is not logged in (/api/config login:false)", response.url),
                response.request,
            )
            return
        # Logged in, yet no results: when the keyword had posts in the window at the last clean
        # crawl, an empty first page is Weibo's silent throttling (HTTP 200, no error), not silence.
        keyword = response.meta.get("yq_keyword")
        assert self.memory is not None  # loaded in start(), before any request
        newest = self.memory.watermarks.get(keyword) if keyword else None
        if newest is not None and newest >= self.memory.window_start:
            self.record_fault(
                make_error(
                    ErrorKind.RATE_LIMITED,
                    f"empty search results for {keyword!r} although the last clean crawl "
                    f"found posts up to {newest:%Y-%m-%d %H:%M} UTC (silent throttling?)",
                    platform=self.name,
                    url=response.url,
                ),
                response.request,
            )

    def parse_comments(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        post_id = meta["post_id"]
        started = time.perf_counter()
        try:
            page = api.parse_comment_page(
                self.payload(response),
                post_id=post_id,
                brand=self.brand.name,
                keyword=meta["yq_keyword"],
                url=response.url,
            )
        except PlatformError as err:
            self.fail_page(err, response)
            return
        finally:
            add_seconds(self.crawler.stats, "yuqing/time/parse", time.perf_counter() - started)
        self.crawler.stats.inc_value("yuqing/pages")
        for line in page.bad:
            self.crawler.stats.inc_value("yuqing/bad_items")
            self.logger.warning("skipped a malformed comment of %s: %s", post_id, line)
        yield from self.fresh(page.items)
        if page.cursor and meta["page"] < self.crawler.settings.getint("YUQING_MAX_COMMENT_PAGES"):
            max_id, max_id_type = page.cursor
            yield self.comments_request(post_id, meta["yq_keyword"], max_id, max_id_type, meta["page"] + 1)
        else:
            self.close_task("comments", post_id)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        item: MentionItem = response.meta["yq_item"]
        if response.status in (404, 410):  # deleted since: keep what the search showed
            self.close_task("details", item.post_id)
            yield item
            return
        try:
            status = api.parse_detail_page(response.text, url=response.url)
        except PlatformError as err:
            if response.meta.get("yq_salvage"):
                yield item  # the snippet is stored; the full text stays pending
            self.fail_page(err, response)
            return
        full = api.parse_mblog({**status, "isLongText": False}, brand=item.brand, keyword=item.keyword)
        if len(full.text) >= len(item.text):
            item.text = full.text
        extra = dict(item.extra or {})
        extra.pop("truncated", None)
        item.extra = extra
        self.close_task("details", item.post_id)
        yield item
