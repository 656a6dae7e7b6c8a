"""Fixtures for the service tests: config files, the stand-in crawl, crawl_runs rows."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.config import AppConfig, load_config

STANDIN = Path(__file__).resolve().parent / "standin_crawl.py"
ROOT = Path(__file__).resolve().parents[3]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def write_config(
    path: Path,
    *,
    db_url: str,
    brands: list[str],
    platforms: dict[str, dict[str, Any]],
    scheduler: dict[str, Any] | None = None,
    extra: str = "",
) -> Path:
    """A config file with a webhook health channel, the given brands, platforms and [scheduler]."""
    lines = [
        "[project]",
        f"data_dir = {toml_value(str(path.parent / 'data'))}",
        'log_level = "INFO"',
        "[storage]",
        f"url = {toml_value(db_url)}",
    ]
    for name in brands:
        lines += ["[[brands]]", f"name = {toml_value(name)}"]
    for name, values in platforms.items():
        lines.append(f"[platforms.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    lines += [
        "[alerts]",
        'health_channels = ["ops"]',
        "[alerts.channels.ops]",
        'type = "webhook"',
        'url = "http://127.0.0.1:9/hook"',
        'secret = "s3cret-s3cret"',
    ]
    if scheduler:
        lines.append("[scheduler]")
        lines += [f"{k} = {toml_value(v)}" for k, v in scheduler.items()]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def standin_command() -> list[str]:
    return [sys.executable, str(STANDIN), "{platform}", "{brand}", "{config}"]


@pytest.fixture
def control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    """Set the stand-in crawl's behaviour per platform (also for subprocesses, via env)."""
    path = tmp_path / "control.json"
    log = tmp_path / "standin.log"
    monkeypatch.setenv("STANDIN_CONTROL", str(path))
    monkeypatch.setenv("STANDIN_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def set_control(value: dict[str, Any]) -> None:
        path.write_text(json.dumps(value), encoding="utf-8")

    set_control({})
    return set_control


def standin_events(tmp_path: Path) -> list[tuple[str, str, str, int, float]]:
    log = tmp_path / "standin.log"
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        event, platform, brand, pid, ts = line.split(" ")
        out.append((event, platform, brand, int(pid), float(ts)))
    return out


def max_concurrency(events: list[tuple[str, str, str, int, float]], platform: str, brand: str) -> int:
    """The most crawls of (platform, brand) that ran at the same time."""
    running = peak = 0
    for event, p, b, _, _ in sorted(events, key=lambda e: e[4]):
        if (p, b) != (platform, brand):
            continue
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    return peak


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., AppConfig]:
    def make(db_url: str, **kwargs: Any) -> AppConfig:
        kwargs.setdefault("brands", ["鲜果时光", "小鹿宝贝"])
        kwargs.setdefault(
            "platforms",
            {
                "weibo": {"schedule": "every 10m"},
                "heimao": {"schedule": "every 10m"},
                "xiaohongshu": {"schedule": "every 30m"},
                "douyin": {"schedule": "every 30m"},
            },
        )
        path = write_config(tmp_path / "yuqing.toml", db_url=db_url, **kwargs)
        return load_config(path)

    return make
