"""``yuqing run``: the long-running service around the APScheduler job plan.

Lifecycle:

1. **Leadership.** Only one scheduler may fire jobs against a database: the service takes
   the ``scheduler`` lease (``service_locks``) and renews it; a second ``yuqing run`` waits
   in standby and takes over when the first stops or dies (its lease expires).
2. **Recovery.** Crawl runs left ``running`` by a killed process are closed as ``killed``;
   in distributed mode, tasks whose worker died go back to the queue.
3. **Jobs.** The persistent job store is synced with the config (:mod:`crawler.service.scheduler`)
   and the scheduler resumes: jobs that came due while the service was down run once
   (``coalesce``) if within their misfire grace time, never twice.
4. **Signals.** ``SIGHUP`` reloads the config file and re-syncs the jobs (a broken file is
   logged and ignored: the old config stays). ``SIGTERM``/``SIGINT`` stop the service:
   running crawls get SIGTERM (Scrapy's graceful stop; SIGKILL after
   ``stop_grace_seconds``), running jobs finish, the lease is released, exit status 0.

In distributed mode a crawl job only enqueues a task for the workers (:mod:`crawler.service.distributed`).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

from loguru import logger

from crawler import clock
from crawler.config import load_config
from crawler.errors import ConfigError
from crawler.service import jobs
from crawler.service.crawl_job import (
    ChildRegistry,
    CommandFactory,
    CrawlJobResult,
    default_command,
    mark_stale_runs,
    run_locked_crawl,
    stale_age,
)
from crawler.service.distributed import TaskQueue
from crawler.service.health import evaluate
from crawler.service.scheduler import build_jobs, make_scheduler, sync_jobs
from crawler.storage.engine import open_database, safe_url
from crawler.storage.locks import Lease, holder, new_owner

if TYPE_CHECKING:
    from apscheduler.events import JobEvent
    from apscheduler.schedulers.base import BaseScheduler

    from crawler.config import AppConfig

LEADER_LOCK = "scheduler"


class Service:
    """The scheduler process. :meth:`run` blocks until :meth:`request_stop` (or SIGTERM)."""

    def __init__(
        self,
        config_path: str | None = None,
        *,
        cfg: AppConfig | None = None,
        command: CommandFactory | None = None,
    ) -> None:
        self.config_path = config_path
        self._cfg = cfg if cfg is not None else load_config(config_path)
        self.engine = open_database(self._cfg.database_url)
        self.owner = new_owner("scheduler")
        self.registry = ChildRegistry()
        self.command = command or default_command(self._cfg, config_path or self._cfg.source)
        self.scheduler: BaseScheduler | None = None
        self.lease: Lease | None = None
        self.state = "starting"
        self.queue: Any = None
        self.ctx = jobs.JobContext(engine=self.engine, config=self.config, crawl=self.crawl)
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self.active = threading.Event()

    # --- public API ------------------------------------------------------------------

    def config(self) -> AppConfig:
        return self._cfg

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wake.set()

    def run(self, *, install_signals: bool = True) -> int:
        """Run until stopped; returns the process exit status."""
        if install_signals:
            self._install_signals()
        try:
            if not self._become_leader():
                return 0
            self._recover()
            self._start_scheduler()
            self.state = "active"
            self.active.set()
            self._loop()
        finally:
            self._shutdown()
        return 0

    def crawl(self, platform: str, brand: str) -> CrawlJobResult:
        """The ``crawl`` job: run the crawl here, or enqueue it (distributed mode)."""
        if self.registry.stopping.is_set():
            return CrawlJobResult(platform, brand, "skipped")
        cfg = self.config()
        if self.queue is not None:
            queued = self.queue.enqueue(platform, brand)
            return CrawlJobResult(platform, brand, "enqueued" if queued else "already-queued")
        result = run_locked_crawl(
            self.engine, cfg, platform, brand, owner=self.owner, command=self.command, registry=self.registry
        )
        if result.status != "skipped":
            evaluate(self.engine, cfg, platforms=[platform], service=False)
        return result

    # --- lifecycle -----------------------------------------------------------------------

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def _become_leader(self) -> bool:
        cfg = self.config()
        lease_s = cfg.scheduler.lock_lease_seconds
        announced = False
        while not self._stop.is_set():
            self.lease = Lease.acquire(self.engine, LEADER_LOCK, self.owner, lease_s, note="yuqing run")
            if self.lease is not None:
                logger.info("yuqing run active on {} ({})", safe_url(cfg.database_url), self.owner)
                if clock.offset_seconds():
                    logger.warning(
                        "the clock is shifted by {:.0f} s ({}): robots that check signed timestamps "
                        "(DingTalk, Feishu) will refuse messages; unset it outside simulations",
                        clock.offset_seconds(),
                        clock.ENV,
                    )
                return True
            if not announced:
                other = holder(self.engine, LEADER_LOCK)
                logger.warning(
                    "another scheduler is active ({}); standing by until it stops",
                    other.owner if other else "?",
                )
                self.state = "standby"
                announced = True
            self._wake.wait(min(5.0, lease_s / 3))
            self._wake.clear()
        return False

    def _recover(self) -> None:
        cfg = self.config()
        mark_stale_runs(self.engine, older_than=stale_age(cfg))
        if cfg.distributed.active:
            self.queue = TaskQueue.from_config(cfg)
            self.queue.requeue_expired()
            self.ctx.queue_stats = self.queue.stats

    def _start_scheduler(self) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        jobs.bind(self.ctx)
        if logging.getLogger().level > logging.DEBUG:  # "running job X" every few seconds is noise
            logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
        self.scheduler = make_scheduler(self.engine, self.config())
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.scheduler.start(paused=True)
        report = sync_jobs(self.scheduler, build_jobs(self.config()))
        logger.info("jobs synced with the config: {}", report)
        self.scheduler.resume()

    def _on_event(self, event: JobEvent) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            logger.info("job {} skipped: its previous run is still going", event.job_id)
            self.ctx.record(event.job_id, "overlap")
        else:
            logger.warning("job {} missed its run time (beyond the misfire grace time)", event.job_id)
            self.ctx.record(event.job_id, "missed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(2.0)
            self._wake.clear()
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            if self.lease is not None and self.lease.lost.is_set():
                logger.error(
                    "the scheduler lease was lost (this process stalled longer than the lease): stopping"
                )
                break
            if self.queue is not None:
                self.queue.requeue_expired()

    def reload(self) -> bool:
        """Re-read the config file and re-sync the jobs; a broken file keeps the old config."""
        try:
            new = load_config(self.config_path or self._cfg.source)
        except ConfigError as exc:
            logger.error("config reload failed, keeping the running config: {}", exc)
            return False
        if new.database_url != self._cfg.database_url:
            logger.warning(
                "[storage].url changed: restart yuqing run to switch databases (keeping the old one)"
            )
        self._cfg = new
        if self.scheduler is not None:
            report = sync_jobs(self.scheduler, build_jobs(new))
            logger.info("config reloaded, jobs: {}", report)
        return True

    def _shutdown(self) -> None:
        self.state = "stopping"
        self.active.clear()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        stopped = self.registry.stop_all()
        if stopped:
            logger.info("stopping {} running crawl(s)", stopped)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        jobs.bind(None)
        if self.lease is not None:
            self.lease.release()
        self.state = "stopped"
        logger.info("yuqing run stopped")
