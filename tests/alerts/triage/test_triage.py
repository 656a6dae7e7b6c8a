"""Triage end to end on a real database: one alert per event, escalations only, safe payloads."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from crawler.clock import utcnow
from crawler.storage.models import Alert, AlertDelivery, Complaint, Event
from tests.alerts.conftest import make_cfg, mention, store, watched_for

CRISIS = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"


def _alerts(engine) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            select(Alert.kind, Alert.dedup_key, Alert.urgency, Alert.payload).order_by(Alert.id)
        ).all()


def test_crisis_gives_one_alert_then_only_escalations(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"surge": {"enabled": False}})
    now = utcnow()

    def reposts(n: int, start: int, **kw) -> list[dict]:  # type: ignore[no-untyped-def]
        return [
            mention(f"{CRISIS} //@网友{start + i}:", published_at=now - timedelta(minutes=20), **kw)
            for i in range(n)
        ]

    for b in range(4):
        store(engine, cfg, reposts(8, b * 8), now=now)
    kinds = [a.kind for a in _alerts(engine) if a.kind != "digest"]
    assert kinds == ["mention"]
    store(engine, cfg, reposts(3, 100, urgency="非常紧急", risk=92), now=now)  # level rises
    store(engine, cfg, reposts(3, 200, urgency="非常紧急", risk=93), now=now)  # same level: nothing new
    store(
        engine, cfg, reposts(1, 300, author_followers=2_000_000, author_name="美食大V"), now=now
    )  # big-V joins
    store(engine, cfg, reposts(1, 400, author_followers=3_000_000), now=now)  # another big-V: no news
    alerts = _alerts(engine)
    assert [a.kind for a in alerts] == ["mention", "event", "event"]
    assert "事件升级为「非常紧急」" in alerts[1].payload["text"]
    assert "大V加入" in alerts[2].payload["text"] and "美食大V" in alerts[2].payload["text"]
    assert alerts[2].payload["event"]["mention_count"] == 39  # when the big-V joined
    with engine.connect() as conn:
        event = conn.execute(select(Event)).one()
        folded = conn.execute(select(func.count()).select_from(AlertDelivery)).scalar()
    assert event.alert_state["alerts"] == 3 and event.alert_state["urgency"] == 3
    assert folded == 3  # one delivery per alert to 'pr', nothing else sent yet (the rest waits in the digest)


def test_event_surge_escalates_an_alerted_event_once(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"surge": {"min_count": 10}})
    now = utcnow()
    watched_for(engine, cfg)  # not the brand's first crawl (a surge then is for the backfill summary)
    first = [mention(f"{CRISIS} #{i}", published_at=now - timedelta(minutes=10)) for i in range(3)]
    store(engine, cfg, first, now=now)
    burst = [mention(f"{CRISIS} //@路人{i}:", published_at=now - timedelta(minutes=5)) for i in range(12)]
    counts = store(engine, cfg, burst, now=now)
    assert counts["surges"] >= 1
    surges = [a for a in _alerts(engine) if a.kind == "surge"]
    ev = next(a for a in surges if a.dedup_key.startswith("surge:event:"))
    assert ev.payload["event"]["mention_count"] == 15 and ev.payload["event"]["trend"] == "new"
    store(
        engine, cfg, [mention(f"{CRISIS} //@又一位{i}:") for i in range(12)], now=now + timedelta(minutes=1)
    )
    assert len([a for a in _alerts(engine) if a.kind == "surge"]) == len(surges)  # cooldown


def test_payload_is_masked_and_carries_the_complaint(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    raw = "鲜果时光果汁有虫子！订单号 202611220001234 电话 13812345678 快退钱"
    masked = "鲜果时光果汁有虫子！订单号 *************** 电话 138****5678 快退钱"
    store(engine, cfg, [mention(raw, masked_text=masked, urgency="紧急", risk=75)])
    alert = _alerts(engine)[0]
    body = json.dumps(alert.payload, ensure_ascii=False)
    assert "13812345678" not in body and "202611220001234" not in body
    assert alert.payload["mention"]["text"] == masked
    assert alert.payload["complaint"]["number"].startswith("TS")
    assert alert.payload["complaint"]["due_first_check_at"]
    with engine.connect() as conn:
        assert conn.execute(select(Complaint.reported_at)).scalar() is not None  # the alert is the report


def test_report_channels_get_urgent_records_in_one_message(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"rules": []}, complaints={"report_channels": ["legal"]})
    counts = store(
        engine,
        cfg,
        [
            mention("鲜果时光过期了，要求赔偿", urgency="紧急"),
            mention("鲜果时光吃完住院了", urgency="非常紧急", risk=95, category="食用不适"),
            mention("鲜果时光一般般吧有点失望", urgency="一般", risk=35, category="其他"),
        ],
    )
    assert counts["complaints"] == 3 and counts["alerts"] == 1
    alert = _alerts(engine)[0]
    assert alert.kind == "complaint" and "新登记紧急客诉 2 条" in alert.payload["title"]
    assert alert.payload["complaint"]["urgency"] == "非常紧急" and len(alert.payload["items"]) == 2
    with engine.connect() as conn:
        reported = dict(conn.execute(select(Complaint.urgency, Complaint.reported_at)).all())
    assert reported["紧急"] and reported["非常紧急"] and reported["一般"] is None
    assert (
        store(engine, cfg, [mention("鲜果时光又坏了一次要退货", urgency="紧急", category="退换货")])["alerts"]
        == 1
    )


def test_triage_survives_sparse_rows_and_updates(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    odd = [
        mention(
            "",
            masked_text=None,
            author_id=None,
            author_name=None,
            published_at=None,
            sentiment=None,
            category=None,
            urgency=None,
            reasons=None,
        ),
        mention("鲜果时光", is_complaint=None, risk=None, author_followers=0, url=None),
        {
            "platform": "heimao",
            "post_id": "h1",
            "brand": "鲜果时光",
            "text": "投诉：鲜果时光不发货",
            "is_complaint": True,
            "risk": 45,
        },
    ]
    counts = store(engine, cfg, odd)
    assert counts["events"] == 3
    with engine.connect() as conn:
        heimao = conn.execute(select(Complaint).where(Complaint.platform == "heimao")).one()
    assert heimao.urgency == "紧急" and heimao.category == "其他"  # every Heimao complaint is at least 紧急
    again = store(engine, cfg, [{**r, "likes": 5} for r in odd])
    assert again["complaints"] == 0 and again["alerts"] == 0 and again["events"] == 0
    assert store(engine, cfg, odd) == dict.fromkeys(again, 0)  # unchanged rows: nothing to do


def test_a_false_positive_mark_silences_the_rest_of_the_event(engine) -> None:  # type: ignore[no-untyped-def]
    from alerts.complaints.records import correct_verdict

    cfg = make_cfg(alerts={"surge": {"enabled": False}})
    now = utcnow()
    store(
        engine,
        cfg,
        [mention(f"{CRISIS} //@网友{i}:", published_at=now - timedelta(minutes=20)) for i in range(3)],
        now=now,
    )
    assert [a.kind for a in _alerts(engine) if a.kind != "digest"] == ["mention"]
    with engine.begin() as conn:
        number = (
            conn.execute(select(Complaint.number).where(Complaint.event_id.is_not(None))).scalars().first()
        )
        correct_verdict(conn, number, actor="王芳", not_complaint=True, note="广告号编的故事", now=now)
    with engine.connect() as conn:
        state = conn.execute(select(Event.alert_state)).scalar()
    assert state["muted"]["record"] == number and state["muted"]["by"] == "王芳"
    # what would have escalated the event (a 非常紧急 wave, a big-V) now raises no alert
    counts = store(
        engine,
        cfg,
        [
            mention(f"{CRISIS} //@后来{i}:", urgency="非常紧急", risk=95, author_followers=3_000_000)
            for i in range(3)
        ],
        now=now,
    )
    assert counts["muted"] == 3
    assert [a.kind for a in _alerts(engine) if a.kind != "digest"] == ["mention"]
