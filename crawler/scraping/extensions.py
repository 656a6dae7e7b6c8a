"""Crawl extensions: the ``crawl_runs`` record of every crawl, and the platform rate limiter.

:class:`CrawlRunRecorder` opens a ``crawl_runs`` row when the spider opens and closes
it with the counts (requests, pages, items, new / updated / duplicate, retries), the
status (ok | partial | failed) and the error kind and message; it moves the
incremental watermarks of the chains that finished cleanly, and writes a JSON
progress/summary file when ``YUQING_SUMMARY_FILE`` is set (``yuqing crawl`` and
``yuqing demo`` show it live). :class:`IntervalLimiter` is the default per-process
limiter behind the rate ceiling; a shared (e.g. Redis) limiter with the same
``acquire()`` / ``pause()`` interface can replace it through ``YUQING_RATE_LIMITER``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger
from scrapy import signals
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task, threads

from crawler.settings import config_for
from crawler.storage.engine import database_trouble, open_database
from crawler.storage.mentions import finish_run, heartbeat_run, set_watermark, settle_pending, start_run

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy.engine import Engine


def crawl_engine(settings: BaseSettings) -> Engine:
    """The migrated database engine of this crawl (``YUQING_DATABASE_URL`` or the config's)."""

    url = settings.get("YUQING_DATABASE_URL")
    if not url:
        url = config_for(settings).database_url
    return open_database(url)


class IntervalLimiter:
    """At most ``per_minute`` requests a minute, evenly spaced; ``pause`` holds all requests."""

    def __init__(self, platform: str, per_minute: int, settings: Any = None) -> None:
        self.platform = platform
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0

    def reserve(self) -> float:
        """Book the next slot; returns the seconds to wait for it."""
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self.interval
        return at - now

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)


# stats key → summary field
_COUNTS = {
    "requests": "downloader/request_count",
    "pages": "yuqing/pages",
    "items": "yuqing/items",
    "new": "yuqing/new",
    "updated": "yuqing/updated",
    "duplicate": "yuqing/unchanged",
    "retries": "retry/count",
    "bad_items": "yuqing/bad_items",
    "excluded": "yuqing/excluded",
    "triage_errors": "yuqing/triage_errors",
    "store_errors": "yuqing/store_errors",
}
_TIMES = {
    "parse": "yuqing/time/parse",
    "analyze": "yuqing/time/analyze",
    "store": "yuqing/time/store",
    "triage": "yuqing/time/triage",
    "backoff": "yuqing/time/backoff",
    "rate_wait": "yuqing/time/rate_wait",
    "download": "yuqing/time/download",
}


def add_seconds(stats: StatsCollector, key: str, seconds: float) -> None:
    """Add ``seconds`` to the ``yuqing/time/*`` stat ``key``.

    Scrapy annotates ``inc_value``'s count as ``int``, but its collectors add whatever number they
    are given; these stats are float seconds, summed into the run summary (``_TIMES``).
    """
    stats.inc_value(key, seconds)  # type: ignore[arg-type]  # int in the annotation only


