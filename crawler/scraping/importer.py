"""``yuqing import``: mentions from files, in yuqing's own format or other crawlers' exports.

Formats (``detect_format`` picks one from the file's first record; ``--format`` forces it):

* ``mention``: JSON Lines, a JSON array or CSV whose fields are the mention's own names
  (``platform``, ``post_id``, ``brand``, ``text``, ``kind``, ``parent_post_id``, ``url``,
  ``title``, ``author_id``, ``author_name``, ``author_followers``, ``published_at``,
  ``likes``, ``comments``, ``shares``, ``collects``, ``ip_region``); ``platform``,
  ``post_id`` and ``text`` are required.
* ``mediacrawler``: NanmiCoder/MediaCrawler's JSONL / JSON / CSV exports of Weibo,
  Xiaohongshu and Douyin posts (``*_contents_*``) and comments (``*_comments_*``), the
  current field set and the older one (with ``user_id``, ``nickname``, ``ip_location``).
* ``weibo-crawler``: dataabc/weibo-crawler's ``<user_id>.csv`` / ``<user_id>.json`` posts
  (author from the file's ``users.csv`` row or JSON ``user``) and ``*_comments.csv``.

Rows go through the crawl's own stages: normalised (:func:`crawler.scraping.pipelines.normalize_item`),
analysed in batches (``sentiment.analyze_many``), upserted on (platform, post_id) — a
re-import updates — and triaged in the same transaction, like crawled mentions, unless
``alerts=False`` (history: stored and analysed, no alerts and no complaint records). A row
that cannot be read is reported with its line number and skipped; nothing else is lost.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy import select

import sentiment
from alerts.triage.run import triage as triage_fn
from crawler.errors import YuqingError
from crawler.items import MentionItem
from crawler.names import PLATFORMS as PLATFORMS  # re-exported for the import command
from crawler.names import canonical_platform
from crawler.platform.normalize import (
    CHINA_TZ,
    epoch_to_utc,
    parse_count,
    parse_region,
    parse_time,
    strip_html,
)
from crawler.scraping.pipelines import item_row, normalize_item
from crawler.storage.mentions import upsert_mentions
from crawler.storage.models import MENTIONS
from sentiment.segment import to_simplified

FORMATS = ("auto", "mention", "mediacrawler", "weibo-crawler")
_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_MC_PLATFORM = {
    "weibo": "weibo",
    "xhs": "xiaohongshu",
    "xiaohongshu": "xiaohongshu",
    "douyin": "douyin",
    "dy": "douyin",
}


class ImportError_(YuqingError):  # noqa: N801 (the builtin ImportError is something else)
    """The file cannot be imported at all (unreadable, unknown format)."""


@dataclass(slots=True)
class Record:
    line: int  # 1-based line (CSV: the physical line of the row's start; JSON array: the element's index + 1)
    data: dict[str, Any]


@dataclass
class ImportReport:
    path: str
    format: str
    platform: str | None = None
    rows: int = 0
    stored: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "platform": self.platform,
            "rows": self.rows,
            "stored": self.stored,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "bad": [{"line": n, "error": e} for n, e in self.bad],
            "triage": self.alerts,
        }


# --- reading ------------------------------------------------------------------------


def read_records(path: Path) -> Iterator[Record]:
    """The file's records: JSON Lines, a JSON array (or weibo-crawler's ``{"user", "weibo"}``), CSV."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"cannot read {path}: {exc.strerror or exc}") from None
    undecodable: list[int] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            text, undecodable = _decode_lines(path, raw)
    head = text.lstrip()[:1]
    if undecodable and (
        head == "[" or (head == "{" and not _is_single_json(text.lstrip().split("\n", 1)[0]))
    ):
        # a JSON document is read whole: a blanked line would silently drop a field or break it
        lines = ", ".join(str(n) for n in undecodable[:5])
        raise ImportError_(
            f"{path}: line {lines}: neither UTF-8 nor GB18030 text (a JSON file is read whole)"
        )
    for n in undecodable:  # blanked in ``text``: the readers below skip them, the report lists them
        yield Record(n, {"__error__": "neither UTF-8 nor GB18030 text"})
    if path.suffix.lower() == ".csv" or (head not in ("{", "[") and "," in text.split("\n", 1)[0]):
        yield from _csv_records(text)
    elif head == "[" or (head == "{" and _is_single_json(text)):
        yield from _json_records(path, text)
    elif head == "{":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Record(n, {"__error__": f"not JSON: {exc.msg} (column {exc.colno})"})
                continue
            yield Record(n, obj if isinstance(obj, dict) else {"__error__": "not a JSON object"})
    elif path.suffix.lower() in (".xlsx", ".xls"):
        raise ImportError_(
            f"{path}: Excel files are not read; export CSV or JSON Lines from the crawler instead"
        )
    elif not text.strip():
        return
    else:
        raise ImportError_(f"{path}: not JSON Lines, JSON or CSV")


