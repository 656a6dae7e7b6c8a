"""Each channel against the loopback receiver: signatures, body formats, size limits, error classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts.delivery.channels import DeliveryFailed, make_channel
from alerts.delivery.channels.dingtalk import dingtalk_sign
from alerts.delivery.channels.feishu import feishu_sign
from alerts.delivery.channels.webhook import webhook_signature
from crawler.config import ChannelConfig
from simulator.receiver.server import Receiver

from .conftest import FakeClock, mention_payload


def _send_all(
    name: str, cfg: ChannelConfig, payload: dict[str, Any], clock: FakeClock, key: str = "yq-k1"
) -> int:
    ch = make_channel(name, cfg, clock=clock.time)
    try:
        parts = ch.parts(payload, ref="告警编号 7", key=key)
        for i, part in enumerate(parts):
            ch.send(part, key=key if len(parts) == 1 else f"{key}-{i + 1}")
        return len(parts)
    finally:
        ch.close()


def test_signatures_match_the_documented_examples() -> None:
    # DingTalk: key = secret, message = "ts\nsecret"; Feishu: key = "ts\nsecret", empty message.
    import base64
    import hashlib
    import hmac

    assert (
        dingtalk_sign("SECabc", "1700000000000")
        == base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    )
    assert (
        feishu_sign("abc", "1700000000")
        == base64.b64encode(hmac.new(b"1700000000\nabc", b"", hashlib.sha256).digest()).decode()
    )
    assert dingtalk_sign("SECabc", "1") != feishu_sign("SECabc", "1")
    assert (
        webhook_signature("k", "12", b"{}")
        == "sha256=" + hmac.new(b"k", b"12.{}", hashlib.sha256).hexdigest()
    )


def test_dingtalk_signed_markdown_with_keyword(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.dingtalk("pr", secret="SECsecret", keywords=["监控报警"])
    cfg = ChannelConfig(type="dingtalk", url=url, secret="SECsecret", keyword="监控报警")
    assert _send_all("pr", cfg, mention_payload(), clock) == 1
    [msg] = receiver.messages("pr")
    assert msg.body["msgtype"] == "markdown" and msg.body["at"]["isAtAll"] is False
    assert msg.body["markdown"]["title"].startswith("🟠 【紧急】")
    text = msg.body["markdown"]["text"]
    assert "**作者：**吃货小王（粉丝 12.3万，已认证）" in text and "TS20261122-0001" in text
    assert "[查看原帖](https://m.weibo.cn/detail/4900000001)" in text and "首查 11-22 15:30" in text


@pytest.mark.parametrize(
    ("secret", "keyword", "expect"),
    [
        ("SECwrong", "监控报警", "sign not match"),
        ("SECsecret", "其他", "keywords not in content"),
    ],
)
def test_dingtalk_security_failures_are_permanent(
    receiver: Receiver, clock: FakeClock, secret: str, keyword: str, expect: str
) -> None:
    url = receiver.dingtalk("pr", secret="SECsecret", keywords=["监控报警"])
    with pytest.raises(DeliveryFailed) as info:
        _send_all(
            "pr",
            ChannelConfig(type="dingtalk", url=url, secret=secret, keyword=keyword),
            mention_payload(),
            clock,
        )
    assert info.value.code == 310000 and not info.value.retryable and expect in str(info.value)
    assert receiver.messages("pr") == []


def test_dingtalk_stale_timestamp_refused(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.dingtalk("pr", secret="SECsecret")
    ch = make_channel(
        "pr", ChannelConfig(type="dingtalk", url=url, secret="SECsecret"), clock=lambda: clock.time() - 7200
    )
    with pytest.raises(DeliveryFailed, match="invalid timestamp"):
        ch.send(ch.parts(mention_payload(), ref="告警编号 1")[0], key="k")


def test_wecom_markdown_split_under_4096_bytes(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.wecom("ops")
    items = [dict(mention_payload(i)["mention"], risk=40 + i, text="很长的投诉内容" * 20) for i in range(40)]
    payload = {"kind": "digest", "brand": "鲜果时光", "title": "过去60分钟", "items": items}
    n = _send_all("ops", ChannelConfig(type="wecom", url=url), payload, clock)
    msgs = receiver.messages("ops")
    assert n == len(msgs) > 1
    assert all(len(m.body["markdown"]["content"].encode()) <= 4096 for m in msgs)
    joined = "\n".join(m.text for m in msgs)
    for i in range(40):  # every item once, in order, across the parts
        assert joined.count(f"**第{i + 1}条：**") == 1
    assert msgs[0].text.startswith("### 🔵 鲜果时光 舆情摘要：过去60分钟（1/")


def test_wecom_oversized_content_is_refused_by_the_receiver(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.wecom("ops")
    ch = make_channel("ops", ChannelConfig(type="wecom", url=url, max_bytes=100_000), clock=clock.time)
    with pytest.raises(DeliveryFailed) as info:
        ch.send({"msgtype": "markdown", "markdown": {"content": "字" * 2000}}, key="k")
    assert info.value.code == 40058 and not info.value.retryable


@pytest.mark.parametrize("style", ["card", "post"])
def test_feishu_signed_card_and_post(receiver: Receiver, clock: FakeClock, style: str) -> None:
    url = receiver.feishu("fs", secret="fs-secret", keywords=["告警"])
    cfg = ChannelConfig(type="feishu", url=url, secret="fs-secret", style=style)
    assert _send_all("fs", cfg, mention_payload(), clock) == 1
    [msg] = receiver.messages("fs")
    assert msg.body["msg_type"] == ("interactive" if style == "card" else "post")
    assert msg.body["timestamp"] == str(int(clock.time()))
    if style == "card":
        assert msg.body["card"]["header"]["template"] == "orange"
        assert (
            "[查看原帖](https://m.weibo.cn/detail/4900000001)"
            in msg.body["card"]["elements"][0]["text"]["content"]
        )
    else:
        rows = msg.body["content"]["post"]["zh_cn"]["content"]
        assert {"tag": "a", "text": "查看原帖", "href": "https://m.weibo.cn/detail/4900000001"} in [
            t for r in rows for t in r
        ]


def test_feishu_wrong_secret_and_missing_keyword(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.feishu("fs", secret="fs-secret", keywords=["关键字不在消息里"])
    with pytest.raises(DeliveryFailed) as info:
        _send_all("fs", ChannelConfig(type="feishu", url=url, secret="nope"), mention_payload(), clock)
    assert info.value.code == 19021 and not info.value.retryable
    with pytest.raises(DeliveryFailed) as info:
        _send_all("fs", ChannelConfig(type="feishu", url=url, secret="fs-secret"), mention_payload(), clock)
    assert info.value.code == 19024


def test_slack_blocks(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.slack("sl")
    assert _send_all("sl", ChannelConfig(type="slack", url=url), mention_payload(), clock) == 1
    [msg] = receiver.messages("sl")
    kinds = [b["type"] for b in msg.body["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    assert "<https://m.weibo.cn/detail/4900000001|查看原帖>" in msg.text
    assert msg.body["text"].startswith("🟠 【紧急】")


def test_webhook_signed_with_idempotency_key(receiver: Receiver, clock: FakeClock) -> None:
    url = receiver.webhook("ops", secret="hook-secret")
    cfg = ChannelConfig(type="webhook", url=url, secret="hook-secret")
    _send_all("ops", cfg, mention_payload(), clock, key="yq-abc")
    _send_all("ops", cfg, mention_payload(), clock, key="yq-abc")  # a re-delivery after a crash
    first, again = receiver.messages("ops")
    assert first.key == again.key == "yq-abc" and not first.duplicate and again.duplicate
    assert len(receiver.visible("ops")) == 1
    assert first.body["id"] == "yq-abc" and first.body["payload"]["complaint"]["number"] == "TS20261122-0001"
    assert first.headers["x-yuqing-signature"].startswith("sha256=")
    with pytest.raises(DeliveryFailed) as info:
        _send_all(
            "ops",
            ChannelConfig(type="webhook", url=url, secret="wrong"),
            mention_payload(),
            clock,
            key="yq-x",
        )
    assert info.value.code == 401 and not info.value.retryable


# (fault, channel type, code, retryable, rate_limited)
FAULT_TABLE = [
    ("rate_limited", "dingtalk", 130101, True, True),
    ("rate_limited", "wecom", 45009, True, True),
    ("rate_limited", "feishu", 11232, True, True),
    ("rate_limited", "slack", 429, True, True),
    ("rate_limited", "webhook", 429, True, True),
    ("busy", "wecom", -1, True, False),
    ("busy", "slack", 500, True, False),
    ("http_502", "dingtalk", 502, True, False),
    ("invalid_url", "wecom", 93000, False, False),
    ("invalid_url", "slack", 404, False, False),
    ("invalid_url", "feishu", 19001, False, False),
    ("down", "feishu", None, True, False),
]


@pytest.mark.parametrize(("fault", "kind", "code", "retryable", "limited"), FAULT_TABLE)
def test_error_answers_are_classified(
    receiver: Receiver,
    clock: FakeClock,
    fault: str,
    kind: str,
    code: int | None,
    retryable: bool,
    limited: bool,
) -> None:
    url = getattr(receiver, kind)("r")
    cfg = ChannelConfig(type=kind, url=url, secret="s3cret" if kind == "webhook" else None)
    receiver.fault("r", fault, count=1)
    with pytest.raises(DeliveryFailed) as info:
        _send_all("r", cfg, mention_payload(), clock)
    assert (info.value.code, info.value.retryable, info.value.rate_limited) == (code, retryable, limited)
    if kind == "dingtalk" and limited:
        assert info.value.retry_after == 600.0  # DingTalk bans for 10 minutes
    assert _send_all("r", cfg, mention_payload(), clock) == 1  # the fault was for one request only


def test_unreachable_host_is_a_retryable_network_error(clock: FakeClock) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ChannelConfig(
        type="dingtalk", url=f"http://127.0.0.1:{port}/robot/send?access_token=x", timeout_seconds=2
    )
    with pytest.raises(DeliveryFailed) as info:
        _send_all("pr", cfg, mention_payload(), clock)
    assert info.value.retryable and "network error" in str(info.value) and str(port) not in str(info.value)


def test_receiver_admin_lists_messages(receiver: Receiver, clock: FakeClock) -> None:
    import httpx

    url = receiver.wecom("ops")
    _send_all("ops", ChannelConfig(type="wecom", url=url), mention_payload(), clock)
    data = httpx.get(receiver.url + "/__admin/messages?robot=ops", trust_env=False).json()
    assert len(data["messages"]) == 1 and "芒果冰沙" in data["messages"][0]["text"]
    assert json.loads(json.dumps(data))  # JSON all the way
