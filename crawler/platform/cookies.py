"""Session cookies for a platform, from wherever the operator keeps them.

Looked up in order: the ``<PLATFORM>_COOKIES`` setting (a ``k=v; k2=v2`` string), the
``<PLATFORM>_COOKIE_FILE`` setting, the config's ``[platforms.X].accounts`` (``cookies``
or ``cookies_file``; the account is picked by the ``YUQING_ACCOUNT`` setting, else the
first), then the session ``yuqing login`` stored under ``<data_dir>/sessions/<platform>/``
(:mod:`crawler.platform.sessions`), then a plain ``cookies.txt`` in that folder. A file may hold a cookie string, a JSON object, a JSON list of ``{name, value}`` or a
Playwright storage state (``{"cookies": [...]}``). Values are never logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger
from tldextract import TLDExtract

from crawler.errors import ConfigError, LoginRequired
from crawler.platform.sessions import SessionStore

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.config import AppConfig

SESSION_FILES = (
    "cookies.txt",
)  # <account>.json files there belong to crawler.platform.sessions (yuqing login)


def offline_public_suffixes() -> None:
    """Make Scrapy's cookie middleware use tldextract's bundled suffix list instead of fetching
    it from the internet on the first cookie (crawl hosts must be reachable offline)."""
    from scrapy.downloadermiddlewares import cookies

    current = getattr(cookies, "_split_domain", None)
    if current is not None and getattr(current, "suffix_list_urls", None):
        cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


def parse_cookie_text(text: str) -> dict[str, str]:
    """A cookie string, JSON object, JSON list of cookies or Playwright storage state → {name: value}."""
    body = text.strip()
    if not body:
        return {}
    if body[0] in "[{":
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if data is not None:
            return _from_json(data)
    out: dict[str, str] = {}
    for part in body.replace("\n", ";").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def _from_json(data: Any) -> dict[str, str]:
    if isinstance(data, dict) and isinstance(data.get("cookies"), list):
        data = data["cookies"]
    if isinstance(data, dict):
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}
    out: dict[str, str] = {}
    if isinstance(data, list):
        for c in data:
            if isinstance(c, dict) and "name" in c and "value" in c:
                out[str(c["name"])] = str(c["value"])
    return out


def _read(path: str | Path, what: str) -> dict[str, str]:
    file = Path(path).expanduser()
    try:
        return parse_cookie_text(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the cookie file {str(file)!r}: {exc.strerror}", key=what) from exc


def load_cookies(platform: str, cfg: AppConfig, settings: BaseSettings) -> dict[str, str]:
    """The cookies to send to ``platform`` ({} when none are configured)."""
    prefix = platform.upper()
    if settings.get(f"{prefix}_COOKIES"):
        return parse_cookie_text(str(settings.get(f"{prefix}_COOKIES")))
    if settings.get(f"{prefix}_COOKIE_FILE"):
        return _read(settings.get(f"{prefix}_COOKIE_FILE"), f"{prefix}_COOKIE_FILE")
    pc = cfg.platforms.get(platform)
    if pc.accounts:
        wanted = settings.get("YUQING_ACCOUNT")
        account = next((a for a in pc.accounts if a.name == wanted), pc.accounts[0])
        if account.cookies is not None:
            return parse_cookie_text(account.cookies.get_secret_value())
        if account.cookies_file:
            return _read(account.cookies_file, f"platforms.{platform}.accounts.{account.name}.cookies_file")
    stored = _login_session(platform, cfg)
    if stored:
        return stored
    session_dir = Path(pc.session_dir) if pc.session_dir else cfg.data_path() / "sessions" / platform
    for name in SESSION_FILES:
        file = session_dir / name
        if file.is_file():
            cookies = _read(file, f"session {name}")
            if cookies:
                logger.debug("{}: using the stored session in {}", platform, session_dir)
                return cookies
    return {}


def _login_session(platform: str, cfg: AppConfig) -> dict[str, str]:
    """The next usable ``yuqing login`` session (``<account>.json``, see :mod:`crawler.platform.sessions`), if any."""

    try:
        # Only a look: spiders that rotate accounts (spiders._accounts) take their turn themselves.
        session = SessionStore.from_config(cfg).next_session(platform, advance=False)
    except LoginRequired:
        return {}
    logger.debug("{}: using the yuqing login session of account {}", platform, session.account)
    return session.cookies
