"""SLA clock arithmetic: deadlines per urgency, on calendar time or business hours.

Reads ``[complaints]`` (``sla`` minutes per urgency, ``clock``, ``business_hours`` with
holidays and extra working days, ``callback_days``) and the scheduler's timezone; the
milestones themselves are ``alerts.complaints.model.MILESTONES``. Pure functions: no database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from alerts.complaints.model import REGISTRATION_MILESTONES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crawler.config import AppConfig, BusinessHours, SlaTimes

_MAX_DAYS = 3700  # about ten years of calendar: a guard against a calendar with no working time


def is_workday(day: date, bh: BusinessHours) -> bool:
    if day in bh.workdays:
        return True
    return day.isoweekday() in bh.weekdays and day not in bh.holidays


def business_add(start: datetime, minutes: float, bh: BusinessHours, tz: ZoneInfo) -> datetime:
    """``start`` plus ``minutes`` of business time (time outside business hours does not count)."""
    remaining = timedelta(minutes=minutes)
    cursor = start.astimezone(tz)
    day = cursor.date()
    for _ in range(_MAX_DAYS):
        if is_workday(day, bh):
            opens = datetime.combine(day, bh.start, tz)
            closes = datetime.combine(day, bh.end, tz)
            begin = max(cursor, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
        day += timedelta(days=1)
        cursor = datetime.combine(day, bh.start, tz)
    raise ValueError("business_hours leave no working time within ten years")


def business_minutes_between(start: datetime, end: datetime, bh: BusinessHours, tz: ZoneInfo) -> float:
    """Business minutes from ``start`` to ``end`` (0 if ``end`` is not later)."""
    if end <= start:
        return 0.0
    total = timedelta()
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        if is_workday(day, bh):
            lo = max(start, datetime.combine(day, bh.start, tz))
            hi = min(end, datetime.combine(day, bh.end, tz))
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60


def add_minutes(cfg: AppConfig, start: datetime, minutes: float) -> datetime:
    """``start`` + ``minutes`` on the configured clock (calendar or business hours)."""
    if cfg.complaints.clock == "business":
        return business_add(start, minutes, cfg.complaints.business_hours, ZoneInfo(cfg.scheduler.timezone))
    return start + timedelta(minutes=minutes)


def deadlines(cfg: AppConfig, urgency: str, registered_at: datetime) -> dict[str, datetime | None]:
    """The due columns of a record of ``urgency`` registered at ``registered_at``."""
    # Looked up by any string: an unknown urgency falls back to 一般 (the cast is a read-only,
    # str-keyed view of the Literal-keyed table).
    sla = cast("Mapping[str, SlaTimes]", cfg.complaints.sla)
    times = sla.get(urgency) or sla["一般"]
    out: dict[str, datetime | None] = {}
    for m in REGISTRATION_MILESTONES:
        minutes = getattr(times, str(m.minutes))
        out[m.due] = None if minutes is None else add_minutes(cfg, registered_at, minutes)
    return out


def callback_due(resolved_at: datetime, days: int) -> datetime:
    """The callback (回访) is due ``days`` calendar days after resolution."""
    return resolved_at + timedelta(days=days)
