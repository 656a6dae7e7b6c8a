"""Surge math (mean + k·σ against the scope's own baseline) and detection with cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts.triage import surge
from crawler.clock import utcnow
from crawler.config import SurgeConfig
from crawler.storage.models import Alert
from tests.alerts.conftest import make_cfg, mention, seen_when_published, store


def test_volume_threshold_uses_mean_k_sigma_with_a_floor() -> None:
    mean, std, thr = surge.volume_threshold([10, 12, 8, 10, 10, 12, 8, 10], k=3, min_count=5)
    assert mean == 10 and std == pytest.approx(1.414, abs=0.01)
    assert thr == pytest.approx(10 + 3 * 10**0.5)  # σ below √mean: Poisson floor
    assert surge.volume_threshold([0] * 12, k=3, min_count=5)[2] == 5  # no history: the minimum count
    assert surge.is_volume_surge(20, [10, 12, 8, 10], 3, 5)
    assert not surge.is_volume_surge(15, [10, 12, 8, 10], 3, 5)
    assert not surge.is_volume_surge(4, [0, 0, 0], 3, 5)
    # a noisy baseline needs more
    assert not surge.is_volume_surge(30, [0, 40, 0, 40, 0, 40], 3, 5)


def test_share_surge_needs_rise_and_min_negatives() -> None:
    assert surge.is_share_surge(8, 10, [0.1, 0.2, 0.1, 0.15], k=3, min_delta=0.2, min_negative=5)
    assert not surge.is_share_surge(4, 5, [0.1, 0.2], k=3, min_delta=0.2, min_negative=5)  # too few
    assert not surge.is_share_surge(
        6, 20, [0.25, 0.3, 0.2], k=3, min_delta=0.2, min_negative=5
    )  # 30 %: usual


def test_evaluate_reports_kind() -> None:
    sc = SurgeConfig()
    assert surge.evaluate([30] + [2] * 12, [1] + [1] * 12, sc, shares=True)[0] == "volume"
    assert surge.evaluate([8] + [8] * 12, [7] + [1] * 12, sc, shares=True)[0] == "negative"
    assert surge.evaluate([8] + [8] * 12, [7] + [1] * 12, sc, shares=False) is None
    assert surge.evaluate([3] + [2] * 12, [0] * 13, sc, shares=True) is None


def _text(i: int) -> str:
    topics = ["门店环境", "新品口味", "会员积分", "外卖包装", "价格调整", "店员服务", "营业时间", "杯子设计"]
    return f"聊聊鲜果时光的{topics[i % 8]}，第{i}条随手记录{'。' * (i % 5)}{chr(0x4E00 + i * 37)}{chr(0x4E80 + i * 11)}"


def _quiet_day(now: datetime) -> list[dict[str, Any]]:
    """26 neutral mentions, one every 25 minutes over the baseline before the last hour."""
    return [
        mention(
            _text(i),
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            published_at=now - timedelta(hours=1, minutes=5 + 25 * i),
        )
        for i in range(26)
    ]


def test_brand_volume_surge_fires_once_per_cooldown(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    now = utcnow()
    counts = store(engine, cfg, _quiet_day(now), now=now)
    assert counts["surges"] == 0
    seen_when_published(engine)  # a brand watched for the whole baseline
    burst = [
        mention(
            _text(100 + i),
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            published_at=now - timedelta(minutes=1 + i),
        )
        for i in range(12)
    ]
    assert store(engine, cfg, burst[:6], now=now)["surges"] == 0  # 6 < 2 + 3·√2 and < min_count floor
    assert store(engine, cfg, burst[6:], now=now)["surges"] == 1  # 12 in the hour: surge
    more = [
        mention(
            _text(200 + i),
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            published_at=now - timedelta(minutes=2),
        )
        for i in range(5)
    ]
    assert store(engine, cfg, more, now=now + timedelta(minutes=5))["surges"] == 0  # cooling down
    with engine.connect() as conn:
        alerts = conn.execute(
            select(Alert.kind, Alert.dedup_key, Alert.payload).where(Alert.kind == "surge")
        ).all()
    assert len(alerts) == 1 and alerts[0].dedup_key.startswith("surge:brand:鲜果时光:1:")
    assert "声量激增" in alerts[0].payload["text"] and alerts[0].payload["surge"]["count"] == 12


def test_brand_negative_share_surge(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"surge": {"min_count": 50}})  # volume alone will not fire
    now = utcnow()
    rows = [
        mention(
            _text(i),
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.8 if i % 5 else 0.1,
            published_at=now - timedelta(hours=1, minutes=5 + 20 * i),
        )
        for i in range(33)
    ]
    store(engine, cfg, rows, now=now)
    seen_when_published(engine)  # a brand watched for the whole baseline
    angry = [
        mention(
            _text(300 + i),
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.05,
            published_at=now - timedelta(minutes=3 + i),
        )
        for i in range(6)
    ]
    counts = store(engine, cfg, angry, now=now)
    assert counts["surges"] == 1
    with engine.connect() as conn:
        payload = conn.execute(select(Alert.payload).where(Alert.kind == "surge")).scalar_one()
    assert payload["surge"]["kind"] == "negative" and "负面占比" in payload["text"]


def test_a_brand_surge_made_of_an_alerted_crisis_is_told_in_the_crisis_not_sent_again(engine) -> None:  # type: ignore[no-untyped-def]
    from crawler.storage.models import Event

    cfg = make_cfg()
    now = utcnow()
    store(engine, cfg, _quiet_day(now), now=now)
    seen_when_published(engine)
    story = "多名消费者反映吃了鲜果时光的芒果冰沙后集体腹泻呕吐，已有人住院，鲜果时光至今没有回应"
    crisis = [
        mention(
            (["", "转发：", "太可怕了，", "扩散！", "真的假的？"][i % 5]) + story + "。" * (i % 3),
            urgency="非常紧急",
            category="食用不适",
            risk=95,
            published_at=now - timedelta(minutes=1 + i),
        )
        for i in range(12)
    ]
    store(engine, cfg, crisis[:1], now=now)  # the crisis' first post: its alert
    counts = store(engine, cfg, crisis[1:], now=now)  # its reposts: the brand's hour surges
    with engine.connect() as conn:
        keys = [
            k for (k,) in conn.execute(select(Alert.dedup_key).where(Alert.kind.in_(("mention", "surge"))))
        ]
        events = {e.id: e for e in conn.execute(select(Event.id, Event.alert_state, Event.mention_count))}
    crisis_event = max(events.values(), key=lambda e: e.mention_count)
    assert crisis_event.mention_count == 12
    assert counts["surges"] >= 1  # it fired ...
    # ... the crisis' own surge is its update; the brand's, made of it, is told in its state, not sent
    assert [k.split(":")[:2] for k in keys] == [["event", str(crisis_event.id)], ["surge", "event"]]
    assert (
        crisis_event.alert_state["surges"] >= 1 and "声量激增" in crisis_event.alert_state["brand_surges"][0]
    )
