"""Fixtures of the Xiaohongshu / Douyin tests: real captures, configs, scenario defaults, leak checks.

Every process these tests start inherits ``YUQING_XD_MARK``; Chromium inherits it from
them, so :func:`live_chromium` finds exactly the browsers these tests caused (other
engineers' browsers on the machine are not ours), even orphaned ones.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests import scenario
from tests.conftest import real_capture

HERE = Path(__file__).resolve().parent
MARK = f"xd-{uuid.uuid4().hex}"
os.environ["YUQING_XD_MARK"] = MARK

CONFIG = """
[project]
data_dir = "{data}"
log_level = "WARNING"

[storage]
url = "{db}"

[[brands]]
name = "鲜果时光"
aliases = ["鲜果", "XGSG"]
keywords = ["鲜果时光"]
products = ["鲜榨橙汁", "芒果冰沙"]

[[brands]]
name = "小鹿宝贝"
aliases = ["小鹿"]
keywords = ["小鹿宝贝"]

[platforms.xiaohongshu]
base_url = "http://127.0.0.1:9/xiaohongshu"
web_url = "http://127.0.0.1:9/xiaohongshu"
max_pages = 10
request_delay = 0
rate_limit_per_minute = 6000
max_retries = 2
timeout_seconds = 3
max_comment_pages = 3

[platforms.douyin]
base_url = "http://127.0.0.1:9/douyin"
max_pages = 10
request_delay = 0
rate_limit_per_minute = 6000
max_retries = 2
timeout_seconds = 3
max_comment_pages = 3
"""
SMALL_WORLD = {
    "posts_per_brand": 12,
    "comments_per_post": [0, 4],
    "crisis_size": 6,
    "platforms": ["xiaohongshu", "douyin"],
}
FAST = {
    "YUQING_BACKOFF_BASE": 0.05,
    "YUQING_BACKOFF_MAX": 0.2,
    "DOWNLOAD_TIMEOUT": 3,
    "RETRY_TIMES": 2,
    "YUQING_STORE_FLUSH_SECONDS": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "YUQING_RATE_LIMIT_PER_MINUTE": 0,
}


def live_chromium() -> list[int]:
    """Chromium processes (not zombies) started by these tests and still running."""
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if (
                "chrom" not in (proc.info["name"] or "").lower()
                or proc.info["status"] == psutil.STATUS_ZOMBIE
            ):
                continue
            if proc.environ().get("YUQING_XD_MARK") == MARK:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_chromium_left() -> Iterator[None]:
    """After the whole XD suite: not one Chromium process of ours is left running."""
    yield
    import time

    deadline = time.monotonic() + 5
    while live_chromium() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live_chromium() == [], "Chromium processes were left running after the tests"


@pytest.fixture(scope="session")
def xhs_capture():  # type: ignore[no-untyped-def]
    """Load a real Xiaohongshu capture: the response inside the dataset wrapper ``[ ... ]``."""

    def load(name: str) -> dict[str, Any]:
        data = json.loads(real_capture("xiaohongshu", f"{name}.json").read_text("utf-8"))
        return data[0] if isinstance(data, list) else data

    return load


def douyin_fixture(name: str) -> dict[str, Any]:
    return json.loads((HERE / "fixtures" / f"{name}.json").read_text("utf-8"))


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(
        CONFIG.format(data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'yuqing.db'}") + extra,
        encoding="utf-8",
    )
    return path


def run_plan(
    tmp_path: Path,
    steps: list[dict[str, Any]],
    *,
    timeout: float = 150,
    settings: dict[str, Any] | None = None,
    sim: dict[str, Any] | None = None,
    config: Path | None = None,
) -> dict[str, Any]:
    """Run a Xiaohongshu/Douyin scenario (:func:`tests.scenario.run_plan`, the world built from the
    config's brands); returns its results and the ground truth."""
    return scenario.run_plan(
        tmp_path,
        config or write_config(tmp_path),
        steps,
        sim=sim or SMALL_WORLD,
        settings={**FAST, **(settings or {})},
        keywords={"xiaohongshu": ["鲜果时光", "小鹿宝贝"], "douyin": ["鲜果时光", "小鹿宝贝"]},
        timeout=timeout,
        world_from_config=True,
    )


def stored(tmp_path: Path, platform: str) -> list[dict[str, Any]]:
    """The stored mentions of ``platform`` in the scenario's database (``tmp_path/yuqing.db``)."""
    return scenario.stored(f"sqlite:///{tmp_path / 'yuqing.db'}", platform)


def runs(tmp_path: Path) -> list[dict[str, Any]]:
    """The scenario database's crawl_runs rows, oldest first."""
    return scenario.runs(f"sqlite:///{tmp_path / 'yuqing.db'}")