def _decode_lines(path: Path, raw: bytes) -> tuple[str, list[int]]:
    """A file that is neither UTF-8 nor GB18030 as a whole, read line by line: a line that is
    neither is blanked (and its number returned) so that one bad byte costs one row, not the file.
    A file where most lines are undecodable is no text file."""
    lines = raw.split(b"\n")
    out: list[str] = []
    bad: list[int] = []
    for n, line in enumerate(lines, 1):
        for enc in ("utf-8-sig", "gb18030") if n == 1 else ("utf-8", "gb18030"):
            try:
                out.append(line.decode(enc))
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append("")
            bad.append(n)
    if len(bad) * 2 > len([ln for ln in lines if ln.strip()]):
        raise ImportError_(f"{path}: neither UTF-8 nor GB18030 text")
    return "\n".join(out), bad


def _is_single_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _json_records(path: Path, text: str) -> Iterator[Record]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportError_(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(obj, dict) and isinstance(obj.get("weibo"), list):  # weibo-crawler's <user_id>.json
        user = obj.get("user") if isinstance(obj.get("user"), dict) else {}
        for n, post in enumerate(obj["weibo"], 1):
            yield Record(
                n, {**post, "__user__": user} if isinstance(post, dict) else {"__error__": "not an object"}
            )
        return
    if isinstance(obj, dict):
        obj = [obj]
    if not isinstance(obj, list):
        raise ImportError_(f"{path}: a JSON file must hold an array of records")
    for n, rec in enumerate(obj, 1):
        yield Record(n, rec if isinstance(rec, dict) else {"__error__": "not a JSON object"})


def _csv_records(text: str) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportError_(f"unreadable CSV header: {exc}") from None
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(start, {"__error__": f"unreadable CSV row: {exc}"})
            line = reader.line_num
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if row == header:  # a repeated header (appending writers)
            continue
        rec: dict[str, Any] = dict(zip(header, row, strict=False))
        if len(row) != len(header):
            rec["__width__"] = (len(row), len(header))
        yield Record(start, rec)


# --- formats ------------------------------------------------------------------------


def detect_format(first: dict[str, Any]) -> str:
    keys = set(first)
    if {"platform", "post_id", "text"} <= keys:
        return "mention"
    if keys & {"note_id", "aweme_id"} or ("comment_id" in keys and "content" in keys):
        return "mediacrawler"
    if "正文" in keys or ({"weibo_id", "user_screen_name"} <= keys) or ("__user__" in keys):
        return "weibo-crawler"
    raise ImportError_(
        "unknown file format: expected yuqing's mention fields (platform, post_id, text), a "
        "MediaCrawler export (note_id / aweme_id / comment_id) or a weibo-crawler export (正文 / "
        f"weibo_id); the first record has {', '.join(sorted(map(str, keys))[:12])}"
    )


def mediacrawler_platform(path: Path, rec: dict[str, Any]) -> str | None:
    """MediaCrawler writes ``<data>/<platform>/<ext>/...``; the fields tell the rest."""
    for part in reversed(path.parts[:-1]):
        if part.lower() in _MC_PLATFORM:
            return _MC_PLATFORM[part.lower()]
    name = path.name.lower()
    for key, platform in _MC_PLATFORM.items():
        if name.startswith(key + "_"):
            return platform
    if "aweme_id" in rec:
        return "douyin"
    note = str(rec.get("note_id") or "")
    if _HEX24.match(note) or "desc" in rec or "xsec_token" in rec:
        return "xiaohongshu"
    if note.isdigit() or "m.weibo.cn" in str(rec.get("note_url") or ""):
        return "weibo"
    return None


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "None", "null") else text


