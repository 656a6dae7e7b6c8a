"""The exception tree of yuqing and the error kinds recorded for crawls.

    YuqingError                      any error yuqing reports to a user as one line
    ├── ConfigError(path, key)       the configuration file is missing, malformed or invalid
    ├── StorageError                 the database cannot be reached or migrated
    ├── PlatformError(kind, platform, url)
    │   ├── LoginRequired            auth_expired: the session cookie is dead
    │   ├── Blocked                  rate_limited / captcha / ip_blocked / signature_rejected
    │   ├── ServerError              server_error / timeout / network (transient)
    │   └── UnexpectedPayload        bad_payload: malformed JSON or a changed schema
    └── AlertDeliveryError(channel)  a channel refused or failed a message

Only transient kinds are retried (see ``ErrorKind.transient``); a dead session or
a changed schema ends the crawl with its kind recorded in ``crawl_runs``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a crawl (or one request of it) failed; stored in ``crawl_runs.error_kind``."""

    RATE_LIMITED = "rate_limited"
    CAPTCHA = "captcha"
    IP_BLOCKED = "ip_blocked"
    AUTH_EXPIRED = "auth_expired"
    SIGNATURE_REJECTED = "signature_rejected"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_PAYLOAD = "bad_payload"
    STORAGE = "storage"  # the database went away or refused the writes: not the platform's fault
    BROWSER_MISSING = "browser_missing"  # this machine has no Chromium for a platform that needs one

    @property
    def transient(self) -> bool:
        """True for failures that a retry with backoff can overcome."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT, ErrorKind.NETWORK})


class YuqingError(Exception):
    """Base of every error yuqing reports as one clear line."""


class ConfigError(YuqingError):
    """The configuration is invalid; the message names the file, the key and the problem."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        prefix = path or "config"
        where = f"{prefix}: {key}: " if key else f"{prefix}: "
        super().__init__(where + message)


class StorageError(YuqingError):
    """The database is unreachable, or a migration failed."""


class PlatformError(YuqingError):
    """A platform refused or broke a request; ``kind`` says how."""

    default_kind: ErrorKind = ErrorKind.SERVER_ERROR

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        url: str | None = None,
        kind: ErrorKind | None = None,
    ) -> None:
        self.platform = platform
        self.url = url
        self.kind = kind or self.default_kind
        super().__init__(f"{platform}: {self.kind}: {message}")


class LoginRequired(PlatformError):
    """The session expired or was never valid: fix with ``yuqing login <platform>``."""

    default_kind = ErrorKind.AUTH_EXPIRED


class Blocked(PlatformError):
    """Rate limited, captcha, IP block or signature rejected."""

    default_kind = ErrorKind.RATE_LIMITED


class BrowserUnavailable(PlatformError):
    """The platform is crawled through Chromium and this machine has none (see ``crawler.platform.browser``)."""

    default_kind = ErrorKind.BROWSER_MISSING


class ServerError(PlatformError):
    """A 5xx answer, a timeout or a network failure."""

    default_kind = ErrorKind.SERVER_ERROR


class UnexpectedPayload(PlatformError):
    """The response is not what the parser expects (malformed JSON, missing field)."""

    default_kind = ErrorKind.BAD_PAYLOAD


class AlertDeliveryError(YuqingError):
    """A channel failed to deliver a message; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, channel: str, retryable: bool = True) -> None:
        self.channel = channel
        self.retryable = retryable
        super().__init__(f"{channel}: {message}")
