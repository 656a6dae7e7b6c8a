"""``yuqing doctor``: each check against the real thing (SQLite file, PostgreSQL, Redis, session files)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.clock import utcnow
from crawler.platform.sessions import Session, SessionStore

ROOT = Path(__file__).resolve().parents[3]
YUQING = [sys.executable, "-m", "crawler.cli.app"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(
    tmp_path: Path,
    *,
    db: str | None = None,
    platforms: dict[str, bool] | None = None,
    channel_url: str = "https://oapi.dingtalk.com/robot/send?access_token=4f9a0c",
    extra: str = "",
) -> Path:
    data = tmp_path / "data"
    enabled = platforms or {"weibo": False, "xiaohongshu": False, "douyin": False, "heimao": True}
    text = (
        f'[project]\ndata_dir = "{data}"\n[storage]\nurl = "{db or f"sqlite:///{data}/yuqing.db"}"\n'
        '[[brands]]\nname = "鲜果时光"\n'
        + "".join(f"[platforms.{p}]\nenabled = {str(on).lower()}\n" for p, on in enabled.items())
        + f'[alerts.channels.pr]\ntype = "dingtalk"\nurl = "{channel_url}"\nsecret = "SEC8d1e2f"\n'
        + extra
    )
    path = tmp_path / "yuqing.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _doctor(cfg: Path, cwd: Path, **env: str) -> tuple[int, dict[str, Any], dict[str, dict[str, Any]]]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full_env.pop("REDIS_URL", None)
    full_env.pop("YUQING_DATABASE_URL", None)
    proc = subprocess.run(
        [*YUQING, "--config", str(cfg), "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=full_env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    return proc.returncode, report, {c["name"]: c for c in report["checks"]}


def _upgrade(cfg: Path, cwd: Path) -> None:
    proc = subprocess.run(
        [*YUQING, "--config", str(cfg), "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr


def test_a_ready_setup_passes(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _upgrade(cfg, tmp_path)
    code, report, checks = _doctor(cfg, tmp_path, YUQING_CHROMIUM="/usr/bin/chromium")
    assert code == 0 and report["ok"] is True, report
    for name in (
        "python",
        "install",
        "config",
        "database",
        "database schema",
        "database writable",
        "chromium",
        "channel pr (dingtalk)",
        "disk",
    ):
        assert checks[name]["status"] == "ok", checks[name]
    assert "redis" not in checks  # not in distributed mode
    assert not any(n.startswith("session") for n in checks)  # only Heimao, which needs no login


def test_the_text_view_marks_and_fixes(tmp_path: Path) -> None:
    cfg = _config(tmp_path)  # no database file yet
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*YUQING, "--config", str(cfg), "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(line.startswith("✓ python: Python 3.") for line in lines)
    i = next(i for i, line in enumerate(lines) if line.startswith("✗ database:"))
    assert "no database file yet" in lines[i] and lines[i + 1].strip() == "fix: yuqing db upgrade"
    assert lines[-1] == "1 problem(s) to fix"
    assert not (tmp_path / "data" / "yuqing.db").exists()  # the doctor created no database


def test_what_is_broken_is_named_with_its_fix(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        platforms={"weibo": True, "xiaohongshu": True, "douyin": True, "heimao": True},
        channel_url="${PR_URL:-http://127.0.0.1:9/robot/send?access_token=unset}",
        extra=f'[distributed]\nenabled = true\nredis_url = "redis://127.0.0.1:{_free_port()}/0"\n',
    )
    _upgrade(cfg, tmp_path)
    from crawler.config import load_config

    store = SessionStore.from_config(load_config(str(cfg)))
    store.save(Session("weibo", "default", {"SUB": "x"}, source="qr"))
    store.mark("weibo", "default", "expired", "HTTP 432")
    store.save(
        Session(
            "xiaohongshu",
            "default",
            {"a1": "1", "web_session": "2"},
            source="qr",
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    code, report, checks = _doctor(cfg, tmp_path, YUQING_CHROMIUM="/nonexistent/chromium")
    assert code == 1 and report["ok"] is False
    assert checks["chromium"]["status"] == "fail" and checks["chromium"]["needed"] is True
    assert (
        "douyin" in checks["chromium"]["detail"]
        and "playwright install chromium" in checks["chromium"]["fix"]
    )
    assert checks["redis"]["status"] == "fail" and "unreachable" in checks["redis"]["detail"]
    pr = checks["channel pr (dingtalk)"]
    assert (
        pr["status"] == "fail" and "placeholder url" in pr["detail"] and "yuqing alerts test pr" in pr["fix"]
    )
    weibo = checks["session weibo/default"]
    assert (
        weibo["status"] == "fail" and "HTTP 432" in weibo["detail"] and weibo["fix"] == "yuqing login weibo"
    )
    xhs = checks["session xiaohongshu/default"]
    assert xhs["status"] == "warn" and xhs["needed"] is False and "expiring" in xhs["detail"]
    assert (
        checks["sessions douyin"]["status"] == "fail"
        and checks["sessions douyin"]["fix"] == "yuqing login douyin"
    )
    assert checks["database"]["status"] == "ok"


def test_a_broken_config_stops_at_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text('[storage]\nurl = 42\n[[brands]]\nname = "x"\n', encoding="utf-8")
    code, report, checks = _doctor(cfg, tmp_path)
    assert code == 1 and checks["config"]["status"] == "fail" and "storage.url" in checks["config"]["detail"]
    assert "database" not in checks and checks["python"]["status"] == "ok"


@pytest.mark.redis
def test_redis_reachable_in_distributed_mode(tmp_path: Path) -> None:
    from tests.conftest import REDIS_TEST

    cfg = _config(tmp_path, extra=f'[distributed]\nenabled = true\nredis_url = "{REDIS_TEST}"\n')
    _upgrade(cfg, tmp_path)
    code, _, checks = _doctor(cfg, tmp_path, YUQING_CHROMIUM="/usr/bin/chromium")
    assert checks["redis"]["status"] == "ok", checks["redis"]
    assert code == 0


@pytest.mark.postgres
def test_postgres_unmigrated_then_ready(tmp_path: Path) -> None:
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN, _pg_conninfo

    name = f"yuqing_doctor_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        cfg = _config(tmp_path, db=f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}")
        code, _, checks = _doctor(cfg, tmp_path, YUQING_CHROMIUM="/usr/bin/chromium")
        assert code == 1 and checks["database"]["status"] == "ok"
        assert (
            checks["database schema"]["status"] == "fail"
            and checks["database schema"]["fix"] == "yuqing db upgrade"
        )
        _upgrade(cfg, tmp_path)
        code, _, checks = _doctor(cfg, tmp_path, YUQING_CHROMIUM="/usr/bin/chromium")
        assert code == 0 and checks["database writable"]["status"] == "ok"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_session_lifetime() -> None:
    now = utcnow()
    s = Session("weibo", "a", {"SUB": "x"})
    assert s.lifetime(now) == "valid"
    s.expires_at = now + timedelta(days=10)
    assert s.lifetime(now) == "valid"
    s.expires_at = now + timedelta(hours=5)
    assert s.lifetime(now) == "expiring"
    s.expires_at = now - timedelta(seconds=1)
    assert s.lifetime(now) == "expired"
    s.expires_at, s.status = None, "expired"
    assert s.lifetime(now) == "expired"


def test_expiry_survives_the_session_file(tmp_path: Path) -> None:
    from crawler.platform.sessions import cookies_expiry

    ends = cookies_expiry(
        [
            {"name": "SUB", "expires": 2_000_000_000.0},
            {"name": "other", "expires": 1.0},
            {"name": "SUBP", "expires": -1},
        ],
        ("SUB", "SUBP"),
    )
    assert ends is not None and int(ends.timestamp()) == 2_000_000_000
    store = SessionStore(tmp_path)
    store.save(Session("weibo", "a", {"SUB": "x"}, source="qr", expires_at=ends))
    loaded = store.load("weibo", "a")
    assert loaded is not None and loaded.expires_at == ends