def _count(value: Any) -> int:
    return parse_count(_s(value))


def _mc_time(value: Any, platform: str) -> datetime | None:
    if value in (None, ""):
        return None
    unit = "ms" if platform == "xiaohongshu" else "auto"
    try:
        return epoch_to_utc(int(float(str(value))), unit=unit)
    except (TypeError, ValueError):
        return parse_time(value)


def from_mediacrawler(rec: dict[str, Any], platform: str) -> MentionItem:
    comment = "comment_id" in rec and _s(rec.get("comment_id")) is not None
    author_id = _s(rec.get("user_id")) or _s(rec.get("creator_hash"))
    common: dict[str, Any] = {
        "platform": platform,
        "author_id": author_id,
        "author_name": _s(rec.get("nickname")),
        "ip_region": parse_region(rec.get("ip_location")),
        "keyword": _s(rec.get("source_keyword")),
    }
    if comment:
        parent = _s(rec.get("aweme_id")) if platform == "douyin" else _s(rec.get("note_id"))
        if not parent:
            raise ValueError("a comment without the post it belongs to (note_id / aweme_id)")
        return MentionItem(
            **common,
            post_id=_req(rec, "comment_id"),
            brand="",
            kind="comment",
            parent_post_id=parent,
            text=strip_html(rec.get("content") or ""),
            published_at=_mc_time(rec.get("create_time"), platform),
            likes=_count(rec.get("like_count", rec.get("comment_like_count"))),
            comments=_count(rec.get("sub_comment_count")),
        )
    if platform == "douyin":
        post_id, text, title = _req(rec, "aweme_id"), rec.get("desc") or rec.get("title") or "", None
        url, published = _s(rec.get("aweme_url")), _mc_time(rec.get("create_time"), platform)
        likes, comments, shares = rec.get("liked_count"), rec.get("comment_count"), rec.get("share_count")
    elif platform == "xiaohongshu":
        post_id, text, title = _req(rec, "note_id"), rec.get("desc") or "", _s(rec.get("title"))
        url = (_s(rec.get("note_url")) or "").split("?", 1)[0] or None
        published = _mc_time(rec.get("time"), platform)
        likes, comments, shares = rec.get("liked_count"), rec.get("comment_count"), rec.get("share_count")
    else:
        post_id, text, title = _req(rec, "note_id"), rec.get("content") or "", None
        url, published = _s(rec.get("note_url")), _mc_time(rec.get("create_time"), platform)
        likes, comments, shares = rec.get("liked_count"), rec.get("comments_count"), rec.get("shared_count")
    if title and title == str(text)[: len(title)]:
        title = None  # XHS fills a missing title with the start of the text
    return MentionItem(
        **common,
        post_id=post_id,
        brand="",
        text=strip_html(text),
        title=title,
        url=url,
        published_at=published,
        likes=_count(likes),
        comments=_count(comments),
        shares=_count(shares),
        collects=_count(rec.get("collected_count")),
    )


def _req(rec: dict[str, Any], key: str) -> str:
    raw = rec.get(key)
    if isinstance(raw, (dict, list, tuple, set)):  # an id is a string or a number, never a structure
        raise ValueError(f"{key} is not a string or a number")
    value = _s(raw)
    if not value:
        raise ValueError(f"missing {key}")
    return value


