"""Redis for distributed mode: the connection and the key names of a crawl task's state, shared by
the task queue (``crawler.service.distributed``) and the Scrapy side (``crawler.scraping.redis_scrapy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


def connect(url: str) -> redis.Redis:
    """A client for `url` with timeouts, so a Redis that went away is an error, not a hang."""
    import redis as redis_lib

    return redis_lib.Redis.from_url(
        url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )


def task_keys(prefix: str, task_id: str) -> dict[str, str]:
    """The Redis keys of one task's crawl state (request queue, dupe filter, in-flight requests)."""
    base = f"{prefix}:task:{task_id}"
    return {
        "requests": f"{base}:requests",
        "dupefilter": f"{base}:dupefilter",
        "processing": f"{base}:processing",
    }
