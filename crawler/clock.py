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

from crawler.errors import ConfigError

ENV = "YUQING_CLOCK_OFFSET_SECONDS"
LIMIT = 10 * 366 * 86_400  # a shift of more than ten years is a mistake, not a simulation


def _parse(raw: str) -> timedelta:
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(seconds) or abs(seconds) > LIMIT:
        raise ConfigError(f"{ENV} must be a finite shift of at most ten years, not {raw!r}")
    return timedelta(seconds=seconds)


def _from_env() -> tuple[timedelta, ConfigError | None]:
    """The shift the environment asks for; a bad value is kept to be raised at the first use of
    the clock (raised at import it would be a traceback, not the CLI's one-line error)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return timedelta(0), None
    try:
        return _parse(raw), None
    except ConfigError as exc:
        return timedelta(0), exc


_offset, _bad = _from_env()


def utcnow() -> datetime:
    """The current time, aware, in UTC (shifted when a simulated run set a shift)."""
    if _bad is not None:
        raise _bad
    if _offset:
        return datetime.now(UTC) + _offset
    return datetime.now(UTC)


def offset_seconds() -> float:
    """How far this process' clock is ahead of the wall clock (0.0 normally)."""
    return _offset.total_seconds()


def set_offset(seconds: float) -> None:
    """Shift this process' clock, and that of the subprocesses it starts from now on."""
    global _offset, _bad
    _offset = _parse(repr(float(seconds)))
    _bad = None
    if seconds:
        os.environ[ENV] = repr(float(seconds))
    else:
        os.environ.pop(ENV, None)


def advance_to(when: datetime) -> None:
    """Move the clock so that :func:`utcnow` reads ``when`` now (forward or back)."""
    set_offset((when - datetime.now(UTC)).total_seconds())