def _wc_time(value: Any) -> datetime | None:
    text = _s(value)
    if not text:
        return None
    for fmt in (
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
        "%a %b %d %H:%M:%S %z %Y",
    ):
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return dt if dt.tzinfo else dt.replace(tzinfo=CHINA_TZ)
    return parse_time(text)


def from_weibo_crawler(rec: dict[str, Any], author: dict[str, Any]) -> MentionItem:
    if "weibo_id" in rec:  # <name>_comments.csv
        return MentionItem(
            platform="weibo",
            post_id=_req(rec, "id"),
            brand="",
            kind="comment",
            parent_post_id=_req(rec, "weibo_id"),
            text=strip_html(rec.get("text") or ""),
            author_name=_s(rec.get("user_screen_name")),
            published_at=_wc_time(rec.get("created_at")),
            likes=_count(rec.get("like_count")),
        )
    user = rec.get("__user__") or author
    if "正文" in rec:  # the CSV
        if rec.get("__width__"):
            raise ValueError(
                "the row has {} values for {} columns (a file appended by two versions of "
                "weibo-crawler); fix or drop the row".format(*rec["__width__"])
            )
        post_id = _req(rec, "id")
        text, when = rec.get("正文") or "", _wc_time(rec.get("完整日期")) or _wc_time(rec.get("日期"))
        likes, comments, shares = rec.get("点赞数"), rec.get("评论数"), rec.get("转发数")
    else:  # the JSON
        post_id = _req(rec, "id")
        text, when = (
            rec.get("text") or "",
            _wc_time(rec.get("full_created_at")) or _wc_time(rec.get("created_at")),
        )
        likes, comments, shares = (
            rec.get("attitudes_count"),
            rec.get("comments_count"),
            rec.get("reposts_count"),
        )
    uid = _s(user.get("id") or user.get("用户id") or rec.get("user_id"))
    return MentionItem(
        platform="weibo",
        post_id=post_id,
        brand="",
        text=strip_html(text),
        url=f"https://m.weibo.cn/detail/{post_id}",
        author_id=uid,
        author_name=_s(user.get("screen_name") or user.get("昵称") or rec.get("screen_name")),
        author_followers=_count(user.get("followers_count") or user.get("粉丝数")),
        ip_region=parse_region(user.get("ip_location") or user.get("IP属地")),
        published_at=when,
        likes=_count(likes),
        comments=_count(comments),
        shares=_count(shares),
    )


def from_mention(rec: dict[str, Any]) -> MentionItem:
    platform = canonical_platform(_req(rec, "platform")) or ""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    published = rec.get("published_at")
    when = (
        (epoch_to_utc(published) if isinstance(published, int | float) else parse_time(published))
        if published not in (None, "")
        else None
    )
    if published not in (None, "") and when is None:
        raise ValueError(f"unreadable published_at {published!r}")
    return MentionItem(
        platform=platform,
        post_id=_req(rec, "post_id"),
        brand=_s(rec.get("brand")) or "",
        text=str(rec.get("text") or ""),
        kind=_s(rec.get("kind")) or "post",
        parent_post_id=_s(rec.get("parent_post_id")),
        keyword=_s(rec.get("keyword")),
        url=_s(rec.get("url")),
        title=_s(rec.get("title")),
        author_id=_s(rec.get("author_id")),
        author_name=_s(rec.get("author_name")),
        author_followers=_count(rec.get("author_followers") or rec.get("followers")),
        published_at=when,
        likes=_count(rec.get("likes")),
        comments=_count(rec.get("comments")),
        shares=_count(rec.get("shares")),
        collects=_count(rec.get("collects")),
        ip_region=_s(rec.get("ip_region")),
    )


def weibo_crawler_author(path: Path) -> dict[str, Any]:
    """The posts file's author: its ``users.csv`` row (the file is named ``<user_id>.csv``)."""
    uid = path.stem.strip()
    for candidate in (path.parent / "users.csv", path.parent.parent / "users.csv"):
        if candidate.is_file():
            for rec in _csv_records(candidate.read_text(encoding="utf-8-sig", errors="replace")):
                if _s(rec.data.get("用户id")) == uid:
                    return rec.data
    return {"用户id": uid} if uid.isdigit() else {}


