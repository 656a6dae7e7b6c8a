"""Logging in to a platform and checking that a stored session still works.

``qr_login`` opens the platform's page in a persistent Playwright context (headed
when a display exists), saves the QR code image when headless, waits until the
login cookies appear, then stores the session (``crawler.platform.sessions``).
``check_session`` asks the platform whether it still accepts a session: Weibo
``/api/config``, Xiaohongshu ``/user/selfinfo``, Douyin's login markers plus
``/aweme/v1/web/query/user/``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from loguru import logger

from crawler.errors import YuqingError
from crawler.platform.browser import has_display, open_browser
from crawler.platform.sessions import Session, SessionStore, _write_private, cookie_header, cookies_expiry
from crawler.platform.signing import XhshowSigner
from spiders._douyin_api import COMMON_PARAMS, logged_in
from spiders._xhs_api import SELFINFO_PATH, parse_selfinfo

if TYPE_CHECKING:
    from playwright.async_api import Page

    from crawler.config import AppConfig

LOGIN_PLATFORMS: tuple[str, ...] = ("weibo", "xiaohongshu", "douyin")


@dataclass(frozen=True)
class LoginSpec:
    """Where a platform's QR code is and which cookies mean "logged in"."""

    platform: str
    path: str
    qr_selector: str
    required: tuple[str, ...]  # cookies a usable session must have
    changed: str  # cookie whose (new) value marks a completed login


SPECS: dict[str, LoginSpec] = {
    "xiaohongshu": LoginSpec(
        "xiaohongshu", "/explore", "img.qrcode-img", ("a1", "web_session"), "web_session"
    ),
    "douyin": LoginSpec("douyin", "/", "#animate_qrcode_container img", ("sessionid",), "sessionid"),
    "weibo": LoginSpec("weibo", "/login", "img.qrcode-img, #qrcode img", ("SUB",), "SUB"),
}


def page_base(cfg: AppConfig, platform: str) -> str:
    if platform == "xiaohongshu":
        return cfg.platforms.xiaohongshu.web_url
    return cfg.platforms.get(platform).base_url


class LoginTimeout(YuqingError):
    """Nobody scanned the QR code in time."""


@dataclass(slots=True)
class LoginResult:
    session: Session
    path: Path
    qr_path: Path | None


async def _save_qr(page: Page, selector: str, target: Path) -> Path:
    """Save the QR image itself (its bytes, so nothing is lost); fall back to a screenshot."""
    element = await page.wait_for_selector(selector, state="visible", timeout=20_000)
    assert element is not None
    src = await element.get_attribute("src") or ""
    if src.startswith("data:image") and "," in src:
        data = base64.b64decode(src.split(",", 1)[1])
    elif src:
        response = await page.request.get(await page.evaluate("(s) => new URL(s, location.href).href", src))
        data = await response.body()
    else:
        data = await element.screenshot()
    if data.lstrip()[:5] in (b"<svg ", b"<?xml"):
        target = target.with_suffix(".svg")
    _write_private(target, data)
    return target


