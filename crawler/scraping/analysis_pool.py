"""Sentiment analysis beside the crawl: a worker process that analyses mentions in batches.

Analysis is CPU-bound Python (jieba, the model, the rules), and the crawl's reactor is a
single thread, so on a machine with two or more CPUs :class:`AnalysisPool` runs
``sentiment.analyze`` in a spawned worker process (``YUQING_ANALYZE_WORKERS``; ``auto``
= one worker when there are two CPUs or more, ``0`` = in the crawl process). Items wait
in a batch of up to ``YUQING_ANALYZE_BATCH`` or 50 ms; each gets its ``Analysis.columns()``.
If the worker cannot start or dies, the batch is analysed in-process instead. The worker
dies with the crawl process (``PR_SET_PDEATHSIG``), also when that is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from loguru import logger

import sentiment
from crawler.config import load_config
from crawler.procs import die_with_parent, release_free_memory

_state: dict[str, Any] = {}


def worker_count(value: Any) -> int:
    """``auto`` → 1 when the machine has two or more CPUs, else 0; numbers as given."""
    if value in (None, "", "auto"):
        return 1 if (os.cpu_count() or 1) >= 2 else 0
    return max(0, int(value))


def _init_worker(config_path: str | None, parent: int | None = None) -> None:
    if parent is not None:  # in the worker process: die with the crawl, even when it is killed -9
        die_with_parent()
        if os.getppid() != parent:  # the crawl died before prctl took effect
            os._exit(1)

    sentiment.configure(load_config(config_path) if config_path else None)
    # The first call builds the lazy tables; then the memory the loaders freed goes back. A failure
    # here is not the worker's: each record's own analysis reports it (analyze_records).
    try:
        sentiment.analyze("预热")
    except Exception:  # boundary: see above
        pass
    release_free_memory()
    _state["analyze"] = sentiment.analyze


def analyze_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any] | None], float]:
    """Worker side: ``Analysis.columns()`` per record (None where the analysis raised), and the seconds spent."""
    started = time.perf_counter()
    analyze = _state["analyze"]
    out: list[dict[str, Any] | None] = []
    for rec in records:
        text = rec.pop("text")
        try:
            out.append(analyze(text, **rec).columns())
        except Exception:  # boundary: one bad text must not fail the batch
            out.append(None)
    return out, time.perf_counter() - started


class AnalysisPool:
    """Batches analysis requests to one worker process; ``await pool.analyze(record)``."""

    def __init__(
        self,
        config_path: str | None,
        workers: int = 1,
        batch: int = 200,
        linger: float = 0.05,
        on_batch: Callable[[int, float, int], None] | None = None,
    ) -> None:
        self.config_path = config_path
        self.on_batch = on_batch  # (records, seconds, failures)
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(config_path, os.getpid()),
        )
        self.batch_size = batch
        self.linger = linger
        self.pending: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any] | None]]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.broken = False

    async def analyze(self, record: dict[str, Any]) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self.pending.append((record, future))
        if len(self.pending) >= self.batch_size:
            self._submit()
        elif self.timer is None:
            self.timer = loop.call_later(self.linger, self._submit)
        return await future

    def _submit(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any] | None]]]) -> None:
        records = [dict(rec) for rec, _ in batch]
        try:
            if self.broken:
                raise BrokenProcessPool("the analysis worker is gone")
            results, seconds = await asyncio.get_running_loop().run_in_executor(
                self.executor, analyze_records, records
            )
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            results, seconds = self._in_process([dict(rec) for rec, _ in batch], exc)
        if self.on_batch is not None:
            self.on_batch(len(batch), seconds, sum(r is None for r in results))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _in_process(self, records: list[dict[str, Any]], exc: BaseException) -> tuple[list[Any], float]:
        if not self.broken:
            logger.warning("the analysis worker failed ({}); analysing in the crawl process", exc)
            self.broken = True
        if "analyze" not in _state:
            try:
                _init_worker(self.config_path)
            except Exception:  # boundary: without analysis the mentions are still stored
                logger.exception("analysis could not start: mentions are stored without analysis")
                return [None] * len(records), 0.0
        return analyze_records(records)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.executor.shutdown(wait=True, cancel_futures=False)
