"""Logging: loguru set up once, stdlib logging routed into it, secrets masked.

Sinks: stderr and a rotating file under ``<data_dir>/logs/yuqing.log``. Scrapy,
APScheduler, SQLAlchemy and uvicorn log through the stdlib; an intercept handler
on the root logger forwards them, so each line appears once. Every message passes
through :func:`redact` before any sink sees it.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
    "<cyan>{name}:{function}:{line}</cyan> - <level>{message}</level>"
)

# Order matters: URL credentials and query tokens before the generic patterns.
_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host  ->  scheme://user:***@host
    (re.compile(r"(?P<p>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)", re.I), r"\g<p>***"),
    # access_token=..., key=..., sign=..., secret=... in query strings or bodies
    (
        re.compile(
            r"(?P<p>\b(?:access_token|token|key|sign|signature|secret|password|passwd|xsec_token|a_bogus|msToken)"
            r"[\"']?\s*[=:]\s*[\"']?)[^&\s\"',;}]+",
            re.I,
        ),
        r"\g<p>***",
    ),
    # Slack / Feishu / generic hook paths carry the secret in the path
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"']+"), r"\1***"),
    (re.compile(r"(/open-apis/bot/v2/hook/)[^\s\"'?]+"), r"\1***"),
    # Cookie headers and cookie strings
    (re.compile(r"(?P<p>\b(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)[^\n\"']+", re.I), r"\g<p>***"),
    (
        re.compile(r"\b(SUB|SUBP|SESSDATA|web_session|sessionid|sessionid_ss|sid_tt|a1|webId)=[^;\s&\"']+"),
        r"\1=***",
    ),
    # Mainland mobile numbers
    (re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)"), r"\1****\2"),
]


def redact(text: str) -> str:
    """Mask cookies, tokens, webhook secrets, URL passwords and phone numbers in ``text``."""
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


def _patch(record: Record) -> None:
    origin = record["extra"].pop("stdlib_logger", None)
    if origin:  # intercepted stdlib record: show its logger name (scrapy.core.engine, apscheduler...)
        record["name"] = origin
    record["message"] = redact(record["message"])
    exc = record["exception"]
    if exc is not None and exc.value is not None:
        # The traceback text is rendered later; mask the exception's own message now.
        try:
            exc.value.args = tuple(redact(str(a)) if isinstance(a, str) else a for a in exc.value.args)
        except (AttributeError, TypeError):
            pass


class InterceptHandler(logging.Handler):
    """Forward stdlib log records to loguru, keeping the caller's location."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.bind(stdlib_logger=record.name).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage()
        )


_configured: dict[str, Any] = {}


def _log_dir_writable(log_dir: Path) -> bool:
    """Create ``log_dir`` if needed; False when this process may not write there (a read-only
    data folder: the command still runs, its log goes to stderr)."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    target = log_dir / "yuqing.log"
    return os.access(target if target.exists() else log_dir, os.W_OK)


def setup_logging(
    level: str = "INFO",
    *,
    log_dir: Path | str | None = None,
    json: bool = False,
    stderr: bool = True,
) -> None:
    """Configure loguru sinks and the stdlib intercept; calling it again reconfigures."""
    logger.remove()
    logger.configure(patcher=_patch)
    if stderr:
        logger.add(
            sys.stderr, level=level.upper(), format=_FORMAT, serialize=json, backtrace=False, diagnose=False
        )
    if log_dir is not None and not _log_dir_writable(Path(log_dir)):
        logger.warning("cannot write log files under {dir}: logging to stderr only", dir=str(log_dir))
        log_dir = None
    if log_dir is not None:
        log_dir = Path(log_dir)
        logger.add(
            log_dir / "yuqing.log",
            level="DEBUG" if level.upper() == "DEBUG" else "INFO",
            format=_FORMAT,
            serialize=json,
            rotation="20 MB",
            retention=10,
            compression="gz",
            enqueue=True,
            backtrace=False,
            diagnose=False,
            encoding="utf-8",
        )
    root = logging.getLogger()
    root.handlers = [InterceptHandler()]
    root.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    for name in (
        "scrapy",
        "twisted",
        "apscheduler",
        "sqlalchemy",
        "uvicorn",
        "uvicorn.access",
        "uvicorn.error",
        "httpx",
    ):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    # SQLAlchemy echoes every statement at INFO; keep it at WARNING unless debugging.
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    )
    for noisy in ("httpx", "alembic", "scrapy.core.scraper"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    _configured.update(level=level, log_dir=log_dir, json=json)
