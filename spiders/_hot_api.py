"""Hot lists and reposts (PLATFORMS.md §4b): request paths and pure ``parse_*`` functions.

* Weibo hot search (PC) ``/ajax/side/hotSearch`` → ``data.realtime[]``: ``word``, ``num`` (heat),
  ``rank`` (0-based) / ``realpos`` (1-based), ``label_name`` (新 热 沸 爆 商), ``icon_desc`` (荐 =
  paid), ``is_ad``. A topic's search link is ``https://s.weibo.com/weibo?q=%23{word}%23``.
* Douyin hot list ``/aweme/v1/web/hot/search/list/`` → ``data.word_list[]``: ``word``, ``hot_value``,
  ``position`` (1-based), ``label`` (int: 1 新, 3 热, 8 独家).
* Weibo repost timeline ``/api/statuses/repostTimeline?id={mid}&page={n}`` → ``data.data[]`` reposts
  (``text`` with the ``//<a>@name</a>:`` chain, ``raw_text``, ``user``), ``data.total_number``,
  ``data.max`` (pages). The first ``//@name:`` of a repost names the repost it was made from.

The parsers are tolerant: a line without a word is skipped and counted, unknown labels are kept
as text, missing heat is 0. Recorded bodies: ``tests/crawler/service/crisis/fixtures/``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from crawler.errors import ErrorKind
from crawler.platform.faults import auth_error, make_error, require
from crawler.platform.normalize import as_text, parse_count, parse_time, strip_html
from spiders import _weibo_api as weibo_api

WEIBO_HOT_PATH = "/ajax/side/hotSearch"
DOUYIN_HOT_PATH = "/aweme/v1/web/hot/search/list/"
DOUYIN_HOT_PARAMS = {
    "device_platform": "webapp",
    "aid": "6383",
    "channel": "channel_pc_web",
    "detail_list": "1",
}
REPOST_PATH = "/api/statuses/repostTimeline"
DOUYIN_LABELS = {1: "新", 3: "热", 8: "独家"}
HOT_LABELS = ("沸", "爆")  # a brand topic gaining one of these is an alert update
_CHAIN_RE = re.compile(r"//\s*@([^:：\s/]{1,40})\s*[:：]")


@dataclass(slots=True)
class HotItem:
    """One line of a hot list."""

    platform: str
    word: str
    rank: int  # 1-based position as shown (ads take positions)
    heat: int = 0
    label: str | None = None
    is_ad: bool = False
    search_url: str = ""


@dataclass(slots=True)
class HotPage:
    items: list[HotItem]
    bad: list[str]


def weibo_search_url(word: str) -> str:
    return f"https://s.weibo.com/weibo?q={quote('#' + word + '#', safe='')}"


def douyin_search_url(word: str) -> str:
    return f"https://www.douyin.com/search/{quote(word, safe='')}?type=general"


def _clean_word(value: Any) -> str:
    word = strip_html(as_text(value, 400) or "").strip().strip("#").strip()
    return " ".join(word.split())[:200]


def parse_weibo_hot(payload: Any, *, url: str | None = None) -> HotPage:
    """``/ajax/side/hotSearch`` → the realtime list (the pinned government topic is left out)."""
    data = weibo_api.check_envelope(payload, url=url, allow_empty=False)
    realtime = require(data, "realtime", platform="weibo", where="data", url=url)
    if not isinstance(realtime, list):
        raise make_error(ErrorKind.BAD_PAYLOAD, "data.realtime is not a list", platform="weibo", url=url)
    page = HotPage([], [])
    for i, entry in enumerate(realtime):
        if not isinstance(entry, dict):
            page.bad.append(f"line {i}: {type(entry).__name__}")
            continue
        word = _clean_word(entry.get("word") or entry.get("note"))
        if not word:
            page.bad.append(f"line {i}: no word")
            continue
        pos = parse_count(entry.get("realpos"))
        if not pos:
            rank = entry.get("rank")
            pos = parse_count(rank) + 1 if rank is not None else i + 1
        label = as_text(entry.get("label_name"), 16) or None
        ad = bool(parse_count(entry.get("is_ad"))) or entry.get("icon_desc") == "荐" or label == "商"
        page.items.append(
            HotItem("weibo", word, pos, parse_count(entry.get("num")), label, ad, weibo_search_url(word))
        )
    return page


def parse_douyin_hot(payload: Any, *, url: str | None = None) -> HotPage:
    """The Douyin hot list → ``word_list`` lines (``trending_list`` repeats some of them and is left out)."""
    if not isinstance(payload, dict):
        raise make_error(ErrorKind.BAD_PAYLOAD, "response is not an object", platform="douyin", url=url)
    code = payload.get("status_code")
    if code not in (0, "0"):
        if code in (8, "8"):
            raise auth_error(
                "douyin", f"hot list refused the session ({payload.get('status_msg') or code})", url
            )
        raise make_error(
            ErrorKind.BAD_PAYLOAD,
            f"status_code={code!r} {payload.get('status_msg') or ''}".strip(),
            platform="douyin",
            url=url,
        )
    data = require(payload, "data", platform="douyin", where="response", url=url)
    words = require(data, "word_list", platform="douyin", where="data", url=url)
    if not isinstance(words, list):
        raise make_error(ErrorKind.BAD_PAYLOAD, "data.word_list is not a list", platform="douyin", url=url)
    page = HotPage([], [])
    for i, entry in enumerate(words):
        if not isinstance(entry, dict):
            page.bad.append(f"line {i}: {type(entry).__name__}")
            continue
        word = _clean_word(entry.get("word"))
        if not word:
            page.bad.append(f"line {i}: no word")
            continue
        code = parse_count(entry.get("label"))
        label = DOUYIN_LABELS.get(code, str(code)) if code else None
        page.items.append(
            HotItem(
                "douyin",
                word,
                parse_count(entry.get("position")) or i + 1,
                parse_count(entry.get("hot_value")),
                label,
                bool(entry.get("is_ad")),
                douyin_search_url(word),
            )
        )
    return page


@dataclass(slots=True)
class RepostRow:
    repost_id: str
    parent_name: str | None  # the first //@name of the chain; None: made from the post itself
    author_id: str | None
    author_name: str | None
    followers: int
    verified: bool
    published_at: datetime | None
    text: str


@dataclass(slots=True)
class RepostPage:
    rows: list[RepostRow]
    total: int
    pages: int
    bad: list[str]


def chain_parent(text: str) -> str | None:
    """The name in the first ``//@name:`` of a repost's plain text (the repost it was made from)."""
    m = _CHAIN_RE.search(text or "")
    return m.group(1) if m else None


