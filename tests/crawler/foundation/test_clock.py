"""The product's clock: one ``utcnow``, shiftable for time-accelerated runs, and refused when malformed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler import clock
from crawler.errors import ConfigError
from crawler.platform.normalize import parse_time

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def shifted() -> Iterator[None]:
    yield
    clock.set_offset(0)


def _child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=60, check=False
    )


def test_unshifted_is_the_wall_clock() -> None:
    assert clock.offset_seconds() == 0.0
    assert abs((clock.utcnow() - datetime.now(UTC)).total_seconds()) < 1
    assert clock.utcnow().tzinfo is not None


def test_a_shift_moves_this_process_and_the_children_it_starts(shifted: None) -> None:
    target = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    clock.advance_to(target)
    assert abs((clock.utcnow() - target).total_seconds()) < 1
    assert clock.ENV in os.environ
    # What a crawl subprocess sees, and how it reads a relative time such as "5分钟前".
    out = _child(
        "from crawler.clock import utcnow; from crawler.platform.normalize import parse_time;"
        "print(utcnow().isoformat()); print(parse_time('5分钟前').isoformat())"
    )
    assert out.returncode == 0, out.stderr
    now_line, rel_line = out.stdout.split()
    assert abs((datetime.fromisoformat(now_line) - target).total_seconds()) < 30
    assert abs((datetime.fromisoformat(rel_line) - (target - timedelta(minutes=5))).total_seconds()) < 90
    assert abs((parse_time("3小时前") - (target - timedelta(hours=3))).total_seconds()) < 90  # type: ignore[operator]
    # The simulated platforms follow the same shift.
    from simulator.world import now_utc

    assert abs((now_utc() - target).total_seconds()) < 2
    clock.set_offset(0)
    assert clock.ENV not in os.environ and abs((now_utc() - datetime.now(UTC)).total_seconds()) < 2


@pytest.mark.parametrize("raw", ["soon", "nan", "inf", "1e12"])
def test_a_malformed_shift_is_refused_with_a_clear_error(raw: str) -> None:
    # importing works (a traceback at import would bypass the CLI's one-line errors); the first
    # reading of the clock refuses, and the CLI prints that as one line, exit 1
    out = _child("import crawler.clock\ncrawler.clock.utcnow()", YUQING_CLOCK_OFFSET_SECONDS=raw)
    assert out.returncode != 0
    assert "YUQING_CLOCK_OFFSET_SECONDS must be" in out.stderr and repr(raw) in out.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "analyze", "鲜果时光的橙汁坏了"],
        capture_output=True,
        text=True,
        env={**os.environ, "YUQING_CLOCK_OFFSET_SECONDS": raw},
        timeout=60,
    )
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert "YUQING_CLOCK_OFFSET_SECONDS must be" in cli.stderr
    with pytest.raises(ConfigError, match="ten years"):
        clock.set_offset(20 * 366 * 86_400)
    assert clock.offset_seconds() == 0.0
