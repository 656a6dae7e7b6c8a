"""Surge detection per brand and per event, against each one's own baseline.

The recent window (``[alerts.surge].window_minutes``) is compared with the windows of the
same size in the ``baseline_hours`` before it: a **volume** surge when the count reaches
``max(min_count, mean + k·σ)`` (σ at least √mean, the Poisson noise of a count), a
**negative-share** surge (brands) when the negative share rises above ``mean + max(k·σ,
min_share_delta)`` with at least ``negative_min_count`` negative mentions. A scope
(``brand:<name>`` / ``event:<id>``) fires at most once per ``cooldown_minutes`` (table
``surge_marks``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean, pstdev
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crawler.storage.models import MENTIONS
from crawler.storage.models import SURGE_MARKS as MARKS

if TYPE_CHECKING:
    from crawler.config import AppConfig, SurgeConfig


@dataclass(slots=True)
class Surge:
    """One surge that fired (its numbers, for the alert)."""

    scope: str
    brand: str
    event_id: int | None
    kind: str  # volume | negative
    count: int
    negative: int
    mean: float
    std: float
    threshold: float
    fired_count: int = 0

    def describe(self) -> str:
        """A Chinese one-liner for alerts."""
        if self.kind == "negative":
            share = self.negative / self.count if self.count else 0.0
            return (
                f"负面占比激增：近期 {self.negative}/{self.count} 条为负面（{share:.0%}），"
                f"基线 {self.mean:.0%}"
            )
        return f"声量激增：近期 {self.count} 条，基线均值 {self.mean:.1f}（阈值 {self.threshold:.1f}）"


def volume_threshold(baseline: list[int], k: float, min_count: int) -> tuple[float, float, float]:
    """(mean, σ, threshold) for a volume surge against ``baseline`` window counts."""
    mean = fmean(baseline) if baseline else 0.0
    std = pstdev(baseline) if len(baseline) > 1 else 0.0
    return mean, std, max(float(min_count), mean + k * max(std, math.sqrt(mean)))


def is_volume_surge(count: int, baseline: list[int], k: float, min_count: int) -> bool:
    _, _, threshold = volume_threshold(baseline, k, min_count)
    return count >= threshold


def share_threshold(shares: list[float], k: float, min_delta: float) -> tuple[float, float, float]:
    """(mean, σ, threshold) of the negative share against baseline window shares."""
    mean = fmean(shares) if shares else 0.0
    std = pstdev(shares) if len(shares) > 1 else 0.0
    return mean, std, mean + max(k * std, min_delta)


def is_share_surge(
    negative: int, count: int, shares: list[float], k: float, min_delta: float, min_negative: int
) -> bool:
    if negative < min_negative or count == 0:
        return False
    return negative / count >= share_threshold(shares, k, min_delta)[2]


def _negative_expr() -> Any:
    m = MENTIONS.c
    return case(
        (and_(m.sentiment.is_not(None), m.sentiment < 0.4), 1),
        (and_(m.sentiment.is_(None), m.is_complaint.is_(True)), 1),
        else_=0,
    )


@functools.lru_cache(maxsize=32)
def _counts_stmt(n: int, by: str) -> Any:
    """SUMs per window for ``n`` baseline windows, by ``brand`` or ``event_id``; times are bind parameters."""
    t = MENTIONS.c.published_at
    neg = _negative_expr()
    cols = []
    for i in range(n + 1):
        lo = bindparam(f"lo{i}", type_=t.type)
        inside = (
            and_(t > lo, t <= bindparam(f"lo{i - 1}", type_=t.type)) if i else t > lo
        )  # now and later: recent
        cols.append(func.sum(case((inside, 1), else_=0)))
        cols.append(func.sum(case((inside, neg), else_=0)))
    return select(*cols).where(MENTIONS.c[by] == bindparam("key"), t > bindparam(f"lo{n}", type_=t.type))


@functools.lru_cache(maxsize=32)
def _event_counts_stmt(n: int) -> Any:
    """:func:`_counts_stmt` by event for the events in the expanding parameter ``keys``, one row per event."""
    inner = _counts_stmt(n, "event_id")
    cols = list(inner.selected_columns)
    t = MENTIONS.c.published_at
    return (
        select(MENTIONS.c.event_id, *cols)
        .where(
            MENTIONS.c.event_id.in_(bindparam("keys", expanding=True)), t > bindparam(f"lo{n}", type_=t.type)
        )
        .group_by(MENTIONS.c.event_id)
    )


def event_window_counts(
    conn: Connection, event_ids: list[int], now: datetime, sc: SurgeConfig
) -> dict[int, tuple[list[int], list[int]]]:
    """:func:`window_counts` of many events in one query (events without mentions in the windows: zeros)."""
    width = timedelta(minutes=sc.window_minutes)
    n = max(1, (sc.baseline_hours * 60) // sc.window_minutes)
    params: dict[str, Any] = {f"lo{i}": now - (i + 1) * width for i in range(n + 1)}
    zero = [0] * (n + 1)
    out: dict[int, tuple[list[int], list[int]]] = dict.fromkeys(event_ids, (zero, zero))
    for start in range(0, len(event_ids), 500):
        for row in conn.execute(_event_counts_stmt(n), {**params, "keys": event_ids[start : start + 500]}):
            values = [int(v or 0) for v in row[1:]]
            out[int(row[0])] = (values[0::2], values[1::2])
    return out


def window_counts(
    conn: Connection, by: str, key: Any, now: datetime, sc: SurgeConfig
) -> tuple[list[int], list[int]]:
    """(counts, negative counts) per window for ``by`` = ``key``, newest first: index 0 is the recent window."""
    width = timedelta(minutes=sc.window_minutes)
    n = max(1, (sc.baseline_hours * 60) // sc.window_minutes)
    params: dict[str, Any] = {f"lo{i}": now - (i + 1) * width for i in range(n + 1)}
    row = conn.execute(_counts_stmt(n, by), {**params, "key": key}).one()
    values = [int(v or 0) for v in row]
    return values[0::2], values[1::2]


def _marks(conn: Connection, scopes: list[str]) -> dict[str, tuple[datetime, int]]:
    """(last fired, times fired) of each scope that fired before."""
    out: dict[str, tuple[datetime, int]] = {}
    for start in range(0, len(scopes), 500):
        rows = conn.execute(
            select(MARKS.c.scope, MARKS.c.fired_at, MARKS.c.fired_count).where(
                MARKS.c.scope.in_(scopes[start : start + 500])
            )
        )
        out.update({r.scope: (r.fired_at, int(r.fired_count)) for r in rows})
    return out


def _mark(conn: Connection, s: Surge, now: datetime) -> None:
    values = {
        "fired_at": now,
        "fired_count": s.fired_count,
        "brand": s.brand,
        "event_id": s.event_id,
        "detail": {
            "kind": s.kind,
            "count": s.count,
            "negative": s.negative,
            "mean": s.mean,
            "std": s.std,
            "threshold": s.threshold,
        },
    }
    ins: Any = postgresql.insert(MARKS) if conn.dialect.name == "postgresql" else sqlite.insert(MARKS)
    conn.execute(
        ins.values(scope=s.scope, **values).on_conflict_do_update(index_elements=["scope"], set_=values)
    )


def evaluate(
    counts: list[int], negatives: list[int], sc: SurgeConfig, *, shares: bool
) -> tuple[str, float, float, float] | None:
    """The surge kind and (mean, σ, threshold) if the recent window surges, else None."""
    count, negative, base, base_neg = counts[0], negatives[0], counts[1:], negatives[1:]
    mean, std, thr = volume_threshold(base, sc.k, sc.min_count)
    if count >= thr:
        return "volume", mean, std, thr
    if shares:
        past = [nv / c for c, nv in zip(base, base_neg, strict=True) if c > 0]
        if is_share_surge(negative, count, past, sc.k, sc.min_share_delta, sc.negative_min_count):
            return ("negative", *share_threshold(past, sc.k, sc.min_share_delta))
    return None


def check(
    conn: Connection, cfg: AppConfig, *, brands: set[str], event_ids: set[int], now: datetime
) -> list[Surge]:
    """Surges that fire now for ``brands`` and ``event_ids`` (cooldowns respected and recorded)."""
    sc = cfg.alerts.surge
    if not sc.enabled:
        return []
    scopes: list[tuple[str, str | None, int | None]] = [(f"brand:{b}", b, None) for b in sorted(brands)] + [
        (f"event:{e}", None, e) for e in sorted(event_ids)
    ]
    fired: list[Surge] = []
    marks = _marks(conn, [scope for scope, _, _ in scopes])
    cooldown = now - timedelta(minutes=sc.cooldown_minutes)
    live = [(scope, b, e) for scope, b, e in scopes if not (scope in marks and marks[scope][0] > cooldown)]
    by_event = event_window_counts(conn, [e for _, _, e in live if e is not None], now, sc)
    for scope, brand, event_id in live:
        times = marks[scope][1] if scope in marks else 0
        if event_id is None:
            counts, negatives = window_counts(conn, "brand", brand, now, sc)
        else:
            counts, negatives = by_event[event_id]
        verdict = evaluate(counts, negatives, sc, shares=event_id is None)
        if verdict is None:
            continue
        kind, mean, std, thr = verdict
        if brand is None:
            brand = conn.execute(
                select(MENTIONS.c.brand).where(MENTIONS.c.event_id == event_id).limit(1)
            ).scalar_one()
        s = Surge(scope, brand, event_id, kind, counts[0], negatives[0], mean, std, thr, times + 1)
        _mark(conn, s, now)
        fired.append(s)
    return fired
