"""Generic JSON webhook, signed with HMAC-SHA256, carrying an idempotency key.

Request: ``POST <url>`` with a JSON body ``{"id", "kind", "title", "ref", "part", "parts",
"text", "markdown", "payload"}`` and the headers

- ``Idempotency-Key``: stable per (alert, channel[, part]); the same on every retry, so a
  receiver that remembers keys shows each alert once even after a dispatcher crash;
- ``X-Yuqing-Timestamp``: Unix time in seconds;
- ``X-Yuqing-Signature``: ``sha256=`` + hex HMAC-SHA256 keyed by the channel secret over
  ``f"{timestamp}.".encode() + raw_body``. Receivers recompute it over the raw bytes,
  compare in constant time and reject timestamps more than 5 minutes away.

``text`` and ``markdown`` are neutralised; ``payload`` is the alert's data as stored
(scraped strings in it are untrusted: escape them before showing). Any 2xx is success,
409 means "already have it" (success), 429 / 5xx / network errors are retried, other
4xx (401 bad signature, 404, 410 ...) are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from alerts.delivery.channels.base import Channel, dumps
from alerts.delivery.formats import split, to_markdown, to_text
from alerts.delivery.render import Doc, render

SIGNATURE_HEADER = "X-Yuqing-Signature"
TIMESTAMP_HEADER = "X-Yuqing-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def webhook_signature(secret: str, timestamp: str, raw: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + raw body``."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    type = "webhook"
    idempotent = True

    def parts(self, payload: Mapping[str, Any], *, ref: str, key: str = "") -> list[Any]:
        doc = render(payload, ref=ref, tz=self.tz)
        pieces = split(doc, self.fits)
        return [
            {
                **self.body(d, part=label),
                "id": key,
                "ref": ref,
                "part": i + 1,
                "parts": len(pieces),
                "kind": payload.get("kind"),
                "payload": dict(payload),
            }
            for i, (d, label) in enumerate(pieces)
        ]

    def body(self, doc: Doc, *, part: str = "") -> dict[str, Any]:
        return {
            "title": doc.title,
            "text": to_text(doc, part=part),
            "markdown": to_markdown(doc, flavour="lark", part=part),
        }

    def send(self, body: Any, *, key: str) -> None:
        assert self.cfg.url is not None
        raw = dumps({**body, "id": key})
        headers = {IDEMPOTENCY_HEADER: key}
        if self.cfg.secret is not None:
            ts = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = ts
            headers[SIGNATURE_HEADER] = webhook_signature(self.cfg.secret.get_secret_value(), ts, raw)
        resp = self.post(self.cfg.url.get_secret_value(), content=raw, headers=headers)
        if resp.status_code == 409:
            return
        self.check_http(resp)
