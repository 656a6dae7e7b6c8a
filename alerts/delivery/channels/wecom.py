"""WeCom group robot (企业微信群机器人): markdown messages; the ``key`` in the URL is the only credential.

Markdown ``content`` is at most 4096 bytes (UTF-8), so longer messages are split; 20
messages a minute per robot; errors come as ``errcode`` in an HTTP 200 answer
(CHANNELS.md §2.2): 45009 rate limited, 93000 invalid webhook URL, -1 system busy.
"""

from __future__ import annotations

from typing import Any

from alerts.delivery.channels.base import Channel, dumps
from alerts.delivery.formats import to_markdown
from alerts.delivery.render import Doc

ERRCODES: dict[int, tuple[bool, bool, float | None]] = {
    45009: (True, True, 65.0),  # api freq out of limit (rolling window; back off 30-65 s)
    93000: (False, False, None),  # invalid webhook url
    40058: (False, False, None),  # content over the size limit (a bug in splitting if seen)
    -1: (True, False, None),  # system busy
}


class WeComChannel(Channel):
    type = "wecom"

    def body(self, doc: Doc, *, part: str = "") -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": to_markdown(doc, flavour="wecom", part=part)}}

    def measure(self, body: Any) -> int:
        return len(body["markdown"]["content"].encode())

    def send(self, body: Any, *, key: str) -> None:
        assert self.cfg.url is not None
        resp = self.post(self.cfg.url.get_secret_value(), content=dumps(body))
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
