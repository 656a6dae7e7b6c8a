"""Where people see crisis tracking: the event's spread (API view), `yuqing query --hot`, the weekly 传播."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from typer.testing import CliRunner

from crawler.analytics.reports import build_report
from crawler.analytics.spread import event_spread, hot_topics
from crawler.cli.app import app
from crawler.config import config_from_dict
from crawler.storage.engine import open_database
from crawler.storage.models import Event, HotSnapshot, HotTopic, Repost, TrackedPost, TrackPoint
from tests.crawler.service.crisis.conftest import crisis_config
from tests.crawler.service.crisis.test_hotwatch import toml

NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE = "鲜果时光<script>alert(1)</script>翻车"


def seed(tmp_path: Path) -> tuple[Any, Any, int]:
    data = crisis_config(tmp_path)
    cfg_file = tmp_path / "yuqing.toml"
    cfg_file.write_text(toml(data), encoding="utf-8")
    cfg = config_from_dict(data)
    engine = open_database(cfg.database_url)
    with engine.begin() as conn:
        eid = conn.execute(
            insert(Event.__table__).returning(Event.__table__.c.id),
            {
                "brand": "鲜果时光",
                "title": "门店过期水果",
                "first_seen_at": NOW - timedelta(hours=3),
                "last_seen_at": NOW - timedelta(hours=1),
                "mention_count": 30,
                "engagement": 5000,
                "updated_at": NOW,
            },
        ).scalar_one()
        tid = conn.execute(
            insert(TrackedPost.__table__).returning(TrackedPost.__table__.c.id),
            {
                "platform": "weibo",
                "post_id": "4900",
                "brand": "鲜果时光",
                "event_id": eid,
                "reason": "非常紧急",
                "started_at": NOW - timedelta(hours=2),
                "until": NOW + timedelta(hours=46),
                "next_at": NOW,
                "status": "watching",
                "fetches": 3,
                "requests": 7,
            },
        ).scalar_one()
        conn.execute(
            insert(TrackPoint.__table__),
            [
                {
                    "tracked_id": tid,
                    "at": NOW - timedelta(minutes=m),
                    "reposts": r,
                    "comments": r // 2,
                    "requests": 2,
                }
                for m, r in ((60, 2), (30, 6), (0, 20))
            ],
        )
        conn.execute(
            insert(Repost.__table__),
            [
                {
                    "tracked_id": tid,
                    "repost_id": rid,
                    "parent_id": parent,
                    "author_name": name,
                    "followers": f,
                    "verified": f > 100_000,
                    "published_at": NOW - timedelta(minutes=50 - i),
                    "text": "转发",
                    "first_seen_at": NOW,
                }
                for i, (rid, parent, name, f) in enumerate(
                    (
                        ("r1", None, "小号", 10),
                        ("r2", "r1", "<b>大V</b>", 900_000),
                        ("r3", "r2", "粉丝", 20),
                        ("r4", None, "路人", 300),
                    )
                )
            ],
        )
        conn.execute(
            insert(HotTopic.__table__),
            {
                "platform": "weibo",
                "word": HOSTILE,
                "brand": "鲜果时光",
                "first_seen_at": NOW - timedelta(hours=2),
                "last_seen_at": NOW,
                "first_rank": 38,
                "best_rank": 2,
                "last_rank": 3,
                "labels": ["新", "沸", "爆"],
                "search_url": "https://s.weibo.com/weibo?q=%23x%23",
                "event_id": eid,
                "alert_state": {},
            },
        )
        conn.execute(
            insert(HotSnapshot.__table__),
            [
                {
                    "platform": "weibo",
                    "fetched_at": NOW - timedelta(minutes=m),
                    "word": HOSTILE,
                    "rank": r,
                    "heat": 10_000 * r,
                    "label": lab,
                    "is_ad": False,
                    "brand": "鲜果时光",
                }
                for m, r, lab in ((100, 38, "新"), (50, 8, "热"), (0, 3, "爆"))
            ],
        )
    return cfg_file, engine, eid


def test_event_spread_view(tmp_path: Path) -> None:
    _, engine, eid = seed(tmp_path)
    with engine.connect() as conn:
        sp = event_spread(conn, eid)
    [t] = sp["tracked"]
    assert [p["reposts"] for p in t["points"]] == [2, 6, 20] and t["velocity"] == 28 and t["acceleration"] > 0
    assert [s["author_name"] for s in t["spreaders"][:2]] == ["小号", "<b>大V</b>"]
    assert {e["id"]: e["parent"] for e in t["edges"]} == {"r1": None, "r2": "r1", "r3": "r2", "r4": None}
    [h] = sp["hot_topics"]
    assert h["word"] == HOSTILE and [x["rank"] for x in h["history"]] == [38, 8, 3]


def test_query_hot(tmp_path: Path) -> None:
    cfg_file, _, eid = seed(tmp_path)
    out = CliRunner().invoke(app, ["--config", str(cfg_file), "query", "--hot", "--format", "json"])
    assert out.exit_code == 0, out.output
    [row] = [json.loads(line) for line in out.output.splitlines() if line.strip()]
    assert row["word"] == HOSTILE and row["best_rank"] == 2 and row["event_id"] == eid
    table = CliRunner().invoke(app, ["--config", str(cfg_file), "query", "--hot", "--brand", "鲜果"])
    assert table.exit_code == 0 and "1 个热榜话题" in table.output
    none = CliRunner().invoke(app, ["--config", str(cfg_file), "query", "--hot", "--brand", "小鹿宝贝"])
    assert "0 个热榜话题" in none.output


def test_weekly_report_spread_section(tmp_path: Path) -> None:
    from crawler.analytics.report_render import to_html

    cfg_file, engine, eid = seed(tmp_path)
    cfg = config_from_dict(crisis_config(tmp_path))
    with engine.connect() as conn:
        weekly = build_report(conn, cfg, "weekly", day=NOW.date(), now=NOW + timedelta(days=8))
        daily = build_report(conn, cfg, "daily", day=NOW.date(), now=NOW + timedelta(days=1))
    [s] = weekly.spread
    assert s["id"] == eid and s["reposts"] == 20 and s["hot"][0]["best_rank"] == 2 and daily.spread == []
    html = to_html(weekly)
    assert "八、传播" in html and "<script>alert" not in html and "&lt;script&gt;" in html
    with engine.connect() as conn:
        assert hot_topics(conn, brand="小鹿宝贝") == []
