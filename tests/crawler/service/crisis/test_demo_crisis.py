"""``yuqing demo``'s crisis: the brand topic enters Weibo hot search, the hot-list alert reaches the demo's
receiver, the crisis' first post is watched and visited, and the event page's data has the curve, the
tree, the spreaders and the hot-list record (the demo machinery, Weibo only, crawls in subprocesses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.analytics.spread import event_spread
from crawler.config import load_config
from crawler.storage.engine import open_database
from crawler.storage.models import Alert, AlertDelivery, AlertHold
from tests.alerts.triage.test_e2e_crisis import CONFIG


@pytest.mark.slow
def test_demo_crisis_shows_hot_alert_curve_and_spreaders(tmp_path: Path) -> None:
    from simulator.demo.runner import run_demo

    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data", db=tmp_path / "y.db"), encoding="utf-8")
    cfg = load_config(path)
    engine = open_database(cfg.database_url)
    ctx, sections = run_demo(cfg, engine, cfg.database_url, config_path=str(path), platforms=["weibo"])
    crisis = next(s for s in sections if s.title.startswith("热榜与传播追踪"))
    data = crisis.data
    board = ctx.simulator.world.hot["weibo"]
    # this config has no exclusion words: the simulator's 招聘 decoy is a brand topic here too
    [topic] = [t for t in data["hot_topics"] if t["word"] == board.brand_word]
    assert {t["platform"] for t in data["hot_topics"]} == {"weibo"}
    assert topic["best_rank"] <= 10 and "沸" in topic["labels"] and topic["crawl_status"] == "ok"
    root = next(iter(ctx.simulator.world.cascades))
    watched = data["watched_post"]
    assert watched is not None and watched["post_id"] == root and watched["visits"] >= 3
    assert watched["reposts"][-1] > watched["reposts"][0] > 0 and watched["tree"] == watched["reposts"][-1]
    assert watched["event_id"] == topic["event_id"] == data["event_id"] is not None
    assert data["simulated_hours"] > 0 and data["seconds"] > 0  # how long it takes: bench/demo.py
    assert (
        "热榜预警" in crisis.rows[0][0]
        and "传播追踪" in crisis.rows[-1][0]
        and "simulated clock" in crisis.note
    )

    with engine.connect() as conn:
        hot = conn.execute(
            select(Alert.id, Alert.payload).where(Alert.kind == "hot").order_by(Alert.id)
        ).all()
        mine = [a for a in hot if a.payload["hot"]["word"] == topic["word"]]
        sent = set(
            conn.execute(
                select(AlertDelivery.alert_id).where(
                    AlertDelivery.channel == "pr", AlertDelivery.status == "sent"
                )
            ).scalars()
        )
        spread = event_spread(conn, data["event_id"])
        held = [
            n
            for n in conn.execute(select(AlertHold.note).where(AlertHold.alert_kind == "hot")).scalars()
            if topic["word"] in (n or "")
        ]
    # 登榜 goes out even over the hourly budget; the climbs after it are sent, or told in the roll-up once
    # the demo's other alerts have spent the budget
    assert (
        len(hot) == data["hot_alerts"]
        and mine[0].payload["reasons"] == ["登榜"]
        and len(mine) + len(held) >= 3
    )
    assert {a.id for a in hot} <= sent  # every hot-list alert reached the crisis channel's receiver
    [tracked] = [t for t in spread["tracked"] if t["post_id"] == root]
    assert len(tracked["points"]) == watched["visits"] and tracked["edges"] and tracked["spreaders"]
    assert any(s["followers"] >= 100_000 for s in tracked["spreaders"][:5])  # big accounts carried it
    assert [h["word"] for h in spread["hot_topics"]] == [topic["word"]] and spread["hot_topics"][0]["history"]
