"""The ``heimao`` spider: 黑猫投诉 keyword search, a company's received complaints, complaint details.

``scrapy crawl heimao -a brand=NAME [-a keyword=K]``. Every list request is signed
(:func:`spiders._heimao_api.signed_params`, secret from ``[platforms.heimao].signature_secret``
or the ``HEIMAO_SIGNATURE_SECRET`` setting). A whole-brand crawl also pulls the
complaints received by each ``heimao_couid`` of the brand. New complaints, and known
ones whose status moved, get their detail page (full text, demands, amount, progress
steps, company reply) when ``HEIMAO_DETAIL_PAGES`` is on. Settings: ``HEIMAO_BASE_URL``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import scrapy

from crawler.errors import ErrorKind, PlatformError
from crawler.items import MentionItem
from crawler.platform.faults import make_error
from crawler.platform.incremental import CHANGED, NEW, load_items
from crawler.platform.normalize import parse_count
from crawler.scraping.extensions import add_seconds, crawl_engine
from spiders import _heimao_api as api
from spiders._base import MonitorSpider

if TYPE_CHECKING:
    from scrapy.http import Response

DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


class HeimaoSpider(MonitorSpider):
    name = "heimao"
    statuses = api.STATUSES
    custom_settings = {"USER_AGENT": DESKTOP_UA}

    @property
    def secret(self) -> str:
        override = self.crawler.settings.get("HEIMAO_SIGNATURE_SECRET")
        if override:
            return str(override)
        return self.cfg.platforms.heimao.signature_secret.get_secret_value()

    @property
    def chains(self) -> list[str]:
        """Watermark keys: the keywords, plus ``couid:<id>`` for each company list."""
        couids = [] if self.keyword_arg else [f"couid:{c}" for c in self.brand.heimao_couid]
        return [*self.keywords, *couids]

    def check_envelope(self, payload: Any, request: scrapy.Request) -> None:
        if request.meta.get("yq_endpoint") != "search":
            return
        data = api.check_envelope(payload, url=request.url)
        # Risk control: an empty list while the pager claims results (PLATFORMS.md §4.4).
        pager = found if isinstance(found := data.get("pager"), dict) else {}
        key = "lists" if "lists" in data else "complaints" if "complaints" in data else None
        if key is None:  # a changed schema: the parser names the missing field
            return
        if not data[key] and request.meta.get("page") == 1 and parse_count(pager.get("item_count")) > 0:
            raise make_error(
                ErrorKind.RATE_LIMITED,
                "empty list while item_count > 0 (risk control)",
                platform=self.name,
                url=request.url,
            )

    # --- requests -----------------------------------------------------------

    def initial_requests(self) -> Iterable[scrapy.Request]:
        assert self.memory is not None

        details = sorted(self.memory.pending.get("details", ()))
        for item in load_items(crawl_engine(self.crawler.settings), self.name, details):
            yield self.detail_request(item, salvage=False)
        for keyword in self.keywords:
            yield self.list_request(keyword=keyword, couid=None, page=1)
        if not self.keyword_arg:
            for couid in self.brand.heimao_couid:
                yield self.list_request(keyword=None, couid=couid, page=1)

    def list_request(self, *, keyword: str | None, couid: str | None, page: int) -> scrapy.Request:
        if couid is not None:
            path, params, chain = api.COMPANY_PATH, api.company_params(couid, page), f"couid:{couid}"
            referer = f"{api.WEB_URL}/company/view/?couid={couid}"
        else:
            assert keyword is not None
            path, params, chain = api.SEARCH_PATH, api.search_params(keyword, page), keyword
            referer = f"{api.WEB_URL}/index/search/?keywords={keyword}&t=1"
        url = self.url(path, api.signed_params(params, secret=self.secret))
        headers = {
            "Referer": referer,
            "X-Requested-With": "XMLHttpRequest",
            "Accept": "application/json, */*",
        }
        return self.request(
            url,
            callback=self.parse_list,
            endpoint="search",
            keyword=keyword,
            headers=headers,
            meta={"yq_chain": chain, "page": page, "couid": couid},
        )

    def detail_request(self, item: MentionItem, *, salvage: bool) -> scrapy.Request:
        self.open_task("details", item.post_id)
        return self.request(
            self.url(f"/complaint/view/{item.post_id}/"),
            callback=self.parse_detail,
            endpoint="detail",
            keyword=item.keyword,
            fmt="html",
            meta={"yq_item": item, "yq_salvage": salvage},
            headers={"Referer": f"{api.WEB_URL}/"},
            priority=1,
        )

    # --- callbacks ----------------------------------------------------------

    def parse_list(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        started = time.perf_counter()
        try:
            page = api.parse_list_page(
                self.payload(response),
                brand=self.brand.name,
                keyword=meta["yq_keyword"],
                page=meta["page"],
                url=response.url,
            )
        except PlatformError as err:
            self.fail_page(err, response)
            return
        finally:
            add_seconds(self.crawler.stats, "yuqing/time/parse", time.perf_counter() - started)
        outcomes = self.accept(page, response)
        states = dict(zip((i.post_id for i in page.items), outcomes, strict=True))
        details = self.crawler.settings.getbool("HEIMAO_DETAIL_PAGES")
        for item in self.fresh(page.items):
            state, _ = states[item.post_id]
            if not details:
                yield item
            elif state in (NEW, CHANGED):
                # A new complaint, or its status/engagement moved: the detail page has the full story.
                yield self.detail_request(item, salvage=state == NEW)
            else:  # unchanged; the list entry would overwrite the detail page's full text
                self.crawler.stats.inc_value("yuqing/unchanged")
        for number in self.next_pages(response, outcomes, page, meta["page"], meta["yq_chain"]):
            yield self.list_request(keyword=meta["yq_keyword"], couid=meta["couid"], page=number)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        item: MentionItem = response.meta["yq_item"]
        if response.status in (404, 410):  # withdrawn: keep what the list showed
            self.close_task("details", item.post_id)
            yield item
            return
        started = time.perf_counter()
        try:
            detail = api.parse_complaint_detail(response.text, url=response.url)
        except PlatformError as err:
            if response.meta.get("yq_salvage"):
                yield item
            self.fail_page(err, response)
            return
        finally:
            add_seconds(self.crawler.stats, "yuqing/time/parse", time.perf_counter() - started)
        self.close_task("details", item.post_id)
        yield api.apply_detail(item, detail)
