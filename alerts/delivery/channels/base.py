"""What every alert channel is: render a payload into parts, send one part, classify the answer.

A channel never retries by itself: :meth:`Channel.send` either returns (the platform
accepted the part) or raises :class:`DeliveryFailed`, saying whether the failure is
worth retrying (rate limits, 5xx, network), how long to wait at least, and whether it
was a rate limit. The dispatcher (``alerts/delivery/dispatch.py``) owns retries and the outbox.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from alerts.delivery.formats import split
from alerts.delivery.render import Doc, render
from crawler.errors import AlertDeliveryError

if TYPE_CHECKING:
    from crawler.config import ChannelConfig


class DeliveryFailed(AlertDeliveryError):
    """A channel did not accept a message part.

    ``retryable``: try again later (else dead-letter); ``retry_after``: seconds to wait at
    least; ``rate_limited``: the platform throttled us (pause the whole channel).
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        retryable: bool = True,
        retry_after: float | None = None,
        rate_limited: bool = False,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message, channel=channel, retryable=retryable)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.code = code


@functools.lru_cache(maxsize=16)
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying TLS context, trusting ``ca_file`` when given (else the system store); built once."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class Channel(ABC):
    """One configured destination. Subclasses set ``type`` and implement ``body`` and ``send``."""

    type: ClassVar[str]
    idempotent: ClassVar[bool] = False  # the receiver de-duplicates by our key: sends may be grouped

    def __init__(
        self,
        name: str,
        cfg: ChannelConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        tz: str = "Asia/Shanghai",
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.clock = clock
        self.tz = tz
        self._client = client
        self._own_client = client is None

    # --- rendering -------------------------------------------------------------

    def parts(self, payload: Mapping[str, Any], *, ref: str, key: str = "") -> list[Any]:
        """The bodies to send for ``payload``, split to the size limit; deterministic for a payload."""
        doc = render(payload, ref=ref, tz=self.tz)
        return [self.body(d, part=label) for d, label in split(doc, self.fits)]

    def fits(self, doc: Doc, label: str) -> bool:
        limit = self.cfg.size_limit
        return limit is None or self.measure(self.body(doc, part=label)) <= limit

    def measure(self, body: Any) -> int:
        """Bytes that count against the platform's limit (default: the JSON body)."""
        return len(json.dumps(body, ensure_ascii=False).encode())

    @abstractmethod
    def body(self, doc: Doc, *, part: str = "") -> Any:
        """The platform body for one part."""

    @abstractmethod
    def send(self, body: Any, *, key: str) -> None:
        """Deliver one part; ``key`` is the part's idempotency key. Raise :class:`DeliveryFailed`."""

    # --- HTTP helpers ---------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.cfg.timeout_seconds,
                trust_env=False,
                follow_redirects=False,
                verify=tls_context(self.cfg.ca_file),
            )
        return self._client

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    def fail(self, message: str, **kw: Any) -> DeliveryFailed:
        return DeliveryFailed(message, channel=self.name, **kw)

    def post(
        self, url: str | httpx.URL, *, content: bytes, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST ``content``; transport failures become retryable :class:`DeliveryFailed` (no URL in the text)."""
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        try:
            return self.client.post(url, content=content, headers=hdrs, timeout=self.cfg.timeout_seconds)
        except httpx.TimeoutException as exc:
            raise self.fail(f"timeout after {self.cfg.timeout_seconds:g}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise self.fail(f"network error: {type(exc).__name__}") from exc

    def check_http(self, resp: httpx.Response) -> None:
        """Status-level classification shared by every HTTP channel."""
        if resp.status_code == 429:
            raise self.fail(
                "HTTP 429 rate limited", rate_limited=True, retry_after=retry_after(resp, 60.0), code=429
            )
        if resp.status_code >= 500:
            raise self.fail(f"HTTP {resp.status_code} {resp.text[:120]!r}", code=resp.status_code)
        if resp.status_code >= 300:
            raise self.fail(
                f"HTTP {resp.status_code} {resp.text[:120]!r}", retryable=False, code=resp.status_code
            )

    def json_answer(self, resp: httpx.Response) -> dict[str, Any]:
        """The JSON body of a 200 answer; a non-JSON body is retryable (a proxy page, a half answer)."""
        try:
            data = resp.json()
        except ValueError as exc:
            raise self.fail(f"HTTP {resp.status_code} with a non-JSON body {resp.text[:80]!r}") from exc
        if not isinstance(data, dict):
            raise self.fail(f"unexpected answer {str(data)[:80]!r}")
        return data


def retry_after(resp: httpx.Response, default: float) -> float:
    """The ``Retry-After`` header in seconds (numeric form), else ``default``."""
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return default


def dumps(body: Any) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
