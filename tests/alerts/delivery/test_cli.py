"""``yuqing alerts ...`` end to end on a config file, a SQLite database and the loopback receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.config import load_config
from crawler.errors import YuqingError
from crawler.storage.engine import open_database
from simulator.receiver.server import Receiver

from .conftest import enqueue_many

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI points loguru at the runner's captured stream; give later tests a live sink back."""
    yield
    import sys

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Receiver]]:
    with Receiver() as rx:
        toml = f"""
[project]
data_dir = "{tmp_path / "data"}"
[storage]
url = "sqlite:///{tmp_path / "y.db"}"
[[brands]]
name = "鲜果时光"
[alerts.channels.pr]
type = "dingtalk"
url = "{rx.dingtalk("pr", secret="SECcli", keywords=["舆情"])}"
secret = "SECcli"
keyword = "舆情"
[alerts.channels.ops]
type = "wecom"
url = "{rx.wecom("ops")}"
"""
        path = tmp_path / "yuqing.toml"
        path.write_text(toml, encoding="utf-8")
        yield path, rx


def run(path: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(path), *args], catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def test_dispatch_list_show_retry(setup: tuple[Path, Receiver]) -> None:
    path, rx = setup
    cfg = load_config(path)
    engine = open_database(cfg.database_url)
    enqueue_many(engine, cfg, 3, ["pr", "ops"])
    rx.fault("ops", "invalid_url", count=1)
    stats = json.loads(run(path, "alerts", "dispatch", "--json"))
    assert (
        stats["sent"] == 3 and stats["dead"] == 1 and stats["released"] == 2
    )  # a refusal pauses the channel
    assert len(rx.visible("pr")) == 3 and len(rx.visible("ops")) == 0
    listed = json.loads(run(path, "alerts", "list", "--status", "dead", "--json"))
    assert [a["id"] for a in listed] == [1] and listed[0]["deliveries"] == {"pr": "sent", "ops": "dead"}
    shown = run(path, "alerts", "show", "1")
    assert (
        "芒果冰沙" in shown and "dead" in shown and "查看原帖：https://m.weibo.cn/detail/4900000000" in shown
    )
    detail = json.loads(run(path, "alerts", "show", "1", "--json"))
    assert {d["channel"]: d["status"] for d in detail["deliveries"]} == {"pr": "sent", "ops": "dead"}
    assert "errcode 93000" in detail["deliveries"][1]["last_error"]
    assert "requeued 1 delivery" in run(path, "alerts", "retry", "--dead")
    assert "ops" in run(path, "alerts", "channels")
    from sqlalchemy import update

    from crawler.storage.models import AlertChannelState

    with engine.begin() as conn:
        conn.execute(update(AlertChannelState.__table__).values(paused_until=None))  # type: ignore[attr-defined]
    run(path, "alerts", "dispatch")
    assert len(rx.visible("ops")) == 3


def test_test_command_reports_the_platform_answer(setup: tuple[Path, Receiver]) -> None:
    path, rx = setup
    assert "OK pr (dingtalk) accepted the test message" in run(path, "alerts", "test", "pr")
    [msg] = rx.messages("pr")
    assert "yuqing 告警通道测试" in msg.text
    rx.fault("ops", "invalid_url", count=1)
    with pytest.raises(YuqingError, match="errcode 93000.*permanent"):
        run(path, "alerts", "test", "ops")
    with pytest.raises(YuqingError, match="unknown channel 'nope'"):
        run(path, "alerts", "test", "nope")


def test_receiver_registers_configured_robots(setup: tuple[Path, Receiver]) -> None:
    from crawler.cli._alerts_receiver import register_from_config

    path, rx = setup
    cfg = load_config(path)
    with Receiver() as other:
        port = int(rx.url.rsplit(":", 1)[1])
        assert register_from_config(other, dict(cfg.alerts.channels), port) == ["pr", "ops"]
        assert register_from_config(other, dict(cfg.alerts.channels), port + 1) == []