async def _wait_login(
    session_cookies: Callable[[], Any], spec: LoginSpec, before: str | None, timeout: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cookies: dict[str, str] = await session_cookies()
        value = cookies.get(spec.changed)
        if value and value != before and all(cookies.get(name) for name in spec.required):
            return cookies
        await asyncio.sleep(0.5)
    raise LoginTimeout(
        f"{spec.platform}: nobody confirmed the QR login within {timeout:.0f}s; "
        f"run `yuqing login {spec.platform}` again"
    )


async def qr_login(
    cfg: AppConfig,
    platform: str,
    *,
    account: str,
    timeout: float = 300.0,
    headless: bool | None = None,
    announce: Callable[[str], None] = print,
) -> LoginResult:
    """Open the login page, show (or save) the QR code, wait for the login, store the session."""
    from playwright.async_api import Error as PlaywrightError

    spec = SPECS[platform]
    store = SessionStore.from_config(cfg)
    headless = (not has_display()) if headless is None else headless
    url = page_base(cfg, platform) + spec.path
    qr_path: Path | None = None
    async with open_browser(
        headless=headless, profile_dir=store.profile_dir(platform, account), block_media=False
    ) as browser:
        page = await browser.new_page()
        try:
            await page.goto(url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            raise YuqingError(
                f"{platform}: cannot open the login page {url}: {exc.message.splitlines()[0]}"
            ) from None

        async def cookies() -> dict[str, str]:
            return {c["name"]: c["value"] for c in await browser.context.cookies(url)}

        before = (await cookies()).get(spec.changed)
        if headless:
            try:
                qr_path = await _save_qr(page, spec.qr_selector, store.platform_dir(platform) / "qrcode.png")
            except PlaywrightError as exc:
                raise YuqingError(
                    f"{platform}: no QR code on {url} ({spec.qr_selector}): "
                    f"{exc.message.splitlines()[0]}; log in with --cookie-file instead"
                ) from None
            announce(f"QR code saved to {qr_path} — scan it with the {platform} app (waiting {timeout:.0f}s)")
        else:
            announce(
                f"scan the QR code in the browser window with the {platform} app (waiting {timeout:.0f}s)"
            )
        got = await _wait_login(cookies, spec, before, timeout)
        user_agent = await page.evaluate("() => navigator.userAgent")
        expires = cookies_expiry(list(await browser.context.cookies(url)), spec.required)  # type: ignore[arg-type]
    session = Session(platform, account, got, source="qr", user_agent=user_agent, expires_at=expires)
    path = store.save(session)
    logger.info("{} login stored for account {}", platform, account)
    return LoginResult(session, path, qr_path)


# --- checking a session ------------------------------------------------------------------


@dataclass(slots=True)
class SessionCheck:
    ok: bool | None  # None: could not tell (network error)
    detail: str


def _get(
    url: str, cookies: dict[str, str], headers: dict[str, str] | None = None, timeout: float = 10.0
) -> httpx.Response:
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        return client.get(url, headers={"Cookie": cookie_header(cookies), **(headers or {})})


def _check_weibo(cfg: AppConfig, cookies: dict[str, str]) -> SessionCheck:
    resp = _get(cfg.platforms.weibo.base_url + "/api/config", cookies)
    data = resp.json().get("data") if resp.status_code == 200 else None
    if isinstance(data, dict) and data.get("login"):
        return SessionCheck(True, "api/config: login true")
    return SessionCheck(False, f"api/config: HTTP {resp.status_code}, login false")


def _check_xhs(cfg: AppConfig, cookies: dict[str, str]) -> SessionCheck:

    xcfg = cfg.platforms.xiaohongshu
    if not cookies.get("a1"):
        return SessionCheck(False, "no a1 cookie")
    headers = asyncio.run(XhshowSigner().sign("GET", SELFINFO_PATH, cookies=cookies))
    resp = _get(
        xcfg.base_url + SELFINFO_PATH,
        cookies,
        {**headers, "Origin": xcfg.web_url, "Referer": xcfg.web_url + "/"},
    )
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    if parse_selfinfo(payload):
        return SessionCheck(True, "user/selfinfo: logged in")
    msg = payload.get("msg") if isinstance(payload, dict) else ""
    return SessionCheck(False, f"user/selfinfo: HTTP {resp.status_code} {msg or ''}".strip())


def _check_douyin(cfg: AppConfig, cookies: dict[str, str]) -> SessionCheck:

    if not logged_in(cookies):
        return SessionCheck(False, "no login markers (LOGIN_STATUS / sessionid)")
    dcfg = cfg.platforms.douyin
    resp = _get(
        f"{dcfg.base_url}/aweme/v1/web/query/user/?{urlencode(COMMON_PARAMS)}",
        cookies,
        {"User-Agent": dcfg.user_agent, "Referer": dcfg.base_url + "/"},
    )
    try:
        code = resp.json().get("status_code")
    except (ValueError, AttributeError):
        code = None
    if code == 0:
        return SessionCheck(True, "login markers present, query/user accepted")
    return SessionCheck(False, f"query/user: HTTP {resp.status_code}, status_code {code}")


CHECKS: dict[str, Callable[[AppConfig, dict[str, str]], SessionCheck]] = {
    "weibo": _check_weibo,
    "xiaohongshu": _check_xhs,
    "douyin": _check_douyin,
}


def check_session(cfg: AppConfig, session: Session) -> SessionCheck:
    """Ask the platform whether it accepts ``session``; network trouble gives ``ok=None``."""
    try:
        return CHECKS[session.platform](cfg, session.cookies)
    except httpx.HTTPError as exc:
        return SessionCheck(None, f"could not reach the platform: {exc.__class__.__name__}")
