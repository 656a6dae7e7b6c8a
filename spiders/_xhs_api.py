"""Xiaohongshu web API: request builders, the envelope check and pure ``parse_*`` functions.

Everything here is pure (no Scrapy engine, no I/O), so it is unit-tested on the real
captures in ``tests/fixtures/xiaohongshu/`` (PLATFORMS.md §2). The spider in
``spiders/xiaohongshu.py`` signs and sends the requests and turns the results into items.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import quote

from crawler.errors import Blocked, ErrorKind, UnexpectedPayload
from crawler.items import MentionItem
from crawler.platform.faults import auth_error
from crawler.platform.normalize import epoch_to_utc, parse_count
from spiders._page import ITEM_ERRORS, ParsedPage

PLATFORM = "xiaohongshu"
WEB_URL = "https://www.xiaohongshu.com"
SEARCH_PATH = "/api/sns/web/v1/search/notes"
FEED_PATH = "/api/sns/web/v1/feed"
COMMENT_PATH = "/api/sns/web/v2/comment/page"
SUB_COMMENT_PATH = "/api/sns/web/v2/comment/sub/page"
SELFINFO_PATH = "/api/sns/web/v1/user/selfinfo"
IMAGE_FORMATS = "jpg,webp,avif"

# Business codes (PLATFORMS.md §2.5).
CODE_IP_BLOCKED = 300012
CODE_RATE_LIMITED = 300013
CODE_ACCOUNT_RESTRICTED = 300011
CODE_SIGNATURE = -1
CODE_LOGIN_EXPIRED = -100
CODE_NOT_LOGGED_IN = -101
NOTE_GONE_CODES = frozenset({-510000, -510001})
_SKIPPED_MODEL_TYPES = frozenset({"rec_query", "hot_query"})
_HEAVY_KEYS = frozenset({"video", "image_list", "cover"})
_TOPIC_RE = re.compile(r"#([^#\[\]\n]{1,40})\[话题\]#")


# --- request builders --------------------------------------------------------


def new_search_id(now_ms: int | None = None, rand: int | None = None) -> str:
    """``search_id``: base36 of ``(ms << 64) + rand(0..2^31)``; constant for all pages of a keyword."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 64) + (random.randint(0, 2**31 - 1) if rand is None else rand)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out or "0"


def search_body(
    keyword: str,
    page: int,
    search_id: str,
    *,
    sort: str = "time_descending",
    note_type: int = 0,
    page_size: int = 20,
) -> dict[str, Any]:
    """JSON body of ``POST /api/sns/web/v1/search/notes``."""
    return {
        "keyword": keyword,
        "page": page,
        "page_size": page_size,
        "search_id": search_id,
        "sort": sort,
        "note_type": note_type,
    }


def feed_body(note_id: str, xsec_token: str) -> dict[str, Any]:
    """JSON body of ``POST /api/sns/web/v1/feed`` (the note detail)."""
    return {
        "source_note_id": note_id,
        "image_formats": ["jpg", "webp", "avif"],
        "extra": {"need_body_topic": "1"},
        "xsec_source": "pc_search",
        "xsec_token": xsec_token,
    }


def comment_params(note_id: str, xsec_token: str, cursor: str = "") -> dict[str, str]:
    """Query parameters of ``GET /api/sns/web/v2/comment/page``, in the order they are signed."""
    return {
        "note_id": note_id,
        "cursor": cursor,
        "top_comment_id": "",
        "image_formats": IMAGE_FORMATS,
        "xsec_token": xsec_token,
    }


def sub_comment_params(
    note_id: str, root_comment_id: str, xsec_token: str, cursor: str = "", num: int = 10
) -> dict[str, str]:
    """Query parameters of ``GET /api/sns/web/v2/comment/sub/page``."""
    return {
        "note_id": note_id,
        "root_comment_id": root_comment_id,
        "num": str(num),
        "cursor": cursor,
        "image_formats": IMAGE_FORMATS,
        "top_comment_id": "",
        "xsec_token": xsec_token,
    }


def note_url(note_id: str, xsec_token: str, web_url: str = WEB_URL) -> str:
    return f"{web_url}/explore/{note_id}?xsec_token={quote(xsec_token, safe='')}&xsec_source=pc_search"


