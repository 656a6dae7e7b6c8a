"""SLA: business-hours arithmetic and the sweeper with a controllable clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from alerts.complaints import clock
from alerts.complaints import records as complaints
from alerts.complaints.sla import milestone_status, sweep
from crawler.config import BusinessHours
from crawler.storage.models import Alert, AlertDelivery, AlertHold, Complaint
from tests.alerts.conftest import make_cfg, mention, store

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_business_add_skips_nights_weekends_and_holidays() -> None:
    bh = BusinessHours()  # 09:00-18:00 Mon-Fri
    assert clock.business_add(sh(2026, 11, 20, 17, 30), 60, bh, SH) == sh(2026, 11, 23, 9, 30)  # Fri → Mon
    assert clock.business_add(sh(2026, 11, 23, 7, 0), 30, bh, SH) == sh(2026, 11, 23, 9, 30)  # before opening
    assert clock.business_add(sh(2026, 11, 23, 10, 0), 240, bh, SH) == sh(2026, 11, 23, 14, 0)
    assert clock.business_add(sh(2026, 11, 23, 10, 0), 9 * 60 * 2, bh, SH) == sh(2026, 11, 25, 10, 0)
    holiday = BusinessHours(
        holidays=[date(2026, 11, 23)], workdays=[date(2026, 11, 22)]
    )  # 调休: Sunday works
    assert clock.business_add(sh(2026, 11, 21, 12, 0), 30, holiday, SH) == sh(2026, 11, 22, 9, 30)
    assert clock.business_add(sh(2026, 11, 22, 17, 50), 30, holiday, SH) == sh(2026, 11, 24, 9, 20)
    assert clock.business_minutes_between(sh(2026, 11, 20, 17, 0), sh(2026, 11, 23, 10, 0), bh, SH) == 120


def test_deadlines_on_the_business_clock() -> None:
    cfg = make_cfg(complaints={"clock": "business"})
    due = clock.deadlines(cfg, "紧急", sh(2026, 11, 20, 17, 0).astimezone(UTC))  # Friday 17:00
    assert due["due_first_check_at"] == sh(2026, 11, 20, 17, 30)
    assert due["due_answer_at"] == sh(2026, 11, 23, 10, 0)
    assert due["due_resolve_at"] == sh(2026, 11, 23, 12, 0)
    calendar = clock.deadlines(make_cfg(), "一般", sh(2026, 11, 20, 17, 0))
    assert calendar["due_report_at"] is None and calendar["due_resolve_at"] == sh(2026, 11, 21, 17, 0)


ESCALATE = {
    "warn_before_minutes": 10,
    "sla_channels": ["ops"],
    "escalation": [
        {"name": "主管", "after_breach_minutes": 0, "channels": ["legal"], "assignee": "王主管"},
        {"name": "总监", "after_breach_minutes": 60, "team": "总监办"},
    ],
}


def _sla_notices(engine) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    """Each SLA notice held for sending (once per record, milestone and kind), with its channels."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertHold.ref, AlertHold.channel).where(AlertHold.kind == "sla").order_by(AlertHold.id)
        ).all()
    out: dict[str, list[str]] = {}
    for ref, channel in rows:
        out.setdefault(ref.split(":", 3)[3], []).append(channel)
    return [(k, sorted(v)) for k, v in out.items()]


