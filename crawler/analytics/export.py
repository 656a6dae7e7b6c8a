"""Mention export to CSV (UTF-8 with BOM, so Excel reads Chinese) and XLSX (typed, frozen header, links).

Text is PII-masked unless ``unmasked`` (callers check who may ask: a handler token).
Scraped text is hostile here too: cells that a spreadsheet would run as a formula
(starting with = + - @ or a control character) are written as plain text, and only
http(s) links become hyperlinks.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.engine import Connection

from crawler.analytics.query import MentionFilter, Order, select_mentions, sentiment_label, to_record
from crawler.config import PLATFORM_NAMES

Format = Literal["csv", "xlsx"]
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# (header, record key, kind); kind: text | int | float | datetime | bool | list | url
COLUMNS: list[tuple[str, str, str]] = [
    ("ID", "id", "int"),
    ("平台", "platform_name", "text"),
    ("品牌", "brand", "text"),
    ("类型", "kind", "text"),
    ("发布时间", "published_at", "datetime"),
    ("作者", "author_name", "text"),
    ("作者ID", "author_id", "text"),
    ("粉丝数", "author_followers", "int"),
    ("认证", "author_verified", "bool"),
    ("标题", "title", "text"),
    ("内容", "text", "text"),
    ("情感分", "sentiment", "float"),
    ("情感", "sentiment_label", "text"),
    ("投诉", "is_complaint", "bool"),
    ("类别", "category", "text"),
    ("紧急程度", "urgency", "text"),
    ("风险分", "risk", "int"),
    ("风险原因", "reasons", "list"),
    ("点赞", "likes", "int"),
    ("评论", "comments", "int"),
    ("转发", "shares", "int"),
    ("收藏", "collects", "int"),
    ("IP属地", "ip_region", "text"),
    ("事件ID", "event_id", "int"),
    ("链接", "url", "url"),
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_SAFE_URL = re.compile(r"^https?://[^\s\"<>]+$", re.I)


def safe_cell_text(value: str) -> str:
    """Text a spreadsheet will not evaluate (a leading apostrophe before formula starters)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def safe_url(value: str | None) -> str | None:
    return value if value and _SAFE_URL.match(value) else None


def records(
    conn: Connection,
    f: MentionFilter,
    *,
    unmasked: bool = False,
    limit: int = 100_000,
    order: Order = "newest",
) -> Iterator[dict[str, Any]]:
    """Matching mentions as export records (masked unless ``unmasked``), at most ``limit``."""
    stmt = select_mentions(f, conn.dialect.name, order=order).limit(limit)
    for row in conn.execute(stmt):
        rec = to_record(row, unmasked=unmasked)
        rec["platform_name"] = PLATFORM_NAMES.get(rec["platform"], rec["platform"])
        rec["sentiment_label"] = sentiment_label(rec["sentiment"])
        yield rec


def _local(value: datetime | None, tz: str) -> datetime | None:
    return None if value is None else value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _csv_value(rec: dict[str, Any], key: str, kind: str, tz: str) -> str:
    v = rec.get(key)
    if v is None:
        return ""
    if kind == "datetime":
        return _local(v, tz).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[union-attr]
    if kind == "bool":
        return "是" if v else "否"
    if kind == "list":
        return safe_cell_text("；".join(str(x) for x in v))
    if kind == "url":
        return safe_url(str(v)) or ""
    if kind == "text":
        return safe_cell_text(str(v))
    return str(v)


def write_csv(out: io.TextIOBase | Any, recs: Iterable[dict[str, Any]], *, tz: str) -> int:
    """Write UTF-8 CSV rows (the caller writes the BOM or opens with ``utf-8-sig``); return the count."""
    w = csv.writer(out)
    w.writerow([h for h, _, _ in COLUMNS])
    n = 0
    for rec in recs:
        w.writerow([_csv_value(rec, key, kind, tz) for _, key, kind in COLUMNS])
        n += 1
    return n


