"""Item pipelines: Normalize → Analyze → Store (→ triage, in the store's transaction).

* :class:`NormalizePipeline` checks and trims each :class:`~crawler.items.MentionItem`
  and drops the brand's excluded words (counted, never silent).
* :class:`AnalyzePipeline` fills the analysis columns with ``sentiment.analyze``; when
  the analysis package is missing or fails, the mention is stored without it.
* :class:`StorePipeline` upserts in batches (``YUQING_STORE_BATCH`` items, or every
  ``YUQING_STORE_FLUSH_SECONDS``, and at close; in a worker thread unless
  ``YUQING_STORE_THREAD = False``) and, in the same transaction, calls
  ``alerts.triage.run.triage(conn, cfg, rows)`` inside a SAVEPOINT: a triage failure is
  logged and counted, the mentions still commit. ``YUQING_TRIAGE = False`` stores without triage.
  The same transaction records the open work (comments, details) the spider queued for the
  posts of the batch (``crawl_pending``), so a post is never stored without it. When the
  database goes away (connection refused, dropped, read-only, disk full) the crawl stops after
  that batch with ``error_kind = storage``: downloading on would only lose more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy import or_, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from twisted.internet import task, threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

import sentiment
from alerts.triage.run import triage
from crawler.errors import StorageError
from crawler.items import MentionItem
from crawler.platform.normalize import CHINA_TZ, clean_text
from crawler.scraping.analysis_pool import AnalysisPool, worker_count
from crawler.scraping.extensions import crawl_engine
from crawler.storage.engine import database_trouble
from crawler.storage.mentions import record_pending, upsert_mentions
from crawler.storage.models import AUTHORS
from crawler.storage.types import JSONText

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

KINDS = frozenset({"post", "comment", "complaint"})
_ITEM_FIELDS = tuple(f.name for f in fields(MentionItem) if f.name != "analysis")
_LIMITS = {
    "post_id": 64,
    "parent_post_id": 64,
    "author_id": 64,
    "author_name": 128,
    "ip_region": 64,
    "keyword": 128,
    "brand": 64,
}
MAX_TEXT = 50_000


class _Base:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    @property
    def spider(self) -> Any:
        return self.crawler.spider


def normalize_item(item: MentionItem) -> MentionItem:
    """Validate and trim one item in place; raises ValueError naming the problem."""
    if not item.platform or not item.post_id:
        raise ValueError("a mention needs platform and post_id")
    if item.kind not in KINDS:
        raise ValueError(f"unknown kind {item.kind!r}")
    if item.kind == "comment" and not item.parent_post_id:
        raise ValueError(f"comment {item.post_id} has no parent_post_id")
    for name, limit in _LIMITS.items():
        value = getattr(item, name)
        if value is not None:
            setattr(item, name, str(value)[:limit])
    item.text = clean_text(item.text if isinstance(item.text, str) else "")[:MAX_TEXT]
    if item.title is not None:
        item.title = clean_text(str(item.title))[:2000] or None
    if item.published_at is not None and item.published_at.tzinfo is None:
        item.published_at = item.published_at.replace(tzinfo=CHINA_TZ)
    if item.published_at is not None:
        item.published_at = item.published_at.astimezone(UTC)
    for name in ("likes", "comments", "shares", "collects", "author_followers"):
        value = getattr(item, name)
        setattr(
            item,
            name,
            max(int(value), 0) if isinstance(value, int | float) and not isinstance(value, bool) else 0,
        )
    return item


def item_row(item: MentionItem) -> dict[str, Any]:
    """The ``mentions`` columns of an item, without ``dataclasses.asdict``'s deep copy of ``raw``."""
    row = {name: getattr(item, name) for name in _ITEM_FIELDS}
    row["raw"] = JSONText.of(row.get("raw"))
    row.update(item.analysis or {})
    return row


def excluded_word(item: MentionItem, words: list[str]) -> str | None:
    haystack = f"{item.title or ''}\n{item.text}"
    return next((w for w in words if w and w in haystack), None)


