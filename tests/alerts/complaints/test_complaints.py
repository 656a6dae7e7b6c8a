"""Complaint records: registration, numbering, assignment, repeats, history tags, workflow."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.complaints import records as complaints
from crawler.clock import utcnow
from crawler.storage.models import Author, Complaint, ComplaintMention
from tests.alerts.conftest import make_cfg, mention, store

ASSIGN = {
    "assignment": [
        {"categories": ["食用不适", "产品质量"], "team": "品控组"},
        {"urgencies": ["非常紧急"], "platforms": ["heimao"], "assignee": "王经理", "team": "重大投诉组"},
    ],
    "default_team": "客诉组",
    "default_assignee": "值班客服",
}


def _records(engine) -> list:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(Complaint).order_by(Complaint.id)).all()


def test_registration_grades_assigns_and_sets_deadlines(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(complaints=ASSIGN)
    now = utcnow()
    fetched = now - timedelta(seconds=42)
    store(
        engine,
        cfg,
        [
            mention("鲜果时光橙汁里有异物", category="产品质量", urgency="紧急", risk=72, fetched_at=fetched),
            mention(
                "黑猫投诉：鲜果时光拒不退款，我已打12315",
                platform="heimao",
                category="退换货",
                urgency="非常紧急",
                risk=90,
            ),
            mention("鲜果时光配送有点慢", category="物流配送", urgency="一般", risk=35),
            mention("鲜果时光还行", category="其他", urgency="一般", risk=20),  # below min_risk 30
            mention("鲜果时光新品真好喝", is_complaint=False, urgency=None, category=None, risk=2),
        ],
        now=now,
    )
    recs = _records(engine)
    assert len(recs) == 3
    day = now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert [r.number for r in recs] == [f"TS{day}-0001", f"TS{day}-0002", f"TS{day}-0003"]
    quality, heimao, slow = recs
    assert (quality.team, quality.assignee, quality.category, quality.urgency) == (
        "品控组",
        None,
        "产品质量",
        "紧急",
    )
    assert (heimao.team, heimao.assignee, heimao.urgency) == ("重大投诉组", "王经理", "非常紧急")
    assert (slow.team, slow.assignee) == ("客诉组", "值班客服")
    # SLA from the seeds: report 30 min, first check 30 min, answer 2 h, resolve or escalate 4 h
    assert quality.due_report_at == now + timedelta(minutes=30)
    assert quality.due_first_check_at == now + timedelta(minutes=30)
    assert quality.due_answer_at == now + timedelta(hours=2)
    assert quality.due_resolve_at == now + timedelta(hours=4)
    assert slow.due_report_at is None and slow.due_resolve_at == now + timedelta(hours=24)
    assert quality.source_fetched_at == fetched and 42 <= quality.registration_latency_s < 600
    assert "本次扬言升级" in heimao.customer_tags and re.search(r"用户\d+", quality.summary)
    with engine.connect() as conn:
        hist = complaints.history(conn, quality.id)
    assert hist[0]["action"] == "registered" and hist[0]["actor"] == "system" and hist[0]["new"] == "待处理"


def test_repeat_post_joins_the_open_record(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [mention("鲜果时光橙汁坏了要退款", author_id="c1", urgency="一般", risk=40)])
    counts = store(
        engine,
        cfg,
        [
            mention(
                "还没人理我？鲜果时光橙汁坏了，再不处理我就找媒体曝光",
                author_id="c1",
                urgency="紧急",
                risk=70,
            )
        ],
    )
    assert counts["complaints"] == 0 and counts["joined"] == 1
    store(
        engine, cfg, [mention("鲜果时光快递员态度恶劣", author_id="c1", category="物流配送")]
    )  # other problem
    recs = _records(engine)
    assert len(recs) == 2
    first = recs[0]
    assert first.urgency == "非常紧急"  # the repeat threatens media exposure
    assert first.risk == 70
    with engine.connect() as conn:
        links = conn.execute(
            select(ComplaintMention.mention_id).where(ComplaintMention.complaint_id == first.id)
        ).all()
        actions = [h["action"] for h in complaints.history(conn, first.id)]
    assert len(links) == 2
    assert "merged" in actions and "urgency" in actions
    assert first.due_resolve_at == first.registered_at + timedelta(hours=4)  # recomputed for 非常紧急


def test_escalation_history_raises_urgency_and_tags_the_customer(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [mention("鲜果时光不退款，我已经投诉到12315了", author_id="hot", category="退换货")])
    with engine.begin() as conn:
        rec = complaints.get(conn, 1)
        complaints.change_status(conn, rec["id"], "已解决", actor="客服A")
    store(
        engine,
        cfg,
        [mention("鲜果时光这次的面包有点硬", author_id="hot", category="产品质量", urgency="一般", risk=40)],
    )
    recs = _records(engine)
    assert len(recs) == 2
    assert recs[1].urgency == "紧急"  # 一般 raised one level (seed 003)
    assert "有升级投诉史" in recs[1].customer_tags and "历史投诉1次" in recs[1].customer_tags
    assert any("升级投诉史" in r for r in recs[1].reasons)
    with engine.connect() as conn:
        author = conn.execute(select(Author).where(Author.author_id == "hot")).one()
    assert (author.mention_count, author.complaint_count, author.escalation_count) == (2, 2, 1)


def test_status_workflow_with_history(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [mention()])
    t0 = utcnow()
    with engine.begin() as conn:
        with pytest.raises(complaints.ComplaintError, match="cannot go from 待处理 to 已回访"):
            complaints.change_status(conn, 1, "已回访", actor="a")
        with pytest.raises(complaints.ComplaintError, match="needs a note"):
            complaints.change_status(conn, 1, "已关闭", actor="a")
        with pytest.raises(complaints.ComplaintError, match="unknown status"):
            complaints.change_status(conn, 1, "done", actor="a")
        rec = complaints.change_status(conn, 1, "处理中", actor="张三", now=t0)
        assert rec["first_checked_at"] == t0
        complaints.assign(conn, rec["number"], assignee="李四", team="品控组", actor="主管")
        complaints.change_status(conn, 1, "已升级", actor="李四", note="需要质检部门复核")
        complaints.add_note(conn, 1, actor="李四", note="已致电客户说明进展", answer=True)
        rec = complaints.change_status(conn, 1, "已解决", actor="李四", now=t0 + timedelta(hours=1))
        assert rec["callback_due_at"] == t0 + timedelta(hours=1, days=7)
        complaints.change_status(conn, 1, "已回访", actor="回访专员")
        rec = complaints.change_status(conn, 1, "已关闭", actor="回访专员")
        assert rec["closed_at"] is not None
        with pytest.raises(complaints.ComplaintError, match="allowed: none"):
            complaints.change_status(conn, 1, "处理中", actor="a")
        with pytest.raises(complaints.ComplaintError, match="no complaint record"):
            complaints.get(conn, "TS20990101-0001")
        hist = complaints.history(conn, 1)
    changes = [
        (h["actor"], h["action"], h["field"], h["old"], h["new"]) for h in hist if h["action"] != "reported"
    ]
    assert changes == [
        ("system", "registered", "status", None, "待处理"),
        ("张三", "status", "status", "待处理", "处理中"),
        ("主管", "assign", "assignee", None, "李四"),
        ("主管", "assign", "team", "客诉组", "品控组"),
        ("李四", "status", "status", "处理中", "已升级"),
        ("李四", "answer", None, None, None),
        ("李四", "status", "status", "已升级", "已解决"),
        ("回访专员", "status", "status", "已解决", "已回访"),
        ("回访专员", "status", "status", "已回访", "已关闭"),
    ]


def test_set_urgency_recomputes_deadlines(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [mention(urgency="一般", risk=40)])
    with engine.begin() as conn:
        before = complaints.get(conn, 1)
        after = complaints.set_urgency(conn, cfg, 1, "非常紧急", actor="主管", note="客户情绪激动")
        hist = complaints.history(conn, 1)
    assert before["due_report_at"] is None and after["due_report_at"] == after["registered_at"] + timedelta(
        minutes=30
    )
    assert after["due_answer_at"] == after["registered_at"] + timedelta(hours=1)
    assert hist[-1]["action"] == "urgency" and "SLA 重算" in hist[-1]["note"]


def test_numbers_are_unique_under_concurrency(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    now = utcnow()
    got: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                with engine.begin() as conn:
                    got.append(complaints.next_number(conn, cfg, now))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(int(n[-4:]) for n in got) == list(range(1, 41))
