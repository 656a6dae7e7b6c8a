"""``yuqing login`` end to end: the QR page of the simulator, a test playing the phone, cookie import, --status."""

from __future__ import annotations

import re
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from crawler.cli.app import app
from simulator import Simulator
from simulator.platforms._xd_pages import qr_text
from tests.spiders.signed.conftest import live_chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]
# platform → (confirm body key, what the phone reads in the QR code)
PHONE = {"xiaohongshu": ("qr_id", r"qrId=(\d+)"), "douyin": ("token", r"token=([0-9a-f]+)")}


def _config(tmp: Path, sim: Simulator) -> Path:
    path = tmp / "yuqing.toml"
    path.write_text(
        f"""
[project]
data_dir = "{tmp / "data"}"
[storage]
url = "sqlite:///{tmp / "y.db"}"
[[brands]]
name = "鲜果时光"
[platforms.weibo]
base_url = "{sim.base_url("weibo")}"
[platforms.xiaohongshu]
base_url = "{sim.base_url("xiaohongshu")}"
web_url = "{sim.base_url("xiaohongshu")}"
[platforms.douyin]
base_url = "{sim.base_url("douyin")}"
""",
        encoding="utf-8",
    )
    return path


def _run(config: Path, *args: str) -> Result:
    """``yuqing --config CONFIG ARGS`` in-process (a headless machine: no DISPLAY)."""
    return CliRunner().invoke(
        app,
        ["--config", str(config), *args],
        env={"COLUMNS": "250", "DISPLAY": None, "WAYLAND_DISPLAY": None},
    )


@pytest.fixture(scope="module")
def sim() -> Simulator:
    with Simulator(seed=7, posts_per_brand=2, platforms=["weibo", "xiaohongshu", "douyin"]) as running:
        yield running


@pytest.mark.parametrize("platform", ["xiaohongshu", "douyin"])
def test_qr_login_stores_a_private_session_the_platform_accepts(
    tmp_path: Path, sim: Simulator, platform: str
) -> None:
    config = _config(tmp_path, sim)
    qr_file = tmp_path / "data" / "sessions" / platform / "qrcode.png"
    result: list[Result] = []
    login = threading.Thread(target=lambda: result.append(_run(config, "login", platform, "--timeout", "40")))
    login.start()
    deadline = time.monotonic() + 40
    while not qr_file.exists() and login.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    # The phone: decode the QR code the command saved, then scan and confirm it.
    key, pattern = PHONE[platform]
    found = re.search(pattern, qr_text(qr_file.read_bytes()) or "")
    assert found, "the QR code carries no login id"
    assert stat.S_IMODE(qr_file.stat().st_mode) == 0o600
    assert httpx.post(f"{sim.base_url(platform)}/__admin/qr/confirm", json={key: found.group(1)}).json()["ok"]
    login.join(60)
    done = result[0]
    assert done.exit_code == 0, (done.output, done.exception)
    assert f"QR code saved to {qr_file}" in done.output and "logged in" in done.output
    session = tmp_path / "data" / "sessions" / platform / "default.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert stat.S_IMODE(session.parent.stat().st_mode) == 0o700
    status = _run(config, "login", platform, "--status")
    assert re.search(rf"{platform}.*default.*qr.*valid", status.output), status.output
    sim.expire_sessions(platform)
    status = _run(config, "login", platform, "--status")
    assert f"yuqing login {platform}" in status.output and "expired" in status.output


def test_cookie_file_import_and_status(tmp_path: Path, sim: Simulator) -> None:
    config = _config(tmp_path, sim)
    cookie_file = tmp_path / "cookies.txt"
    cookie_file.write_text(sim.cookie_header("xiaohongshu"), encoding="utf-8")
    done = _run(config, "login", "xiaohongshu", "--cookie-file", str(cookie_file), "--account", "spare")
    assert done.exit_code == 0 and "accepted" in done.output, (done.output, done.exception)
    saved = tmp_path / "data" / "sessions" / "xiaohongshu" / "spare.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    secret = cookie_file.read_text().split("web_session=")[1][:12]
    assert secret not in done.output and secret in saved.read_text()
    bad = tmp_path / "bad.txt"
    bad.write_text("a1=x; web_session=not-a-session", encoding="utf-8")
    refused = _run(config, "login", "xiaohongshu", "--cookie-file", str(bad), "--account", "other")
    assert "rejected" in refused.output
    missing = _run(config, "login", "xiaohongshu", "--cookie-file", str(tmp_path / "nope.txt"))
    assert "cannot read cookie file" in str(missing.exception)
    status = _run(config, "login", "--status", "--no-check")
    assert re.search(r"xiaohongshu.*spare.*cookie-file", status.output) and "weibo" in status.output


def test_unknown_platform_is_a_clear_error(tmp_path: Path, sim: Simulator) -> None:
    done = _run(_config(tmp_path, sim), "login", "heimao")  # Heimao has no QR login: not among the choices
    assert done.exit_code == 2 and "'heimao' is not one of 'weibo', 'xiaohongshu', 'douyin'" in done.output


def test_login_leaves_no_browser_running() -> None:
    assert live_chromium() == []
