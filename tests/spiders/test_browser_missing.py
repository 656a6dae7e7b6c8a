"""Chromium is looked for in YUQING_CHROMIUM, Debian's place and Playwright's downloads; without
one, the platforms that need it are skipped by the demo and fail a crawl as ``browser_missing``
with the install command — never "failed … None"."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.platform import browser
from tests.scenario import runs
from tests.spiders.conftest import write_config
from tests.spiders.helpers import SMALL_WORLD

ROOT = Path(__file__).resolve().parents[2]
YUQING = [sys.executable, "-m", "crawler.cli.app"]
MISSING = "/nonexistent/chromium"


def _fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_yuqing_chromium_that_does_not_exist_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_CHROMIUM", MISSING)
    found = browser.find_chromium()
    assert found.path is None and found.source == "YUQING_CHROMIUM"
    with pytest.raises(browser.BrowserMissing) as err:
        browser.require_chromium()
    message = str(err.value)
    assert f"YUQING_CHROMIUM={MISSING} is not an executable file" in message
    assert "apt-get install -y chromium" in message and "playwright install chromium" in message
    assert "\n" not in message


def test_the_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mine = _fake_executable(tmp_path / "bin" / "my-chrome")
    monkeypatch.setenv("YUQING_CHROMIUM", str(mine))
    assert browser.find_chromium().path == str(mine)  # an explicit path wins
    monkeypatch.delenv("YUQING_CHROMIUM")
    # no Debian Chromium, nothing on the PATH: Playwright's newest download
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-such-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    store = tmp_path / "ms-playwright"
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(store))
    assert browser.find_chromium().path is None
    _fake_executable(store / "chromium-1100" / "chrome-linux" / "chrome")
    newest = _fake_executable(store / "chromium-1200" / "chrome-linux64" / "chrome")
    found = browser.find_chromium()
    assert (found.path, found.source) == (str(newest), "playwright")
    # Debian's comes before Playwright's
    debian = _fake_executable(tmp_path / "usr-bin" / "chromium")
    monkeypatch.setattr(browser, "CHROMIUM", str(debian))
    assert browser.find_chromium().path == str(debian)


def test_pdf_report_without_chromium_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from crawler.analytics.report_render import to_pdf

    monkeypatch.setenv("YUQING_CHROMIUM", MISSING)
    with pytest.raises(browser.BrowserMissing, match="Chromium not found"):
        to_pdf("<html><body>报告</body></html>", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def _run(argv: list[str], cwd: Path, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YUQING_CHROMIUM": MISSING}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.mark.slow
def test_demo_skips_the_browser_platform_with_the_fix(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = _run(
        [
            *YUQING,
            "--config",
            str(config),
            "demo",
            "--json",
            "--platforms",
            "douyin,heimao",
            "--database",
            db,
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["platforms"]["heimao"]["status"] == "ok" and report["platforms"]["heimao"]["new"] > 0
    douyin = report["platforms"]["douyin"]
    assert douyin["status"] == "skipped" and "apt-get install -y chromium" in douyin["reason"]
    assert {c["platform"] for c in report["crawls"]} == {"heimao"}  # no douyin crawl ran and failed
    # the table view says it in one line
    proc = _run(
        [*YUQING, "--config", str(config), "demo", "--platforms", "douyin,heimao", "--database", db], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith("douyin skipped: Chromium not found")
    ]
    assert len(lines) == 1 and "playwright install chromium" in lines[0], proc.stdout
    assert "None" not in proc.stdout and "start_error" not in proc.stdout


@pytest.fixture
def sim() -> Iterator[object]:
    from simulator import Simulator

    with Simulator(seed=11, brands=["鲜果时光", "小鹿宝贝"], **{**SMALL_WORLD, "platforms": ["douyin"]}) as s:
        yield s


@pytest.mark.slow
def test_a_douyin_crawl_without_chromium_fails_as_browser_missing(sim: object, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    cookies = sim.cookie_header("douyin")  # type: ignore[attr-defined]
    proc = _run(
        [
            *YUQING,
            "--config",
            str(config),
            "crawl",
            "douyin",
            "--brand",
            "鲜果时光",
            "-s",
            f"DOUYIN_BASE_URL={sim.base_url('douyin')}",  # type: ignore[attr-defined]
            "-s",
            f"DOUYIN_COOKIES={cookies}",
        ],
        tmp_path,
    )
    assert proc.returncode == 1
    assert "failed (browser_missing)" in proc.stderr and "Traceback" not in proc.stderr
    assert "apt-get install -y chromium" in proc.stdout
    last = runs(f"sqlite:///{tmp_path / 'yuqing.db'}")[-1]
    assert last["status"] == "failed" and last["error_kind"] == "browser_missing"
    assert "YUQING_CHROMIUM=/nonexistent/chromium" in (last["error_message"] or "")
