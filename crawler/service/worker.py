"""``yuqing worker``: claim crawl tasks from Redis and run them, on any number of machines.

Each worker runs up to ``[distributed].worker_concurrency`` crawls at once. For a task it
takes the database lease of (platform, brand) — the same lease ``yuqing run`` uses in local
mode, so crawls of one pair never overlap whoever runs them — renews the task's lease in
Redis while the crawl runs, and then completes the task (any outcome: ok, failed, timeout).
On SIGTERM it stops its crawls gracefully and gives their tasks back to the queue, where
another worker resumes them; after ``kill -9`` the task lease runs out and the same happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING

from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from crawler.scraping.redis_scrapy import ADDON_PATH
from crawler.service.crawl_job import (
    ChildRegistry,
    CommandFactory,
    CrawlJobResult,
    default_command,
    mark_stale_runs,
    run_locked_crawl,
    stale_age,
)
from crawler.service.distributed import Task, TaskQueue, worker_id
from crawler.storage.engine import open_database
from crawler.storage.locks import new_owner

if TYPE_CHECKING:
    from crawler.config import AppConfig


def task_overrides(cfg: AppConfig, task: Task) -> dict[str, str]:
    """The ``scrapy crawl -s`` settings that put one crawl on the task's Redis state."""
    rates = {p: cfg.platforms.get(p).rate_limit_per_minute for p in cfg.platforms.enabled()}
    return {
        "ADDONS": json.dumps({ADDON_PATH: 0}),
        "YUQING_TASK_ID": task.id,
        "YUQING_KEY_PREFIX": cfg.distributed.key_prefix,
        "YUQING_RATE_LIMITS": json.dumps(rates),
    }


class Worker:
    """The worker process. :meth:`run` blocks until :meth:`request_stop` (or SIGTERM)."""

    def __init__(
        self,
        cfg: AppConfig,
        *,
        config_path: str | None = None,
        concurrency: int | None = None,
        command: CommandFactory | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_path = config_path or cfg.source
        self.engine = open_database(cfg.database_url)
        self.queue = TaskQueue.from_config(cfg)
        self.id = worker_id()
        self.owner = new_owner("worker")
        self.concurrency = concurrency or cfg.distributed.worker_concurrency
        self.registry = ChildRegistry()
        self._command = command
        self._stop = threading.Event()
        self.results: list[CrawlJobResult] = []
        self._lock = threading.Lock()

    def request_stop(self) -> None:
        self._stop.set()
        self.registry.stop_all()

    def run(self, *, install_signals: bool = True) -> int:
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
            signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        logger.info("yuqing worker {} started: {} slot(s)", self.id, self.concurrency)
        self._close_stale_runs()
        self.queue.requeue_expired()
        slots = [
            threading.Thread(target=self._slot, name=f"slot-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for t in slots:
            t.start()
        info = {"host": socket.gethostname(), "pid": os.getpid(), "slots": self.concurrency}
        while not self._stop.is_set():
            self.queue.heartbeat_worker(self.id, info)
            self.queue.requeue_expired()
            self._stop.wait(2.0)
        for t in slots:
            t.join()
        self.queue.remove_worker(self.id)
        logger.info("yuqing worker {} stopped", self.id)
        return 0

    def _close_stale_runs(self) -> None:
        """crawl_runs left ``running`` by a dead crawl: whichever process looks first closes them."""

        try:
            mark_stale_runs(self.engine, older_than=stale_age(self.cfg))
        except SQLAlchemyError as exc:
            logger.warning("could not check for stale crawl runs: {}", exc)

    def _slot(self) -> None:
        while not self._stop.is_set():
            task = self.queue.claim()
            if task is None:
                self._stop.wait(self.cfg.distributed.poll_seconds)
                continue
            try:
                self._run_task(task)
            except Exception:  # process boundary: a broken task must not kill the slot
                logger.exception(
                    "task {} ({}/{}) failed in the worker", task.id[:8], task.platform, task.brand
                )
                self.queue.release(task)
                self._stop.wait(2.0)

    def _command_for(self, task: Task) -> CommandFactory:
        if self._command is not None:
            return self._command
        return default_command(self.cfg, self.config_path, overrides=task_overrides(self.cfg, task))

    def _run_task(self, task: Task) -> None:
        renewing = threading.Event()
        keeper = threading.Thread(target=self._renew_task, args=(task, renewing), daemon=True)
        keeper.start()
        env = dict(os.environ)
        env["YUQING_REDIS_URL"] = self.cfg.redis_url or ""
        env["YUQING_TASK_ID"] = task.id
        try:
            result = run_locked_crawl(
                self.engine,
                self.cfg,
                task.platform,
                task.brand,
                owner=self.owner,
                command=self._command_for(task),
                registry=self.registry,
                env=env,
            )
        finally:
            renewing.set()
            keeper.join()
        with self._lock:
            self.results.append(result)
        if result.status == "skipped":  # the pair is still being crawled (e.g. a dead worker's lease)
            self._stop.wait(2.0)
            self.queue.release(task)
        elif result.interrupted:
            self.queue.release(task)  # stopped by our shutdown: another worker resumes it
        else:
            self.queue.complete(task)

    def _renew_task(self, task: Task, done: threading.Event) -> None:
        period = max(1.0, self.queue.lease_seconds / 3)
        while not done.wait(period):
            if not self.queue.renew(task):
                logger.warning("task {} lease lost (requeued while running)", task.id[:8])


def wait_idle(queue: TaskQueue, timeout: float) -> bool:
    """True once no task is pending or running (tests, bench)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = queue.stats()
        if not s["pending"] and not s["inflight"]:
            return True
        time.sleep(0.2)
    return False