class NormalizePipeline(_Base):
    """Trim and validate; drop (and count) items with the brand's exclusion words."""

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, MentionItem):
            return item
        self.stats.inc_value("yuqing/items")
        try:
            normalize_item(item)
        except (ValueError, TypeError) as exc:
            self.stats.inc_value("yuqing/bad_items")
            logger.warning("{}: dropped a malformed mention {}: {}", item.platform, item.post_id, exc)
            raise DropItem(f"malformed: {exc}", log_level="DEBUG") from None
        brand = getattr(self.spider, "brand", None)
        word = excluded_word(item, list(getattr(brand, "exclude", []) or []))
        if word:
            self.stats.inc_value("yuqing/excluded")
            logger.debug("{} {} excluded by the word {!r}", item.platform, item.post_id, word)
            raise DropItem(f"excluded word {word!r}", log_level="DEBUG")
        item.raw = JSONText.of(item.raw)  # compact text until stored (see JSONText)
        return item


class AnalyzePipeline(_Base):
    """``sentiment.analyze`` per mention (in a worker process when ``YUQING_ANALYZE_WORKERS`` says so,
    see :mod:`crawler.scraping.analysis_pool`); without the package the mention is stored unanalysed."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.analyze: Callable[..., Any] | None = None
        self.pool: Any = None
        self.failures = 0
        # author id -> {"complaint_count", "escalation_count"}: the platform's repeat complainers
        self.history: dict[str, dict[str, int]] = {}

    def open_spider(self) -> None:
        settings = self.crawler.settings
        if not settings.getbool("YUQING_ANALYZE", True):
            return
        self.history = self._load_history()  # only worth a query when something will analyse
        workers = worker_count(settings.get("YUQING_ANALYZE_WORKERS", "auto"))
        cfg = getattr(self.spider, "cfg", None)
        source = getattr(cfg, "source", None)
        if workers and source and Path(source).is_file():
            self.pool = AnalysisPool(
                str(source),
                workers,
                batch=settings.getint("YUQING_ANALYZE_BATCH", 200),
                on_batch=self._batch_done,
            )
            return
        self._start_in_process(cfg)

    def _start_in_process(self, cfg: Any) -> None:

        analyze = getattr(sentiment, "analyze", None)
        if analyze is None:
            logger.warning(
                "analysis unavailable (sentiment.analyze missing): mentions are stored without analysis"
            )
            return
        try:
            if hasattr(sentiment, "configure"):
                sentiment.configure(cfg)
        except Exception:  # boundary: a broken model or lexicon must not stop the crawl
            logger.exception("analysis could not start: mentions are stored without analysis")
            self.stats.inc_value("yuqing/analyze_errors")
            return
        self.analyze = analyze

    def _batch_done(self, n: int, seconds: float, failures: int) -> None:
        self.stats.inc_value("yuqing/time/analyze", seconds)
        if failures:
            self.stats.inc_value("yuqing/analyze_errors", failures)

    def _load_history(self) -> dict[str, dict[str, int]]:
        """Complaint and escalation counts of this platform's authors who have any, read once per crawl.

        The analyser weighs them (RUBRIC: the author's history when known); a crawl lasts minutes,
        so a snapshot taken at its start is current enough. Without a database it is empty.
        """
        platform = getattr(self.spider, "platform", None) or getattr(self.spider, "name", None)
        limit = self.crawler.settings.getint("YUQING_AUTHOR_HISTORY_LIMIT", 200_000)
        if not platform or limit <= 0:
            return {}
        try:
            authors = AUTHORS
            query = (
                select(authors.c.author_id, authors.c.complaint_count, authors.c.escalation_count)
                .where(
                    authors.c.platform == platform,
                    or_(authors.c.complaint_count > 0, authors.c.escalation_count > 0),
                )
                .order_by(authors.c.complaint_count.desc())
                .limit(limit)
            )
            with crawl_engine(self.crawler.settings).connect() as conn:
                rows = conn.execute(query).all()
        except Exception as exc:  # boundary: the store stage reports database trouble; analysis goes on
            logger.warning("author history unavailable ({}): analysing without it", type(exc).__name__)
            return {}
        self.stats.set_value("yuqing/author_history", len(rows))
        return {str(r[0]): {"complaint_count": int(r[1]), "escalation_count": int(r[2])} for r in rows}

    def _record(self, item: MentionItem) -> dict[str, Any]:
        text = f"{item.title}\n{item.text}" if item.title and item.title not in item.text else item.text
        record = {
            "text": text,
            "platform": item.platform,
            "followers": item.author_followers,
            "likes": item.likes,
            "comments": item.comments,
            "shares": item.shares,
            "brand": item.brand,
        }
        history = self.history.get(str(item.author_id)) if item.author_id else None
        if history:
            record["author_history"] = history
        return record

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, MentionItem):
            return item
        if self.pool is not None:
            item.analysis = await self.pool.analyze(self._record(item)) or {}
            return item
        if self.analyze is None:
            return item
        started = time.perf_counter()
        record = self._record(item)
        try:
            item.analysis = self.analyze(record.pop("text"), **record).columns()
        except Exception:  # boundary: another package; the mention is stored without analysis
            self.failures += 1
            self.stats.inc_value("yuqing/analyze_errors")
            if self.failures <= 3:
                logger.exception(
                    "analysis failed for {} {}; stored without analysis", item.platform, item.post_id
                )
        self.stats.inc_value("yuqing/time/analyze", time.perf_counter() - started)
        return item

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.close()


@dataclass(slots=True)
class _Written:
    result: Any
    seconds: float
    triage_seconds: float = 0.0
    triage_failed: bool = False


class StorePipeline(_Base):
    """Batched upserts (in a worker thread, so the crawl keeps downloading); triage in a SAVEPOINT."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.batch = max(1, s.getint("YUQING_STORE_BATCH"))
        self.flush_seconds = s.getfloat("YUQING_STORE_FLUSH_SECONDS")
        self.threaded = s.getbool("YUQING_STORE_THREAD", True)
        self.buffer: list[dict[str, Any]] = []
        self.engine: Any = None
        self.triage: Callable[..., Any] | None = None
        self.loop: task.LoopingCall | None = None
        self.inflight: Deferred[Any] | None = None
        self.busy_failures = 0  # consecutive "database is locked" failures (SQLite under load)
        self.stopping = False

    def open_spider(self) -> None:
        self.engine = crawl_engine(self.crawler.settings)
        self.triage = triage if self.crawler.settings.getbool("YUQING_TRIAGE", True) else None
        if self.flush_seconds > 0:
            self.loop = task.LoopingCall(self.kick)
            self.loop.start(self.flush_seconds, now=False)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, MentionItem):
            self.buffer.append(item_row(item))
            if len(self.buffer) >= self.batch:
                self.kick()
            if self.inflight is not None and len(self.buffer) >= 2 * self.batch:  # back-pressure
                await maybe_deferred_to_future(self.inflight)
        return item

    def kick(self) -> None:
        """Start writing the buffer, in a worker thread, unless a write is already under way."""
        if not self.threaded:
            self.flush()
            return
        if self.inflight is not None or not self.buffer or self.engine is None:
            return
        rows, self.buffer = self.buffer, []
        tasks = self._take_tasks()
        d = threads.deferToThread(self._write, rows, tasks)
        d.addBoth(self._written, rows, tasks)
        self.inflight = d

    def _take_tasks(self) -> list[tuple[str, str]]:
        take = getattr(self.spider, "take_unsaved_work", None)
        return take() if take is not None else []

    def _written(self, outcome: Any, rows: list[dict[str, Any]], tasks: list[tuple[str, str]]) -> None:
        self.inflight = None
        if isinstance(outcome, Failure):
            exc = outcome.value
            assert exc is not None  # a Failure always carries its exception
            if not isinstance(exc, SQLAlchemyError | StorageError):
                logger.opt(exception=(type(exc), exc, outcome.getTracebackObject())).error("storing failed")
            self._failed(rows, tasks, exc)
        else:
            self._count(outcome)
        if len(self.buffer) >= self.batch and not self.stopping:
            self.kick()

    async def close_spider(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        for attempt in range(3):
            while self.inflight is not None:  # a finished write may start the next one
                await maybe_deferred_to_future(self.inflight)
            if not self.buffer:
                return
            if self.flush():
                return
            await asyncio.sleep(0.5 * (attempt + 1))
        self.stats.set_value("yuqing/unstored", len(self.buffer))
        logger.error("{} mentions could not be stored", len(self.buffer))

    def flush(self) -> bool:
        """Write the buffer in this thread; on a database error keep it for the next try."""
        if not self.buffer or self.engine is None:
            return True
        rows, self.buffer = self.buffer, []
        tasks = self._take_tasks()
        try:
            written = self._write(rows, tasks)
        except (SQLAlchemyError, StorageError) as exc:
            self._failed(rows, tasks, exc)
            return False
        self._count(written)
        return True

    def _failed(self, rows: list[dict[str, Any]], tasks: list[tuple[str, str]], exc: BaseException) -> None:
        self.buffer = rows + self.buffer
        back = getattr(self.spider, "return_unsaved_work", None)
        if back is not None:
            back(tasks)
        self.stats.inc_value("yuqing/store_errors")
        self.stats.set_value("yuqing/unstored", len(self.buffer))
        message = database_trouble(exc, self.engine)
        self.stats.set_value("yuqing/store_error", message)
        logger.error("storing {} mentions failed (kept for the next try): {}", len(rows), message)
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
            self.busy_failures += 1
            if self.busy_failures < 3:
                return
        if self.stopping or self.crawler.engine is None or self.spider is None:
            return
        # The database is gone or refuses writes: stop now instead of downloading what cannot be kept.
        self.stopping = True
        logger.error("stopping the crawl: {}", message)
        self.crawler.engine.close_spider(self.spider, "storage")

    def _count(self, written: _Written) -> None:
        self.busy_failures = 0
        self.stats.set_value("yuqing/unstored", len(self.buffer))
        stats = self.stats
        stats.inc_value("yuqing/time/store", written.seconds)
        stats.inc_value("yuqing/time/triage", written.triage_seconds)
        if written.triage_failed:
            stats.inc_value("yuqing/triage_errors")
        stats.inc_value("yuqing/new", written.result.new)
        stats.inc_value("yuqing/updated", written.result.updated)
        stats.inc_value("yuqing/unchanged", written.result.unchanged)

    def _write(self, rows: list[dict[str, Any]], tasks: list[tuple[str, str]] | None = None) -> _Written:
        """One transaction: the open work, the upsert, then triage in a SAVEPOINT (may run in a worker thread)."""

        started = time.perf_counter()
        with self.engine.begin() as conn:
            if tasks:
                record_pending(conn, self.spider.name, self.spider.brand.name, tasks)
            result = upsert_mentions(conn, rows, batch_size=len(rows))
            written = _Written(result, 0.0)
            if self.triage is not None and result.rows:
                written.triage_seconds, written.triage_failed = self._run_triage(conn, result.rows)
        written.seconds = time.perf_counter() - started
        return written

    def _run_triage(self, conn: Any, rows: list[tuple[int, str, str, str]]) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            with conn.begin_nested():
                self.triage(conn, getattr(self.spider, "cfg", None), rows)  # type: ignore[misc]
        except Exception:  # boundary: triage must never lose the mentions of this batch
            logger.exception("triage failed for {} mentions; they are stored, not triaged", len(rows))
            return time.perf_counter() - started, True
        return time.perf_counter() - started, False
