"""Hostile scraped text in every format: no mention of everyone, no foreign link, no broken markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from alerts.delivery import escape
from alerts.delivery.channels import make_channel
from alerts.delivery.formats import to_html, to_text
from alerts.delivery.render import render
from crawler.config import ChannelConfig
from simulator.receiver.server import Receiver

from .conftest import HOSTILE, FakeClock, mention_payload

POST = "https://m.weibo.cn/detail/4900000001?from=(x)&q=[1]"
POST_SAFE = "https://m.weibo.cn/detail/4900000001?from=%28x%29&q=%5B1%5D"
DASH = "http://127.0.0.1:8600/alerts/1"
ALLOWED = {POST_SAFE, DASH}
FORBIDDEN = (
    "@",
    "<at",
    "<!channel",
    "<!here",
    "<@",
    "<script",
    "](http://evil",
    "evil.example.com",
    "javascript:",
)


def hostile_payload() -> dict[str, Any]:
    p = mention_payload(1, text=HOSTILE, author="[官方](http://evil.example.com) @所有人 **大V**", url=POST)
    p["title"] = "<!channel> @all 标题 **炸裂** [x](http://evil.example.com)"
    p["event"]["title"] = '# 事件 <at user_id="all"></at>'
    p["reasons"] = ["`代码`", "<b>粗</b>", "@here"]
    return p


def check_markdown(text: str, *, wecom: bool = False) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, bad
    assert set(re.findall(r"\]\(([^)]*)\)", text)) <= ALLOWED
    assert text.count("**") % 2 == 0
    lines = [line for line in text.split("\n") if line]
    assert not any(line.startswith(("#", "-", "+", "* ", "1.")) for line in lines[1:]), lines
    stripped = re.sub(r'<font color="(warning|comment|info)">|</font>', "", text) if wecom else text
    assert "<" not in stripped and ">" not in stripped.replace("\n> ", "\n").lstrip("> ")
    if wecom:
        assert text.count("<font") == text.count("</font>")


def _send(receiver: Receiver, clock: FakeClock, name: str, cfg: ChannelConfig) -> list[Any]:
    ch = make_channel(name, cfg, clock=clock.time)
    for part in ch.parts(hostile_payload(), ref="告警编号 9", key="yq-h"):
        ch.send(part, key="yq-h")
    return receiver.messages(name)


def test_hostile_dingtalk(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(
        receiver,
        clock,
        "d",
        ChannelConfig(type="dingtalk", url=receiver.dingtalk("d", secret="SECs"), secret="SECs"),
    )
    check_markdown(msg.body["markdown"]["text"])
    assert msg.body["at"] == {"atMobiles": [], "atUserIds": [], "isAtAll": False}
    assert "@" not in msg.body["markdown"]["title"]
    assert f"[查看原帖]({POST_SAFE})" in msg.body["markdown"]["text"]
    assert "＠所有人" in msg.text and "〔链接 evil．example．com〕" in msg.text  # shown, defused


def test_hostile_wecom(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(receiver, clock, "w", ChannelConfig(type="wecom", url=receiver.wecom("w")))
    check_markdown(msg.body["markdown"]["content"], wecom=True)


def test_hostile_feishu_card(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(receiver, clock, "f", ChannelConfig(type="feishu", url=receiver.feishu("f")))
    card = msg.body["card"]
    check_markdown(card["elements"][0]["text"]["content"])
    for bad in FORBIDDEN:
        assert bad not in card["header"]["title"]["content"]
        assert bad not in str(card["elements"][1])


def test_hostile_feishu_post(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(receiver, clock, "f", ChannelConfig(type="feishu", url=receiver.feishu("f"), style="post"))
    post = msg.body["content"]["post"]["zh_cn"]
    tags = [t for row in post["content"] for t in row]
    assert {t["tag"] for t in tags} == {"text", "a"}
    assert {t["href"] for t in tags if t["tag"] == "a"} == ALLOWED
    for bad in FORBIDDEN:
        assert bad not in post["title"] and all(bad not in t["text"] for t in tags if t["tag"] == "text")


def test_hostile_slack(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(receiver, clock, "s", ChannelConfig(type="slack", url=receiver.slack("s")))
    for block in msg.body["blocks"]:
        texts = [block["text"]["text"]] if "text" in block else [e["text"] for e in block["elements"]]
        for text in texts:
            for bad in FORBIDDEN:
                assert bad not in text, (bad, text)
            links = re.findall(r"<([^>]*)>", text)
            assert all(link.split("|")[0] in ALLOWED for link in links), links
            assert text.count("*") % 2 == 0 and "_" not in text and "~" not in text and "`" not in text
    assert "<b>" not in msg.text
    assert "@" not in msg.body["text"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_hostile_html_and_text() -> None:
    doc = render(hostile_payload(), ref="告警编号 9")
    parser = _Tags()
    parser.feed(to_html(doc))
    assert {t for t, _ in parser.tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "body",
        "h3",
        "p",
        "b",
        "blockquote",
        "a",
    }
    assert {a["href"] for t, a in parser.tags if t == "a"} == ALLOWED
    text = to_text(doc)
    for bad in FORBIDDEN:
        assert bad not in text


def test_hostile_webhook(receiver: Receiver, clock: FakeClock) -> None:
    [msg] = _send(
        receiver, clock, "h", ChannelConfig(type="webhook", url=receiver.webhook("h", secret="k"), secret="k")
    )
    for bad in FORBIDDEN:
        assert bad not in msg.body["text"] and bad not in msg.body["markdown"]
    assert msg.body["payload"]["mention"]["text"] == HOSTILE  # the raw data, documented as untrusted


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "http://user:pw@evil.com/",
        "ftp://x.com/a",
        "http://a b.com/",
        "http://evil.com/\u202e",
        None,
        42,
    ],
)
def test_only_plain_http_links_survive(url: object) -> None:
    assert escape.safe_link(url) is None
    payload = mention_payload(1)
    payload["mention"]["url"] = url
    doc = render(payload, ref="r")
    assert all(line.url is None or line.url == DASH for line in doc.head + doc.foot)


def test_neutralise_keeps_the_meaning() -> None:
    out = escape.neutralise("  客服电话打不通\n\n@所有人 看 https://t.cn/abc  ")
    assert out == "客服电话打不通 ＠所有人 看 〔链接 t．cn〕"
    assert escape.md("1. 第一\u200b条") == "1． 第一条"
    assert escape.neutralise("很长" * 300, max_chars=10) == "很长很长很长很长很…"


def test_every_format_character_and_bidi_control_is_removed() -> None:
    import sys
    import unicodedata

    fmt = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    controls = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + [chr(c) for c in range(0x7F, 0xA0)]
    hostile = "客服" + "".join(fmt) + "".join(controls) + "不理人"
    assert escape.neutralise(hostile) == "客服不理人"
    # the isolates that flip how a link or a number reads, one by one
    for ch in ("\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\u202e", "\u200f"):
        assert ch not in escape.neutralise(f"退款{ch}123{ch}元")


@pytest.mark.parametrize("domain", ["evil.ru", "x.dev", "pay-now.shop.museum", "A.B.xn--p1ai.COM", "t.me"])
def test_any_bare_domain_is_defanged(domain: str) -> None:
    out = escape.neutralise(f"快去 {domain} 领红包")
    assert domain not in out and domain.replace(".", "．") in out
    assert escape.neutralise("版本 v1.0 价格 3.5 元") == "版本 v1.0 价格 3.5 元"  # numbers are no domains
