"""Alert rules: which mentions and surges alert, where, and when (pure functions, no I/O).

Reads ``[[alerts.rules]]`` (thresholds, categories, platforms, keywords, big-V, engagement,
surges, immediate/digest mode) and ``[alerts.quiet_hours]``; the scheduler's timezone
decides the local clock of quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from crawler.config import AlertRule, AppConfig, QuietHours

URGENCY_RANK: dict[str, int] = {"一般": 1, "紧急": 2, "非常紧急": 3}


def rank(urgency: str | None) -> int:
    """1 一般, 2 紧急, 3 非常紧急, 0 none."""
    return URGENCY_RANK.get(urgency or "", 0)


def urgency_of_rank(value: int) -> str | None:
    for name, r in URGENCY_RANK.items():
        if r == value:
            return name
    return None


def engagement(m: dict[str, Any]) -> int:
    return int(m.get("likes") or 0) + int(m.get("comments") or 0) + int(m.get("shares") or 0)


def _text(m: dict[str, Any]) -> str:
    return f"{m.get('title') or ''}\n{m.get('text') or ''}"


def rule_matches(rule: AlertRule, m: dict[str, Any]) -> bool:
    """Whether mention ``m`` (a mentions row as a dict) satisfies every condition of ``rule``."""
    if not rule.mentions:
        return False
    checks = (
        not rule.complaints_only or bool(m.get("is_complaint")),
        int(m.get("risk") or 0) >= rule.min_risk,
        rule.min_urgency is None or rank(m.get("urgency")) >= rank(rule.min_urgency),
        not rule.categories or m.get("category") in rule.categories,
        not rule.platforms or m.get("platform") in rule.platforms,
        not rule.brands or m.get("brand") in rule.brands,
        not rule.keywords or any(k in _text(m) for k in rule.keywords),
        rule.min_followers is None or int(m.get("author_followers") or 0) >= rule.min_followers,
        rule.min_engagement is None or engagement(m) >= rule.min_engagement,
        not rule.negative_only or _negative(m),
    )
    return all(checks)


def _negative(m: dict[str, Any]) -> bool:
    s = m.get("sentiment")
    return bool(m.get("is_complaint")) if s is None else float(s) < 0.4


@dataclass(slots=True)
class Route:
    """Where a mention goes: channels now (immediate rules) and channels in the digest."""

    immediate: list[str] = field(default_factory=list)
    digest: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.immediate or self.digest)


def _add(target: list[str], names: list[str]) -> None:
    for n in names:
        if n not in target:
            target.append(n)


OFFICIAL_MARKS = ("官方", "客服", "旗舰店")


def is_brand_voice(cfg: AppConfig, m: dict[str, Any]) -> bool:
    """Whether ``m`` was written by the brand itself: a verified account named after the brand (or an alias)
    as its 官方 / 客服 / 旗舰店, e.g. "鲜果时光官方" replying "已私信您" under a complaint."""
    author = str(m.get("author_name") or "")
    if not m.get("author_verified") or not any(mark in author for mark in OFFICIAL_MARKS):
        return False
    names = next((b.all_names for b in cfg.brands if b.name == m.get("brand")), [str(m.get("brand") or "")])
    return any(len(n) >= 2 and n in author for n in names)


def route(cfg: AppConfig, m: dict[str, Any]) -> Route:
    """The union of the channels of every matching rule, split by mode; the brand's own accounts never alert."""
    out = Route()
    if is_brand_voice(cfg, m):
        return out
    for rule in cfg.alerts.rules:
        if rule_matches(rule, m):
            out.rules.append(rule.name)
            _add(out.immediate if rule.mode == "immediate" else out.digest, list(rule.channels))
    out.digest = [c for c in out.digest if c not in out.immediate]
    return out


def surge_channels(cfg: AppConfig, brand: str) -> list[str]:
    """Channels of the rules that fire on surges for ``brand``."""
    out: list[str] = []
    for rule in cfg.alerts.rules:
        if rule.surge and (not rule.brands or brand in rule.brands):
            _add(out, list(rule.channels))
    return out


def _in_window(t: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end  # crosses midnight


def quiet_until(cfg: AppConfig, now: datetime, urgency: str | None = None) -> datetime | None:
    """When quiet hours end if ``now`` is inside them and ``urgency`` does not override; else None."""
    qh: QuietHours | None = cfg.alerts.quiet_hours
    if qh is None or (urgency is not None and rank(urgency) >= rank(qh.override_urgency)):
        return None
    local = now.astimezone(ZoneInfo(cfg.scheduler.timezone))
    if not _in_window(local.timetz().replace(tzinfo=None), qh.start, qh.end):
        return None
    end = local.replace(hour=qh.end.hour, minute=qh.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(now.tzinfo)
