"""Mention filters and full-text search shared by ``yuqing query``, ``yuqing export``, the API and reports.

A :class:`MentionFilter` is validated once (pydantic) wherever it comes from (CLI
options, query parameters) and turns into SQL conditions on ``mentions`` for SQLite
and PostgreSQL alike. Times: ``24h``/``7d``/``30m``/``2w`` relative to now, or a date /
ISO datetime read in the configured timezone (Asia/Shanghai by default).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import Connection

from crawler.analytics.search_index import SearchSyntaxError, parse, search_clause
from crawler.clock import utcnow
from crawler.config import CATEGORIES, PLATFORMS, URGENCIES
from crawler.errors import YuqingError
from crawler.storage.models import MENTIONS
from sentiment.pii import mask

NEGATIVE_BELOW = 0.4  # sentiment < this is negative
POSITIVE_ABOVE = 0.6  # sentiment > this is positive
SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}
DEFAULT_TZ = "Asia/Shanghai"
Order = Literal["newest", "oldest", "risk", "engagement"]

_REL_RE = re.compile(r"^\s*(\d{1,5})\s*(m|min|h|d|w)\s*$", re.I)
_REL_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class QueryError(YuqingError):
    """A bad filter value (unknown platform, unreadable time, inverted range...)."""


# what every supported database stores and every filter can compare with (PostgreSQL and
# SQLite hold more, but a range end one day later must still fit in a datetime)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_time(
    value: str | datetime | date, *, tz: str = DEFAULT_TZ, now: datetime | None = None, end: bool = False
) -> datetime:
    """``24h`` / ``7d`` (ago), ``2026-11-01`` (local midnight; with ``end``: the next midnight) or ISO time.

    A time the parser reads but the database cannot hold (year 9999 in a far time zone,
    ``100000000d`` ago) is a :class:`QueryError` with the reason, not an overflow.
    """
    try:
        out = _parse_time(value, tz=tz, now=now, end=end)
    except (OverflowError, ValueError) as exc:
        raise QueryError(f"时间超出可查询范围 {value!r}（{EARLIEST:%Y-%m-%d} 至 {LATEST:%Y-%m-%d}）") from exc
    if not EARLIEST <= out < LATEST:
        raise QueryError(f"时间超出可查询范围 {value!r}（{EARLIEST:%Y-%m-%d} 至 {LATEST:%Y-%m-%d}）")
    return out


def _parse_time(value: str | datetime | date, *, tz: str, now: datetime | None, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    text = value.strip()
    m = _REL_RE.match(text)
    if m:
        delta = timedelta(**{_REL_UNITS[m.group(2).lower()]: int(m.group(1))})
        return (now or utcnow()) - delta
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            day = date.fromisoformat(text)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"无法识别的时间 {value!r}：请用 24h、7d、2026-11-01 或 2026-11-01T08:00") from exc
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return _parse_time(day, tz=tz, now=now, end=end)
    return _parse_time(parsed, tz=tz, now=now, end=end)


class MentionFilter(BaseModel):
    """What to select from ``mentions``; every field optional."""

    model_config = ConfigDict(extra="forbid")

    brand: str | None = Field(default=None, max_length=64, description="Brand name")
    platforms: list[str] = Field(default_factory=list, description="weibo, xiaohongshu, douyin, heimao")
    since: datetime | None = Field(default=None, description="Published at or after (UTC)")
    until: datetime | None = Field(default=None, description="Published before (UTC)")
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    complaint: bool | None = Field(
        default=None, description="Only complaints (true) or non-complaints (false)"
    )
    categories: list[str] = Field(default_factory=list)
    urgencies: list[str] = Field(default_factory=list)
    min_risk: int | None = Field(default=None, ge=0, le=100)
    max_risk: int | None = Field(default=None, ge=0, le=100)
    regions: list[str] = Field(default_factory=list, description="IP regions, e.g. 广东")
    author: str | None = Field(default=None, max_length=128, description="Author id or exact name")
    event_id: int | None = Field(default=None, ge=1)
    kinds: list[Literal["post", "comment", "complaint"]] = Field(default_factory=list)
    q: str | None = Field(
        default=None, max_length=200, description="Full-text search (syntax: docs/analysts.md)"
    )

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PLATFORMS]
        if bad:
            raise ValueError(f"未知平台 {', '.join(bad)}（可选：{', '.join(PLATFORMS)}）")
        return v

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CATEGORIES]
        if bad:
            raise ValueError(f"未知投诉类别 {', '.join(bad)}（可选：{'、'.join(CATEGORIES)}）")
        return v

    @field_validator("urgencies")
    @classmethod
    def _urgencies(cls, v: list[str]) -> list[str]:
        bad = [u for u in v if u not in URGENCIES]
        if bad:
            raise ValueError(f"未知紧急程度 {', '.join(bad)}（可选：{'、'.join(URGENCIES)}）")
        return v

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        if any(not r.strip() or len(r) > 64 for r in v):
            raise ValueError("地区不能为空且不超过 64 字")
        return v

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("时间必须带时区 (或使用 parse_time)")
        return v

    @field_validator("q")
    @classmethod
    def _search(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            parse(v)
        except SearchSyntaxError as exc:
            raise ValueError(str(exc)) from exc
        return v

    @model_validator(mode="after")
    def _ranges(self) -> MentionFilter:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("起始时间必须早于结束时间")
        if self.min_risk is not None and self.max_risk is not None and self.min_risk > self.max_risk:
            raise ValueError("最低风险分不能大于最高风险分")
        return self


def build_filter(**values: Any) -> MentionFilter:
    """A validated filter; raise :class:`QueryError` with the first problem, in Chinese."""

    try:
        return MentionFilter(**values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise QueryError(f"{where}: {msg}" if where else msg) from None


def _time_conditions(f: MentionFilter) -> list[ColumnElement[bool]]:
    """The brand and time-range conditions (those the brand/time indexes answer)."""
    c = MENTIONS.c
    out: list[ColumnElement[bool]] = []
    if f.brand:
        out.append(c.brand == f.brand)
    if f.since:
        out.append(c.published_at >= f.since)
    if f.until:
        out.append(c.published_at < f.until)
    return out


def conditions(f: MentionFilter, dialect: str) -> list[ColumnElement[bool]]:
    """SQL conditions on ``mentions`` for ``f``."""
    c = MENTIONS.c
    bounded = _time_conditions(f)
    out = list(bounded)
    if f.platforms:
        out.append(c.platform.in_(f.platforms))
    if f.sentiment == "negative":
        out.append(c.sentiment < NEGATIVE_BELOW)
    elif f.sentiment == "positive":
        out.append(c.sentiment > POSITIVE_ABOVE)
    elif f.sentiment == "neutral":
        out.append(and_(c.sentiment >= NEGATIVE_BELOW, c.sentiment <= POSITIVE_ABOVE))
    if f.complaint is not None:
        out.append(
            c.is_complaint.is_(True)
            if f.complaint
            else or_(c.is_complaint.is_(False), c.is_complaint.is_(None))
        )
    if f.categories:
        out.append(c.category.in_(f.categories))
    if f.urgencies:
        out.append(c.urgency.in_(f.urgencies))
    if f.min_risk is not None:
        out.append(c.risk >= f.min_risk)
    if f.max_risk is not None:
        out.append(c.risk <= f.max_risk)
    if f.regions:
        out.append(c.ip_region.in_(f.regions))
    if f.author:
        out.append(or_(c.author_id == f.author, c.author_name == f.author))
    if f.event_id is not None:
        out.append(c.event_id == f.event_id)
    if f.kinds:
        out.append(c.kind.in_(f.kinds))
    if f.q:
        out.append(search_clause(f.q, dialect, bounded if (f.since or f.until) else None))
    return out


ROW_COLUMNS = (
    "id",
    "platform",
    "brand",
    "kind",
    "published_at",
    "author_id",
    "author_name",
    "author_followers",
    "author_verified",
    "title",
    "text",
    "masked_text",
    "sentiment",
    "is_complaint",
    "category",
    "urgency",
    "risk",
    "reasons",
    "likes",
    "comments",
    "shares",
    "collects",
    "ip_region",
    "url",
    "event_id",
    "post_id",
)


def _ordering(order: Order) -> list[Any]:
    c = MENTIONS.c
    if order == "oldest":
        return [c.published_at.asc(), c.id.asc()]
    if order == "risk":
        return [c.risk.desc().nulls_last(), c.published_at.desc(), c.id.desc()]
    if order == "engagement":
        return [(c.likes + c.comments + c.shares).desc(), c.id.desc()]
    return [c.published_at.desc(), c.id.desc()]


def select_mentions(f: MentionFilter, dialect: str, *, order: Order = "newest") -> Select[Any]:
    """The SELECT of :data:`ROW_COLUMNS` for ``f`` (no limit)."""
    cols = [MENTIONS.c[name] for name in ROW_COLUMNS]
    return select(*cols).where(*conditions(f, dialect)).order_by(*_ordering(order))


def mask_text(text: str) -> str:
    """PII-masked ``text`` (phone numbers, ID numbers, e-mail, bank cards): ``sentiment.pii.mask``."""
    return str(mask(text))


def to_record(row: Any, *, unmasked: bool = False) -> dict[str, Any]:
    """One result row as a plain dict; ``text`` is masked unless ``unmasked``."""
    rec = dict(row._mapping)
    masked = rec.pop("masked_text")
    if not unmasked:
        rec["text"] = masked if masked is not None else mask_text(rec["text"] or "")
        if rec.get("title"):
            rec["title"] = mask_text(rec["title"])
    return rec


def find_mentions(
    conn: Connection,
    f: MentionFilter,
    *,
    order: Order = "newest",
    limit: int = 50,
    offset: int = 0,
    unmasked: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of matching mentions and whether more follow."""
    stmt = select_mentions(f, conn.dialect.name, order=order).limit(limit + 1).offset(offset)
    rows = [to_record(r, unmasked=unmasked) for r in conn.execute(stmt)]
    return rows[:limit], len(rows) > limit


def count_mentions(conn: Connection, f: MentionFilter) -> int:

    stmt = select(func.count()).select_from(MENTIONS).where(*conditions(f, conn.dialect.name))
    return int(conn.execute(stmt).scalar_one())


def sentiment_label(value: float | None) -> str:
    """正面 / 中性 / 负面 (or 未分析) for a sentiment score."""
    if value is None:
        return "未分析"
    if value < NEGATIVE_BELOW:
        return SENTIMENT_LABELS["negative"]
    if value > POSITIVE_ABOVE:
        return SENTIMENT_LABELS["positive"]
    return SENTIMENT_LABELS["neutral"]
