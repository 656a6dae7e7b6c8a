"""Nothing is lost when a crawl is killed with SIGKILL in the middle, and one crawl per pair runs.

A real ``yuqing crawl`` (parent) runs the real spider (child) against the simulator; the
child is killed with SIGKILL once some mentions are stored and comments are still being
fetched. The next crawl must close the dead run, finish the open work (comments of the
posts stored before the kill) and end with exactly what a clean crawl stores. The analysis
worker of the killed crawl must die with it; a second manual crawl of the same pair is
refused while the first runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.scenario import runs, stored
from tests.spiders.conftest import CONFIG

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
YUQING = [sys.executable, "-m", "crawler.cli.app"]
WORLD = {
    "posts_per_brand": 16,
    "comments_per_post": [2, 8],
    "crisis_size": 4,
    "platforms": ["weibo"],
    "comment_page_size": 3,
}
BRAND = "鲜果时光"


@pytest.fixture
def sim() -> Iterator[Any]:
    from simulator import Simulator

    with Simulator(seed=5, brands=[BRAND, "小鹿宝贝"], **WORLD) as s:
        yield s


def _config(path: Path, rate: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    text = CONFIG.format(data=path / "data", db=f"sqlite:///{path / 'yuqing.db'}")
    text = text.replace(
        "rate_limit_per_minute = 6000\nmax_retries = 2\ntimeout_seconds = 3\nmax_comment_pages = 2",
        f"rate_limit_per_minute = {rate}\nmax_retries = 2\ntimeout_seconds = 3\nmax_comment_pages = 5",
        1,
    )
    cfg = path / "yuqing.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _argv(cfg: Path, sim: Any) -> list[str]:
    from simulator.options import WEIBO_TEST_SUB

    return [
        *YUQING,
        "--config",
        str(cfg),
        "crawl",
        "weibo",
        "--brand",
        BRAND,
        "--json",
        "-s",
        f"WEIBO_BASE_URL={sim.base_url('weibo')}",
        "-s",
        f"WEIBO_COOKIES=SUB={WEIBO_TEST_SUB}",
        "-s",
        "YUQING_STORE_BATCH=4",
        "-s",
        "YUQING_STORE_FLUSH_SECONDS=0.2",
        "-s",
        "YUQING_ANALYZE_WORKERS=1",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _keys(db: str) -> set[tuple[str, str]]:
    return {(r["kind"], r["post_id"]) for r in stored(db, "weibo")}


def _crawl(cfg: Path, sim: Any) -> dict[str, Any]:
    proc = subprocess.run(
        _argv(cfg, sim), capture_output=True, text=True, timeout=180, cwd=cfg.parent, env=_env()
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_kill_9_mid_crawl_loses_nothing(sim: Any, tmp_path: Path) -> None:
    clean_cfg = _config(tmp_path / "clean", 6000)
    clean_db = f"sqlite:///{tmp_path / 'clean' / 'yuqing.db'}"
    _crawl(clean_cfg, sim)
    clean = _keys(clean_db)
    assert sum(k == "comment" for k, _ in clean) >= 30, "the world must have comments to lose"

    cfg = _config(tmp_path / "killed", 300)  # 5 requests/s: the crawl lasts long enough to be killed
    db = f"sqlite:///{tmp_path / 'killed' / 'yuqing.db'}"
    parent = subprocess.Popen(
        _argv(cfg, sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cfg.parent, env=_env()
    )
    try:
        deadline = time.monotonic() + 90
        while True:  # wait for the first posts (and their comments' open work) to be stored
            assert parent.poll() is None, parent.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the crawl stored nothing in 90 s"
            if (tmp_path / "killed" / "yuqing.db").exists():
                try:
                    have = _keys(db)
                except Exception:  # the first migration may still be running
                    have = set()
                if sum(k == "post" for k, _ in have) >= 4:
                    break
            time.sleep(0.1)

        # One crawl of a (platform, brand) at a time: a second manual crawl is refused.
        second = subprocess.run(
            _argv(cfg, sim), capture_output=True, text=True, timeout=60, cwd=cfg.parent, env=_env()
        )
        assert second.returncode == 1 and "already running" in second.stderr, second.stderr[-1500:]

        crawl = next(
            p
            for p in psutil.Process(parent.pid).children()
            if "crawler.service.crawl_process" in " ".join(p.cmdline())
        )
        workers = crawl.children(recursive=True)
        assert workers, "the crawl should have an analysis worker process"
        os.kill(crawl.pid, signal.SIGKILL)
        parent.wait(timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    before = _keys(db)
    assert before < clean, "the kill should have left the crawl unfinished"
    deadline = time.monotonic() + 15
    while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers):
        assert time.monotonic() < deadline, "the analysis worker outlived its killed crawl"
        time.sleep(0.1)

    fast = _config(tmp_path / "killed", 6000)  # the same database, crawled at full speed now
    summary = _crawl(fast, sim)
    assert summary["status"] == "ok"
    after = _keys(db)
    assert after == clean, (
        f"missing {sorted(clean - after)[:10]} (of {len(clean - after)}), extra {sorted(after - clean)[:10]}"
    )
    rows = runs(db)
    assert [r["status"] for r in rows] == ["killed", "ok"], [(r["status"], r["error_message"]) for r in rows]
    assert "disappeared" in (rows[0]["error_message"] or "")
    # The open work is done and gone; nothing is stored twice.
    from sqlalchemy import func, select

    from crawler.storage.engine import make_engine
    from crawler.storage.mentions import MENTIONS, PENDING

    with make_engine(db).connect() as conn:
        assert conn.execute(select(func.count()).select_from(PENDING)).scalar() == 0
        dup = conn.execute(
            select(MENTIONS.c.post_id)
            .group_by(MENTIONS.c.platform, MENTIONS.c.post_id)
            .having(func.count() > 1)
        ).all()
    assert dup == []


def test_a_database_that_goes_away_stops_the_crawl_with_a_storage_error(sim: Any, tmp_path: Path) -> None:
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN, _pg_conninfo

    name = f"yuqing_gone_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    scheme, rest = base.split("://", 1)
    user_host = rest.split("@", 1)[-1]
    url = f"{scheme}://postgres:s3cret-pw@{user_host}/{name}"  # trust auth ignores it; it must never show
    cfg = _config(tmp_path, 300)
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace(f"sqlite:///{tmp_path / 'yuqing.db'}", url), "utf-8"
    )
    proc = subprocess.Popen(
        _argv(cfg, sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env()
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the crawl stored nothing in 90 s"
            try:
                if len(stored(url, "weibo")) >= 4:
                    break
            except Exception:  # still migrating
                pass
            time.sleep(0.1)
        from crawler.storage.engine import dispose_engines

        dispose_engines()
        sent = len(sim.request_log("weibo"))
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        out, err = proc.communicate(timeout=60)
        sent_after = len(sim.request_log("weibo")) - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    assert proc.returncode == 1
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "failed" and summary["error_kind"] == "storage", summary
    assert summary["state"] in ("finished", "ended"), summary
    assert name in summary["error_message"] and "***" in summary["error_message"]
    assert "s3cret-pw" not in out + err
    assert "Traceback" not in err
    # It stops instead of crawling on: only requests already on their way still go out (the
    # whole crawl of this world sends about 50; the drop comes after the first few).
    assert sent_after <= 20, f"the crawl sent {sent_after} requests after its database was dropped"
