"""Distributed mode: crawl tasks in Redis, shared by ``yuqing worker`` processes on many machines.

One ``yuqing run`` (the scheduler) enqueues a task per due (platform, brand); it never
crawls itself. Workers claim tasks, run the crawl as a ``scrapy crawl`` subprocess whose
Scrapy scheduler is scrapy-redis (:mod:`crawler.scraping.redis_scrapy`: the request queue, dupe
filter and in-flight list live in Redis), and write into the one shared PostgreSQL.

The task queue is reliable:

- ``<prefix>:tasks`` (list) holds pending tasks; ``<prefix>:active`` (hash) maps each
  (platform, brand) with a pending or running task to its id, so a crawl is never queued
  twice;
- claiming moves a task atomically into ``<prefix>:inflight`` (sorted set scored by its
  lease deadline); the worker renews the lease while the crawl runs;
- a task whose worker died (its lease ran out) is moved back to the front of the queue by
  :meth:`TaskQueue.requeue_expired` (run by every worker and the scheduler), and the next
  worker resumes its persisted request queue, in-flight requests included;
- completing a task removes it and its Redis crawl state.

All times come from the Redis server's clock (``TIME``), so machines need not agree.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from crawler.errors import ConfigError
from crawler.storage.redis_conn import connect, task_keys

if TYPE_CHECKING:
    import redis

    from crawler.config import AppConfig

_ENQUEUE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('LPUSH', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
_CLAIM = """
local raw = redis.call('RPOP', KEYS[1])
if not raw then return false end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) + tonumber(ARGV[1]), raw)
return raw
"""
_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(ARGV[2]), ARGV[1])
return 1
"""
_COMPLETE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return removed
"""
_RELEASE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""
_REQUEUE = """
local t = redis.call('TIME')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(t[1]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('RPUSH', KEYS[2], raw)
end
return #due
"""


@dataclass(frozen=True, slots=True)
class Task:
    """One crawl of (platform, brand) to run on some worker."""

    id: str
    platform: str
    brand: str
    raw: str  # the exact queued JSON (the member in the in-flight set)

    @property
    def pair(self) -> str:
        return f"{self.platform}\x1f{self.brand}"

    @classmethod
    def parse(cls, raw: str | bytes) -> Task:
        text = raw.decode() if isinstance(raw, bytes) else raw
        data = json.loads(text)
        return cls(id=str(data["id"]), platform=str(data["platform"]), brand=str(data["brand"]), raw=text)


class TaskQueue:
    """The shared queue of crawl tasks (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str, lease_seconds: int) -> None:
        self.r = client
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self.k_tasks = f"{prefix}:tasks"
        self.k_inflight = f"{prefix}:inflight"
        self.k_active = f"{prefix}:active"
        self.k_workers = f"{prefix}:workers"
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._requeue = client.register_script(_REQUEUE)

    @classmethod
    def from_config(cls, cfg: AppConfig) -> TaskQueue:
        url = cfg.redis_url
        if not url:
            raise ConfigError(
                "distributed mode needs a Redis URL (distributed.redis_url or REDIS_URL)",
                path=cfg.source,
                key="distributed.redis_url",
            )
        return cls(connect(url), cfg.distributed.key_prefix, cfg.distributed.task_lease_seconds)

    def enqueue(self, platform: str, brand: str) -> bool:
        """Queue a crawl unless one for (platform, brand) is already pending or running."""
        task_id = uuid.uuid4().hex
        raw = json.dumps(
            {"id": task_id, "platform": platform, "brand": brand, "queued": round(time.time(), 3)},
            ensure_ascii=False,
        )
        added = bool(
            self._enqueue(keys=[self.k_tasks, self.k_active], args=[f"{platform}\x1f{brand}", task_id, raw])
        )
        if added:
            logger.info("task queued: crawl {}/{} ({})", platform, brand, task_id[:8])
        else:
            logger.debug("crawl {}/{} not queued: a task for it is still pending or running", platform, brand)
        return added

    def claim(self) -> Task | None:
        raw = self._claim(keys=[self.k_tasks, self.k_inflight], args=[self.lease_seconds])
        return Task.parse(raw) if raw else None

    def renew(self, task: Task) -> bool:
        """Extend the task's lease; False when it was requeued meanwhile (we stalled too long)."""
        return bool(self._renew(keys=[self.k_inflight], args=[task.raw, self.lease_seconds]))

    def complete(self, task: Task) -> None:
        """The task ran to an outcome: forget it and its Redis crawl state."""
        self._complete(keys=[self.k_inflight, self.k_active], args=[task.raw, task.pair, task.id])
        self.r.delete(*task_keys(self.prefix, task.id).values())

    def release(self, task: Task) -> None:
        """Give an unfinished task back (worker shutting down): the next worker resumes it first."""
        self._release(keys=[self.k_inflight, self.k_tasks], args=[task.raw])

    def requeue_expired(self) -> int:
        n = int(self._requeue(keys=[self.k_inflight, self.k_tasks]))
        if n:
            logger.warning("{} crawl task(s) requeued: their worker stopped renewing its lease", n)
        return n

    def heartbeat_worker(self, worker_id: str, info: dict[str, Any]) -> None:
        t = self.r.time()
        self.r.hset(self.k_workers, worker_id, json.dumps({**info, "seen": t[0]}))

    def remove_worker(self, worker_id: str) -> None:
        self.r.hdel(self.k_workers, worker_id)

    def workers(self, fresh_seconds: float = 30) -> list[dict[str, Any]]:
        now = self.r.time()[0]
        out = []
        for wid, raw in self.r.hgetall(self.k_workers).items():
            info = json.loads(raw)
            if now - info.get("seen", 0) <= fresh_seconds:
                out.append({"id": wid.decode() if isinstance(wid, bytes) else wid, **info})
        return out

    def stats(self) -> dict[str, Any]:
        """Pending and running tasks, live workers, and how long the oldest pending task has waited."""
        oldest = self.r.lindex(self.k_tasks, -1)  # LPUSH at the head, claims from the tail
        waited = 0.0
        if oldest:
            queued = json.loads(oldest).get("queued")
            waited = max(0.0, time.time() - float(queued)) if queued else 0.0
        return {
            "pending": self.r.llen(self.k_tasks),
            "inflight": self.r.zcard(self.k_inflight),
            "workers": len(self.workers()),
            "oldest_wait_s": round(waited, 1),
        }


def worker_id() -> str:

    return f"worker@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
