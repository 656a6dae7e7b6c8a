"""End to end: the simulator's crisis → the Weibo spider → analysis → triage → receiver, then the SLA sweeper.

The crisis reposts are one event, one alert thread and one complaint record for the story.

``yuqing demo``'s machinery crawls Weibo from the simulator in a subprocess (the
real pipeline calls triage); the alerts section delivers the outbox to a loopback receiver.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.complaints import records as complaints
from alerts.complaints.sla import sweep
from crawler.config import load_config
from crawler.storage.engine import open_database
from crawler.storage.models import Alert, Complaint, ComplaintMention, Mention

CONFIG = """
[project]
data_dir = "{data}"
[storage]
url = "sqlite:///{db}"
[[brands]]
name = "鲜果时光"
aliases = ["鲜果"]
keywords = ["鲜果时光"]
products = ["鲜榨橙汁", "芒果冰沙"]
heimao_couid = ["5650743478"]
[platforms.xiaohongshu]
enabled = false
[platforms.douyin]
enabled = false
[alerts.channels.pr]
type = "dingtalk"
url = "http://127.0.0.1:9/robot/send?access_token=unset"
secret = "SECunset"
[alerts.channels.kefu]
type = "wecom"
url = "http://127.0.0.1:9/cgi-bin/webhook/send?key=unset"
[[alerts.rules]]
name = "危机预警"
channels = ["pr"]
min_urgency = "非常紧急"
surge = true
[[alerts.rules]]
name = "投诉摘要"
channels = ["kefu"]
min_risk = 30
mode = "digest"
[complaints]
report_channels = ["kefu"]
sla_channels = ["kefu"]
[[complaints.assignment]]
categories = ["食用不适"]
team = "品控组"
[[complaints.escalation]]
name = "客诉主管"
channels = ["kefu"]
assignee = "客诉主管"
"""


@pytest.mark.slow
def test_simulated_crisis_is_one_thread_and_every_complaint_is_registered(tmp_path: Path) -> None:
    from simulator.demo.runner import run_demo

    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data", db=tmp_path / "y.db"), encoding="utf-8")
    cfg = load_config(path)
    engine = open_database(cfg.database_url)
    ctx, sections = run_demo(cfg, engine, cfg.database_url, config_path=str(path), platforms=["weibo"])
    assert all(c["status"] in ("ok", "partial") for c in ctx.crawls), ctx.crawls
    crisis_ids = {t["post_id"] for t in ctx.simulator.truth("weibo") if t.get("crisis")}
    assert len(crisis_ids) >= 10
    with engine.connect() as conn:
        rows = conn.execute(
            select(Mention.id, Mention.event_id, Mention.is_complaint, Mention.risk).where(
                Mention.platform == "weibo", Mention.post_id.in_(crisis_ids)
            )
        ).all()
        assert len(rows) == len(crisis_ids)
        events = {r.event_id for r in rows}
        assert len(events) == 1, "the crisis reposts are one event"
        (event_id,) = events
        thread = conn.execute(
            select(Alert.kind, Alert.dedup_key).where(
                Alert.event_id == event_id, Alert.kind.in_(("mention", "event", "surge"))
            )
        ).all()
        eligible = {r.id for r in rows if r.is_complaint and (r.risk or 0) >= cfg.complaints.min_risk}
        linked = set(
            conn.execute(
                select(ComplaintMention.mention_id).where(ComplaintMention.mention_id.in_(eligible))
            ).scalars()
        )
        records = conn.execute(
            select(Complaint).where(
                Complaint.id.in_(
                    select(ComplaintMention.complaint_id).where(ComplaintMention.mention_id.in_(eligible))
                )
            )
        ).all()
    kinds = [k for k, _ in thread]
    assert kinds.count("mention") == 1 and 1 <= len(kinds) <= 4, thread  # one alert, then escalations only
    assert eligible and linked == eligible  # every complaint of the crisis is on a record
    assert len(records) == 1, (
        records
    )  # the reposts joined the story's record (nobody wrote of their own harm)
    for rec in records:
        assert rec.team == ("品控组" if rec.category == "食用不适" else "客诉组")
        if rec.urgency in ("紧急", "非常紧急"):
            assert rec.due_first_check_at - rec.registered_at == timedelta(minutes=30)
            assert rec.due_resolve_at - rec.registered_at == timedelta(hours=4)
            assert rec.reported_at is not None
        assert rec.registration_latency_s is not None and rec.registration_latency_s < 600
    delivered = next(s for s in sections if s.title.startswith("告警")).data
    assert delivered["undelivered"] == 0 and delivered["per_channel"].get("pr", 0) >= 1
    # nobody checks the records: 31 minutes later the first check is breached and escalated, once
    later = max(r.registered_at for r in records) + timedelta(minutes=31)
    first = sweep(engine, cfg, now=later)
    assert first.breached >= len(records) and first.escalated >= len(records)
    again = sweep(engine, cfg, now=later + timedelta(minutes=1))
    assert (again.breached, again.escalated) == (0, 0)
    with engine.connect() as conn:
        rec = complaints.get(conn, records[0].id)
    assert rec["status"] == "已升级" and rec["assignee"] == "客诉主管"
