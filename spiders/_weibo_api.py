"""m.weibo.cn API: request parameters, the envelope check and pure ``parse_*`` functions.

PLATFORMS.md §1. Search is ``/api/container/getIndex`` with ``containerid=100103type=T&q=K``
(T = 1 综合, 61 实时 ...), ``page_type=searchall`` and ``page=N``; posts are cards with
``card_type`` 9 (``mblog``), and type-11 cards nest more cards in ``card_group``. A
truncated post (``isLongText``) gets its full text from ``/detail/{mid}`` (the HTML page's
``$render_data``) or ``/statuses/extend``. Comments come from ``/comments/hotflow`` paged
by ``max_id`` (0 = the end). Fixture: tests/fixtures/weibo/m_weibo_cn_getIndex_cards_excerpt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crawler.errors import ErrorKind
from crawler.items import MentionItem
from crawler.platform.faults import auth_error, make_error, require
from crawler.platform.normalize import as_text, parse_count, parse_region, parse_time, strip_html
from spiders._page import ITEM_ERRORS, ParsedPage

PLATFORM = "weibo"
WEB_URL = "https://m.weibo.cn"
SEARCH_PATH = "/api/container/getIndex"
HOTFLOW_PATH = "/comments/hotflow"
EXTEND_PATH = "/statuses/extend"
CONFIG_PATH = "/api/config"
# Weibo-specific statuses: 432 is the anti-bot / dead-cookie answer of m.weibo.cn.
STATUSES: dict[int, ErrorKind] = {432: ErrorKind.AUTH_EXPIRED}

_EMPTY_MSGS = ("这里还没有内容", "没有更多", "暂无", "不存在", "已被删除")
_RATE_MSGS = ("频繁", "稍后再试", "请求过多", "访问太快")
_LOGIN_MSGS = ("登录", "login", "登陆")
_CAPTCHA_MSGS = ("验证码", "安全验证")
_FULLTEXT_TAIL = re.compile(r"\s*(?:\.\.\.|…)?\s*全文\s*$")
_RENDER_DATA = re.compile(r"\$render_data\s*=\s*(\[.*?\])\s*\[0\]", re.S)


def search_params(keyword: str, page: int, search_type: int = 1) -> dict[str, str]:
    """Query of one search page (``containerid`` carries the type and keyword)."""
    params = {"containerid": f"100103type={search_type}&q={keyword}", "page_type": "searchall"}
    if page > 1:
        params["page"] = str(page)
    return params


def comment_params(mid: str, max_id: int | None = None, max_id_type: int = 0) -> dict[str, str]:
    params = {"id": mid, "mid": mid, "max_id_type": str(max_id_type)}
    if max_id:
        params["max_id"] = str(max_id)
    return params


def detail_url(mid: str) -> str:
    return f"{WEB_URL}/detail/{mid}"


def check_envelope(payload: Any, *, url: str | None = None, allow_empty: bool = True) -> dict[str, Any]:
    """``{"ok": 1, "data": {...}}`` → data; otherwise the matching error.

    ``ok: 0`` with 频繁 is rate limiting, with 登录 (or ``ok: -100``) a dead session;
    ``ok: 0`` with "这里还没有内容" (or no message, as hotflow answers a post without
    comments) is an empty result when ``allow_empty``.
    """
    if not isinstance(payload, dict):
        raise make_error(
            ErrorKind.BAD_PAYLOAD,
            f"response is {type(payload).__name__}, expected an object",
            platform=PLATFORM,
            url=url,
        )
    ok = payload.get("ok")
    msg = str(payload.get("msg") or "")
    if ok == 1 or ok == "1":
        data = require(payload, "data", platform=PLATFORM, where="response", url=url)
        if not isinstance(data, dict):
            raise make_error(ErrorKind.BAD_PAYLOAD, "field data is not an object", platform=PLATFORM, url=url)
        return data
    if ok == -100 or any(m in msg.lower() for m in _LOGIN_MSGS):
        raise auth_error(PLATFORM, f"not logged in ({msg or 'ok=-100'})", url)
    if any(m in msg for m in _RATE_MSGS):
        raise make_error(ErrorKind.RATE_LIMITED, msg, platform=PLATFORM, url=url)
    if any(m in msg for m in _CAPTCHA_MSGS):
        raise make_error(ErrorKind.CAPTCHA, msg, platform=PLATFORM, url=url)
    if ok in (0, "0") and allow_empty and (not msg or any(m in msg for m in _EMPTY_MSGS)):
        data = payload.get("data")
        return data if isinstance(data, dict) else {}
    if "ok" not in payload:
        raise make_error(ErrorKind.BAD_PAYLOAD, "missing field response.ok", platform=PLATFORM, url=url)
    raise make_error(ErrorKind.BAD_PAYLOAD, f"ok={ok!r} {msg}".strip(), platform=PLATFORM, url=url)


def check_login(payload: Any, *, url: str | None = None) -> bool:
    """``/api/config``: True when ``data.login`` is true."""
    data = check_envelope(payload, url=url, allow_empty=False)
    login = data.get("login")
    if not isinstance(login, bool | int) or login not in (True, False, 0, 1):
        # a changed schema is the parser's problem, not the session's: no login field is no "logged out"
        raise make_error(
            ErrorKind.BAD_PAYLOAD,
            f"/api/config: field data.login missing or not a boolean ({type(login).__name__})",
            platform=PLATFORM,
            url=url,
        )
    return bool(login)


def iter_mblogs(cards: Any) -> list[Any]:
    """Flatten search cards: type 9 carries ``mblog``; ``card_group`` nests more cards."""
    out: list[Any] = []
    if not isinstance(cards, list):
        return out
    for card in cards:
        if not isinstance(card, dict):
            continue
        if card.get("card_type") in (9, "9") or "mblog" in card:
            out.append(card.get("mblog"))
        group = card.get("card_group")
        if isinstance(group, list):
            out.extend(iter_mblogs(group))
    return out


def _user_fields(user: Any) -> dict[str, Any]:
    if not isinstance(user, dict):
        return {}
    return {
        "author_id": as_text(user.get("id"), 64),
        "author_name": as_text(user.get("screen_name"), 128),
        "author_followers": parse_count(user.get("followers_count")),
        "author_verified": user.get("verified") is True,
    }


def _post_text(mblog: dict[str, Any]) -> tuple[str, bool]:
    truncated = mblog.get("isLongText") is True
    text = strip_html(mblog.get("text"))
    if not text and isinstance(mblog.get("raw_text"), str):
        text = strip_html(mblog["raw_text"])
    if truncated:
        text = _FULLTEXT_TAIL.sub("", text)
    return text, truncated


def parse_mblog(mblog: Any, *, brand: str, keyword: str | None, now: Any = None) -> MentionItem:
    """One ``mblog`` → a post item; raises UnexpectedPayload when it has no id."""
    if not isinstance(mblog, dict):
        raise make_error(ErrorKind.BAD_PAYLOAD, f"card mblog is {type(mblog).__name__}", platform=PLATFORM)
    post_id = as_text(mblog.get("id"), 64) or as_text(mblog.get("mid"), 64)
    if not post_id:
        raise make_error(ErrorKind.BAD_PAYLOAD, "missing field mblog.id", platform=PLATFORM)
    text, truncated = _post_text(mblog)
    extra: dict[str, Any] = {"bid": as_text(mblog.get("bid"), 32), "source": as_text(mblog.get("source"), 64)}
    if truncated:
        extra["truncated"] = True
    pics = mblog.get("pics")
    if isinstance(pics, list) and pics:
        extra["pics"] = len(pics)
    retweet = mblog.get("retweeted_status")
    if isinstance(retweet, dict):  # a repost: its own text stays the text; the original goes to extra
        rt_text, _ = _post_text(retweet)
        extra["retweeted"] = {
            "id": as_text(retweet.get("id"), 64),
            "author": _user_fields(retweet.get("user")).get("author_name"),
            "text": rt_text[:1000],
        }
    return MentionItem(
        platform=PLATFORM,
        post_id=post_id,
        brand=brand,
        keyword=keyword,
        kind="post",
        text=text,
        url=detail_url(post_id),
        published_at=parse_time(mblog.get("created_at"), now=now),
        likes=parse_count(mblog.get("attitudes_count")),
        comments=parse_count(mblog.get("comments_count")),
        shares=parse_count(mblog.get("reposts_count")),
        ip_region=parse_region(mblog.get("region_name")),
        extra={k: v for k, v in extra.items() if v is not None},
        raw=mblog,
        **_user_fields(mblog.get("user")),
    )


def parse_search_page(
    payload: Any, *, brand: str, keyword: str, page: int, url: str | None = None, now: Any = None
) -> ParsedPage:
    """A getIndex search answer → post items and the next page number (None at the end)."""
    data = check_envelope(payload, url=url)
    cards = data.get("cards")
    if cards is None and data:
        require(data, "cards", platform=PLATFORM, where="data", url=url)
    result = ParsedPage()
    for i, mblog in enumerate(iter_mblogs(cards)):
        try:
            result.items.append(parse_mblog(mblog, brand=brand, keyword=keyword, now=now))
        except ITEM_ERRORS as exc:  # one bad card must not lose the page; it is counted
            result.bad.append(f"card {i}: {exc}")
    info = data.get("cardlistInfo")
    if result.items or result.bad:
        # cardlistInfo.page is the next page number, null on the last page; without it, try page + 1.
        if isinstance(info, dict) and "page" in info:
            nxt = parse_count(info.get("page"))
            result.cursor = nxt if nxt > page else None
        else:
            result.cursor = page + 1
    return result


def _comment_item(
    c: dict[str, Any], *, parent: str, brand: str, keyword: str | None, now: Any, reply_to: str | None = None
) -> MentionItem:
    cid = as_text(c.get("id"), 64) or as_text(c.get("mid"), 64)
    if not cid:
        raise make_error(ErrorKind.BAD_PAYLOAD, "missing field comment.id", platform=PLATFORM)
    extra = {"reply_to": reply_to} if reply_to else None
    return MentionItem(
        platform=PLATFORM,
        post_id=cid,
        brand=brand,
        keyword=keyword,
        kind="comment",
        parent_post_id=parent,
        text=strip_html(c.get("text")),
        url=detail_url(parent),
        published_at=parse_time(c.get("created_at"), now=now),
        likes=parse_count(c.get("like_count", c.get("like_counts"))),
        comments=parse_count(c.get("total_number")),
        ip_region=parse_region(c.get("source")),
        extra=extra,
        raw=c,
        **_user_fields(c.get("user")),
    )


def parse_comment_page(
    payload: Any,
    *,
    post_id: str,
    brand: str,
    keyword: str | None = None,
    url: str | None = None,
    now: Any = None,
) -> ParsedPage:
    """A hotflow answer → comment items (inline replies too) and ``(max_id, max_id_type)`` or None."""
    data = check_envelope(payload, url=url)
    result = ParsedPage()
    comments = data.get("data")
    if comments is None and data:
        require(data, "data", platform=PLATFORM, where="data", url=url)
    for i, c in enumerate(comments if isinstance(comments, list) else []):
        try:
            if not isinstance(c, dict):
                raise make_error(ErrorKind.BAD_PAYLOAD, f"comment is {type(c).__name__}", platform=PLATFORM)
            item = _comment_item(c, parent=post_id, brand=brand, keyword=keyword, now=now)
            result.items.append(item)
            for reply in c.get("comments") or []:
                if isinstance(reply, dict):
                    result.items.append(
                        _comment_item(
                            reply,
                            parent=post_id,
                            brand=brand,
                            keyword=keyword,
                            now=now,
                            reply_to=item.post_id,
                        )
                    )
        except ITEM_ERRORS as exc:  # counted, the rest of the page is kept
            result.bad.append(f"comment {i}: {exc}")
    max_id = parse_count(data.get("max_id"))
    if max_id and (result.items or result.bad):
        result.cursor = (max_id, parse_count(data.get("max_id_type")))
    return result


def parse_detail_page(html: str, *, url: str | None = None) -> dict[str, Any]:
    """``/detail/{mid}`` HTML → its ``status`` object (full text of a long post)."""
    m = _RENDER_DATA.search(html)
    if not m:
        if "passport" in html[:3000] or "登录" in html[:3000]:
            raise auth_error(PLATFORM, "the detail page asks for a login", url)
        raise make_error(
            ErrorKind.BAD_PAYLOAD, "no $render_data in the detail page", platform=PLATFORM, url=url
        )
    try:
        data = json.loads(m.group(1))
    except ValueError as exc:
        raise make_error(
            ErrorKind.BAD_PAYLOAD, f"malformed $render_data: {exc}", platform=PLATFORM, url=url
        ) from None
    first = data[0] if isinstance(data, list) and data else None
    status = require(first, "status", platform=PLATFORM, where="$render_data[0]", url=url)
    if not isinstance(status, dict):
        raise make_error(
            ErrorKind.BAD_PAYLOAD, "$render_data[0].status is not an object", platform=PLATFORM, url=url
        )
    return status


def parse_long_text(payload: Any, *, url: str | None = None) -> str:
    """``/statuses/extend`` JSON → the full text (``data.longTextContent``)."""
    data = check_envelope(payload, url=url, allow_empty=False)
    return strip_html(require(data, "longTextContent", platform=PLATFORM, where="data", url=url))


def full_text_from_status(status: dict[str, Any]) -> str:
    """The text of a detail-page status, cleaned like a search post."""
    return _post_text({**status, "isLongText": False})[0]
