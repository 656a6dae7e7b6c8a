"""SLA: business-hours arithmetic and the sweeper with a controllable clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from alerts.complaints import clock
from alerts.complaints import records as complaints
from alerts.complaints.sla import milestone_status, sweep
from crawler.config import BusinessHours
from crawler.storage.models import Alert, AlertDelivery
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


def _sla_alerts(engine) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            select(Alert.id, Alert.dedup_key).where(Alert.kind == "complaint_sla").order_by(Alert.id)
        ).all()
        return [
            (
                r.dedup_key.split(":", 2)[2],
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
    }
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=91))
    assert (s.escalated, s.breached) == (1, 0)  # 60 min after the first breach → 总监
    s = sweep(engine, cfg, now=t0 + timedelta(minutes=121))
    assert (s.breached, s.escalated) == (1, 0)  # answer (2 h) missed; both levels already used
    keys = _sla_alerts(engine)
    assert keys == [  # no sweep ran in the answer's warning window: it breaches without a warning
        ("warn:report", ["ops"]),
        ("warn:first_check", ["ops"]),
        ("breach:report", ["ops"]),
        ("escalate:主管", ["legal", "ops"]),
        ("escalate:总监", ["ops"]),
        ("breach:answer", ["ops"]),
    ]
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
    assert [k for k, _ in _sla_alerts(engine)] == ["callback"]