def records_csv(recs: Iterable[dict[str, Any]], *, tz: str) -> str:
    """Already fetched query rows as CSV text (no BOM: for terminals and pipes)."""
    out = io.StringIO()
    rows = []
    for rec in recs:
        rec = dict(rec)
        rec["platform_name"] = PLATFORM_NAMES.get(rec["platform"], rec["platform"])
        rec["sentiment_label"] = sentiment_label(rec.get("sentiment"))
        rows.append(rec)
    write_csv(out, rows, tz=tz)
    return out.getvalue()


def write_xlsx(target: Path | io.BytesIO, recs: Iterable[dict[str, Any]], *, tz: str) -> int:
    """Write an XLSX sheet: typed cells, frozen header, autofilter, http(s) hyperlinks."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "提及"
    ws.append([h for h, _, _ in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="305496")
    n = 0
    for n, rec in enumerate(recs, start=1):
        _xlsx_row(ws, n + 1, rec, tz)
    widths = {"内容": 80, "标题": 30, "链接": 40, "风险原因": 30, "发布时间": 20}
    for i, (header, _, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(header, 12)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{n + 1}"
    wb.save(target)
    return n


def _xlsx_row(ws: Any, row: int, rec: dict[str, Any], tz: str) -> None:
    for col, (_, key, kind) in enumerate(COLUMNS, start=1):
        v = rec.get(key)
        if v is None:
            continue
        cell = ws.cell(row=row, column=col)
        if kind == "datetime":
            cell.value = _local(v, tz)
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        elif kind in ("int", "float"):
            cell.value = v
        elif kind == "bool":
            cell.value = bool(v)
        elif kind == "url":
            url = safe_url(str(v))
            if url:
                cell.value = url
                cell.data_type = "s"
                cell.hyperlink = url
                cell.style = "Hyperlink"
        else:
            cell.value = "；".join(str(x) for x in v) if kind == "list" else str(v)
            cell.data_type = "s"  # never a formula, whatever the text starts with


def export_bytes(
    conn: Connection,
    f: MentionFilter,
    *,
    fmt: Format,
    unmasked: bool = False,
    limit: int = 10_000,
    tz: str = "Asia/Shanghai",
    actor: str = "cli",
) -> tuple[bytes, str, str]:
    """(body, media type, file name) of an export, for the API."""
    recs = records(conn, f, unmasked=unmasked, limit=limit)
    stamp = datetime.now(ZoneInfo(tz)).strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        buf = io.BytesIO()
        n = write_xlsx(buf, recs, tz=tz)
        body, media, name = buf.getvalue(), XLSX_MEDIA, f"yuqing-mentions-{stamp}.xlsx"
    else:
        text = io.StringIO()
        n = write_csv(text, recs, tz=tz)
        body, media, name = (
            ("\ufeff" + text.getvalue()).encode("utf-8"),
            "text/csv; charset=utf-8",
            f"yuqing-mentions-{stamp}.csv",
        )
    _audit(actor, n, fmt, unmasked)
    return body, media, name


def export_file(
    conn: Connection,
    f: MentionFilter,
    path: Path,
    *,
    fmt: Format,
    unmasked: bool = False,
    limit: int = 100_000,
    tz: str = "Asia/Shanghai",
    actor: str = "cli",
) -> int:
    """Write an export to ``path``; return the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    recs = records(conn, f, unmasked=unmasked, limit=limit)
    if fmt == "xlsx":
        n = write_xlsx(path, recs, tz=tz)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            n = write_csv(fh, recs, tz=tz)
    _audit(actor, n, fmt, unmasked)
    return n


def _audit(actor: str, n: int, fmt: str, unmasked: bool) -> None:
    if unmasked:
        logger.warning("unmasked export by {actor}: {n} rows ({fmt})", actor=actor, n=n, fmt=fmt)
    else:
        logger.info("export by {actor}: {n} rows ({fmt})", actor=actor, n=n, fmt=fmt)