# --- envelope ------------------------------------------------------------------


def check_envelope(status: int, payload: Any, url: str) -> dict[str, Any]:
    """Return ``payload["data"]`` or raise the error the platform's answer means (PLATFORMS.md §2.5)."""
    code = payload.get("code") if isinstance(payload, dict) else None
    msg = str(payload.get("msg") or "") if isinstance(payload, dict) else ""
    if status in (461, 471):
        raise Blocked(
            f"HTTP {status}: captcha (Verifytype请通过验证)",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.CAPTCHA,
        )
    if status == 406 or code == CODE_SIGNATURE:
        raise Blocked(
            f"HTTP {status}: signature rejected (code {code}); the signer may be outdated",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.SIGNATURE_REJECTED,
        )
    if "登录已过期" in msg or code in (CODE_LOGIN_EXPIRED, CODE_NOT_LOGGED_IN) or status == 401:
        raise auth_error(PLATFORM, f"the session is not accepted (code {code}: {msg or status})", url)
    if code == CODE_ACCOUNT_RESTRICTED:
        raise auth_error(
            PLATFORM, f"the account is restricted (code {code}: {msg}); log in another account", url
        )
    if code == CODE_IP_BLOCKED or status == 403:
        raise Blocked(
            f"IP blocked (code {code}, HTTP {status}: {msg})",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.IP_BLOCKED,
        )
    if status == 429 or code == CODE_RATE_LIMITED:
        raise Blocked(
            f"rate limited (HTTP {status}, code {code}: {msg})",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.RATE_LIMITED,
        )
    if not isinstance(payload, dict):
        raise UnexpectedPayload(f"HTTP {status}: response is not a JSON object", platform=PLATFORM, url=url)
    if code != 0 or payload.get("success") is False:
        raise UnexpectedPayload(f"HTTP {status}: code {code} msg {msg!r}", platform=PLATFORM, url=url)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise UnexpectedPayload("missing field 'data'", platform=PLATFORM, url=url)
    return data


# --- parsing -------------------------------------------------------------------


@dataclass(slots=True)
class SearchHit:
    """One note of a search page: what the detail request needs, and the card as a fallback item."""

    note_id: str
    xsec_token: str
    card_item: MentionItem


@dataclass(slots=True)
class SearchPage(ParsedPage):
    """``items`` are the cards (for the incremental rules); ``cursor`` the next page number or None."""

    hits: list[SearchHit] = field(default_factory=list)
    skipped: int = 0


@dataclass(slots=True)
class CommentPage(ParsedPage):
    """``cursor``: the next page's cursor or None; ``more_replies``: (root id, sub cursor) to follow."""

    more_replies: list[tuple[str, str]] = field(default_factory=list)


