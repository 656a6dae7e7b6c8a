"""Heimao 黑猫投诉 (tousu.sina.com.cn): the signature, the envelope check and pure ``parse_*`` functions.

PLATFORMS.md §4. Search ``/api/index/s`` (``keywords``) and a company's received
complaints ``/api/company/received_complaints`` (``couid``, ``type=1``) are JSON (or JSONP
with ``callback``), signed with ``ts``/``rs``/``signature`` (§4.2); the complaint detail
``/complaint/view/{sn}/`` is HTML with the full text, demands, amount, progress steps
and the company's reply. There are no comments: the progress steps play that role.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parsel import Selector

from crawler.errors import ErrorKind
from crawler.items import MentionItem
from crawler.platform.faults import auth_error, looks_like_login, make_error, require
from crawler.platform.normalize import absolute_url, as_text, parse_count, parse_time, strip_html
from spiders._page import ITEM_ERRORS, ParsedPage

PLATFORM = "heimao"
WEB_URL = "https://tousu.sina.com.cn"
SEARCH_PATH = "/api/index/s"
COMPANY_PATH = "/api/company/received_complaints"
FEED_PATH = "/api/index/feed"
DEFAULT_SECRET = "$d6eb7ff91ee257475%"
PAGE_SIZE = 10
# 456 is Heimao's "too fast" answer (blocks for 10–30 minutes).
STATUSES: dict[int, ErrorKind] = {456: ErrorKind.RATE_LIMITED}
# Parameters that are sent but never signed.
UNSIGNED = frozenset({"signature", "callback", "field"})
STATUS_NAMES: dict[int, str] = {
    1: "通过审核",
    3: "待分配",
    4: "处理中",
    6: "已回复",
    7: "已完成",
    8: "已关闭",
}
_ALPHABET = string.ascii_letters + string.digits
_RATE_MSGS = ("频繁", "稍后", "过快")
_SIGN_MSGS = ("签名", "signature", "sign")
_LOGIN_MSGS = ("登录", "login")


def signature(values: Mapping[str, Any], *, ts: str, rs: str, secret: str) -> str:
    """sha256 of the lexicographically sorted ``[ts, rs, secret, *business values]`` joined (§4.2)."""
    parts = [ts, rs, secret, *(str(v) for k, v in values.items() if k not in UNSIGNED)]
    return hashlib.sha256("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signed_params(
    params: Mapping[str, Any], *, secret: str = DEFAULT_SECRET, ts: str | None = None, rs: str | None = None
) -> dict[str, str]:
    """``params`` plus ``ts`` (epoch ms), ``rs`` (16 random alphanumerics) and ``signature``."""
    ts = ts or str(int(time.time() * 1000))
    rs = rs or "".join(random.choices(_ALPHABET, k=16))
    business = {k: str(v) for k, v in params.items()}
    return {"ts": ts, "rs": rs, **business, "signature": signature(business, ts=ts, rs=rs, secret=secret)}


def search_params(keyword: str, page: int, page_size: int = PAGE_SIZE) -> dict[str, str]:
    return {"keywords": keyword, "page_size": str(page_size), "page": str(page)}


def company_params(couid: str, page: int, page_size: int = PAGE_SIZE) -> dict[str, str]:
    return {"couid": couid, "type": "1", "page_size": str(page_size), "page": str(page)}


def complaint_url(sn: str) -> str:
    return f"{WEB_URL}/complaint/view/{sn}/"


def check_envelope(payload: Any, *, url: str | None = None) -> dict[str, Any]:
    """``{"result": {"status": {"code": 0}, "data": {...}}}`` → data, or the matching error."""
    result = require(payload, "result", platform=PLATFORM, where="response", url=url)
    status = require(result, "status", platform=PLATFORM, where="result", url=url)
    code = status.get("code") if isinstance(status, dict) else None
    msg = str(status.get("msg") or "") if isinstance(status, dict) else ""
    if code not in (0, "0"):
        low = msg.lower()
        if any(m in msg for m in _RATE_MSGS):
            kind = ErrorKind.RATE_LIMITED
        elif any(m in low for m in _SIGN_MSGS):
            kind = ErrorKind.SIGNATURE_REJECTED
        elif any(m in low for m in _LOGIN_MSGS):
            raise auth_error(PLATFORM, f"not logged in ({msg})", url)
        elif "验证" in msg or "captcha" in low:
            kind = ErrorKind.CAPTCHA
        else:
            kind = ErrorKind.BAD_PAYLOAD
        raise make_error(kind, f"status code {code!r}: {msg}".strip(), platform=PLATFORM, url=url)
    data = require(result, "data", platform=PLATFORM, where="result", url=url)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise make_error(ErrorKind.BAD_PAYLOAD, "result.data is not an object", platform=PLATFORM, url=url)
    return data


def _status(value: Any) -> int | None:
    n = parse_count(value)
    return n if n or value in (0, "0") else None


def parse_complaint(entry: Any, *, brand: str, keyword: str | None, now: Any = None) -> MentionItem:
    """One ``{"main": ..., "author": ...}`` entry → a complaint item."""
    main = require(entry, "main", platform=PLATFORM, where="entry")
    if not isinstance(main, dict):
        raise make_error(ErrorKind.BAD_PAYLOAD, "entry.main is not an object", platform=PLATFORM)
    url = absolute_url(main.get("url"))
    sn = as_text(main.get("sn"), 64) or (url.rstrip("/").rsplit("/", 1)[-1] if url else None)
    if not sn:
        raise make_error(ErrorKind.BAD_PAYLOAD, "missing field main.sn", platform=PLATFORM)
    author = entry.get("author") if isinstance(entry.get("author"), dict) else {}
    status = _status(main.get("status"))
    extra: dict[str, Any] = {
        "status": status,
        "status_name": STATUS_NAMES.get(status or -1),
        "demand": strip_html(main.get("appeal")) or None,
        "issue": strip_html(main.get("issue")) or None,
        "amount": _amount(main.get("cost")),
        "company": strip_html(main.get("cotitle")) or None,
        "couid": as_text(main.get("couid"), 32),
    }
    evaluation = main.get("evaluate_u")
    if isinstance(evaluation, dict):
        rated = {k: strip_html(v) for k, v in evaluation.items() if v not in (None, "")}
        if rated:
            extra["evaluation"] = rated
    return MentionItem(
        platform=PLATFORM,
        post_id=sn,
        brand=brand,
        keyword=keyword,
        kind="complaint",
        title=strip_html(main.get("title")) or None,
        text=strip_html(main.get("summary")),
        url=complaint_url(sn),
        published_at=parse_time(main.get("timestamp"), now=now),
        author_id=as_text(author.get("wb_profile") and absolute_url(author.get("wb_profile")), 64),
        author_name=as_text(strip_html(author.get("title")), 128),
        comments=parse_count(main.get("comment_num")),
        likes=parse_count(main.get("upvote_amount")),
        extra={k: v for k, v in extra.items() if v is not None},
        raw=entry,
    )


def _amount(value: Any) -> float | None:
    if value in (None, "", "0", 0):
        return None
    try:
        return float(str(value).replace(",", "").replace("元", "").strip())
    except ValueError:
        return None


def parse_list_page(
    payload: Any, *, brand: str, keyword: str | None, page: int, url: str | None = None, now: Any = None
) -> ParsedPage:
    """A search (``lists``) or company (``complaints``, may be null) answer → complaint items + next page."""
    data = check_envelope(payload, url=url)
    key = "lists" if "lists" in data else "complaints"
    if data and key not in data:
        require(data, "lists", platform=PLATFORM, where="result.data", url=url)
    entries = data.get(key) or []
    result = ParsedPage()
    if not isinstance(entries, list):
        raise make_error(
            ErrorKind.BAD_PAYLOAD, f"result.data.{key} is not a list", platform=PLATFORM, url=url
        )
    for i, entry in enumerate(entries):
        try:
            result.items.append(parse_complaint(entry, brand=brand, keyword=keyword, now=now))
        except ITEM_ERRORS as exc:
            result.bad.append(f"entry {i}: {exc}")
    pager = found if isinstance(found := data.get("pager"), dict) else {}
    current = parse_count(pager.get("current")) or page
    amount = parse_count(pager.get("page_amount"))
    if entries and (current < amount or (not amount and len(entries) >= PAGE_SIZE)):
        result.cursor = current + 1
    return result


@dataclass(slots=True)
class ComplaintDetail:
    """What the detail page adds to a list entry."""

    title: str | None = None
    text: str = ""
    facts: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, str]] = field(default_factory=list)
    reply: str | None = None
    status_name: str | None = None


_FACT_KEYS = {
    "投诉编号": "number",
    "投诉对象": "company",
    "投诉问题": "issue",
    "投诉要求": "demand",
    "涉诉金额": "amount",
    "投诉进度": "progress",
}


def parse_complaint_detail(html: str, *, url: str | None = None) -> ComplaintDetail:
    """``/complaint/view/{sn}/`` → full text, facts (编号/对象/问题/要求/金额/进度), steps and reply."""
    sel = Selector(text=html)
    title = strip_html(sel.css("div.ts-d-question h1").get()) or None
    if title is None and looks_like_login(html):
        raise auth_error(PLATFORM, "the complaint page asks for a login", url)
    for selector in ("div.ts-d-question", "ul.ts-q-list", "div.ts-d-steplist"):
        if not sel.css(selector):
            raise make_error(
                ErrorKind.BAD_PAYLOAD,
                f"the detail page has no {selector} (layout changed?)",
                platform=PLATFORM,
                url=url,
            )
    detail = ComplaintDetail(title=title)
    for li in sel.css("ul.ts-q-list li"):
        label = strip_html(li.css("label").get() or li.css("span").get()).rstrip("：:").strip()
        value = strip_html(li.css("b").get() or "") or strip_html(li.get()).replace(label, "", 1).lstrip(
            "：: "
        )
        detail.facts[_FACT_KEYS.get(label, label)] = value
    last = sel.css("ul.ts-q-list li b")
    if last:
        detail.status_name = strip_html(last[-1].get()) or None
    for item in sel.css("div.ts-d-steplist div.ts-d-item"):
        step = {
            "who": strip_html(item.css("span.u-name").get()),
            "status": strip_html(item.css("span.u-status").get()),
            "date": strip_html(item.css("span.u-date").get()),
            "text": strip_html(item.css("div.ts-d-cont").get()),
        }
        detail.steps.append({k: v for k, v in step.items() if v})
    first = detail.steps[0].get("text") if detail.steps else None
    body = strip_html(sel.css("div.ts-d-cont-full").get() or sel.css("div.ts-d-content").get())
    detail.text = body or first or ""
    detail.reply = strip_html(sel.css("div.ts-reply").get()) or None
    return detail


def apply_detail(item: MentionItem, detail: ComplaintDetail) -> MentionItem:
    """Merge the detail page into the list item: full text, demand, amount, steps, reply."""
    extra = dict(item.extra or {})
    if detail.text and len(detail.text) >= len(item.text):
        item.text = detail.text
    if detail.title and not item.title:
        item.title = detail.title
    facts = detail.facts
    if facts.get("demand"):
        extra["demand"] = facts["demand"]
    if facts.get("issue"):
        extra["issue"] = facts["issue"]
    amount = _amount(facts.get("amount"))
    if amount is not None:
        extra["amount"] = amount
    if detail.status_name:
        extra["status_name"] = detail.status_name
    if detail.steps:
        extra["steps"] = detail.steps
    if detail.reply:
        extra["reply"] = detail.reply
    extra["detail"] = True
    item.extra = extra
    return item
