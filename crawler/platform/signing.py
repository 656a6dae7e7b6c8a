"""Replaceable request signers for Xiaohongshu (X-S headers) and Douyin (``a_bogus``).

Platforms change their signing every few months (PLATFORMS.md §2.3, §3.3, §7), so a
signer is a small object behind a protocol, chosen by name in the config:

    XhsSigner.sign(method, uri, cookies=, params=|payload=) -> headers
        "xhshow"   pure Python, the ``xhshow`` package (default; no browser)
        "browser"  a logged-in Playwright page computes X-s/X-t with the site's own JS
    DouyinSigner.sign(query, user_agent) -> a_bogus
        "browser"  the site's own JS in a Playwright page
        "command"  an external program (e.g. ``node sign.js``): JSON on stdin, signature on stdout

Any other value ``package.module:factory`` loads a custom signer: ``factory(cfg)``
returns an object with the same methods. A signer that cannot sign raises
``Blocked(kind=signature_rejected)`` so the crawl records why it stopped.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import re
import shlex
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

from crawler.errors import Blocked, ErrorKind
from crawler.platform.browser import open_browser

if TYPE_CHECKING:
    from playwright.async_api import Page

    from crawler.config import DouyinConfig, XiaohongshuConfig
    from crawler.platform.browser import BrowserSession

XHS_SIGN_EXPRESSION = "([url, data]) => window._webmsxyw(url, data)"
DOUYIN_SIGN_EXPRESSION = "([query, ua]) => window.bdms_sign(query, ua)"
_XS_COMMON_ALPHABET = "ZmserbBoHQtNP+wOcza/LpngG8yJq42KWYj0DSfdikx3VT16IlUAFM97hECvuRX5"
_CUSTOM_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@runtime_checkable
class XhsSigner(Protocol):
    name: str

    async def sign(
        self,
        method: str,
        uri: str,
        *,
        cookies: dict[str, str],
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        """Headers ``X-S``, ``X-T``, ``x-S-Common``, ``X-B3-Traceid`` for one request (``uri`` without host)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class DouyinSigner(Protocol):
    name: str

    async def sign(self, query: str, user_agent: str) -> str:
        """The ``a_bogus`` value for an already encoded query string."""
        ...

    async def close(self) -> None: ...


def _rejected(platform: str, message: str) -> Blocked:
    return Blocked(
        f"{message} (see docs/platforms.md: when a platform changes its signing)",
        platform=platform,
        kind=ErrorKind.SIGNATURE_REJECTED,
    )


def xhs_content(method: str, uri: str, params: dict[str, str] | None, payload: dict[str, Any] | None) -> str:
    """What Xiaohongshu signs: ``uri?query`` for GET, ``uri + compact JSON`` for POST."""

    if method.upper() == "POST":
        return uri + json_body(payload or {})
    return f"{uri}?{encode_query(params)}" if params else uri


def json_body(payload: dict[str, Any]) -> str:
    """The POST body exactly as signed (compact, non-ASCII kept)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# --- Xiaohongshu -------------------------------------------------------------------


class XhshowSigner:
    """Signs with the ``xhshow`` package (MIT): no browser needed.

    ``x-s-common`` depends only on the session's cookies (a browser sends the same one
    for a whole session), so it is computed once per cookie set; ``X-S`` per request.
    """

    name = "xhshow"

    def __init__(self) -> None:
        from xhshow import Xhshow

        self._client = Xhshow()
        self._common: dict[tuple[tuple[str, str], ...], str] = {}

    def _xs_common(self, cookies: dict[str, str]) -> str:
        key = tuple(sorted(cookies.items()))
        if key not in self._common:
            self._common = {key: self._client.sign_xs_common(dict(cookies))}
        return self._common[key]

    async def sign(
        self,
        method: str,
        uri: str,
        *,
        cookies: dict[str, str],
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        a1 = cookies.get("a1")
        if not a1:
            raise _rejected("xiaohongshu", "cannot sign: the session has no a1 cookie")
        method = method.upper()
        now = time.time()
        try:
            x_s = self._client.sign_xs(
                "POST" if method == "POST" else "GET",
                uri,
                a1,
                payload=(payload or {}) if method == "POST" else (params or {}),
                timestamp=now,
            )
            common = self._xs_common(cookies)
        except (ValueError, TypeError, KeyError) as exc:
            raise _rejected("xiaohongshu", f"xhshow failed to sign {uri}: {exc}") from exc
        x_t = self._client.get_x_t(now)
        return {
            "X-S": x_s,
            "X-T": str(x_t),
            "x-S-Common": common,
            "X-B3-Traceid": self._client.get_b3_trace_id(),
            "x-xray-traceid": self._client.get_xray_trace_id(timestamp=x_t),
            "x-mns": "unload",
        }

    async def close(self) -> None:
        return None


def build_xs_common(a1: str, x_t: str, x_s: str, b1: str) -> str:
    """``x-s-common`` from a page signature: JSON in the platform's custom base64 (PLATFORMS.md §2.3)."""

    from xhshow.core.crc32_encrypt import CRC32

    body = {
        "s0": 3,
        "s1": "",
        "x0": "1",
        "x1": "3.7.8-2",
        "x2": "Mac OS",
        "x3": "xhs-pc-web",
        "x4": "4.27.2",
        "x5": a1,
        "x6": x_t,
        "x7": x_s,
        "x8": b1,
        "x9": CRC32.crc32_js_int(x_t + x_s + b1),
        "x10": 154,
    }
    std = base64.b64encode(json_body(body).encode()).decode()
    table = str.maketrans(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", _XS_COMMON_ALPHABET
    )
    return std.translate(table)