def _require(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        raise UnexpectedPayload(f"missing field {where}.{key}", platform=PLATFORM)
    return obj[key]


def _str_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise UnexpectedPayload(f"bad id in {where}: {value!r}", platform=PLATFORM)
    return str(value).strip()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(payload: dict[str, Any], key: str) -> list[Any]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedPayload(f"data.{key} is not a list", platform=PLATFORM)
    return value


def clean_desc(desc: str) -> str:
    """Inline topics ``#话题[话题]#`` become ``#话题#``."""
    return _TOPIC_RE.sub(r"#\1#", desc)


def note_time(note_id: str) -> datetime | None:
    """A note id is an ObjectId: its first 4 bytes are the creation time (epoch seconds).

    Checked on the real captures: ``68f4e9bf`` is the detail's ``time`` 1760881087000, and
    ``6825bbe1`` is 2025-05-15, the search card's ``publish_time`` corner tag "05-15".
    """
    try:
        seconds = int(note_id[:8], 16)
    except ValueError:
        return None
    return epoch_to_utc(seconds, unit="s") if len(note_id) == 24 else None


def _user(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, dict):
        return None, None
    uid = raw.get("user_id")
    name = raw.get("nickname") or raw.get("nick_name")
    return (str(uid) if uid else None), (str(name) if name else None)


def _slim(card: dict[str, Any]) -> dict[str, Any]:
    """The card without media blobs (video streams, image variants) to keep ``raw`` small."""
    slim = {k: v for k, v in card.items() if k not in _HEAVY_KEYS}
    images = card.get("image_list")
    slim["image_count"] = len(images) if isinstance(images, list) else 0
    return slim


def parse_search_page(
    payload: dict[str, Any], *, brand: str, keyword: str, page: int = 1, web_url: str = WEB_URL
) -> SearchPage:
    """``data`` of ``/search/notes`` (fixture ``xhs_search_notes.json``) → hits + the next page.

    The card has no text body, exact time or IP location; the spider fetches the
    detail for those and falls back to the card when the detail is unavailable.
    """
    out = SearchPage()
    for raw in _list(payload, "items"):
        if isinstance(raw, dict) and raw.get("model_type", "note") in _SKIPPED_MODEL_TYPES:
            out.skipped += 1
            continue
        try:
            note_id = _str_id(_require(raw, "id", "items[]"), "items[].id")
            token = _text(raw.get("xsec_token"))
            card = _require(raw, "note_card", "items[]")
            if not isinstance(card, dict):
                raise UnexpectedPayload("items[].note_card is not an object", platform=PLATFORM)
            hit = SearchHit(note_id, token, _card_item(note_id, token, card, brand, keyword, web_url))
        except ITEM_ERRORS as exc:
            out.bad.append(f"search item {str(raw)[:80]!r}: {exc}")
            continue
        out.hits.append(hit)
        out.items.append(hit.card_item)
    if out.bad and not out.hits:
        raise UnexpectedPayload(f"no usable search item ({out.bad[0]})", platform=PLATFORM)
    out.cursor = page + 1 if payload.get("has_more") else None
    return out


def _card_item(
    note_id: str, token: str, card: dict[str, Any], brand: str, keyword: str, web_url: str
) -> MentionItem:
    interact = found if isinstance(found := card.get("interact_info"), dict) else {}
    uid, name = _user(card.get("user"))
    title = _text(card.get("display_title"))
    corner = [
        c.get("text")
        for c in card.get("corner_tag_info") or []
        if isinstance(c, dict) and c.get("type") == "publish_time"
    ]
    return MentionItem(
        platform=PLATFORM,
        post_id=note_id,
        brand=brand,
        text=title,
        title=title or None,
        keyword=keyword,
        url=note_url(note_id, token, web_url),
        author_id=uid,
        author_name=name,
        published_at=note_time(note_id),
        likes=parse_count(interact.get("liked_count")),
        comments=parse_count(interact.get("comment_count")),
        shares=parse_count(interact.get("shared_count")),
        collects=parse_count(interact.get("collected_count")),
        extra={
            "note_type": card.get("type"),
            "xsec_token": token,
            "detail": False,
            "publish_hint": corner[0] if corner else None,
        },
        raw={"note_card": _slim(card)},
    )


def parse_note_detail(
    payload: dict[str, Any], *, brand: str, keyword: str | None, xsec_token: str, web_url: str = WEB_URL
) -> MentionItem | None:
    """``data`` of ``/feed`` (fixture ``xhs_feed_note_detail.json``) → the full note, or None when empty.

    ``items`` comes back empty when the platform throttles detail requests.
    """
    items = _list(payload, "items")
    if not items:
        return None
    if not isinstance(items[0], dict):
        raise UnexpectedPayload("data.items[0] is not an object", platform=PLATFORM)
    card = _require(items[0], "note_card", "items[0]")
    if not isinstance(card, dict):
        raise UnexpectedPayload("data.items[0].note_card is not an object", platform=PLATFORM)
    note_id = _str_id(card.get("note_id") or items[0].get("id"), "note_card.note_id")
    interact = found if isinstance(found := card.get("interact_info"), dict) else {}
    uid, name = _user(card.get("user"))
    title = _text(card.get("title")).strip()
    desc = clean_desc(_text(card.get("desc"))).strip()
    topics = [t.get("name") for t in card.get("tag_list") or [] if isinstance(t, dict) and t.get("name")]
    return MentionItem(
        platform=PLATFORM,
        post_id=note_id,
        brand=brand,
        text=desc or title,
        title=title or None,
        keyword=keyword,
        url=note_url(note_id, xsec_token, web_url),
        author_id=uid,
        author_name=name,
        published_at=epoch_to_utc(card.get("time"), unit="ms") or note_time(note_id),
        likes=parse_count(interact.get("liked_count")),
        comments=parse_count(interact.get("comment_count")),
        shares=parse_count(interact.get("share_count")),
        collects=parse_count(interact.get("collected_count")),
        ip_region=_text(card.get("ip_location")) or None,
        extra={
            "note_type": card.get("type"),
            "xsec_token": xsec_token,
            "detail": True,
            "topics": topics,
            "last_update_time": card.get("last_update_time"),
        },
        raw={"note_card": _slim(card)},
    )


class _CommentContext(TypedDict):
    """What every comment item of one note shares (the keyword arguments of :func:`_comment_item`)."""

    brand: str
    note_id: str
    keyword: str | None
    web_url: str
    xsec_token: str


def _comment_item(
    raw: Any, *, brand: str, note_id: str, keyword: str | None, web_url: str, xsec_token: str
) -> MentionItem:
    cid = _str_id(_require(raw, "id", "comments[]"), "comments[].id")
    uid, name = _user(raw.get("user_info"))
    target = raw.get("target_comment") if isinstance(raw.get("target_comment"), dict) else {}
    return MentionItem(
        platform=PLATFORM,
        post_id=cid,
        brand=brand,
        kind="comment",
        parent_post_id=note_id,
        text=_text(raw.get("content")),
        keyword=keyword,
        url=note_url(note_id, xsec_token, web_url),
        author_id=uid,
        author_name=name,
        published_at=epoch_to_utc(raw.get("create_time"), unit="ms"),
        likes=parse_count(raw.get("like_count")),
        comments=parse_count(raw.get("sub_comment_count")),
        ip_region=_text(raw.get("ip_location")) or None,
        extra={"reply_to": target.get("id"), "show_tags": raw.get("show_tags") or []},
        raw={k: v for k, v in raw.items() if k not in ("sub_comments", "user_info")},
    )


def parse_comment_page(
    payload: dict[str, Any],
    *,
    brand: str,
    note_id: str,
    keyword: str | None = None,
    xsec_token: str = "",
    web_url: str = WEB_URL,
) -> CommentPage:
    """``data`` of ``/comment/page`` (fixture ``xhs_comment_page.json``): comments and their inline replies."""
    out = CommentPage()
    kw: _CommentContext = {
        "brand": brand,
        "note_id": note_id,
        "keyword": keyword,
        "web_url": web_url,
        "xsec_token": xsec_token,
    }
    for raw in _list(payload, "comments"):
        try:
            top = _comment_item(raw, **kw)
        except ITEM_ERRORS as exc:
            out.bad.append(f"comment {str(raw)[:80]!r}: {exc}")
            continue
        out.items.append(top)
        for sub in raw.get("sub_comments") or []:
            try:
                out.items.append(_comment_item(sub, **kw))
            except ITEM_ERRORS as exc:
                out.bad.append(f"reply {str(sub)[:80]!r}: {exc}")
        if raw.get("sub_comment_has_more"):
            out.more_replies.append((top.post_id, _text(raw.get("sub_comment_cursor"))))
    if out.bad and not out.items:
        raise UnexpectedPayload(f"no usable comment ({out.bad[0]})", platform=PLATFORM)
    cursor = _text(payload.get("cursor"))
    out.cursor = cursor if payload.get("has_more") and cursor else None
    return out


def parse_sub_comment_page(
    payload: dict[str, Any],
    *,
    brand: str,
    note_id: str,
    keyword: str | None = None,
    xsec_token: str = "",
    web_url: str = WEB_URL,
) -> CommentPage:
    """``data`` of ``/comment/sub/page`` (fixture ``xhs_comment_sub_page.json``)."""
    return parse_comment_page(
        payload, brand=brand, note_id=note_id, keyword=keyword, xsec_token=xsec_token, web_url=web_url
    )


def parse_selfinfo(payload: Any) -> bool:
    """Whether ``/user/selfinfo`` says the session is logged in (``data.result.success``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        return False
    result = payload["data"].get("result")
    return bool(isinstance(result, dict) and result.get("success")) and payload.get("code") == 0
