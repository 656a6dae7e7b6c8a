"""The platform spiders, and the registry of them the crawl commands and ``yuqing demo`` use."""

from __future__ import annotations

import importlib
from typing import Any

# platform → "module:Class". Adding a platform to crawls and to `yuqing demo` is one entry here.
SPIDERS: dict[str, str] = {
    "weibo": "spiders.weibo:WeiboSpider",
    "heimao": "spiders.heimao:HeimaoSpider",
    "xiaohongshu": "spiders.xiaohongshu:XiaohongshuSpider",
    "douyin": "spiders.douyin:DouyinSpider",
}


def spider_class(platform: str) -> Any:
    """The spider class of ``platform`` (ImportError / KeyError when there is none)."""
    module, _, cls = SPIDERS[platform].partition(":")
    return getattr(importlib.import_module(module), cls)
