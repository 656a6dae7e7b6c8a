"""Shared normalisers for what platforms return: HTML text, times, counts, regions, URLs.

Pure functions, no I/O. Every spider's ``parse_*`` functions go through these so a
post looks the same whichever platform it came from: plain text (emoticon images
become their alt text such as ``[怒]``), aware UTC datetimes, integer counts, a bare
region name and absolute ``https`` URLs.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from crawler.clock import utcnow

# Relative and naive times on Chinese platforms are Beijing time (UTC+8, no DST).
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "object"})
_MULTI_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_MULTI_NL = re.compile(r"\n\s*\n\s*\n+")
_TRAILING_TAG = re.compile(r"<[a-zA-Z/][^>]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _TextExtractor(HTMLParser):
    """Collects visible text; ``<img alt>`` becomes its alt text, block tags become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "img" and not self._skip:
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt.strip())
        elif tag in _BLOCK_TAGS and not self._skip:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS and tag != "br" and not self._skip:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def clean_text(text: str) -> str:
    """Collapse runs of spaces, drop control characters, keep at most one blank line."""
    text = _CONTROL.sub("", text)
    lines = [_MULTI_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MULTI_NL.sub("\n\n", "\n".join(lines)).strip()


def strip_html(value: Any) -> str:
    """HTML fragment → plain text. ``None`` and non-strings become ``""`` (numbers become text)."""
    if value is None or isinstance(value, bool):
        return ""
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int | float) else ""
    if "<" not in value and "&" not in value:
        return clean_text(value)
    value = _TRAILING_TAG.sub("", value)  # a snippet cut inside a tag
    parser = _TextExtractor()
    try:
        parser.feed(value)
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: fall back to a crude strip
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", value)))
    return clean_text("".join(parser.parts))


# --- counts -----------------------------------------------------------------

_COUNT_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(万|w|W|亿|千|k|K)?\s*\+?$")
_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "千": 1_000, "k": 1_000, "K": 1_000}


def parse_count(value: Any) -> int:
    """``3496``, ``"3496"``, ``"1,234"``, ``"105.9万"``, ``"100万+"``, ``"1.2w"`` → int; unreadable → 0."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0) if value == value else 0  # NaN
    if not isinstance(value, str):
        return 0
    text = value.strip().replace(",", "").replace("，", "")
    m = _COUNT_RE.match(text)
    if not m:
        return 0
    number = float(m.group(1)) * _UNITS.get(m.group(2) or "", 1)
    return int(round(number))


# --- regions ----------------------------------------------------------------

_REGION_PREFIXES = ("发布于", "来自", "IP属地：", "IP属地:", "IP属地", "ip属地：", "ip属地")


def parse_region(value: Any) -> str | None:
    """``"发布于 北京"`` / ``"来自北京"`` / ``"IP属地：广东"`` / ``"上海"`` → the region name; else None."""
    if not isinstance(value, str):
        return None
    text = strip_html(value).strip()
    for prefix in _REGION_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    if not text or len(text) > 64:
        return None
    return text


# --- URLs -------------------------------------------------------------------


def absolute_url(value: Any, base: str | None = None) -> str | None:
    """``//host/path`` → ``https://host/path``; relative paths joined to ``base``; junk → None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url:
        return None
    if url.startswith("//"):
        return "https:" + url
    if url.startswith(("http://", "https://")):
        return url
    if base:
        return urljoin(base.rstrip("/") + "/", url.lstrip("/"))
    return None


# --- times ------------------------------------------------------------------

