"""Context in every message: a comment under its post, an event with its size, speed and top spreader.

Triage on a real database, delivered by the dispatcher to the loopback robots (DingTalk, WeCom,
Feishu, Slack), which check signatures, bodies and sizes as the platforms do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts.delivery.channels import make_channel
from alerts.delivery.dispatch import dispatch_once
from crawler.clock import utcnow
from crawler.config import AppConfig, ChannelConfig, config_from_dict
from crawler.storage.models import Alert, AlertDelivery
from simulator.receiver.server import Receiver
from tests.alerts.conftest import mention, store
from tests.alerts.delivery.conftest import HOSTILE

ROBOTS = ("dt", "wc", "fs", "sl")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def robots_cfg(rx: Receiver) -> AppConfig:
    return config_from_dict(
        {
            "brands": [{"name": "鲜果时光", "aliases": ["鲜果"], "keywords": ["鲜果时光"]}],
            "alerts": {
                "channels": {
                    "dt": {"type": "dingtalk", "url": rx.dingtalk("dt", secret="SECdt"), "secret": "SECdt"},
                    "wc": {"type": "wecom", "url": rx.wecom("wc")},
                    "fs": {"type": "feishu", "url": rx.feishu("fs", secret="fsk"), "secret": "fsk"},
                    "sl": {"type": "slack", "url": rx.slack("sl")},
                },
                "rules": [{"name": "危机", "channels": list(ROBOTS), "min_urgency": "紧急"}],
                "surge": {"enabled": False},
            },
        }
    )


def deliver(engine: Any, cfg: AppConfig) -> None:
    for _ in range(5):
        if dispatch_once(engine, cfg).claimed == 0:
            return


def _post(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "is_complaint": False,
        "urgency": None,
        "risk": 5,
        "sentiment": 0.6,
        "author_name": "美食博主小王",
        "author_followers": 123_456,
        "author_verified": True,
        "likes": 1200,
        "comments": 30,
        "shares": 45,
        "published_at": utcnow() - timedelta(hours=2),
    }
    return mention(kw.pop("text", "鲜果时光新出的芒果冰沙大家喝了吗？说说感受"), **(values | kw))


def _comment(post: dict[str, Any], text: str, **kw: Any) -> dict[str, Any]:
    return mention(
        text,
        kind="comment",
        parent_post_id=post["post_id"],
        author_name=kw.pop("author_name", "路人甲"),
        author_followers=kw.pop("author_followers", 35),
        likes=3,
        **kw,
    )


def test_a_comment_alert_is_shown_under_its_post_on_every_robot(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = robots_cfg(receiver)
    post = _post()
    store(engine, cfg, [post])
    risky = [
        _comment(post, f"鲜果时光芒果冰沙喝完肚子疼，第{i}个了，要求退款", urgency="一般", risk=45)
        for i in range(3)
    ]
    calm = [_comment(post, "挺好喝的，已回购", is_complaint=False, urgency=None, risk=2)]
    store(engine, cfg, [*risky, *calm])
    trigger = _comment(
        post, "建议直接打12315，鲜果时光这种态度必须投诉", urgency="非常紧急", risk=88, author_name="维权达人"
    )
    store(engine, cfg, [trigger])
    with engine.connect() as conn:
        [payload] = conn.execute(select(Alert.payload).where(Alert.kind == "mention")).scalars().all()
    assert payload["post"]["author_name"] == "美食博主小王" and payload["post"]["risky_comments"] == 4
    assert payload["post"]["stored_comments"] == 5 and payload["mention"]["kind"] == "comment"
    deliver(engine, cfg)
    for robot in ROBOTS:
        [msg] = receiver.visible(robot)
        text = msg.text
        for expected in (
            "原帖",
            "美食博主小王",
            "12.3万",
            "赞 1200",
            "芒果冰沙大家喝了吗",
            "该帖已有 4 条风险评论",
            "已采集评论 5 条",
            "评论者",
            "维权达人",
            "建议直接打12315",
        ):
            assert expected in text, (robot, expected)
        assert (
            text.index("美食博主小王") < text.index("芒果冰沙大家喝了吗") < text.rindex("建议直接打12315")
        ), robot
    with engine.connect() as conn:
        parts = set(conn.execute(select(AlertDelivery.parts_total)).scalars())
    assert parts == {1}  # one message per robot, within its size limit


def test_hostile_post_text_and_names_are_neutralised_in_the_context(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = robots_cfg(receiver)
    post = _post(text="鲜果时光 " + HOSTILE, author_name="@所有人 <!channel> [官方](http://evil.example.com)")
    store(engine, cfg, [post])
    store(
        engine,
        cfg,
        [
            _comment(
                post,
                '鲜果时光喝出虫子 @all <at user_id="all">所有人</at>',
                urgency="非常紧急",
                risk=90,
                author_name="<!here>",
            )
        ],
    )
    deliver(engine, cfg)
    for robot in ROBOTS:
        [msg] = receiver.visible(robot)
        raw = str(msg.body)
        for bad in (
            "@所有人",
            "<!channel>",
            "<!here>",
            "http://evil.example.com",
            '<at user_id="all">',
            "<script>",
            "isAtAll': True",
        ):
            assert bad not in raw, (robot, bad)
        assert "原帖" in msg.text and "〔链接" in msg.text


def test_a_comment_whose_post_was_not_stored_says_so(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = robots_cfg(receiver)
    store(
        engine,
        cfg,
        [
            mention(
                "鲜果时光的轻食杯里有头发，已经打了12315",
                kind="comment",
                parent_post_id="p-gone",
                urgency="非常紧急",
                risk=91,
            )
        ],
    )
    deliver(engine, cfg)
    text = receiver.visible("wc")[0].text
    assert "未采集到原帖" in text and "该帖已有 1 条风险评论" in text


def test_an_event_alert_says_size_platforms_speed_and_top_spreader(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = robots_cfg(receiver)
    now = utcnow()
    story = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"
    earlier = [
        mention(f"{story} //@早先{i}:", urgency="紧急", published_at=now - timedelta(minutes=80 + i))
        for i in range(2)
    ]
    recent = [
        mention(
            f"{story} //@网友{i}:",
            urgency="紧急",
            platform="weibo" if i < 3 else "douyin",
            published_at=now - timedelta(minutes=5 + i),
        )
        for i in range(5)
    ]
    recent.append(
        mention(
            f"{story} //@美食大V:",
            urgency="非常紧急",
            risk=95,
            platform="douyin",
            author_name="美食大V",
            author_followers=2_000_000,
            author_verified=True,
            likes=40_000,
            comments=5_000,
            shares=6_000,
            published_at=now - timedelta(minutes=2),
        )
    )
    store(engine, cfg, [*earlier, *recent], now=now)
    with engine.connect() as conn:
        [payload] = conn.execute(select(Alert.payload).where(Alert.kind == "mention")).scalars().all()
    event = payload["event"]
    assert (
        event["mention_count"] == 8
        and event["growth"]["last_hour"] == 6
        and event["growth"]["prev_hour"] == 2
    )
    assert event["spreader"]["author_name"] == "美食大V"
    deliver(engine, cfg)
    for robot in ROBOTS:
        text = receiver.visible(robot)[0].text
        for expected in (
            "规模",
            "帖子 8 条",
            "微博 5",
            "抖音 3",
            "增速",
            "近1小时新增 6 条，此前1小时 2 条",
            "扩散最广",
            "美食大V",
            "200万",
            "互动 5.1万",
        ):
            assert expected in text, (robot, expected)


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu", "slack"])
def test_the_longest_context_fits_each_robot_in_one_message(kind: str) -> None:
    long = ("鲜果时光" + HOSTILE) * 8
    payload = {
        "kind": "mention",
        "brand": "鲜果时光",
        "urgency": "非常紧急",
        "risk": 99,
        "title": long[:40],
        "reasons": [f"原因{i} {long[:30]}" for i in range(8)],
        "mention": {
            "platform": "weibo",
            "kind": "comment",
            "author_name": long[:60],
            "author_followers": 12,
            "text": long[:300] + "…",
            "likes": 1,
            "comments": 0,
            "shares": 0,
            "url": "https://m.weibo.cn/detail/1",
            "published_at": "2026-11-22T07:00:00+00:00",
            "ip_region": "广东",
            "category": "食用不适",
        },
        "post": {
            "missing": False,
            "text": long[:120] + "…",
            "author_name": long[:60],
            "author_followers": 10**7,
            "author_verified": True,
            "likes": 10**6,
            "comments": 10**5,
            "shares": 10**5,
            "url": "https://m.weibo.cn/detail/2",
            "published_at": "2026-11-22T06:00:00+00:00",
            "stored_comments": 999,
            "risky_comments": 512,
        },
        "event": {
            "id": 1,
            "title": long[:60] + "…",
            "mention_count": 12_345,
            "platform_counts": {"weibo": 9000, "douyin": 3000, "xiaohongshu": 300, "heimao": 45},
            "engagement": 10**8,
            "trend": "rising",
            "first_seen_at": "2026-11-22T06:00:00+00:00",
            "comment_count": 4000,
            "growth": {"last_hour": 9000, "prev_hour": 300, "minutes": 60},
            "spreader": {
                "author_name": long[:60],
                "platform": "douyin",
                "followers": 10**7,
                "verified": True,
                "engagement": 10**6,
            },
        },
        "complaint": {
            "number": "TS20261122-0001",
            "category": "食用不适",
            "urgency": "非常紧急",
            "team": "重大投诉组",
            "status": "待处理",
            "due_report_at": "2026-11-22T07:30:00+00:00",
        },
        "links": {"dashboard": "https://yuqing.example.com/"},
    }
    cfg = ChannelConfig(type=kind, url="http://127.0.0.1:9/x")
    ch = make_channel("c", cfg)
    parts = ch.parts(payload, ref="告警编号 12345")
    assert len(parts) == 1 and cfg.size_limit is not None and ch.measure(parts[0]) <= cfg.size_limit
    for summary_kind in ("backfill", "rollup"):
        items = [
            dict(
                payload["mention"],
                urgency="紧急",
                risk=80,
                brand="鲜果时光",
                post_text=long[:50],
                complaint={"number": f"TS20261122-{i:04d}"},
                event_mentions=99,
            )
            for i in range(5)
        ]
        summary = {
            "kind": summary_kind,
            "brand": "鲜果时光",
            "title": "另有 120 条风险提及",
            "text": long[:80],
            "facts": [["平台", "微博 100 · 抖音 20"], ["等级", "紧急 100"]],
            "items": items,
            "links": payload["links"],
        }
        parts = ch.parts(summary, ref="告警编号 12346")
        assert len(parts) == 1 and ch.measure(parts[0]) <= cfg.size_limit, summary_kind
