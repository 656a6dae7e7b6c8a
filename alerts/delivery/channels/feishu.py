"""Feishu / Lark custom bot (飞书自定义机器人): an interactive card (or a rich-text post), optional signature.

Signature (CHANNELS.md §2.3, it differs from DingTalk): the string ``f"{ts}\\n{secret}"`` is
the HMAC-SHA256 *key* and the message is empty; ``timestamp`` (seconds, a string) and
``sign`` (base64) go in the JSON body. Limits: 100/min and 5/s per bot, 20 KB per request.
Errors: ``code`` in the JSON (9499 bad request, 19021 signature, 19022 IP, 19024 keyword,
11232 / 230020 rate limited) or HTTP 429.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from alerts.delivery.channels.base import Channel, dumps
from alerts.delivery.formats import to_feishu_card, to_feishu_post
from alerts.delivery.render import Doc

CODES: dict[int, tuple[bool, bool, float | None]] = {
    9499: (False, False, None),  # Bad Request: malformed body or over 20 KB
    19021: (False, False, None),  # sign match fail or timestamp is not within one hour (check the clock)
    19022: (False, False, None),  # Ip Not Allowed
    19024: (False, False, None),  # Key Words Not Found
    19001: (False, False, None),  # the hook token is invalid (bot removed)
    11232: (True, True, 60.0),  # rate limited (frequency control)
    230020: (True, True, 60.0),  # per-chat rate limit
}


def feishu_sign(secret: str, timestamp_s: str) -> str:
    """base64(HmacSHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class FeishuChannel(Channel):
    type = "feishu"

    def body(self, doc: Doc, *, part: str = "") -> dict[str, Any]:
        build = to_feishu_post if self.cfg.style == "post" else to_feishu_card
        return build(doc, part=part, keyword=self.cfg.keyword)

    def signed(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.cfg.secret is None:
            return body
        ts = str(int(self.clock()))
        return {"timestamp": ts, "sign": feishu_sign(self.cfg.secret.get_secret_value(), ts), **body}

    def send(self, body: Any, *, key: str) -> None:
        assert self.cfg.url is not None
        resp = self.post(self.cfg.url.get_secret_value(), content=dumps(self.signed(body)))
        self.check_http(resp)
        data = self.json_answer(resp)
        code = data.get("code", data.get("StatusCode"))
        if code == 0:
            return
        retryable, limited, wait = CODES.get(code if isinstance(code, int) else -999, (True, False, None))
        raise self.fail(
            f"code {code} {str(data.get('msg', data.get('StatusMessage', '')))[:120]!r}",
            retryable=retryable,
            rate_limited=limited,
            retry_after=wait,
            code=code,
        )
