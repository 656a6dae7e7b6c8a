"""The ``xiaohongshu`` spider: signed note search, note details (text, time, IP region), comments.

``scrapy crawl xiaohongshu -a brand=NAME [-a keyword=K]``. Every API request is signed
right before it is sent (:class:`crawler.platform.signing.SigningMiddleware`) by the signer named in
``[platforms.xiaohongshu].signer`` (``XIAOHONGSHU_SIGNER`` setting): ``xhshow`` (default)
or ``browser``. The session is the next account in turn (``spiders._accounts``). Settings:
``XIAOHONGSHU_BASE_URL`` (API host), ``XIAOHONGSHU_WEB_URL`` (pages, note URLs, Referer).
Parsing lives in :mod:`spiders._xhs_api`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals

from crawler.errors import ErrorKind, LoginRequired, PlatformError
from crawler.items import MentionItem
from crawler.platform.faults import make_error
from crawler.platform.incremental import CHANGED, NEW, load_items
from crawler.platform.signing import XhsSigner, enable_signing, encode_query, json_body, make_xhs_signer
from crawler.scraping.extensions import add_seconds, crawl_engine
from spiders import _xhs_api as api
from spiders._accounts import pick_session, session_expired
from spiders._base import MonitorSpider

if TYPE_CHECKING:
    from typing import Self

    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.platform.sessions import Session

DESKTOP_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


class XiaohongshuSpider(MonitorSpider):
    name = "xiaohongshu"
    statuses = {461: ErrorKind.CAPTCHA, 471: ErrorKind.CAPTCHA, 406: ErrorKind.SIGNATURE_REJECTED}
    custom_settings = {"USER_AGENT": DESKTOP_UA}
    session: Session | None = None
    session_error: LoginRequired | None = None
    uses_browser: bool = False
    signer: XhsSigner
    web_url: str  # the web site (note links, Origin), not the API host in base_url

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        enable_signing(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        xcfg = spider.cfg.platforms.xiaohongshu
        s = crawler.settings
        spider.web_url = (s.get("XIAOHONGSHU_WEB_URL") or xcfg.web_url).rstrip("/")
        spider.session, spider.session_error = pick_session(cls.name, spider.cfg, s)
        spider.cookies = spider.session.cookies if spider.session else {}
        signer_name = s.get("XIAOHONGSHU_SIGNER") or xcfg.signer
        spider.uses_browser = signer_name == "browser"
        spider.signer = make_xhs_signer(
            xcfg.model_copy(update={"signer": signer_name, "web_url": spider.web_url})
        )
        crawler.signals.connect(spider.close_signer, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if self.session_error is not None:
            self.record_fault(self.session_error)  # raises CloseSpider: the run ends with auth_expired
        if self.uses_browser:
            self.require_browser()
        async for request in super().start():
            yield request

    async def close_signer(self, spider: Any) -> None:
        await self.signer.close()

    # --- signing and checking ------------------------------------------------

    async def sign_request(self, request: scrapy.Request) -> None:
        spec = request.meta.get("yq_sign")
        if spec is None:
            return None
        method, uri, params, payload = spec
        headers = await self.signer.sign(method, uri, cookies=self.cookies, params=params, payload=payload)
        for key, value in headers.items():
            request.headers[key] = value
        return None

    def check_response(self, request: scrapy.Request, response: Response) -> None:
        try:
            super().check_response(request, response)
        except LoginRequired as err:
            raise session_expired(self.name, self.cfg, self.session, err) from None

    def check_envelope(self, payload: Any, request: scrapy.Request) -> None:
        endpoint = request.meta.get("yq_endpoint")
        if endpoint == "detail" and isinstance(payload, dict) and payload.get("code") in api.NOTE_GONE_CODES:
            return  # deleted or hidden since the search: the callback keeps the card
        data = api.check_envelope(200, payload, request.url)
        if endpoint == "detail" and not data.get("items"):
            raise make_error(
                ErrorKind.RATE_LIMITED,
                "the note detail came back empty (throttled)",
                platform=self.name,
                url=request.url,
            )

    # --- requests -------------------------------------------------------------

    def api_headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json, text/plain, */*",
            "Content-Type": "application/json;charset=UTF-8",
            "Origin": self.web_url,
            "Referer": f"{self.web_url}/",
        }

    def signed(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        callback: Any,
        endpoint: str,
        keyword: str | None,
        meta: dict[str, Any],
        priority: int = 0,
    ) -> scrapy.Request:
        """A request whose URL/body are exactly what gets signed."""
        query = f"?{encode_query(params)}" if params else ""
        meta = {**meta, "yq_sign": (method, path, params, payload)}
        request = self.request(
            f"{self.base_url}{path}{query}",
            callback=callback,
            endpoint=endpoint,
            keyword=keyword,
            meta=meta,
            headers=self.api_headers(),
            priority=priority,
        )
        if method == "POST":
            request = request.replace(method="POST", body=json_body(payload or {}).encode())
        return request

    def initial_requests(self) -> Iterable[scrapy.Request]:
        yield from self.pending_requests()
        for keyword in self.keywords:
            yield self.search_request(keyword, 1, api.new_search_id())

    def search_request(self, keyword: str, page: int, search_id: str) -> scrapy.Request:
        xcfg = self.cfg.platforms.xiaohongshu
        body = api.search_body(keyword, page, search_id, sort=xcfg.sort, note_type=xcfg.note_type)
        return self.signed(
            "POST",
            api.SEARCH_PATH,
            payload=body,
            callback=self.parse_search,
            endpoint="search",
            keyword=keyword,
            meta={"yq_chain": keyword, "page": page, "search_id": search_id},
        )

    def detail_request(self, item: MentionItem, *, salvage: bool) -> scrapy.Request:
        self.open_task("details", item.post_id)
        token = str((item.extra or {}).get("xsec_token") or "")
        return self.signed(
            "POST",
            api.FEED_PATH,
            payload=api.feed_body(item.post_id, token),
            callback=self.parse_detail,
            endpoint="detail",
            keyword=item.keyword,
            meta={"yq_item": item, "yq_salvage": salvage},
            priority=1,
        )

    def comments_request(
        self, note_id: str, token: str, keyword: str | None, cursor: str = "", page: int = 1
    ) -> scrapy.Request:
        self.open_task("comments", note_id)
        return self.signed(
            "GET",
            api.COMMENT_PATH,
            params=api.comment_params(note_id, token, cursor),
            callback=self.parse_comments,
            endpoint="comments",
            keyword=keyword,
            meta={"note_id": note_id, "token": token, "page": page},
            priority=-1,
        )

    def replies_request(
        self, note_id: str, root_id: str, token: str, keyword: str | None, cursor: str, page: int = 1
    ) -> scrapy.Request:
        return self.signed(
            "GET",
            api.SUB_COMMENT_PATH,
            params=api.sub_comment_params(note_id, root_id, token, cursor),
            callback=self.parse_replies,
            endpoint="replies",
            keyword=keyword,
            meta={"note_id": note_id, "root_id": root_id, "token": token, "page": page},
            priority=-2,
        )

    def pending_requests(self) -> Iterator[scrapy.Request]:
        """Finish what the previous run could not: details and comments of stored notes."""
        assert self.memory is not None

        engine = crawl_engine(self.crawler.settings)
        for item in load_items(engine, self.name, sorted(self.memory.pending.get("details", ()))):
            yield self.detail_request(item, salvage=False)
        for item in load_items(engine, self.name, sorted(self.memory.pending.get("comments", ()))):
            yield self.comments_request(item.post_id, str((item.extra or {}).get("xsec_token") or ""), None)

    # --- callbacks --------------------------------------------------------------

    def _parse_data(self, response: Response, parse: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return parse(self.payload(response).get("data") or {}, **kwargs)
        except PlatformError as err:
            self.fail_page(err, response)
            return None
        finally:
            add_seconds(self.crawler.stats, "yuqing/time/parse", time.perf_counter() - started)

    def parse_search(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        keyword = meta["yq_keyword"]
        page = self._parse_data(
            response,
            api.parse_search_page,
            brand=self.brand.name,
            keyword=keyword,
            page=meta["page"],
            web_url=self.web_url,
        )
        if page is None:
            return
        outcomes = self.accept(page, response)
        states = dict(zip((i.post_id for i in page.items), outcomes, strict=True))
        want_detail = self.cfg.platforms.xiaohongshu.detail
        for item in self.fresh(page.items):
            state, _ = states[item.post_id]
            if state not in (NEW, CHANGED):
                self.crawler.stats.inc_value("yuqing/unchanged")  # the stored detail is newer than the card
            elif want_detail:
                yield self.detail_request(item, salvage=state == NEW)
            else:
                comments = list(self.comment_requests(item))  # opens the task before the note is stored
                yield item
                yield from comments
        if self.follow_list(response, outcomes, page, meta["page"]):
            yield self.search_request(keyword, int(page.cursor), meta["search_id"])

    def comment_requests(self, item: MentionItem) -> Iterator[scrapy.Request]:
        s = self.crawler.settings
        if s.getbool("YUQING_COMMENTS") and s.getint("YUQING_MAX_COMMENT_PAGES") > 0 and item.comments > 0:
            yield self.comments_request(
                item.post_id, str((item.extra or {}).get("xsec_token") or ""), item.keyword
            )

    def parse_detail(self, response: Response) -> Iterator[Any]:
        card: MentionItem = response.meta["yq_item"]
        payload = self.payload(response)
        if payload.get("code") in api.NOTE_GONE_CODES:
            self.crawler.stats.inc_value("xiaohongshu/note_gone")
            self.close_task("details", card.post_id)
            if response.meta.get("yq_salvage"):
                yield card
            return
        token = str((card.extra or {}).get("xsec_token") or "")
        item = self._parse_data(
            response,
            api.parse_note_detail,
            brand=card.brand,
            keyword=card.keyword,
            xsec_token=token,
            web_url=self.web_url,
        )
        if item is None:
            if response.meta.get("yq_salvage"):
                yield card
            return
        item.keyword = card.keyword
        self.close_task("details", card.post_id)
        comments = list(self.comment_requests(item))  # opens the task before the note is stored
        yield item
        yield from comments

    def parse_comments(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        note_id, token, keyword = meta["note_id"], meta["token"], meta["yq_keyword"]
        page = self._parse_data(
            response,
            api.parse_comment_page,
            brand=self.brand.name,
            note_id=note_id,
            keyword=keyword,
            xsec_token=token,
            web_url=self.web_url,
        )
        if page is None:
            return
        self._count_page(page, note_id)
        yield from self.fresh(page.items)
        if self.cfg.platforms.xiaohongshu.max_reply_pages > 0:
            for root_id, cursor in page.more_replies:
                yield self.replies_request(note_id, root_id, token, keyword, cursor)
        if page.cursor and meta["page"] < self.crawler.settings.getint("YUQING_MAX_COMMENT_PAGES"):
            yield self.comments_request(note_id, token, keyword, page.cursor, meta["page"] + 1)
        else:
            self.close_task("comments", note_id)

    def parse_replies(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        page = self._parse_data(
            response,
            api.parse_sub_comment_page,
            brand=self.brand.name,
            note_id=meta["note_id"],
            keyword=meta["yq_keyword"],
            xsec_token=meta["token"],
            web_url=self.web_url,
        )
        if page is None:
            return
        self._count_page(page, meta["note_id"])
        yield from self.fresh(page.items)
        if page.cursor and meta["page"] < self.cfg.platforms.xiaohongshu.max_reply_pages:
            yield self.replies_request(
                meta["note_id"],
                meta["root_id"],
                meta["token"],
                meta["yq_keyword"],
                page.cursor,
                meta["page"] + 1,
            )

    def _count_page(self, page: Any, note_id: str) -> None:
        self.crawler.stats.inc_value("yuqing/pages")
        for line in page.bad:
            self.crawler.stats.inc_value("yuqing/bad_items")
            self.logger.warning("skipped a malformed comment of %s: %s", note_id, line)