# --- brands -------------------------------------------------------------------------


def brand_matcher(cfg: Any, forced: str | None) -> Callable[[MentionItem], str | None]:
    """The brand of a row: ``--brand``, the row's own, else the configured brand it mentions."""
    if forced:
        name = cfg.brand(forced).name
        return lambda _item: name
    # read in simplified characters, as the analyser reads them: "鮮果時光" names 鲜果时光
    words = [
        (to_simplified(w), b.name)
        for b in cfg.brands
        for w in [b.name, *(b.aliases or []), *(b.keywords or [])]
        if w
    ]
    words.sort(key=lambda p: -len(p[0]))
    known = {b.name for b in cfg.brands}
    by_simplified = {to_simplified(b.name): b.name for b in cfg.brands}

    def match(item: MentionItem) -> str | None:
        if item.brand:
            if item.brand in known:
                return item.brand
            name: str = by_simplified.get(to_simplified(item.brand)) or cfg.brand(item.brand).name
            return name
        hay = to_simplified(f"{item.title or ''}\n{item.text}")
        return next((name for w, name in words if w in hay), None)

    return match


# --- the import ---------------------------------------------------------------------


def convert(
    records: list[Record], fmt: str, path: Path, platform: str | None, report: ImportReport
) -> list[tuple[int, MentionItem, float]]:
    """(line, item, freshness) per readable record; the others go to ``report.bad``."""
    author = weibo_crawler_author(path) if fmt == "weibo-crawler" else {}
    out: list[tuple[int, MentionItem, float]] = []
    for rec in records:
        data = rec.data
        if "__error__" in data:
            report.bad.append((rec.line, str(data["__error__"])))
            continue
        try:
            if fmt == "mention":
                item = from_mention(data)
            elif fmt == "mediacrawler":
                plat = platform or mediacrawler_platform(path, data)
                if plat is None:
                    raise ValueError(
                        "cannot tell the platform (weibo / xiaohongshu / douyin): pass --platform"
                    )
                item = from_mediacrawler(data, plat)
            else:
                item = from_weibo_crawler(data, author)
        except (ValueError, TypeError, KeyError) as exc:
            report.bad.append((rec.line, str(exc) or type(exc).__name__))
            continue
        if platform and item.platform != platform:
            report.bad.append((rec.line, f"platform {item.platform!r} is not the --platform {platform!r}"))
            continue
        try:
            fresh = float(data.get("last_modify_ts") or 0)
        except (TypeError, ValueError):
            fresh = 0.0
        out.append((rec.line, item, fresh))
    return out


