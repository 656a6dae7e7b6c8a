"""The product's clock: the wall clock in UTC, optionally shifted for a time-accelerated run.

Every "now" yuqing takes (first seen, delivery and pacing times, SLA clocks, the crawl window,
relative times such as "5分钟前", the simulator's publication times) comes from :func:`utcnow`.
A run that replays a day in minutes (``bench/alert_quality.py --live``) moves it forward with
:func:`advance_to`; the shift travels to the crawl subprocesses it starts in the environment
variable :data:`ENV`, read once when this module is imported. A service never sets it: with no
shift, :func:`utcnow` is ``datetime.now(UTC)``.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta

ENV = "YUQING_CLOCK_OFFSET_SECONDS"
LIMIT = 10 * 366 * 86_400  # a shift of more than ten years is a mistake, not a simulation


def _parse(raw: str) -> timedelta:
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(seconds) or abs(seconds) > LIMIT:
        raise ValueError(f"{ENV} must be a finite shift of at most ten years, not {raw!r}")
    return timedelta(seconds=seconds)


_offset = _parse(os.environ[ENV].strip()) if os.environ.get(ENV, "").strip() else timedelta(0)


def utcnow() -> datetime:
    """The current time, aware, in UTC (shifted when a simulated run set a shift)."""
    if _offset:
        return datetime.now(UTC) + _offset
    return datetime.now(UTC)


def offset_seconds() -> float:
    """How far this process' clock is ahead of the wall clock (0.0 normally)."""
    return _offset.total_seconds()


def set_offset(seconds: float) -> None:
    """Shift this process' clock, and that of the subprocesses it starts from now on."""
    global _offset
    _offset = _parse(repr(float(seconds)))
    if seconds:
        os.environ[ENV] = repr(float(seconds))
    else:
        os.environ.pop(ENV, None)


def advance_to(when: datetime) -> None:
    """Move the clock so that :func:`utcnow` reads ``when`` now (forward or back)."""
    set_offset((when - datetime.now(UTC)).total_seconds())
