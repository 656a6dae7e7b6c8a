"""Alert channels, one module per format; :func:`make_channel` builds one from its config."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from alerts.delivery.channels.base import Channel, DeliveryFailed
from alerts.delivery.channels.dingtalk import DingTalkChannel
from alerts.delivery.channels.email import EmailChannel
from alerts.delivery.channels.feishu import FeishuChannel
from alerts.delivery.channels.slack import SlackChannel
from alerts.delivery.channels.webhook import WebhookChannel
from alerts.delivery.channels.wecom import WeComChannel

if TYPE_CHECKING:
    import httpx

    from crawler.config import ChannelConfig

CHANNEL_TYPES: dict[str, type[Channel]] = {
    cls.type: cls
    for cls in (DingTalkChannel, WeComChannel, FeishuChannel, SlackChannel, EmailChannel, WebhookChannel)
}

__all__ = ["CHANNEL_TYPES", "Channel", "DeliveryFailed", "make_channel"]


def make_channel(
    name: str,
    cfg: ChannelConfig,
    *,
    client: httpx.Client | None = None,
    clock: Callable[[], float] = time.time,
    tz: str = "Asia/Shanghai",
) -> Channel:
    """The channel object for ``[alerts.channels.<name>]``."""
    return CHANNEL_TYPES[cfg.type](name, cfg, client=client, clock=clock, tz=tz)
