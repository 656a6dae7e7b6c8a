"""Helpers of the end-to-end service tests: the simulator-backed config, processes, ground truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crawler.clock import utcnow
from crawler.storage.mentions import MENTIONS, RUNS, brand_crawl_runs
from tests.conftest import REDIS_TEST
from tests.crawler.service.conftest import ROOT, write_config

# The simulator's default brands: Heimao company id and aliases (searched as keywords too).
BRANDS = {"鲜果时光": ("5650743478", ["鲜果", "XGSG"]), "小鹿宝贝": ("7123456780", ["小鹿", "XLBB"])}
POST_KINDS = ("post", "complaint")


def sim_config(
    tmp_path: Path,
    sim: Any,
    db_url: str,
    *,
    brands: list[str],
    schedule: str,
    rate: int = 6000,
    scheduler: dict[str, Any] | None = None,
    redis_prefix: str | None = None,
) -> Path:
    from simulator.options import WEIBO_TEST_SUB

    common = {
        "schedule": schedule,
        "request_delay": 0,
        "rate_limit_per_minute": rate,
        "max_retries": 1,
        "timeout_seconds": 5,
        "max_comment_pages": 1,
    }
    platforms = {
        "weibo": {
            **common,
            "base_url": sim.base_url("weibo"),
            "max_pages": 10,
            "search_types": [61],  # 实时: newest first
            "accounts": [{"name": "main", "cookies": f"SUB={WEIBO_TEST_SUB}"}],
        },
        "heimao": (
            {**common, "base_url": sim.base_url("heimao"), "max_pages": 10}
            if "heimao" in sim.ctx.platforms
            else {"enabled": False}
        ),
        "xiaohongshu": {"enabled": False},
        "douyin": {"enabled": False},
    }
    extra = '[[alerts.rules]]\nname = "complaints"\nchannels = ["ops"]\ncomplaints_only = true\n'
    if redis_prefix:
        extra += (
            f'[distributed]\nenabled = true\nredis_url = "{REDIS_TEST}"\nkey_prefix = "{redis_prefix}"\n'
            "task_lease_seconds = 5\npoll_seconds = 0.3\nworker_concurrency = 2\n"
        )
    path = write_config(
        tmp_path / "yuqing.toml",
        db_url=db_url,
        brands=brands,
        platforms=platforms,
        scheduler={
            "lock_lease_seconds": 5,
            "stop_grace_seconds": 5,
            "health_seconds": 3,
            "crawl_timeout_minutes": 3,
            **(scheduler or {}),
        },
        extra=extra,
    )
    text = path.read_text(encoding="utf-8")
    for name, (couid, aliases) in BRANDS.items():
        text = text.replace(
            f'name = "{name}"\n',
            f'name = "{name}"\nheimao_couid = ["{couid}"]\n'
            f"aliases = {json.dumps(aliases, ensure_ascii=False)}\n",
        )
    path.write_text(text, encoding="utf-8")
    return path


def spawn(args: list[str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "YUQING_DATABASE_URL")}
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.app", "--config", str(config), *args],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_for(cond: Callable[[], object], timeout: float, what: str, every: float = 0.25) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def mention_counts(engine, platforms: tuple[str, ...]) -> dict[tuple[str, str], int]:
    """(platform, post_id) -> rows, for posts (not comments)."""
    stmt = (
        select(MENTIONS.c.platform, MENTIONS.c.post_id, func.count())
        .where(MENTIONS.c.platform.in_(platforms), MENTIONS.c.kind.in_(POST_KINDS))
        .group_by(MENTIONS.c.platform, MENTIONS.c.post_id)
    )
    with engine.connect() as conn:
        return {(r[0], r[1]): r[2] for r in conn.execute(stmt)}


def truth_posts(sim: Any, platforms: tuple[str, ...], brands: list[str]) -> set[tuple[str, str]]:
    return {
        (t["platform"], str(t["post_id"]))
        for p in platforms
        for b in brands
        for t in sim.truth(p, brand=b)
        if t["kind"] in POST_KINDS
    }


def fresh_ok_runs(engine, since, pairs: list[tuple[str, str]]) -> bool:
    """Every (platform, brand) has a crawl that started after ``since`` and finished ok."""
    with engine.connect() as conn:
        done = {
            (r.platform, r.brand)
            for r in conn.execute(
                select(RUNS.c.platform, RUNS.c.brand).where(
                    RUNS.c.started_at > since,
                    RUNS.c.status.in_(("ok", "partial")),
                    brand_crawl_runs(),  # a tracking poll of the same brand is not a crawl
                )
            )
        }
    return all(p in done for p in pairs)


def now():  # noqa: ANN201 - re-exported for the tests
    return utcnow()