_RFC_RE = re.compile(
    r"^(?:[A-Z][a-z]{2},?\s+)?([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+([+-]\d{4})\s+(\d{4})$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
_AGO_RE = re.compile(r"^(\d+)\s*(秒|分钟|小时|天)前$")
_DAY_RE = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_MD_RE = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_YMD_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ZH_YMD_RE = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日(?:\s*(\d{1,2}):(\d{2}))?$")
_AGO_UNITS = {"秒": 1, "分钟": 60, "小时": 3600, "天": 86400}
_MIN_EPOCH = 946_684_800  # 2000-01-01: anything older is not a post time
_MAX_EPOCH = 4_102_444_800  # 2100-01-01


def epoch_to_utc(value: Any, *, unit: str = "auto") -> datetime | None:
    """Epoch seconds or milliseconds (int, float or numeric string) → aware UTC; unreadable → None.

    ``unit="auto"`` takes values above 10^11 as milliseconds.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN
        return None
    if unit == "ms" or (unit == "auto" and number > 1e11):
        number /= 1000
    if not _MIN_EPOCH <= number < _MAX_EPOCH:
        return None
    return datetime.fromtimestamp(number, UTC)


def _local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=CHINA_TZ).astimezone(UTC)
    except ValueError:
        return None


def _parse_rfc(text: str) -> datetime | None:
    m = _RFC_RE.match(text)
    if not m or m.group(1) not in _MONTHS:
        return None
    mon, day, hh, mm, ss, off, year = m.groups()
    sign = 1 if off[0] == "+" else -1
    tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[3:5])))
    try:
        return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=tz).astimezone(
            UTC
        )
    except ValueError:
        return None


def _parse_relative(text: str, now: datetime) -> datetime | None:
    local_now = now.astimezone(CHINA_TZ)
    if text in ("刚刚", "刚才"):
        return now
    m = _AGO_RE.match(text)
    if m:
        return now - timedelta(seconds=int(m.group(1)) * _AGO_UNITS[m.group(2)])
    m = _DAY_RE.match(text)
    if m:
        back = {"今天": 0, "昨天": 1, "前天": 2}[m.group(1)]
        date_ = local_now.date() - timedelta(days=back)
        return _local(date_.year, date_.month, date_.day, int(m.group(2)), int(m.group(3)))
    m = _MD_RE.match(text)
    if m:  # "06-27": this year, or last year if that would be in the future
        month, day = int(m.group(1)), int(m.group(2))
        hour, minute = int(m.group(3) or 0), int(m.group(4) or 0)
        found = _local(local_now.year, month, day, hour, minute)
        if found is not None and found > now + timedelta(days=1):
            found = _local(local_now.year - 1, month, day, hour, minute)
        return found
    return None


def _parse_absolute(text: str) -> datetime | None:
    m = _YMD_RE.match(text)
    if m:
        y, mo, d, hh, mi, ss = (int(g) if g else 0 for g in m.groups())
        return _local(y, mo, d, hh, mi, ss)
    m = _ZH_YMD_RE.match(text)
    if m:
        ys, mos, ds, hhs, mis = m.groups()
        year = int(ys) if ys else utcnow().astimezone(CHINA_TZ).year
        return _local(year, int(mos), int(ds), int(hhs or 0), int(mis or 0))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed.astimezone(UTC)


def parse_time(value: Any, *, now: datetime | None = None) -> datetime | None:
    """Any platform time → aware UTC, or None when missing or unreadable.

    Handles aware/naive datetimes, epoch seconds or milliseconds (numbers or numeric
    strings), Weibo's ``"Sat Jan 14 18:39:37 +0800 2023"``, the relative forms 刚刚 /
    N秒前 / N分钟前 / N小时前 / N天前 / 今天 HH:MM / 昨天 HH:MM / 前天 HH:MM / MM-DD,
    and ``YYYY-MM-DD[ HH:MM[:SS]]``, ``YYYY年M月D日`` and ISO 8601. Naive and relative
    forms are Beijing time.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)).astimezone(UTC)
    if isinstance(value, int | float):
        return epoch_to_utc(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if text.isdigit() or re.fullmatch(r"\d+\.\d+", text):
        return epoch_to_utc(text)
    now = now or utcnow()
    return _parse_rfc(text) or _parse_relative(text, now) or _parse_absolute(text)


def as_text(value: Any, limit: int | None = None) -> str | None:
    """A scalar field as a trimmed string (ids may come as ints); None for missing or containers."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    if not text:
        return None
    return text[:limit] if limit else text
