"""Running one crawl in a subprocess: the command line, the runner, and the process entry point.

``python -m crawler.service.crawl_process <platform> -a brand=NAME [-a keyword=K] [-s KEY=VALUE ...]`` is
``scrapy crawl`` with yuqing's logging (loguru, ``CrawlerProcess(install_root_handler=False)``),
the project settings found without ``scrapy.cfg`` and an exit status that says how the
crawl went (0 ok or partial, 1 failed, 2 bad arguments or config). The scheduler and
``yuqing crawl`` / ``yuqing demo`` build it with :func:`crawl_argv` and run it with
:func:`run_crawl`; a crawl always runs in its own process (the Twisted reactor cannot
restart). ``SPIDERS`` lists the platforms that have a spider.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.config import load_config
from crawler.procs import die_with_parent
from crawler.storage.engine import open_database
from crawler.storage.mentions import finish_run

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def crawl_argv(
    platform: str,
    brand: str,
    *,
    keyword: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[str]:
    """The command line of one crawl subprocess (works from any working directory)."""
    argv = [sys.executable, "-m", "crawler.service.crawl_process", platform, "-a", f"brand={brand}"]
    if keyword:
        argv += ["-a", f"keyword={keyword}"]
    if config_path:
        argv += ["-s", f"YUQING_CONFIG={Path(config_path).resolve()}"]
    for key, value in (overrides or {}).items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        argv += ["-s", f"{key}={value}"]
    return argv


@dataclass
class CrawlOutcome:
    """How a crawl subprocess ended: its exit status, whether it timed out, its crawl_runs ids
    and the summary it wrote (status, counts, error kind and message, timings)."""

    returncode: int | None
    timed_out: bool
    run_ids: list[int] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timeout"
        return str(self.summary.get("status") or ("failed" if self.returncode else "ok"))


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    proc.terminate()  # Scrapy shuts down gracefully on SIGTERM: flushes, records the run
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class CrawlJob:
    """One crawl of a batch: platform, brand, optional keyword and its own settings."""

    platform: str
    brand: str
    keyword: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def run_crawl(
    platform: str,
    brand: str,
    *,
    keyword: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    grace: float = 15.0,
) -> CrawlOutcome:
    """Run one crawl subprocess to its end (or ``timeout`` seconds, then stop it and record ``timeout``)."""
    job = CrawlJob(platform, brand, keyword, dict(overrides or {}))
    return run_crawls(
        [job],
        config_path=config_path,
        timeout=timeout,
        env=env,
        log_path=log_path,
        grace=grace,
        on_progress=(lambda _i, s: on_progress(s)) if on_progress else None,
    )[0]


def run_crawls(
    jobs: list[CrawlJob],
    *,
    config_path: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    on_progress: Callable[[int, dict[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    grace: float = 15.0,
) -> list[CrawlOutcome]:
    """Run several crawls side by side in ONE subprocess (one start-up, one reactor); an outcome per job."""
    with tempfile.TemporaryDirectory(prefix="yuqing-crawl-") as tmp:
        files = [Path(tmp) / f"summary-{i}.json" for i in range(len(jobs))]
        if len(jobs) == 1:
            job = jobs[0]
            argv = crawl_argv(
                job.platform,
                job.brand,
                keyword=job.keyword,
                config_path=config_path,
                overrides={**job.settings, "YUQING_SUMMARY_FILE": str(files[0])},
            )
        else:
            plan = Path(tmp) / "jobs.json"
            plan.write_text(
                json.dumps(
                    [
                        {
                            "platform": j.platform,
                            "brand": j.brand,
                            "keyword": j.keyword,
                            "settings": {**j.settings, "YUQING_SUMMARY_FILE": str(f)},
                        }
                        for j, f in zip(jobs, files, strict=True)
                    ],
                    ensure_ascii=False,
                ),
                "utf-8",
            )
            argv = [sys.executable, "-m", "crawler.service.crawl_process", "--jobs", str(plan)]
            if config_path:
                argv += ["-s", f"YUQING_CONFIG={Path(config_path).resolve()}"]
        log = Path(log_path) if log_path else Path(tmp) / "crawl.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        returncode, timed_out = _supervise(
            argv, files, log, timeout=timeout, grace=grace, env=env, on_progress=on_progress
        )
        outcomes = []
        for job, file in zip(jobs, files, strict=True):
            summary = _read_summary(file)
            if on_progress is not None and summary:
                on_progress(jobs.index(job), summary)
            if returncode not in (EXIT_OK, EXIT_FAILED) and not timed_out and not summary.get("status"):
                summary.setdefault("log_tail", _tail(log))
            outcome = CrawlOutcome(
                returncode, timed_out, [int(summary["run_id"])] if summary.get("run_id") else [], summary
            )
            if timed_out and summary.get("state") != "finished":
                _record_timeout(outcome, timeout or 0.0, config_path, job.settings)
            outcomes.append(outcome)
    return outcomes


def _supervise(
    argv: list[str],
    files: list[Path],
    log: Path,
    *,
    timeout: float | None,
    grace: float,
    env: Mapping[str, str] | None,
    on_progress: Callable[[int, dict[str, Any]], None] | None,
) -> tuple[int | None, bool]:
    """Run ``argv`` with output to ``log``, reporting progress files, stopping it at ``timeout``."""
    deadline = time.monotonic() + timeout if timeout else None
    seen = [0.0] * len(files)
    with open(log, "ab") as out:
        # a crawl child dies with the command that started it (kill -9 of 'yuqing crawl' included)
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            preexec_fn=die_with_parent,
        )
        while proc.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                _stop(proc, grace)
                return proc.returncode, True
            if on_progress is not None:
                for i, file in enumerate(files):
                    if file.exists() and file.stat().st_mtime != seen[i]:
                        seen[i] = file.stat().st_mtime
                        on_progress(i, _read_summary(file))
            time.sleep(0.2)
    return proc.returncode, False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _record_timeout(outcome: CrawlOutcome, timeout: float, config_path: Any, overrides: Any) -> None:
    """Mark the crawl's run as ``timeout`` (the process was stopped before it could finish)."""
    if not outcome.run_ids:
        return

    url = (overrides or {}).get("YUQING_DATABASE_URL")
    if not url:
        url = load_config(config_path).database_url
    message = f"the crawl did not finish within {timeout:.0f}s and was stopped"
    finish_run(
        open_database(url), outcome.run_ids[0], status="timeout", error_kind="timeout", error_message=message
    )
    outcome.summary.update(status="timeout", error_kind="timeout", error_message=message)
