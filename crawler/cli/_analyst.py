"""Shared pieces of the analyst commands (query, export, report): filter options and authorisation."""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Any

from crawler.config import AppConfig
from crawler.errors import ConfigError, YuqingError

if TYPE_CHECKING:
    from crawler.analytics.query import MentionFilter

TOKEN_ENV = "YUQING_API_TOKEN"


class NotAuthorised(YuqingError):
    """Unmasked output asked for without a handler token."""


def split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.replace("，", ",").split(",") if p.strip())
    return out


def make_filter(
    cfg: AppConfig,
    *,
    brand: str | None = None,
    platform: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    **rest: Any,
) -> MentionFilter:
    """A validated filter from CLI option values (brand aliases resolved, times parsed)."""
    from crawler.analytics.query import build_filter, parse_time

    tz = cfg.scheduler.timezone
    values: dict[str, Any] = {k: v for k, v in rest.items() if v not in (None, [], "")}
    for key in ("categories", "urgencies", "regions", "kinds"):
        if key in values:
            values[key] = split(values[key])
    if brand:
        values["brand"] = cfg.brand(brand).name
    if platform:
        values["platforms"] = split(platform)
    if since:
        values["since"] = parse_time(since, tz=tz)
    if until:
        values["until"] = parse_time(until, tz=tz, end=True)
    return build_filter(**values)


def authorise_unmasked(cfg: AppConfig, token: str | None) -> str:
    """The handler's name if ``token`` (or ``$YUQING_API_TOKEN``) is a handler token; else NotAuthorised."""
    given = token or os.environ.get(TOKEN_ENV) or ""
    handlers = [t for t in cfg.api.tokens if t.role == "handler"]
    if not handlers:
        raise ConfigError(
            '--unmasked needs a handler token: add one with role = "handler" to api.tokens',
            path=cfg.source,
            key="api.tokens",
        )
    for t in handlers:
        if given and hmac.compare_digest(given.encode(), t.token.get_secret_value().encode()):
            return t.name
    raise NotAuthorised(f"--unmasked is for handlers: set {TOKEN_ENV} to a handler token of api.tokens")
