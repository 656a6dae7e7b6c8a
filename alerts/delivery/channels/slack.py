"""Slack incoming webhook: Block Kit with mrkdwn sections; success is HTTP 200 with body ``ok``.

Errors are HTTP statuses with a plain-text reason (CHANNELS.md §2.4): 400 invalid_payload,
403 action_prohibited, 404 channel_not_found, 410 channel_is_archived (permanent), 500
rollup_error (retryable), 429 with Retry-After (rate limited, about 1 message a second).
"""

from __future__ import annotations

from typing import Any

from alerts.delivery.channels.base import Channel, dumps
from alerts.delivery.formats import to_slack
from alerts.delivery.render import Doc


class SlackChannel(Channel):
    type = "slack"

    def body(self, doc: Doc, *, part: str = "") -> dict[str, Any]:
        return to_slack(doc, part=part)

    def measure(self, body: Any) -> int:
        # Slack refuses more than 50 blocks: such a body never "fits", so the message is split.
        return super().measure(body) if len(body["blocks"]) <= 50 else 1 << 30

    def send(self, body: Any, *, key: str) -> None:
        assert self.cfg.url is not None
        resp = self.post(self.cfg.url.get_secret_value(), content=dumps(body))
        self.check_http(resp)
        if resp.status_code != 200:
            raise self.fail(f"HTTP {resp.status_code} (expected 200 ok)", code=resp.status_code)