def _sla_messages(engine) -> list[tuple[str, str, list[str]]]:  # type: ignore[no-untyped-def]
    """Each SLA message queued: its dedup key, title and channels."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Alert.id, Alert.dedup_key, Alert.title)
            .where(Alert.kind == "complaint_sla")
            .order_by(Alert.id)
        ).all()
        return [
            (
                r.dedup_key,
                r.title,
                sorted(
                    conn.execute(
                        select(AlertDelivery.channel).where(AlertDelivery.alert_id == r.id)
                    ).scalars()
                ),
            )
            for r in rows
        ]


def test_sweep_warns_breaches_and_escalates_each_once(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(complaints=ESCALATE, alerts={"rules": []})
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store(engine, cfg, [mention(urgency="紧急")], now=t0)
    assert sweep(engine, cfg, now=t0 + timedelta(minutes=5)).as_dict()["warned"] == 0
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=21))  # report + first check due at +30
    assert (s.warned, s.breached, s.escalated) == (2, 0, 0)
    assert sweep(engine, cfg, now=t0 + timedelta(minutes=22)).warned == 0  # once
    with engine.begin() as conn:
        complaints.change_status(
            conn, 1, "处理中", actor="客服A", now=t0 + timedelta(minutes=25)
        )  # first check done
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=31))
    assert (s.breached, s.escalated) == (1, 1)  # report missed (no alert was routed) → 主管
    with engine.connect() as conn:
        rec = complaints.get(conn, 1)
    assert rec["status"] == "已升级" and rec["assignee"] == "王主管" and rec["escalation_level"] == 1
    assert milestone_status(rec, t0 + timedelta(minutes=31)) == {
        "report": "overdue",
        "first_check": "done",
        "answer": "pending",
        "resolve": "pending",
    }
    assert sweep(engine, cfg, now=t0 + timedelta(minutes=40)).as_dict() == {
        "checked": 1,
        "warned": 0,
        "breached": 0,
        "escalated": 0,
        "callbacks": 0,
        "messages": 1,  # the breach and the escalation held for ops at +31
    }
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=91))
    assert (s.escalated, s.breached) == (1, 0)  # 60 min after the first breach → 总监
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=121))
    assert (s.breached, s.escalated) == (1, 0)  # answer (2 h) missed; both levels already used
    keys = _sla_notices(engine)
    assert keys == [  # no sweep ran in the answer's warning window: it breaches without a warning
        ("warn:report", ["ops"]),
        ("warn:first_check", ["ops"]),
        ("breach:report", ["ops"]),
        ("escalate:主管", ["legal", "ops"]),
        ("escalate:总监", ["ops"]),
        ("breach:answer", ["ops"]),
    ]
    # Sent as: the two warnings in one message; the breach and the escalation to legal at once (a
    # channel with no SLA message yet), to ops 15 minutes after its last one; then one a sweep.
    messages = _sla_messages(engine)
    assert [ch for _, _, ch in messages] == [["ops"], ["legal"], ["ops"], ["ops"], ["ops"]]
    assert messages[0][1] == "2 条客诉时限提醒" and messages[1][1].endswith("超时升级至主管")
    with engine.connect() as conn:
        rec = complaints.get(conn, 1)
        actions = [h["action"] for h in complaints.history(conn, 1)]
    assert rec["team"] == "总监办" and rec["escalation_level"] == 2
    assert (
        actions.count("escalate") == 2 and actions.count("breach") == 2 and actions.count("sla_warning") == 2
    )


def test_manual_escalation_meets_the_resolve_clock_and_callback_is_reminded_once(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(complaints={"sla_channels": ["ops"], "warn_before_minutes": 0})
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store(engine, cfg, [mention(urgency="紧急")], now=t0)  # the 危机 rule alerts: reported
    with engine.begin() as conn:
        complaints.add_note(
            conn, 1, actor="客服A", note="已答复客户", answer=True, now=t0 + timedelta(minutes=10)
        )
        complaints.change_status(conn, 1, "已升级", actor="客服A", now=t0 + timedelta(minutes=20))
    assert sweep(engine, cfg, now=t0 + timedelta(hours=5)).breached == 0
    with engine.begin() as conn:
        complaints.change_status(conn, 1, "已解决", actor="客服A", now=t0 + timedelta(hours=6))
    assert sweep(engine, cfg, now=t0 + timedelta(days=7, hours=5)).callbacks == 0
    assert sweep(engine, cfg, now=t0 + timedelta(days=7, hours=6, minutes=1)).callbacks == 1
    assert sweep(engine, cfg, now=t0 + timedelta(days=7, hours=7)).callbacks == 0
    assert [k for k, _ in _sla_notices(engine)] == ["callback"]
    assert [(t, ch) for _, t, ch in _sla_messages(engine)] == [("TS20261123-0001 回访到期", ["ops"])]


STORIES = [
    "鲜果时光的橙汁喝出异物，要求退款！",
    "鲜果时光外卖送了两个小时才到，汤全洒了",
    "鲜果时光会员卡扣了两次年费，客服不理",
    "鲜果时光门店店员态度恶劣，当众辱骂顾客",
    "鲜果时光的果切发霉了，照片为证",
    "小鹿宝贝奶粉罐里有黑色颗粒，要求说法",
    "小鹿宝贝的纸尿裤漏得一塌糊涂，质量太差",
]


def test_a_busy_sweep_sends_one_message_per_brand_and_channel(engine) -> None:  # type: ignore[no-untyped-def]
    from alerts.delivery.render import render

    cfg = make_cfg(
        complaints={"sla_channels": ["ops"], "warn_before_minutes": 10},
        alerts={"rules": []},
        api={"public_url": "http://127.0.0.1:8080"},
    )
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    rows = [
        mention(text, brand="小鹿宝贝" if text.startswith("小鹿") else "鲜果时光", urgency="紧急")
        for text in STORIES
    ]
    store(engine, cfg, rows, now=t0)
    with engine.connect() as conn:
        records = conn.execute(select(func.count()).select_from(Complaint)).scalar_one()
    assert records == len(STORIES)
    late = mention("小鹿宝贝奶粉喝完宝宝上吐下泻住院了", brand="小鹿宝贝", urgency="非常紧急")
    store(engine, cfg, [late], now=t0 + timedelta(minutes=13))
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=21))  # report + first check of every record
    assert (s.warned, s.messages) == (2 * records, 2)
    messages = _sla_messages(engine)
    assert sorted(title for _, title, _ in messages) == ["10 条客诉时限提醒", "4 条客诉时限提醒"]
    with engine.connect() as conn:
        payload = conn.execute(
            select(Alert.payload).where(Alert.kind == "complaint_sla", Alert.brand == "鲜果时光")
        ).scalar_one()
    assert payload["total"] == 10 and len(payload["items"]) == 8
    assert "5 张客诉单有 10 条时限提醒：即将超时 10 条" in payload["text"]
    doc = render(payload, ref="a1")
    body = "\n".join(line.value for section in doc.sections for line in section)
    assert "10 条客诉时限提醒" in doc.title and "将于" in body and len(doc.sections) == 8
    links = [line.url for section in doc.sections for line in section if line.url]
    assert len(links) == 8 and all("/#/complaint/TS" in str(u) for u in links)
    # Within the period the next notices wait (breaches at +31) ...
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=31))
    assert s.breached == 2 * records and s.messages == 0
    # ... unless one is about a 非常紧急 record (registered at +13: report due at +43, warned from +33):
    # that brand's group goes at once, the other brand's waits for its 15 minutes.
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=34))
    assert (s.warned, s.messages) == (2, 1)
    with engine.connect() as conn:
        last = conn.execute(
            select(Alert.brand, Alert.payload)
            .where(Alert.kind == "complaint_sla")
            .order_by(Alert.id.desc())
            .limit(1)
        ).one()
    assert last.brand == "小鹿宝贝" and last.payload["total"] == 6
    assert "已超时 4 条，即将超时 2 条" in last.payload["text"]
    assert last.payload["items"][0]["urgency"] == "紧急"  # breaches first, then the warnings
    assert sweep(engine, cfg, now=t0 + timedelta(minutes=35)).messages == 0
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=37))  # 鲜果时光: 16 minutes after its last
    assert s.messages == 1
    with engine.connect() as conn:
        left = conn.execute(
            select(func.count())
            .select_from(AlertHold)
            .where(AlertHold.kind == "sla", AlertHold.flushed_at.is_(None))
        ).scalar_one()
    assert left == 0 and len(_sla_messages(engine)) == 4


def test_notices_held_by_a_sweeper_that_died_go_out_with_the_next_sweep(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from alerts.complaints import sla

    cfg = make_cfg(complaints={"sla_channels": ["ops"], "warn_before_minutes": 10}, alerts={"rules": []})
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store(engine, cfg, [mention(STORIES[1], urgency="紧急")], now=t0)

    def killed(*args: object, **kw: object) -> int:
        raise RuntimeError("the sweeper died after the records' transactions")

    monkeypatch.setattr(sla, "flush_notices", killed)
    try:
        sweep(engine, cfg, now=t0 + timedelta(minutes=21))
    except RuntimeError:
        pass
    monkeypatch.undo()
    assert _sla_notices(engine) == [("warn:report", ["ops"]), ("warn:first_check", ["ops"])]
    assert _sla_messages(engine) == []
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=22))
    assert (s.warned, s.messages) == (0, 1)  # nothing warned twice, nothing lost
    assert [title for _, title, _ in _sla_messages(engine)] == ["2 条客诉时限提醒"]


def test_each_channel_gets_a_lone_notice_and_a_warning_is_never_held_past_its_deadline(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(
        complaints={"sla_channels": ["ops", "legal"], "warn_before_minutes": 10, "sla_notice_minutes": 15},
        alerts={"rules": []},
    )
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store(engine, cfg, [mention(STORIES[1], urgency="一般")], now=t0)  # first check due at +60
    store(engine, cfg, [mention(STORIES[2], urgency="紧急")], now=t0 + timedelta(minutes=40))  # due at +70
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=51))  # one notice, two channels: two messages
    assert (s.warned, s.messages) == (1, 2)
    assert sorted(ch for _, _, [ch] in _sla_messages(engine)) == ["legal", "ops"]
    # +61: the 紧急 record's warnings (deadlines at +70) and the first record's breach can wait for
    # the next slot (+66, 15 minutes after the last message) ...
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=61))
    assert (s.warned, s.breached, s.messages) == (2, 1, 0)
    # ... but a warning whose deadline comes before the next slot goes at once.
    store(engine, cfg, [mention(STORIES[3], urgency="紧急")], now=t0 + timedelta(minutes=33))
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=62))  # its report + first check are due at +63 < +66
    assert s.messages == 2
    with engine.connect() as conn:
        texts = [
            str(p["text"])
            for p in conn.execute(
                select(Alert.payload).where(Alert.kind == "complaint_sla").order_by(Alert.id.desc()).limit(2)
            ).scalars()
        ]
    assert all("即将超时 4 条" in t and "已超时 1 条" in t for t in texts)


def test_a_stale_warning_gives_way_to_its_breach_and_one_bad_group_does_not_block_the_others(
    engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from alerts.complaints import sla

    cfg = make_cfg(complaints={"sla_channels": ["ops"], "warn_before_minutes": 10}, alerts={"rules": []})
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store(engine, cfg, [mention(STORIES[0], urgency="紧急")], now=t0)
    store(engine, cfg, [mention(STORIES[5], brand="小鹿宝贝", urgency="紧急")], now=t0)
    real = sla._gathered

    def broken(conn, cfg, brand, *args):  # type: ignore[no-untyped-def]
        if brand == "小鹿宝贝":
            raise RuntimeError("a payload that cannot be built")
        return real(conn, cfg, brand, *args)

    monkeypatch.setattr(sla, "_gathered", broken)
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=21))
    assert s.messages == 1  # 鲜果时光 went; 小鹿宝贝's notices wait, none lost
    monkeypatch.undo()
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=31))  # its warnings and their breaches together
    assert s.messages == 1
    with engine.connect() as conn:
        payload = conn.execute(
            select(Alert.payload).where(Alert.kind == "complaint_sla", Alert.brand == "小鹿宝贝")
        ).scalar_one()
    assert "已超时 2 条" in payload["text"] and "即将超时" not in payload["text"]
