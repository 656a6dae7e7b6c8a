"""Login sessions for the signed platforms' spiders: pick an account in turn, retire an expired one.

The cookies come from the ``<PLATFORM>_COOKIES`` / ``<PLATFORM>_COOKIE_FILE`` settings when
given, else from :class:`crawler.platform.sessions.SessionStore` (configured accounts and ``yuqing
login`` sessions, used in turn). An answer meaning "not logged in" marks that account's
stored session expired (the next run takes the next account) and ends the crawl with
``auth_expired`` naming the exact ``yuqing login`` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger

from crawler.errors import ErrorKind, LoginRequired
from crawler.platform.cookies import _read, parse_cookie_text
from crawler.platform.faults import make_error
from crawler.platform.sessions import Session, SessionStore, login_command

if TYPE_CHECKING:
    from crawler.config import AppConfig


def pick_session(platform: str, cfg: AppConfig, settings: Any) -> tuple[Session | None, LoginRequired | None]:
    """The session this run uses, or the error saying none is usable."""

    prefix = platform.upper()
    if settings.get(f"{prefix}_COOKIES"):
        return Session(
            platform,
            "setting",
            parse_cookie_text(str(settings.get(f"{prefix}_COOKIES"))),
            source="setting",
            stored=False,
        ), None
    if settings.get(f"{prefix}_COOKIE_FILE"):
        return Session(
            platform,
            "setting",
            _read(settings.get(f"{prefix}_COOKIE_FILE"), f"{prefix}_COOKIE_FILE"),
            source="setting",
            stored=False,
        ), None
    try:
        session = SessionStore.from_config(cfg).next_session(platform, cfg)
    except LoginRequired as err:
        return None, err
    logger.info("{}: using account {} ({})", platform, session.account, session.source)
    return session, None


def session_expired(
    platform: str, cfg: AppConfig, session: Session | None, err: LoginRequired
) -> LoginRequired:
    """Retire the session and return the auth_expired error with the exact fix."""
    account = session.account if session is not None and session.source != "setting" else None
    if session is not None and session.source != "setting":
        SessionStore.from_config(cfg).mark(platform, session.account, "expired", str(err)[:200])
    why = str(err).split(": ", 2)[-1].split("; fix:")[0]
    who = f"account {account}: " if account else ""
    fixed = make_error(
        ErrorKind.AUTH_EXPIRED,
        f"{who}{why}; fix: run `{login_command(platform, account)}`",
        platform=platform,
        url=err.url,
    )
    assert isinstance(fixed, LoginRequired)
    return fixed
