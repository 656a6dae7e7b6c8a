"""A small spider for the scrapy-redis tests (run with ``scrapy runspider`` outside the project).

It fetches the search page ``/api/container/getIndex?containerid=100103...&page=N`` for
N in 1..PAGES, twice each (search pages must pass the dupe filter), and every post page
``/detail/<id>`` listed on them, twice each (the dupe filter must drop the repeat). Each
post becomes a JSON line in ``$SPIDER_OUT``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import scrapy


class TestPlatSpider(scrapy.Spider):
    name = "testplat"
    custom_settings = {
        "LOG_LEVEL": "INFO",
        "CONCURRENT_REQUESTS": 4,
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
    }

    def __init__(self, base: str = "", pages: str = "3", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base
        self.pages = int(pages)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for _ in range(2):
            for page in range(1, self.pages + 1):
                url = f"{self.base}/api/container/getIndex?containerid=100103type%3D1%26q%3Dx&page={page}"
                yield scrapy.Request(url, callback=self.parse_search)

    def parse_search(self, response: scrapy.http.Response) -> Any:
        for post_id in json.loads(response.text)["ids"]:
            for _ in range(2):
                yield scrapy.Request(f"{self.base}/detail/{post_id}", callback=self.parse_detail)

    def parse_detail(self, response: scrapy.http.Response) -> Any:
        with open(os.environ["SPIDER_OUT"], "a", encoding="utf-8") as fh:
            fh.write(response.text + "\n")
        yield {"id": json.loads(response.text)["id"]}
