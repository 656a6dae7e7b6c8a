"""Douyin web API: common parameters, the response check and pure ``parse_*`` functions.

Pure and engine-free (PLATFORMS.md §3). The spider in ``spiders/douyin.py`` gets the
responses either from a real browser page that signs its own requests (default) or
from direct requests signed by a pluggable ``a_bogus`` signer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from crawler.errors import Blocked, ErrorKind, ServerError, UnexpectedPayload
from crawler.items import MentionItem
from crawler.platform.faults import auth_error
from crawler.platform.normalize import epoch_to_utc, parse_count
from spiders._page import ITEM_ERRORS, ParsedPage

PLATFORM = "douyin"
WEB_URL = "https://www.douyin.com"
SEARCH_PATH = "/aweme/v1/web/general/search/single/"
COMMENT_PATH = "/aweme/v1/web/comment/list/"
REPLY_PATH = "/aweme/v1/web/comment/list/reply/"
CAPTCHA_TITLE = "验证码中间页"
STATUS_NOT_LOGGED_IN = 8
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36"
)

# Appended to every web API call (PLATFORMS.md §3).
COMMON_PARAMS: dict[str, str] = {
    "device_platform": "webapp",
    "aid": "6383",
    "channel": "channel_pc_web",
    "pc_client_type": "1",
    "version_code": "190600",
    "version_name": "19.6.0",
    "update_version_code": "170400",
    "cookie_enabled": "true",
    "browser_language": "zh-CN",
    "browser_platform": "MacIntel",
    "browser_name": "Chrome",
    "browser_version": "125.0.0.0",
    "browser_online": "true",
    "engine_name": "Blink",
    "engine_version": "109.0",
    "os_name": "Mac OS",
    "os_version": "10.15.7",
    "platform": "PC",
    "cpu_core_num": "8",
    "device_memory": "8",
    "screen_width": "2560",
    "screen_height": "1440",
    "effective_type": "4g",
    "round_trip_time": "50",
}


def new_web_id() -> str:
    """A 19-digit ``webid``."""
    return str(random.randint(10**18, 10**19 - 1))


def search_params(
    keyword: str, offset: int, search_id: str = "", *, count: int = 15, web_id: str = "", ms_token: str = ""
) -> dict[str, str]:
    """Query of the general search (``offset``, ``search_id`` = the previous page's ``extra.logid``)."""
    params = {
        "search_channel": "aweme_general",
        "enable_history": "1",
        "keyword": keyword,
        "search_source": "tab_search",
        "query_correct_type": "1",
        "is_filter_search": "0",
        "from_group_id": "",
        "offset": str(offset),
        "count": str(count),
        "need_filter_settings": "1",
        "list_type": "multi",
        "search_id": search_id,
    }
    return {**params, **COMMON_PARAMS, "webid": web_id, "msToken": ms_token}


def comment_params(
    aweme_id: str, cursor: int = 0, *, count: int = 20, web_id: str = "", ms_token: str = ""
) -> dict[str, str]:
    """Query of ``/aweme/v1/web/comment/list/``."""
    params = {"aweme_id": aweme_id, "cursor": str(cursor), "count": str(count), "item_type": "0"}
    return {**params, **COMMON_PARAMS, "webid": web_id, "msToken": ms_token}


def reply_params(
    aweme_id: str, comment_id: str, cursor: int = 0, *, count: int = 20, web_id: str = "", ms_token: str = ""
) -> dict[str, str]:
    """Query of ``/aweme/v1/web/comment/list/reply/`` (the replies under one comment)."""
    params = {
        "item_id": aweme_id,
        "comment_id": comment_id,
        "cursor": str(cursor),
        "count": str(count),
        "item_type": "0",
    }
    return {**params, **COMMON_PARAMS, "webid": web_id, "msToken": ms_token}


def video_url(aweme_id: str, aweme_type: Any = 0, web_url: str = WEB_URL) -> str:
    kind = "note" if aweme_type in (68, "68") else "video"
    return f"{web_url}/{kind}/{aweme_id}"


# --- response check --------------------------------------------------------------


def check_response(status: int, body: bytes | str, url: str, *, first_page: bool = False) -> dict[str, Any]:
    """Decode one API answer or raise what it means (PLATFORMS.md §3.5).

    Empty body → signature rejected (a stale ``a_bogus`` gets 200 + nothing); the
    captcha middle page → captcha; ``blocked`` → IP blocked; ``status_code`` 8 →
    the session is gone; an empty first search page → risk control (rate limited).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if status == 429:
        raise Blocked("HTTP 429", platform=PLATFORM, url=url, kind=ErrorKind.RATE_LIMITED)
    if status >= 500:
        raise ServerError(f"HTTP {status}", platform=PLATFORM, url=url)
    stripped = text.strip()
    if not stripped:
        raise Blocked(
            f"HTTP {status} with an empty body: a_bogus signature rejected",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.SIGNATURE_REJECTED,
        )
    if CAPTCHA_TITLE in stripped[:4000] or "captcha-verify-image" in stripped[:4000]:
        raise Blocked(
            "captcha middle page (验证码中间页)", platform=PLATFORM, url=url, kind=ErrorKind.CAPTCHA
        )
    if stripped.lower() == "blocked":
        raise Blocked("account or IP blocked", platform=PLATFORM, url=url, kind=ErrorKind.IP_BLOCKED)
    if status == 403:
        raise Blocked("HTTP 403", platform=PLATFORM, url=url, kind=ErrorKind.IP_BLOCKED)
    try:
        payload = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise UnexpectedPayload(
            f"HTTP {status}: malformed JSON ({exc.msg} at {exc.pos})", platform=PLATFORM, url=url
        ) from exc
    return check_payload(payload, url, first_page=first_page)


def check_payload(payload: Any, url: str, *, first_page: bool = False) -> dict[str, Any]:
    """The JSON-level half of :func:`check_response`."""
    if not isinstance(payload, dict):
        raise UnexpectedPayload("response is not a JSON object", platform=PLATFORM, url=url)
    code = payload.get("status_code")
    if code == STATUS_NOT_LOGGED_IN:
        raise auth_error(PLATFORM, f"status_code 8: {payload.get('status_msg') or '用户未登录'}", url)
    if code != 0:
        raise UnexpectedPayload(
            f"status_code {code!r}: {payload.get('status_msg')!r}", platform=PLATFORM, url=url
        )
    if first_page and "data" in payload and not payload.get("data"):
        raise Blocked(
            "search returned an empty first page (risk control, 风控)",
            platform=PLATFORM,
            url=url,
            kind=ErrorKind.RATE_LIMITED,
        )
    return payload


# --- parsing -----------------------------------------------------------------------


@dataclass(slots=True)
class SearchPage(ParsedPage):
    """``cursor``: the next ``offset`` or None at the end; ``search_id``: the ``extra.logid`` to send."""

    search_id: str = ""
    skipped: int = 0


@dataclass(slots=True)
class CommentPage(ParsedPage):
    """``cursor``: the next comment cursor or None at the end."""

    total: int = 0


def _require(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict) or obj.get(key) is None:
        raise UnexpectedPayload(f"missing field {where}.{key}", platform=PLATFORM)
    return obj[key]


def _id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise UnexpectedPayload(f"bad id in {where}: {value!r}", platform=PLATFORM)
    return str(value).strip()


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return parse_count(value)


def aweme_item(
    info: dict[str, Any], *, brand: str, keyword: str | None, web_url: str = WEB_URL
) -> MentionItem:
    """One ``aweme_info`` (search) or ``aweme_detail`` → a post mention."""
    aweme_id = _id(_require(info, "aweme_id", "aweme_info"), "aweme_info.aweme_id")
    author = _dict(info.get("author"))
    stats = _dict(info.get("statistics"))
    verified = bool(_s(author.get("custom_verify")) or _s(author.get("enterprise_verify_reason")))
    return MentionItem(
        platform=PLATFORM,
        post_id=aweme_id,
        brand=brand,
        text=_s(info.get("desc")).strip(),
        keyword=keyword,
        url=video_url(aweme_id, info.get("aweme_type"), web_url),
        author_id=_s(str(author.get("uid") or "")) or None,
        author_name=_s(author.get("nickname")) or None,
        author_followers=_int(author.get("follower_count")),
        author_verified=verified,
        published_at=epoch_to_utc(info.get("create_time"), unit="s"),
        likes=_int(stats.get("digg_count")),
        comments=_int(stats.get("comment_count")),
        shares=_int(stats.get("share_count")),
        collects=_int(stats.get("collect_count")),
        ip_region=_s(info.get("ip_label")) or None,
        extra={
            "aweme_type": info.get("aweme_type"),
            "sec_uid": author.get("sec_uid"),
            "hashtags": [
                t.get("hashtag_name")
                for t in info.get("text_extra") or []
                if isinstance(t, dict) and t.get("hashtag_name")
            ],
        },
        raw={k: v for k, v in info.items() if k not in ("video", "images", "music")},
    )


def _entries(payload: dict[str, Any], key: str) -> list[Any]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedPayload(f"{key} is not a list", platform=PLATFORM)
    return value


def parse_search_page(
    payload: dict[str, Any], *, brand: str, keyword: str | None, web_url: str = WEB_URL
) -> SearchPage:
    """A general-search answer → posts (``aweme_info`` and every ``aweme_mix_info.mix_items[]``) + paging."""
    out = SearchPage(search_id=_s(_dict(payload.get("extra")).get("logid")))
    for entry in _entries(payload, "data"):
        infos: list[Any] = []
        if isinstance(entry, dict) and isinstance(entry.get("aweme_info"), dict):
            infos = [entry["aweme_info"]]
        elif isinstance(entry, dict) and isinstance(entry.get("aweme_mix_info"), dict):
            infos = list(entry["aweme_mix_info"].get("mix_items") or [])
        if not infos:
            out.skipped += 1  # user cards, live rooms, hot lists: not posts
        for info in infos:
            try:
                if not isinstance(info, dict):
                    raise UnexpectedPayload("aweme item is not an object", platform=PLATFORM)
                out.items.append(aweme_item(info, brand=brand, keyword=keyword, web_url=web_url))
            except ITEM_ERRORS as exc:
                out.bad.append(f"aweme {str(info)[:80]!r}: {exc}")
    if out.bad and not out.items:
        raise UnexpectedPayload(f"no usable search entry ({out.bad[0]})", platform=PLATFORM)
    out.cursor = _int(payload.get("cursor")) if payload.get("has_more") else None
    return out


def _comment_item(raw: Any, *, brand: str, aweme_id: str, keyword: str | None, web_url: str) -> MentionItem:
    if not isinstance(raw, dict):
        raise UnexpectedPayload("comments[] is not an object", platform=PLATFORM)
    cid = _id(_require(raw, "cid", "comments[]"), "comments[].cid")
    user = _dict(raw.get("user"))
    reply_id = _s(str(raw.get("reply_id") or "0"))
    return MentionItem(
        platform=PLATFORM,
        post_id=cid,
        brand=brand,
        kind="comment",
        parent_post_id=_s(str(raw.get("aweme_id") or "")) or aweme_id,
        text=_s(raw.get("text")).strip(),
        keyword=keyword,
        url=video_url(aweme_id, web_url=web_url),
        author_id=_s(str(user.get("uid") or "")) or None,
        author_name=_s(user.get("nickname")) or None,
        published_at=epoch_to_utc(raw.get("create_time"), unit="s"),
        likes=_int(raw.get("digg_count")),
        comments=_int(raw.get("reply_comment_total")),
        ip_region=_s(raw.get("ip_label")) or None,
        extra={"reply_to": reply_id if reply_id != "0" else None, "is_hot": bool(raw.get("is_hot"))},
        raw={k: v for k, v in raw.items() if k not in ("user", "image_list")},
    )


def parse_comment_page(
    payload: dict[str, Any], *, brand: str, aweme_id: str, keyword: str | None = None, web_url: str = WEB_URL
) -> CommentPage:
    """``/comment/list/`` (or ``/reply/``) → comment mentions linked to their video + cursor."""
    out = CommentPage(total=_int(payload.get("total")))
    for raw in _entries(payload, "comments"):
        try:
            out.items.append(
                _comment_item(raw, brand=brand, aweme_id=aweme_id, keyword=keyword, web_url=web_url)
            )
        except ITEM_ERRORS as exc:
            out.bad.append(f"comment {str(raw)[:80]!r}: {exc}")
    if out.bad and not out.items:
        raise UnexpectedPayload(f"no usable comment ({out.bad[0]})", platform=PLATFORM)
    out.cursor = _int(payload.get("cursor")) if payload.get("has_more") else None
    return out


def logged_in(cookies: dict[str, str], local_storage: dict[str, str] | None = None) -> bool:
    """Douyin's login markers: ``LOGIN_STATUS=1`` / ``sessionid`` cookies or localStorage ``HasUserLogin``."""
    if cookies.get("LOGIN_STATUS") == "1" or (cookies.get("sessionid") and cookies.get("sid_guard")):
        return True
    return bool(local_storage and local_storage.get("HasUserLogin") == "1")