class CrawlRunRecorder:
    """Records the crawl in ``crawl_runs``; moves watermarks; writes the summary file."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.summary_path = crawler.settings.get("YUQING_SUMMARY_FILE")
        self.started = time.monotonic()
        self.run_id: int | None = None
        self.loop: task.LoopingCall | None = None
        self.beat: task.LoopingCall | None = None
        self.summary: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        if not hasattr(spider, "run_report"):
            return
        self.started = time.monotonic()
        engine = crawl_engine(self.crawler.settings)
        self.run_id = start_run(
            engine,
            spider=spider.name,
            platform=spider.name,
            brand=spider.brand.name,
            keyword=spider.keyword_arg,
        )
        spider.run_id = self.run_id
        self.summary = {
            "run_id": self.run_id,
            "platform": spider.name,
            "brand": spider.brand.name,
            "keyword": spider.keyword_arg,
            "pid": os.getpid(),
            "state": "running",
        }
        if self.summary_path:
            self.loop = task.LoopingCall(self._write_progress)
            self.loop.start(0.5, now=True)
        period = self.crawler.settings.getfloat("YUQING_HEARTBEAT_SECONDS", 30.0)
        if period > 0:
            self.beat = task.LoopingCall(self._heartbeat, engine)
            self.beat.start(period, now=False)

    def _heartbeat(self, engine: Engine) -> Any:
        """Tell other processes this crawl lives (crawl_runs.heartbeat_at), off the reactor thread."""
        run_id = self.run_id
        if run_id is None:
            return None
        d = threads.deferToThread(heartbeat_run, engine, run_id)
        d.addErrback(lambda f: logger.warning("crawl heartbeat not recorded: {}", f.value))
        return d

    def snapshot(self) -> dict[str, Any]:
        stats = self.crawler.stats
        assert stats is not None
        out = dict(self.summary)
        for name, key in _COUNTS.items():
            out[name] = int(stats.get_value(key, 0) or 0)
        out["timings"] = {
            name: round(float(stats.get_value(key, 0.0) or 0.0), 3) for name, key in _TIMES.items()
        }
        out["elapsed"] = round(time.monotonic() - self.started, 3)
        return out

    def _write_progress(self) -> None:
        self._write(self.snapshot())

    def _write(self, data: dict[str, Any]) -> None:
        if not self.summary_path:
            return
        path = Path(self.summary_path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("cannot write the crawl summary {}: {}", path, exc.strerror)

    def spider_closed(self, spider: Any, reason: str) -> None:
        for loop in (self.loop, self.beat):
            if loop is not None and loop.running:
                loop.stop()
        if self.run_id is None or not hasattr(spider, "run_report"):
            return
        report = spider.run_report(reason)
        snap = self.snapshot()
        stats_obj = self.crawler.stats
        assert stats_obj is not None
        unstored = int(stats_obj.get_value("yuqing/unstored", 0) or 0)
        if snap["store_errors"]:
            store_error = str(
                stats_obj.get_value("yuqing/store_error") or "storing mentions failed (see the log)"
            )
            if reason == "storage" or unstored:
                report.status = "failed" if not snap["new"] + snap["updated"] else "partial"
                report.error_kind, report.error_message = "storage", store_error
            else:  # a write failed and a later retry stored it
                report.status = "partial" if report.status == "ok" else report.status
                report.error_message = report.error_message or store_error
            report.watermarks = {}
        stats_obj.set_value("yuqing/status", report.status)
        engine = crawl_engine(self.crawler.settings)
        stats = {
            "faults": report.faults,
            "pending": report.pending,
            "timings": snap["timings"],
            "bad_items": snap["bad_items"],
            "excluded": snap["excluded"],
            "triage_errors": snap["triage_errors"],
            "reason": reason,
            "unstored": unstored,
        }
        try:
            self._settle(engine, spider, reason, unstored)
            finish_run(
                engine,
                self.run_id,
                status=report.status,
                requests=snap["requests"],
                pages=snap["pages"],
                items=snap["items"],
                new_count=snap["new"],
                updated_count=snap["updated"],
                duplicate_count=snap["duplicate"],
                retries=snap["retries"],
                error_kind=report.error_kind,
                error_message=report.error_message,
                stats=stats,
            )
            for chain, (published_at, post_id) in report.watermarks.items():
                set_watermark(
                    engine,
                    spider.name,
                    spider.brand.name,
                    chain,
                    newest_published_at=published_at,
                    newest_post_id=post_id,
                )
        except SQLAlchemyError as exc:  # the database is gone: the summary file still tells the parent
            message = database_trouble(exc, engine)
            logger.error("cannot record the end of crawl run {}: {}", self.run_id, message)
            if report.error_kind != "storage":
                report.error_message = message
            report.status, report.error_kind = "failed", "storage"
        snap.update(
            state="finished",
            status=report.status,
            error_kind=report.error_kind,
            error_message=report.error_message,
            faults=report.faults,
            pending={k: len(v) for k, v in report.pending.items()},
        )
        self._write(snap)
        log = logger.warning if report.status != "ok" else logger.info
        log(
            "{} {}: {} — {} requests, {} pages, {} new, {} updated, {} unchanged{}",
            spider.name,
            spider.brand.name,
            report.status,
            snap["requests"],
            snap["pages"],
            snap["new"],
            snap["updated"],
            snap["duplicate"],
            f"; {report.error_kind}: {report.error_message}" if report.error_kind else "",
        )

    @staticmethod
    def _settle(engine: Engine, spider: Any, reason: str, unstored: int) -> None:
        """crawl_pending after the run: finished tasks deleted (unless fetched items were left
        unstored), open ones recorded; a run that got to its end counts an attempt for them."""
        if not hasattr(spider, "done_work"):
            return
        still = [(kind, pid) for kind, ids in spider.open_work.items() for pid in ids]
        done = [] if unstored else [t for t in spider.done_work if t[1] not in spider.open_work.get(t[0], ())]
        given_up = settle_pending(
            engine,
            spider.name,
            spider.brand.name,
            done=done,
            still_open=still,
            count_attempt=reason == "finished" and not unstored,
        )
        if given_up:
            logger.warning(
                "{} {}: gave up {} task(s) that failed in 5 crawls: {}",
                spider.name,
                spider.brand.name,
                len(given_up),
                ", ".join(f"{k} of {p}" for k, p in given_up[:10]),
            )