def _stored_brands(engine: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:

    found: dict[tuple[str, str], str] = {}
    by_platform: dict[str, list[str]] = {}
    for plat, pid in keys:
        by_platform.setdefault(plat, []).append(pid)
    with engine.connect() as conn:
        for plat, ids in by_platform.items():
            for start in range(0, len(ids), 500):
                stmt = select(MENTIONS.c.post_id, MENTIONS.c.brand).where(
                    MENTIONS.c.platform == plat, MENTIONS.c.post_id.in_(ids[start : start + 500])
                )
                found.update({(plat, r.post_id): r.brand for r in conn.execute(stmt)})
    return found


def import_file(
    path: Path,
    cfg: Any,
    engine: Any,
    *,
    fmt: str = "auto",
    platform: str | None = None,
    brand: str | None = None,
    alerts: bool = True,
    batch: int = 500,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import one file (see the module docstring); returns what happened, row by row for the bad ones."""

    if fmt not in FORMATS:
        raise ImportError_(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    records = list(read_records(path))
    report = ImportReport(path=str(path), format=fmt, platform=platform)
    if not records:
        return report
    if fmt == "auto":
        first = next((r.data for r in records if "__error__" not in r.data), None)
        if first is None:
            raise ImportError_(
                f"{path}: no readable record (first error, line {records[0].line}: "
                f"{records[0].data.get('__error__')})"
            )
        fmt = report.format = detect_format(first)
    report.rows = len(records)
    converted = convert(records, fmt, path, platform, report)

    # One row per (platform, post_id): the freshest copy (MediaCrawler reruns repeat posts).
    best: dict[tuple[str, str], tuple[int, MentionItem, float]] = {}
    for entry in converted:
        key = (entry[1].platform, entry[1].post_id)
        if key in best:
            report.duplicates += 1
            if entry[2] < best[key][2]:
                continue
        best[key] = entry
    entries = sorted(best.values(), key=lambda e: e[0])

    # Brands: --brand, the row's own, the brand the text names; a comment takes its post's.
    match = brand_matcher(cfg, brand)
    post_brand: dict[tuple[str, str], str] = {}
    for _, item, _ in entries:
        if item.kind != "comment":
            try:
                found = match(item)
            except YuqingError:
                found = None  # reported below, with its line
            if found:
                post_brand[(item.platform, item.post_id)] = found
    missing = {
        (i.platform, i.parent_post_id)
        for _, i, _ in entries
        if i.kind == "comment" and i.parent_post_id and (i.platform, i.parent_post_id) not in post_brand
    }
    if missing:
        post_brand.update(_stored_brands(engine, missing))
    ready: list[MentionItem] = []
    for line, item, _ in entries:
        try:
            if item.kind == "comment" and not brand and not item.brand:
                item.brand = post_brand.get((item.platform, item.parent_post_id or "")) or match(item) or ""
            else:
                item.brand = match(item) or ""
        except YuqingError as exc:
            report.bad.append((line, str(exc)))
            continue
        if not item.brand:
            report.bad.append(
                (line, "no configured brand is named in it, nor in its post (pass --brand NAME)")
            )
            continue
        try:
            normalize_item(item)
        except (ValueError, TypeError) as exc:
            report.bad.append((line, str(exc)))
            continue
        ready.append(item)
    report.bad.sort()
    if platform is None:
        plats = sorted({i.platform for i in ready})
        report.platform = ",".join(plats) or None

    triage = None
    if alerts:
        triage = triage_fn
    analyze_many = _analyzer(cfg)
    done = 0
    for start in range(0, len(ready), batch):
        chunk = ready[start : start + batch]
        analyses = analyze_many([_analysis_record(i) for i in chunk])
        for item, analysis in zip(chunk, analyses, strict=True):
            item.analysis = analysis.columns()
        rows = [item_row(i) for i in chunk]
        _store(engine, cfg, rows, triage, report)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(ready))
    return report


def _analysis_record(item: MentionItem) -> dict[str, Any]:
    text = f"{item.title}\n{item.text}" if item.title and item.title not in item.text else item.text
    return {
        "text": text,
        "platform": item.platform,
        "followers": item.author_followers,
        "likes": item.likes,
        "comments": item.comments,
        "shares": item.shares,
        "brand": item.brand,
    }


def _analyzer(cfg: Any) -> Callable[[list[dict[str, Any]]], list[Any]]:

    sentiment.configure(cfg)
    return sentiment.analyze_many


def _store(engine: Any, cfg: Any, rows: list[dict[str, Any]], triage: Any, report: ImportReport) -> None:

    with engine.begin() as conn:
        result = upsert_mentions(conn, rows, batch_size=len(rows))
        if triage is not None and result.rows:
            try:
                with conn.begin_nested():
                    counts = triage(conn, cfg, result.rows)
            except Exception:  # boundary: triage must never lose the imported mentions
                logger.exception(
                    "triage failed for {} imported mentions; they are stored, not triaged", len(rows)
                )
                counts = {"errors": 1}
            for key, value in (counts or {}).items():
                report.alerts[key] = report.alerts.get(key, 0) + int(value)
    report.stored += len(rows)
    report.new += result.new
    report.updated += result.updated
    report.unchanged += result.unchanged
