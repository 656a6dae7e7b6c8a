"""Failure classification: HTTP statuses, bodies and download exceptions → :class:`ErrorKind`.

Pure functions shared by every platform; a platform adds its own quirks (Weibo 432,
Heimao 456, ...) through the ``statuses`` table it passes in, and checks its JSON
envelope in its own ``check_*_envelope``. The downloader middleware
(:mod:`crawler.scraping.middlewares`) calls these and retries only transient kinds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from crawler.errors import Blocked, ErrorKind, LoginRequired, PlatformError, ServerError, UnexpectedPayload

# Generic status meanings; platforms extend or override them.
BASE_STATUSES: dict[int, ErrorKind] = {
    401: ErrorKind.AUTH_EXPIRED,
    403: ErrorKind.IP_BLOCKED,
    408: ErrorKind.TIMEOUT,
    418: ErrorKind.IP_BLOCKED,
    429: ErrorKind.RATE_LIMITED,
    500: ErrorKind.SERVER_ERROR,
    502: ErrorKind.SERVER_ERROR,
    503: ErrorKind.SERVER_ERROR,
    504: ErrorKind.TIMEOUT,
    522: ErrorKind.TIMEOUT,
    524: ErrorKind.TIMEOUT,
}

_KIND_CLASS: dict[ErrorKind, type[PlatformError]] = {
    ErrorKind.AUTH_EXPIRED: LoginRequired,
    ErrorKind.RATE_LIMITED: Blocked,
    ErrorKind.CAPTCHA: Blocked,
    ErrorKind.IP_BLOCKED: Blocked,
    ErrorKind.SIGNATURE_REJECTED: Blocked,
    ErrorKind.SERVER_ERROR: ServerError,
    ErrorKind.TIMEOUT: ServerError,
    ErrorKind.NETWORK: ServerError,
    ErrorKind.BAD_PAYLOAD: UnexpectedPayload,
}

_CAPTCHA_MARKERS = ("验证码", "captcha", "geetest", "滑块", "安全验证", "verify-image")
_LOGIN_URL_MARKERS = ("passport.", "/signin", "/login", "login.sina", "/sso/")
_JSONP_RE = re.compile(
    r"^\s*(?:try\s*\{\s*)?[\w$.]+\s*\(\s*(.*?)\s*\)\s*;?\s*(?:\}\s*catch\s*\(\s*\w*\s*\)\s*\{\s*\}\s*;?)?\s*$",
    re.S,
)


def make_error(kind: ErrorKind, message: str, *, platform: str, url: str | None = None) -> PlatformError:
    """The exception class that goes with ``kind``."""
    return _KIND_CLASS[kind](message, platform=platform, url=url, kind=kind)


def login_fix(platform: str) -> str:
    """The command that renews a platform's session, quoted in auth_expired messages.

    Heimao has no QR login: its cookies come from the environment or the config."""
    if platform == "heimao":
        return (
            "set HEIMAO_COOKIES (or [platforms.heimao].accounts cookies) from a logged-in browser, "
            "then check with `yuqing crawl heimao --brand <brand>`"
        )
    return f"run `yuqing login {platform}`"


def auth_error(platform: str, why: str, url: str | None = None) -> LoginRequired:
    """An auth_expired error whose message carries the exact fix."""
    err = make_error(ErrorKind.AUTH_EXPIRED, f"{why}; fix: {login_fix(platform)}", platform=platform, url=url)
    assert isinstance(err, LoginRequired)
    return err


def is_login_url(url: str) -> bool:
    return any(m in url for m in _LOGIN_URL_MARKERS)


def looks_like_login(text: str) -> bool:
    head = text[:4000]
    return "passport." in head or "请登录" in head or ("<title>" in head and "登录</title>" in head)


def looks_like_captcha(text: str) -> bool:
    head = text[:4000].lower()
    return any(m in head for m in _CAPTCHA_MARKERS)


def classify_status(
    platform: str,
    status: int,
    url: str,
    *,
    statuses: Mapping[int, ErrorKind] | None = None,
    body: str = "",
) -> PlatformError | None:
    """The error for an HTTP status, or None when the response should be parsed."""
    table = {**BASE_STATUSES, **(statuses or {})}
    kind = table.get(status)
    if kind is None and status >= 500:
        kind = ErrorKind.SERVER_ERROR
    if kind is None:
        if is_login_url(url):
            return auth_error(platform, f"redirected to a login page (HTTP {status})", url)
        return None
    if kind is ErrorKind.AUTH_EXPIRED:
        return auth_error(platform, f"the platform refused the session (HTTP {status})", url)
    if kind is ErrorKind.IP_BLOCKED and body and looks_like_captcha(body):
        kind = ErrorKind.CAPTCHA
    return make_error(kind, f"HTTP {status}", platform=platform, url=url)


def decode_json(platform: str, text: str, url: str | None = None) -> Any:
    """Parse a JSON (or JSONP-wrapped) body; an HTML captcha page or broken JSON raises."""
    body = text.strip().lstrip("\ufeff")
    if not body:
        raise make_error(ErrorKind.BAD_PAYLOAD, "empty response body", platform=platform, url=url)
    if body[0] not in "{[":
        m = _JSONP_RE.match(body)
        if m and m.group(1)[:1] in "{[":
            body = m.group(1)
        elif body.startswith("<"):
            if looks_like_captcha(body):
                raise make_error(
                    ErrorKind.CAPTCHA, "a captcha page instead of JSON", platform=platform, url=url
                )
            if looks_like_login(body):
                raise auth_error(platform, "a login page instead of JSON", url)
            raise make_error(
                ErrorKind.BAD_PAYLOAD, "an HTML page instead of JSON", platform=platform, url=url
            )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise make_error(
            ErrorKind.BAD_PAYLOAD,
            f"malformed JSON: {exc.args[0] if exc.args else exc}"[:300],
            platform=platform,
            url=url,
        ) from None


def classify_exception(platform: str, exc: BaseException, url: str | None = None) -> PlatformError:
    """A download exception (timeout, refused connection, lost data ...) → timeout or network."""
    if isinstance(exc, PlatformError):
        return exc
    name = type(exc).__name__
    timeout = "Timeout" in name or isinstance(exc, TimeoutError)
    kind = ErrorKind.TIMEOUT if timeout else ErrorKind.NETWORK
    detail = str(exc).strip() or name
    return make_error(kind, f"{name}: {detail}"[:300], platform=platform, url=url)


def require(mapping: Any, key: str, *, platform: str, where: str, url: str | None = None) -> Any:
    """``mapping[key]`` or an UnexpectedPayload naming the missing field (a changed schema)."""
    if not isinstance(mapping, dict):
        raise make_error(
            ErrorKind.BAD_PAYLOAD,
            f"{where} is {type(mapping).__name__}, expected an object",
            platform=platform,
            url=url,
        )
    if key not in mapping:
        raise make_error(ErrorKind.BAD_PAYLOAD, f"missing field {where}.{key}", platform=platform, url=url)
    return mapping[key]
