"""DingTalk custom robot (钉钉自定义机器人): markdown messages, optional 加签, errcode in a 200 answer.

加签 (CHANNELS.md §2.1): ``sign = urlencode(base64(HmacSHA256(key=secret, msg=f"{ts_ms}\\n{secret}")))``
appended to the webhook URL with ``timestamp`` in milliseconds. 20 messages a minute per
robot, then a 10-minute ban (errcode 130101), so a rate-limit answer pauses the channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from alerts.delivery import escape
from alerts.delivery.channels.base import Channel, dumps
from alerts.delivery.formats import to_markdown
from alerts.delivery.render import Doc

# errcode -> (retryable, rate_limited, minimum wait in seconds)
ERRCODES: dict[int, tuple[bool, bool, float | None]] = {
    130101: (True, True, 600.0),  # send too fast, exceed 20 times per minute (banned for 10 minutes)
    90030: (True, True, 600.0),  # webhook over limit (call-volume quota)
    310000: (
        False,
        False,
        None,
    ),  # keywords not in content / invalid timestamp / sign not match / ip not in whitelist
    300001: (False, False, None),  # the access_token does not exist
    -1: (True, False, None),  # system busy
}


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """The base64 HMAC-SHA256 of ``"timestamp\\nsecret"`` keyed by the secret (not yet URL-encoded)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class DingTalkChannel(Channel):
    type = "dingtalk"

    def body(self, doc: Doc, *, part: str = "") -> dict[str, Any]:
        text = to_markdown(doc, flavour="dingtalk", part=part, keyword=self.cfg.keyword)
        title = escape.plain(f"{doc.marker} {doc.title}{part}", max_chars=60)
        if self.cfg.keyword and self.cfg.keyword not in title:
            title = f"{title} {escape.plain(self.cfg.keyword)}"
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {"atMobiles": [], "atUserIds": [], "isAtAll": False},
        }

    def url(self) -> httpx.URL:
        assert self.cfg.url is not None
        url = httpx.URL(self.cfg.url.get_secret_value())
        if self.cfg.secret is None:
            return url
        ts = str(round(self.clock() * 1000))
        return url.copy_merge_params(
            {"timestamp": ts, "sign": dingtalk_sign(self.cfg.secret.get_secret_value(), ts)}
        )

    def send(self, body: Any, *, key: str) -> None:
        resp = self.post(self.url(), content=dumps(body))
        self.check_http(resp)
        data = self.json_answer(resp)
        code = data.get("errcode")
        if code == 0:
            return
        retryable, limited, wait = ERRCODES.get(code if isinstance(code, int) else -999, (True, False, None))
        raise self.fail(
            f"errcode {code} {str(data.get('errmsg', ''))[:120]!r}",
            retryable=retryable,
            rate_limited=limited,
            retry_after=wait,
            code=code,
        )
