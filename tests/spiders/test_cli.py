"""The commands: ``yuqing crawl`` (JSON summary, a dead session's fix), ``scrapy crawl`` from the
repository root, ``yuqing demo`` (offline, every post of the simulator exactly once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenario import runs, stored
from tests.spiders.helpers import SMALL_WORLD

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
YUQING = [sys.executable, "-m", "crawler.cli.app"]


@pytest.fixture
def sim() -> Iterator[object]:
    from simulator import Simulator

    with Simulator(seed=11, brands=["鲜果时光", "小鹿宝贝"], **SMALL_WORLD) as s:
        yield s


def _run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def test_yuqing_crawl_json_and_auth_expired(sim: object, crawl_config: Path, tmp_path: Path) -> None:
    base = sim.base_url("heimao")  # type: ignore[attr-defined]
    couid = sim.ctx.brand("鲜果时光").couid  # type: ignore[attr-defined]
    proc = _run(
        [
            *YUQING,
            "--config",
            str(crawl_config),
            "crawl",
            "heimao",
            "--brand",
            "鲜果时光",
            "--json",
            "-s",
            f"HEIMAO_BASE_URL={base}",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "ok" and summary["new"] > 0 and summary["run_id"] >= 1
    assert summary["state"] == "finished"  # never "running" once the command has returned
    db = f"sqlite:///{tmp_path / 'yuqing.db'}"
    assert len(stored(db, "heimao")) == summary["new"]
    assert couid  # the simulator knows the brand's company

    # Weibo without a session: HTTP 432 → auth_expired with the exact fix, exit status 1.
    proc = _run(
        [
            *YUQING,
            "--config",
            str(crawl_config),
            "crawl",
            "weibo",
            "--brand",
            "鲜果时光",
            "-s",
            f"WEIBO_BASE_URL={sim.base_url('weibo')}",
        ],
        tmp_path,
    )  # type: ignore[attr-defined]
    assert proc.returncode == 1
    assert "auth_expired" in proc.stdout and "yuqing login weibo" in proc.stdout
    assert "failed (auth_expired)" in proc.stderr
    last = runs(db)[-1]
    assert last["status"] == "failed" and last["error_kind"] == "auth_expired"


def test_scrapy_crawl_from_the_repository_root(sim: object, crawl_config: Path) -> None:
    proc = _run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "heimao",
            "-a",
            "brand=小鹿宝贝",
            "-s",
            f"YUQING_CONFIG={crawl_config}",
            "-s",
            f"HEIMAO_BASE_URL={sim.base_url('heimao')}",
        ],
        ROOT,
    )  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr[-2000:]
    db = f"sqlite:///{crawl_config.parent / 'yuqing.db'}"
    rows = stored(db, "heimao")
    assert rows and {r["brand"] for r in rows} == {"小鹿宝贝"}
    assert runs(db)[-1]["status"] == "ok"


def test_demo_json(tmp_path: Path) -> None:
    import socket
    import subprocess as sp
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from crawler.storage.engine import open_database
    from crawler.storage.models import CRAWL_RUNS
    from tests.spiders.conftest import write_config

    config = write_config(tmp_path)
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    gone = sp.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: a demo killed with kill -9 left its run "running"
    engine = open_database(db)
    with engine.begin() as conn:
        conn.execute(
            insert(CRAWL_RUNS).values(
                spider="weibo",
                platform="weibo",
                brand="鲜果时光",
                started_at=datetime.now(UTC),
                status="running",
                host=socket.gethostname()[:128],
                pid=gone.pid,
            )
        )
    engine.dispose()
    proc = _run(
        [*YUQING, "--config", str(config), "demo", "--json", "--platforms", "weibo,heimao", "--database", db],
        tmp_path,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report["platforms"]) == {"weibo", "heimao"}
    assert all(p["status"] == "ok" and p["new"] > 0 for p in report["platforms"].values())
    truth = report["sections"][
        "Simulator ground truth vs database (posts, comments, complaints matching the keywords)"
    ]
    assert all(t["published"] == t["stored"] > 0 for t in truth.values()), truth
    assert report["seconds"] > 0  # how long it takes: bench/demo.py
    assert len(report["crawls"]) == 4 and all(c["run_id"] for c in report["crawls"])
    with open_database(db).connect() as conn:
        statuses = [r.status for r in conn.execute(select(CRAWL_RUNS.c.status).order_by(CRAWL_RUNS.c.id))]
    assert statuses[0] == "killed" and "running" not in statuses, statuses
