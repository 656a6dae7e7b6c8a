"""Making scraped text safe to show in a chat robot, an e-mail or a webhook.

Scraped text (post excerpts, author names, event titles) is hostile: it may carry
Markdown or HTML that breaks a message, ``@所有人`` / ``@all`` / ``<at user_id="all">`` /
``<!channel>`` that pings a whole group, and links to anywhere. :func:`neutralise` removes
what no format may show (mentions, links, invisible and control characters); the
per-format functions then escape what that format would interpret. The only link a
message carries is the post URL the product built, made safe by :func:`safe_link`.

Markdown has no escape every robot honours (DingTalk and WeCom render backslashes),
so ASCII characters with a meaning are replaced by their full-width forms, which read
the same to a Chinese reader and which no client interprets.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit, urlunsplit

# control characters (but tab and line breaks) and every Unicode format character (category Cf:
# bidi embeddings, overrides and isolates, the Arabic letter mark, zero-width characters, tags …)
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_SCHEME_URL = re.compile(
    r"(?i)\b(?:https?|ftp|file|javascript|data|mailto|tel|sms|dingtalk|weixin|lark|slack)\s*:\s*(?://)?([^\s<>\"'()\[\]（）]*)"
)
_WWW_URL = re.compile(r"(?i)\bwww\.([^\s<>\"'()\[\]（）]*)")
# any domain-like token (labels, a dot, a top-level label of letters), not only well-known TLDs
_BARE_DOMAIN = re.compile(r"(?i)(?<![\w.])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])")
_HOST = re.compile(r"^(?:[^/?#@]*@)?([^/?#:]*)")
_MD_MAP = str.maketrans(
    {
        "\\": "＼",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "!": "！",
        "&": "＆",
        "$": "＄",
        "^": "＾",
        "{": "｛",
        "}": "｝",
        "=": "＝",
    }
)
_SLACK_MAP = str.maketrans({"*": "＊", "_": "＿", "~": "～", "`": "｀", "|": "｜"})
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])")


def _defang_host(host: str) -> str:
    return host.replace(".", "．")[:60]


def _link_marker(match: re.Match[str]) -> str:
    host = _HOST.match(match.group(1) or "")
    name = _defang_host(host.group(1)) if host and host.group(1) else ""
    return f"〔链接 {name}〕" if name else "〔链接〕"


def neutralise(text: object, *, max_chars: int | None = None, single_line: bool = True) -> str:
    """Scraped text without mentions, links, control or invisible characters; optionally one line and cut."""
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub("", s)
    s = _SCHEME_URL.sub(_link_marker, s)
    s = _WWW_URL.sub(lambda m: f"〔链接 www．{_defang_host(m.group(1).split('/')[0])}〕", s)
    s = _BARE_DOMAIN.sub(lambda m: _defang_host(m.group(1)), s)
    s = s.replace("@", "＠").replace("<", "＜").replace(">", "＞")
    if single_line:
        s = " ".join(s.split())
    else:
        s = "\n".join(" ".join(line.split()) for line in s.splitlines())
    if max_chars is not None and len(s) > max_chars:
        s = s[: max(0, max_chars - 1)].rstrip() + "…"
    return s


def md(text: object, *, max_chars: int | None = None) -> str:
    """Neutralised text for DingTalk / WeCom / Feishu markdown: every meaningful ASCII mark made full-width."""
    s = neutralise(text, max_chars=max_chars).translate(_MD_MAP)
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2).translate(_FULLWIDTH_START), s)


_FULLWIDTH_START = str.maketrans({"-": "－", "+": "＋", "=": "＝", ">": "＞", ".": "．", ")": "）"})


def slack(text: object, *, max_chars: int | None = None) -> str:
    """Neutralised text for Slack mrkdwn: ``& < >`` escaped as Slack documents, format marks full-width."""
    s = neutralise(text, max_chars=max_chars)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.translate(_SLACK_MAP)


def html_text(text: object, *, max_chars: int | None = None) -> str:
    """Neutralised text for HTML e-mail."""
    return html.escape(neutralise(text, max_chars=max_chars), quote=True)


def plain(text: object, *, max_chars: int | None = None) -> str:
    """Neutralised text for plain-text bodies (e-mail alternative, Feishu post text tags, webhooks)."""
    return neutralise(text, max_chars=max_chars)


_URL_SAFE = "/:=&?~%+,;$@!'*-._"


def safe_link(url: object) -> str | None:
    """An http(s) URL re-quoted so that no format can break out of it; None when it is not one."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        return None
    url = url.strip()
    if _INVISIBLE.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or not re.match(r"^[A-Za-z0-9.-]+$", parts.hostname):
        return None
    netloc = parts.hostname + (f":{port}" if port else "")
    path = quote(parts.path, safe=_URL_SAFE.replace("'", "").replace("*", "").replace("!", ""))
    query = quote(parts.query, safe=_URL_SAFE.replace("'", "").replace("*", "").replace("!", ""))
    fragment = quote(parts.fragment, safe="/-._~")  # the dashboard's item pages: #/mention/12
    return urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))
