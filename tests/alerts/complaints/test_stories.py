"""Complaint records by story and person: reposts, near-copies and echoing comments join the story's record;
a consumer with a grievance of their own opens one; a group of them is reported once; clocks never restart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from alerts.complaints import records as complaints
from alerts.complaints.registration import GROUP_TAG
from crawler.clock import utcnow
from crawler.storage.models import Alert, AlertCharge, Author, Complaint, ComplaintMention
from tests.alerts.conftest import make_cfg, mention, store

STORY = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，要求道歉并赔偿"
REPORT = {"report_channels": ["ops"], "group_min_records": 3}


def _records(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(Complaint).order_by(Complaint.id)).all()


def _links(engine: Any, complaint_id: int) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            select(ComplaintMention)
            .where(ComplaintMention.complaint_id == complaint_id)
            .order_by(ComplaintMention.mention_id)
        ).all()


def _story(**kw: Any) -> dict[str, Any]:
    return mention(
        STORY, post_id="orig1", author_id="poster", category="食用不适", urgency="紧急", risk=75, **kw
    )


def _comment(text: str, **kw: Any) -> dict[str, Any]:
    return mention(
        text,
        **{
            "kind": "comment",
            "parent_post_id": "orig1",
            "category": "食用不适",
            "urgency": "紧急",
            "risk": 70,
            **kw,
        },
    )


def test_a_repost_chain_joins_the_story_record(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [_story()])
    retweeted = {"retweeted": {"id": "orig1", "author": "用户", "text": STORY}}
    first = mention(
        "转发微博",
        post_id="rt1",
        author_id="a1",
        author_name="甲",
        extra=retweeted,
        category="食用不适",
        urgency="非常紧急",
        risk=85,
    )
    second = mention(
        "太可怕了//@甲:转发微博",
        post_id="rt2",
        author_id="a2",
        author_name="乙",
        extra=retweeted,
        category="食用不适",
        urgency="非常紧急",
        risk=85,
    )
    counts = store(engine, cfg, [first, second])
    assert counts["complaints"] == 0 and counts["joined"] == 2
    (rec,) = _records(engine)
    links = _links(engine, rec.id)
    assert [x.relation for x in links] == ["source", "repost", "repost"]
    assert all(x.note == f"转发同一事件，并入 {rec.number}" for x in links[1:])
    assert rec.reasons[0].endswith("，新建")  # the poster's own story: 自述问题（…），新建
    with engine.connect() as conn:
        hist = complaints.history(conn, rec.id)
    merged = [h for h in hist if h["action"] == "merged"]
    assert (
        len(merged) == 1 and "转发 2 条" in merged[0]["note"]
    )  # one summary row per batch, not one per repost


def test_a_near_copy_joins_and_a_repost_threat_raises_without_restarting_the_clocks(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    t0 = utcnow() - timedelta(minutes=20)
    store(engine, cfg, [_story()], now=t0)
    (rec,) = _records(engine)
    assert rec.urgency == "紧急" and rec.due_resolve_at == t0 + timedelta(hours=4)
    copy = mention(f"天哪，{STORY}[怒]", author_id="c1", category="食用不适", urgency="紧急", risk=75)
    store(engine, cfg, [copy], now=t0 + timedelta(minutes=10))
    (rec,) = _records(engine)
    assert rec.urgency == "紧急" and rec.registered_at == t0  # a plain copy changes nothing but the count
    assert [x.relation for x in _links(engine, rec.id)] == ["source", "copy"]
    threat = mention(
        f"转发：{STORY} //@丙: 已经打了12315投诉",
        author_id="c2",
        author_name="丙",
        category="食用不适",
        urgency="非常紧急",
        risk=90,
    )
    store(engine, cfg, [threat], now=t0 + timedelta(minutes=20))
    (rec,) = _records(engine)
    assert rec.urgency == "非常紧急" and rec.registered_at == t0
    assert rec.due_answer_at == t0 + timedelta(
        hours=1
    )  # recomputed from the registration time, not restarted
    assert any("扬言升级" in r for r in rec.reasons)
    assert [x.relation for x in _links(engine, rec.id)] == ["source", "copy", "repost"]
    with engine.connect() as conn:
        author = conn.execute(select(Author).where(Author.author_id == "c2")).one()
    assert (author.complaint_count, author.escalation_count) == (
        0,
        1,
    )  # their escalation, not a complaint of theirs


def test_an_advising_comment_joins_and_its_12315_is_not_an_escalation(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    store(engine, cfg, [_story()])
    counts = store(
        engine,
        cfg,
        [
            _comment("建议直接打12315", author_id="adv", urgency="非常紧急", risk=90),
            _comment("同款问题+1", author_id="echo"),
            _comment("支持维权，已转发", author_id="fan"),
        ],
    )
    assert counts["complaints"] == 0 and counts["joined"] == 3
    (rec,) = _records(engine)
    assert rec.urgency == "紧急"  # advice to call 12315 is not the customer escalating
    notes = {x.mention_id: x.note for x in _links(engine, rec.id) if x.relation == "comment"}
    assert len(notes) == 3 and all(n.endswith(f"未自述本人问题，并入 {rec.number}") for n in notes.values())
    assert sorted(n.split("，")[0] for n in notes.values()) == sorted(
        ["评论声援", "评论附和（同款/+1）", "评论给出建议"]
    )
    with engine.connect() as conn:
        adv = conn.execute(select(Author).where(Author.author_id == "adv")).one()
    assert (adv.complaint_count, adv.escalation_count) == (0, 0)


def test_advice_without_a_record_to_join_is_not_a_complaint(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    post = mention(
        "鲜果时光新品真好喝", post_id="calm", is_complaint=False, urgency=None, category=None, risk=5
    )
    advice = mention("建议直接打12315", kind="comment", parent_post_id="calm", risk=80, urgency="非常紧急")
    counts = store(engine, cfg, [post, advice])
    assert counts["complaints"] == 0 and _records(engine) == []


def test_a_comment_with_its_own_order_and_harm_opens_a_record_in_the_event(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(
        complaints={"assignment": [{"categories": ["退换货"], "team": "售后组"}], "default_team": "客诉组"}
    )
    store(engine, cfg, [_story()])
    own = _comment(
        "我上周买的芒果冰沙也喝出了玻璃，我儿子嘴都划破了，订单号123456", author_id="mum", category="退换货"
    )
    counts = store(engine, cfg, [own])
    assert counts["complaints"] == 1 and counts["joined"] == 0
    story, mine = _records(engine)
    assert mine.event_id == story.event_id and mine.customer_id == "mum"
    assert mine.reasons[0].startswith("评论者自述问题（") and mine.reasons[0].endswith(
        f"新建；同一事件已有 {story.number}"
    )
    assert (
        (mine.team, mine.assignee) == (story.team, story.assignee) == ("客诉组", None)
    )  # one owner for the event
    assert any("统一分派" in r for r in mine.reasons)
    assert [x.relation for x in _links(engine, mine.id)] == ["source"]


def test_a_group_of_first_person_records_is_reported_once(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(complaints=REPORT)
    store(
        engine,
        cfg,
        [
            _story(),
            _comment("我家孩子喝了也拉肚子，去医院挂了急诊", author_id="p1"),
            _comment("我昨天买的冰沙里也有玻璃渣，要求退款", author_id="p2"),
            _comment("太可怕了", author_id="p3"),
        ],
    )
    recs = _records(engine)
    assert len(recs) == 3  # the story + two consumers; the reaction joined
    assert all(GROUP_TAG in (r.tags or []) and r.urgency == "非常紧急" for r in recs)
    assert all(r.reported_at is not None for r in recs)
    with engine.connect() as conn:
        reports = conn.execute(select(Alert).where(Alert.kind == "complaint")).all()
        charged = conn.execute(
            select(func.count())
            .select_from(AlertCharge)
            .where(AlertCharge.channel == "ops", AlertCharge.alert_id == reports[0].id)
        ).scalar_one()
    assert len(reports) == 1 and reports[0].dedup_key == f"complaint-group:{recs[0].event_id}"
    assert "群体投诉 3 张客诉单" in reports[0].title and charged == 1  # one message, one slot of the budget
    for r in recs:
        assert r.due_resolve_at == r.registered_at + timedelta(hours=4)
    # a fourth consumer later: a member of the reported group, no further message
    store(engine, cfg, [_comment("我买的那杯也喝出玻璃了，花了28元", author_id="p4")])
    recs = _records(engine)
    assert len(recs) == 4 and GROUP_TAG in recs[-1].tags and recs[-1].reported_at is not None
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(Alert).where(Alert.kind == "complaint")).scalar()
            == 1
        )
        hist = complaints.history(conn, recs[-1].id)
    assert any(h["action"] == "reported" and "群体投诉" in h["note"] for h in hist)


def test_a_big_v_repost_raises_and_a_plain_echo_does_not_touch_the_clocks(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    t0 = utcnow() - timedelta(minutes=5)
    store(engine, cfg, [_story()], now=t0)
    before = _records(engine)[0]
    store(engine, cfg, [_comment("蹲一个后续", author_id="e1")], now=t0 + timedelta(minutes=1))
    same = _records(engine)[0]
    assert (same.urgency, same.due_report_at, same.due_resolve_at, same.registered_at) == (
        before.urgency,
        before.due_report_at,
        before.due_resolve_at,
        before.registered_at,
    )
    big = mention(
        f"{STORY} 转发一下",
        author_id="bigv",
        author_name="美食大V",
        author_followers=2_000_000,
        category="食用不适",
        urgency="紧急",
        risk=75,
    )
    store(engine, cfg, [big], now=t0 + timedelta(minutes=2))
    rec = _records(engine)[0]
    assert (
        rec.urgency == "非常紧急" and rec.registered_at == t0 and rec.due_answer_at == t0 + timedelta(hours=1)
    )
    assert any(r.startswith("大V") for r in rec.reasons)