def repost_plain_text(entry: dict[str, Any]) -> str:
    """The plain text of a repost: ``raw_text`` when given, else its HTML ``text`` stripped (links keep @name)."""
    raw = entry.get("raw_text") or entry.get("text_raw")
    if isinstance(raw, str) and raw:
        return html.unescape(raw)
    return strip_html(entry.get("text"))


def parse_repost_page(payload: Any, *, url: str | None = None, now: Any = None) -> RepostPage:
    """``repostTimeline`` → reposts newest first; an empty timeline (ok 0 还没有人转发) is no error."""
    if (
        isinstance(payload, dict)
        and payload.get("ok") in (0, "0")
        and "转发" in str(payload.get("msg") or "")
    ):
        return RepostPage([], 0, 0, [])
    data = weibo_api.check_envelope(payload, url=url)
    entries = data.get("data")
    if entries is None and data:
        require(data, "data", platform="weibo", where="data", url=url)
    page = RepostPage([], parse_count(data.get("total_number")), parse_count(data.get("max")), [])
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            page.bad.append(f"repost {i}: {type(entry).__name__}")
            continue
        rid = as_text(entry.get("id"), 64) or as_text(entry.get("mid"), 64)
        if not rid:
            page.bad.append(f"repost {i}: no id")
            continue
        text = repost_plain_text(entry)
        user = found if isinstance(found := entry.get("user"), dict) else {}
        page.rows.append(
            RepostRow(
                rid,
                chain_parent(text),
                as_text(user.get("id"), 64),
                as_text(user.get("screen_name"), 128),
                parse_count(user.get("followers_count")),
                user.get("verified") is True,
                parse_time(entry.get("created_at"), now=now),
                text[:2000],
            )
        )
    return page
