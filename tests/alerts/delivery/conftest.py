"""Fixtures for the channel / outbox / dispatcher tests: a fake clock, the loopback receiver, configs, payloads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerts.delivery.outbox import enqueue
from crawler.config import AppConfig, config_from_dict
from simulator.receiver.server import Receiver

HOSTILE = (
    '@所有人 @all <at user_id="all">所有人</at> <!channel> <!here> <@U024BE7LH> '
    '[点我领券](http://evil.example.com/x?a=1) **加粗 # 标题\n- 列表项\n> 引用 `代码` <font color="warning">红</font> '
    "<script>alert(1)</script> www.evil.cn/p 访问 evil.top 或 javascript:alert(1) \u202e反转 & |管道| _斜体_ ~删除~"
)


class FakeClock:
    """Shared by the dispatcher (``now=``) and the receiver, so minutes pass instantly."""

    def __init__(self) -> None:
        self.t = time.time() + 1.0  # a moment after anything the test enqueues (enqueue stamps real time)

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    with Receiver(clock=clock.time) as rx:
        yield rx


def make_config(channels: dict[str, dict[str, Any]], **alerts: Any) -> AppConfig:
    return config_from_dict(
        {"brands": [{"name": "鲜果时光", "aliases": ["鲜果"]}], "alerts": {"channels": channels, **alerts}}
    )


def mention_payload(
    i: int = 1, *, text: str | None = None, author: str = "吃货小王", url: str | None = None
) -> dict[str, Any]:
    return {
        "kind": "mention",
        "brand": "鲜果时光",
        "urgency": "紧急",
        "risk": 81,
        "reasons": ["食品安全", "要求退款"],
        "title": f"芒果冰沙喝后腹泻 {i}",
        "mention": {
            "platform": "weibo",
            "platform_name": "微博",
            "author_name": author,
            "author_followers": 123456,
            "author_verified": True,
            "text": text if text is not None else f"第{i}条：喝了鲜果时光芒果冰沙拉肚子，要求退款",
            "likes": 1200,
            "comments": 30,
            "shares": 45,
            "url": url or f"https://m.weibo.cn/detail/49{i:08d}",
            "published_at": "2026-11-22T07:00:00+00:00",
            "ip_region": "广东",
            "category": "食用不适",
        },
        "event": {
            "id": 3,
            "title": "芒果冰沙腹泻",
            "mention_count": 12,
            "platform_counts": {"weibo": 9, "douyin": 3},
            "engagement": 5000,
            "trend": "rising",
            "first_seen_at": "2026-11-22T06:00:00+00:00",
        },
        "complaint": {
            "number": "TS20261122-0001",
            "category": "食用不适",
            "urgency": "紧急",
            "team": "品控组",
            "assignee": "张三",
            "status": "待处理",
            "due_report_at": "2026-11-22T07:30:00+00:00",
            "due_first_check_at": "2026-11-22T07:30:00+00:00",
            "due_answer_at": "2026-11-22T09:00:00+00:00",
            "due_resolve_at": "2026-11-22T11:00:00+00:00",
        },
        "links": {"dashboard": "http://127.0.0.1:8600/alerts/1"},
    }


def enqueue_many(engine: Engine, cfg: AppConfig, n: int, channels: list[str], *, start: int = 0) -> list[int]:
    ids = []
    with engine.begin() as conn:
        for i in range(start, start + n):
            alert_id = enqueue(
                conn,
                cfg,
                kind="mention",
                dedup_key=f"test:{i}",
                title=f"标题 {i}",
                payload=mention_payload(i),
                channels=channels,
                brand="鲜果时光",
                urgency="紧急",
                risk=81,
            )
            assert alert_id is not None
            ids.append(alert_id)
    return ids


def alert_refs(messages: list[Any]) -> list[str]:
    """The alert numbers shown in received messages (the footer names each alert)."""
    import re

    return [m.group(1) for r in messages for m in [re.search(r"告警编号 (\d+)", r.text)] if m]
