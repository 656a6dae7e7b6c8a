"""Rules (pure), quiet hours, and digest mode end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from alerts import rules
from alerts.triage.run import flush_digest
from crawler.clock import utcnow
from crawler.config import AlertRule
from crawler.errors import ConfigError
from crawler.storage.models import Alert, AlertDelivery, DigestItem
from tests.alerts.conftest import make_cfg, mention, store

M = {
    "platform": "weibo",
    "brand": "鲜果时光",
    "is_complaint": True,
    "risk": 70,
    "urgency": "紧急",
    "category": "产品质量",
    "text": "橙汁里有异物，要求退款",
    "author_followers": 5000,
    "likes": 300,
    "comments": 100,
    "shares": 50,
    "sentiment": 0.1,
}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({}, True),
        ({"min_risk": 80}, False),
        ({"min_urgency": "紧急"}, True),
        ({"min_urgency": "非常紧急"}, False),
        ({"categories": ["产品质量", "食用不适"]}, True),
        ({"categories": ["物流配送"]}, False),
        ({"platforms": ["douyin"]}, False),
        ({"brands": ["小鹿宝贝"]}, False),
        ({"keywords": ["异物"]}, True),
        ({"keywords": ["头发"]}, False),
        ({"min_followers": 100_000}, False),
        ({"min_engagement": 450}, True),
        ({"min_engagement": 451}, False),
        ({"negative_only": True}, True),
    ],
)
def test_rule_conditions(conditions: dict, expected: bool) -> None:
    rule = AlertRule(name="r", channels=["pr"], **conditions)
    assert rules.rule_matches(rule, M) is expected


def test_complaints_only_and_surge_only_rules() -> None:
    praise = {**M, "is_complaint": False, "sentiment": 0.9, "urgency": None}
    assert not rules.rule_matches(AlertRule(name="a", channels=["x"]), praise)
    assert rules.rule_matches(AlertRule(name="b", channels=["x"], complaints_only=False), praise)
    assert not rules.rule_matches(AlertRule(name="c", channels=["x"], mentions=False, surge=True), M)
    with pytest.raises(ValidationError, match="neither mentions nor surges"):
        AlertRule(name="d", channels=["x"], mentions=False)


def test_route_splits_immediate_and_digest_and_validates_names() -> None:
    cfg = make_cfg()
    r = rules.route(cfg, M)
    assert r.immediate == ["pr"] and r.digest == ["ops"] and r.rules == ["危机", "一般投诉"]
    low = rules.route(cfg, {**M, "urgency": "一般", "risk": 40})
    assert low.immediate == [] and low.digest == ["ops"]
    assert rules.surge_channels(cfg, "鲜果时光") == ["pr"]
    with pytest.raises(ConfigError, match="duplicate rule name"):
        make_cfg(alerts={"rules": [{"name": "x", "channels": ["pr"]}, {"name": "x", "channels": ["ops"]}]})


def test_quiet_hours_cross_midnight_with_override() -> None:
    cfg = make_cfg(alerts={"quiet_hours": {"start": "22:00", "end": "08:00"}})
    late = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert rules.quiet_until(cfg, late, "紧急") == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    early = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)  # 06:00 next day
    assert rules.quiet_until(cfg, early, None) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert rules.quiet_until(cfg, late, "非常紧急") is None  # override
    assert rules.quiet_until(cfg, datetime(2026, 11, 22, 4, 0, tzinfo=UTC), "一般") is None  # 12:00
    assert rules.quiet_until(make_cfg(), late, "一般") is None


def _next_night() -> datetime:
    """The coming 23:30 in Shanghai (15:30 UTC): deliveries are never scheduled in the past."""
    now = utcnow()
    night = now.replace(hour=15, minute=30, second=0, microsecond=0)
    return night if night > now else night + timedelta(days=1)


def test_quiet_hours_delay_immediate_alerts_but_not_very_urgent(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"quiet_hours": {"start": "22:00", "end": "08:00"}})
    night = _next_night()
    morning = (night + timedelta(days=1)).replace(hour=0, minute=0)  # 08:00 in Shanghai
    store(
        engine,
        cfg,
        [mention("鲜果时光橙汁变质了，要求退款", published_at=night - timedelta(minutes=2))],
        now=night,
    )
    store(
        engine,
        cfg,
        [
            mention(
                "小鹿宝贝奶粉吃了住院了，已经报警",
                brand="小鹿宝贝",
                urgency="非常紧急",
                risk=95,
                published_at=night - timedelta(minutes=1),
            )
        ],
        now=night,
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(Alert.urgency, AlertDelivery.next_attempt_at)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .order_by(Alert.id)
        ).all()
    assert rows[0].urgency == "紧急" and rows[0].next_attempt_at == morning
    assert rows[1].urgency == "非常紧急" and rows[1].next_attempt_at < night + timedelta(minutes=1)


def test_digest_collects_below_threshold_and_flushes_once(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    rows = [
        mention(
            f"鲜果时光的第{i}家店配送太慢了，等了两个小时{'！' * i}",
            urgency="一般",
            risk=40,
            category="物流配送",
            author_id=f"d{i}",
        )
        for i in range(3)
    ]
    rows.append(mention("鲜果时光新品好喝", is_complaint=False, urgency=None, category=None, risk=3))
    counts = store(engine, cfg, rows)
    assert counts["alerts"] == 0 and counts["digest"] == 3
    assert flush_digest(engine, cfg) == 0  # not due: the oldest item has not waited digest_minutes (60)
    later = utcnow() + timedelta(minutes=61)
    assert flush_digest(engine, cfg, now=later) == 1
    assert flush_digest(engine, cfg, now=later) == 0  # nothing new
    with engine.connect() as conn:
        alert = conn.execute(select(Alert).where(Alert.kind == "digest")).one()
        chans = (
            conn.execute(select(AlertDelivery.channel).where(AlertDelivery.alert_id == alert.id))
            .scalars()
            .all()
        )
        pending = conn.execute(select(DigestItem).where(DigestItem.flushed_at.is_(None))).all()
    assert chans == ["ops"] and not pending
    assert alert.payload["total"] == 3 and "鲜果时光 3 条" in alert.payload["text"]
    assert sum(item["count"] for item in alert.payload["items"]) == 3
    # re-crawling the same posts (updated engagement) folds nothing again
    again = store(engine, cfg, [{**r, "likes": 99} for r in rows])
    assert again["digest"] == 0


def test_digest_waits_for_quiet_hours_to_end(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"quiet_hours": {"start": "22:00", "end": "08:00"}})
    store(engine, cfg, [mention("鲜果时光配送慢", urgency="一般", risk=40)])
    night = _next_night()
    assert flush_digest(engine, cfg, now=night) == 0
    assert flush_digest(engine, cfg, now=night + timedelta(hours=2)) == 0  # 01:30, still quiet, though due
    assert flush_digest(engine, cfg, now=night + timedelta(hours=9, minutes=30)) == 1  # 09:00


def test_digest_due_per_channel_and_forced(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"digest_minutes": 30})
    t0 = utcnow()
    store(engine, cfg, [mention("鲜果时光配送慢了一小时", urgency="一般", risk=40, author_id="a1")], now=t0)
    # an event follow-up: the first post alerted 'pr', the second folds into pr's digest and ops' digest
    store(engine, cfg, [mention("鲜果时光的橙汁喝出异物要求退款", author_id="b1")], now=t0)
    store(
        engine,
        cfg,
        [mention("鲜果时光的橙汁喝出异物要求退款！！", author_id="b2")],
        now=t0 + timedelta(minutes=20),
    )
    assert flush_digest(engine, cfg, now=t0 + timedelta(minutes=31)) == 1  # ops is due, pr (20 min) is not
    assert flush_digest(engine, cfg, now=t0 + timedelta(minutes=32), force=True) == 1  # pr now
    with engine.connect() as conn:
        rows = conn.execute(select(DigestItem.channels, DigestItem.flushed_at)).all()
        digests = (
            conn.execute(
                select(AlertDelivery.channel)
                .join(Alert, Alert.id == AlertDelivery.alert_id)
                .where(Alert.kind == "digest")
                .order_by(Alert.id)
            )
            .scalars()
            .all()
        )
    assert digests == ["ops", "pr"]
    assert all(r.flushed_at is not None and r.channels == [] for r in rows)