class BrowserXhsSigner:
    """Asks a logged-in www.xiaohongshu.com page to sign (``window._webmsxyw``), one page for all requests."""

    name = "browser"

    def __init__(self, web_url: str, *, expression: str = XHS_SIGN_EXPRESSION, headless: bool = True) -> None:
        self.web_url = web_url.rstrip("/")
        self.expression = expression
        self.headless = headless
        self._cm: Any = None
        self._page: Page | None = None
        self._lock = asyncio.Lock()
        self._trace = 0

    async def _open(self, cookies: dict[str, str]) -> Page:

        self._cm = open_browser(headless=self.headless, cookies=cookie_list(cookies, self.web_url))
        session: BrowserSession = await self._cm.__aenter__()
        page = await session.new_page()
        await page.goto(f"{self.web_url}/explore", wait_until="domcontentloaded")
        try:
            await page.wait_for_function("() => typeof window._webmsxyw === 'function'", timeout=10_000)
        except Exception as exc:  # playwright TimeoutError: the page no longer exposes the function
            raise _rejected(
                "xiaohongshu", f"the page has no signing function ({exc.__class__.__name__})"
            ) from exc
        return page

    async def sign(
        self,
        method: str,
        uri: str,
        *,
        cookies: dict[str, str],
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        from playwright.async_api import Error as PlaywrightError

        async with self._lock:
            if self._page is None:
                self._page = await self._open(cookies)
            url = xhs_content("GET", uri, params, None) if method.upper() == "GET" else uri
            data = payload if method.upper() == "POST" else None
            try:
                signed = await self._page.evaluate(self.expression, [url, data])
                b1 = await self._page.evaluate("() => localStorage.getItem('b1') || ''")
            except PlaywrightError as exc:
                raise _rejected("xiaohongshu", f"page signing failed: {exc.message.splitlines()[0]}") from exc
        if not isinstance(signed, dict) or not signed.get("X-s"):
            raise _rejected("xiaohongshu", f"page signing returned {type(signed).__name__}")
        x_s, x_t = str(signed["X-s"]), str(signed["X-t"])
        self._trace += 1
        return {
            "X-S": x_s,
            "X-T": x_t,
            "x-S-Common": build_xs_common(cookies.get("a1", ""), x_t, x_s, b1),
            "X-B3-Traceid": f"{(int(x_t) * 7919 + self._trace) & 0xFFFFFFFFFFFFFFFF:016x}",
        }

    async def close(self) -> None:
        if self._cm is not None:
            cm, self._cm, self._page = self._cm, None, None
            await cm.__aexit__(None, None, None)


# --- Douyin -------------------------------------------------------------------------


class BrowserDouyinSigner:
    """Evaluates the site's own signing function in a page (``DOUYIN_SIGN_EXPRESSION``)."""

    name = "browser"

    def __init__(
        self,
        web_url: str,
        *,
        expression: str = DOUYIN_SIGN_EXPRESSION,
        headless: bool = True,
        cookies: dict[str, str] | None = None,
    ) -> None:
        self.web_url = web_url.rstrip("/")
        self.expression = expression
        self.headless = headless
        self.cookies = cookies or {}
        self._cm: Any = None
        self._page: Page | None = None
        self._lock = asyncio.Lock()

    async def sign(self, query: str, user_agent: str) -> str:
        from playwright.async_api import Error as PlaywrightError

        async with self._lock:
            if self._page is None:
                self._cm = open_browser(
                    headless=self.headless,
                    user_agent=user_agent,
                    cookies=cookie_list(self.cookies, self.web_url),
                )
                session = await self._cm.__aenter__()
                self._page = await session.new_page()
                await self._page.goto(f"{self.web_url}/", wait_until="domcontentloaded")
            try:
                value = await self._page.evaluate(self.expression, [query, user_agent])
            except PlaywrightError as exc:
                raise _rejected("douyin", f"page signing failed: {exc.message.splitlines()[0]}") from exc
        if not isinstance(value, str) or not value:
            raise _rejected("douyin", "page signing returned no a_bogus")
        return value

    async def close(self) -> None:
        if self._cm is not None:
            cm, self._cm, self._page = self._cm, None, None
            await cm.__aexit__(None, None, None)


class CommandDouyinSigner:
    """Runs ``command`` once per signature: stdin ``{"query", "user_agent"}``, stdout the ``a_bogus``."""

    name = "command"

    def __init__(self, command: str, *, timeout: float = 10.0) -> None:
        self.argv = shlex.split(command)
        self.timeout = timeout

    async def sign(self, query: str, user_agent: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        data = json.dumps({"query": query, "user_agent": user_agent}).encode()
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), self.timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise _rejected("douyin", f"signer command timed out after {self.timeout}s") from exc
        value = out.decode().strip()
        if proc.returncode != 0 or not value:
            raise _rejected("douyin", f"signer command failed ({proc.returncode}): {err.decode()[-200:]}")
        return value

    async def close(self) -> None:
        return None


# --- factories -----------------------------------------------------------------------


def cookie_list(cookies: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Cookies in Playwright's ``add_cookies`` form for ``url``."""
    return [{"name": k, "value": v, "url": url} for k, v in cookies.items()]


def _load_custom(spec: str, cfg: Any) -> Any:
    if not _CUSTOM_RE.match(spec):
        raise ValueError(f"unknown signer {spec!r}")
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)(cfg)


def make_xhs_signer(cfg: XiaohongshuConfig) -> XhsSigner:
    """The signer named by ``[platforms.xiaohongshu].signer``."""
    if cfg.signer == "xhshow":
        return XhshowSigner()
    if cfg.signer == "browser":
        return BrowserXhsSigner(cfg.web_url, expression=cfg.sign_expression)
    signer: XhsSigner = _load_custom(cfg.signer, cfg)
    return signer


def make_douyin_signer(cfg: DouyinConfig, cookies: dict[str, str] | None = None) -> DouyinSigner:
    """The ``a_bogus`` signer of the direct-API mode (``[platforms.douyin].signer``)."""
    if cfg.signer == "browser":
        return BrowserDouyinSigner(cfg.base_url, expression=cfg.sign_expression, cookies=cookies)
    if cfg.signer == "command":
        if not cfg.sign_command:
            raise ValueError("platforms.douyin.signer = 'command' needs sign_command")
        return CommandDouyinSigner(cfg.sign_command)
    signer: DouyinSigner = _load_custom(cfg.signer, cfg)
    return signer


# --- Scrapy component -----------------------------------------------------------------


class SigningMiddleware:
    """Downloader middleware: the spider signs each request right before it is sent.

    Runs for every attempt (a retry is signed afresh), before the downloader counts the request. A spider
    opts in with ``async def sign_request(request) -> Request | None`` (a returned request
    replaces the original, e.g. with ``a_bogus`` appended to its URL).
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SigningMiddleware:
        return cls(crawler)

    async def process_request(self, request: Any) -> Any:
        sign = getattr(self.crawler.spider, "sign_request", None)
        if sign is None:
            return None
        return await sign(request)


def enable_signing(settings: Any, priority: int = 840) -> None:
    """Add :class:`SigningMiddleware` to a spider's downloader middlewares (before the request is counted)."""
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    middlewares["crawler.platform.signing.SigningMiddleware"] = priority
    settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")


def encode_query(params: dict[str, str]) -> str:
    """The query string exactly as it is signed: ``quote(v, safe=',')``, no re-encoding later."""
    return "&".join(f"{k}={quote(str(v), safe=',')}" for k, v in params.items())
