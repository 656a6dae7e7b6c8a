"""Propagation tracking: the schedule, rates, the tree from //@ chains, spreaders, visits over HTTP, alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.triage.watch import start_watch
from crawler.analytics.spread import rates, resolve_parents, spreaders, tree_of
from crawler.config import config_from_dict
from crawler.errors import ErrorKind
from crawler.service.fetch import LightFetcher
from crawler.service.tracking import next_interval, run_due
from crawler.storage.engine import open_database
from crawler.storage.models import Alert, TrackedPost, TrackPoint
from simulator import WEIBO_TEST_SUB, Simulator
from tests.crawler.service.crisis.conftest import crisis_config

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_schedule_tightens_then_relaxes() -> None:
    kw = {"lo": 2.0, "hi": 60.0}
    assert next_interval(10, new=5, acceleration=3, age_hours=0.2, **kw) == 5  # accelerating: tighter
    assert next_interval(2.5, new=9, acceleration=1, age_hours=1, **kw) == 2  # never below the floor
    assert next_interval(5, new=3, acceleration=-2, age_hours=2, **kw) == 5  # slowing: keep
    assert next_interval(5, new=0, acceleration=-2, age_hours=3, **kw) == 10  # nothing new: looser
    assert next_interval(40, new=0, acceleration=0, age_hours=30, **kw) == 60  # capped
    assert next_interval(4, new=2, acceleration=5, age_hours=30, **kw) == 30  # after a day: 30 min at least
    interval, path = 10.0, []
    for new, acc, age in (
        (8, 5, 0.2),
        (20, 9, 0.4),
        (30, 4, 0.6),
        (10, -8, 1),
        (2, -3, 2),
        (0, -1, 4),
        (0, 0, 8),
    ):
        interval = next_interval(interval, new=new, acceleration=acc, age_hours=age, **kw)
        path.append(interval)
    assert path == [5, 2.5, 2, 2, 2, 4, 8]


def test_rates() -> None:
    pts = [(T0, 0), (T0 + timedelta(minutes=30), 10), (T0 + timedelta(minutes=60), 40)]
    v, a = rates(pts)
    assert v == pytest.approx(60) and a == pytest.approx(80)  # 20/h → 60/h within half an hour
    assert rates(pts[:2]) == (pytest.approx(20), 0.0) and rates(pts[:1]) == (0.0, 0.0)


def row(rid: str, name: str, parent: str | None, minute: int, followers: int = 10) -> dict:
    return {
        "repost_id": rid,
        "author_name": name,
        "parent_name": parent,
        "author_id": f"u{rid}",
        "published_at": T0 + timedelta(minutes=minute),
        "followers": followers,
    }


def test_tree_from_chains() -> None:
    rows = [
        row("1", "甲", None, 1),
        row("2", "乙", "甲", 2),
        row("3", "丙", "乙", 3),
        row("4", "丁", "甲", 4),
        row("5", "戊", "博主本人", 5),  # names the post's own author: made from the post
        row("6", "己", "无名氏", 6),  # an account whose repost was never seen
        row("7", "甲", "丙", 7),  # 甲 reposts again, further down
        row("8", "庚", "甲", 8),  # the latest repost of 甲 before it: 7
        row("9", "辛", "壬", 9),
        row("10", "壬", None, 10),
    ]  # its named parent comes later: not it
    parents = resolve_parents(rows, root_author="博主本人")
    assert parents == {
        "1": None,
        "2": "1",
        "3": "2",
        "4": "1",
        "5": None,
        "6": None,
        "7": "3",
        "8": "7",
        "9": None,
        "10": None,
    }


def test_spreaders_rank_by_reach() -> None:
    rows = [
        dict(row("1", "小号", None, 1, 50), parent_id=None),
        dict(row("2", "大V", "小号", 2, 500_000), parent_id="1"),
        dict(row("3", "粉丝A", "大V", 3, 100), parent_id="2"),
        dict(row("4", "粉丝B", "大V", 4, 200), parent_id="2"),
        dict(row("5", "路人", None, 5, 1_000), parent_id=None),
    ]
    top = spreaders(rows)
    assert [s["repost_id"] for s in top] == ["1", "2", "5", "4", "3"]
    assert top[0]["reach"] == 500_350 and top[0]["reposts_below"] == 3 and top[1]["reposts_below"] == 2


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # the crisis post is 10 minutes old; its 60 reposts spread over the next hour
    with Simulator(
        seed=5,
        platforms=("weibo",),
        posts_per_brand=6,
        crisis_size=4,
        crisis_age_hours=10 / 60,
        reposts=60,
        repost_hours=1.0,
    ) as s:
        yield s


def test_visits_rebuild_the_tree_and_alert_on_big_v(tmp_path: Path, sim: Simulator) -> None:
    data = crisis_config(
        tmp_path, tracking={"first_minutes": 1, "min_minutes": 0.01, "acceleration_alert": 0}
    )
    data["platforms"]["weibo"]["base_url"] = sim.base_url("weibo")
    cfg = config_from_dict(data)
    engine = open_database(cfg.database_url)
    root_id, cascade = next(iter(sim.world.cascades.items()))
    root = sim.world.get("weibo", root_id)
    with engine.begin() as conn:
        assert start_watch(
            conn,
            cfg,
            {
                "id": None,
                "platform": "weibo",
                "kind": "post",
                "post_id": root_id,
                "brand": "鲜果时光",
                "event_id": None,
            },
            "非常紧急",
            datetime.now(UTC),
        )
        assert not start_watch(
            conn,
            cfg,
            {"platform": "weibo", "kind": "post", "post_id": root_id, "brand": "鲜果时光"},
            "非常紧急",
            datetime.now(UTC),
        )
    fetcher = LightFetcher("weibo", {"SUB": WEIBO_TEST_SUB}, per_minute=6000, retries=1, backoff_base=0.01)
    seen = []
    for _ in range(6):  # the clock runs twelve minutes per round, for the cascade and the watch alike
        visits = run_due(engine, cfg, fetcher=fetcher, now=datetime.now(UTC) + cascade.offset)
        seen += visits
        cascade.advance(12 * 60)
    assert all(v.status == "ok" for v in seen) and len(seen) == 6
    truth = cascade.truth()
    with engine.connect() as conn:
        tracked = conn.execute(select(TrackedPost.__table__)).mappings().one()
        stored = tree_of(conn, tracked["id"])
        points = (
            conn.execute(select(TrackPoint.__table__).order_by(TrackPoint.__table__.c.at)).mappings().all()
        )
        alerts = [
            dict(r)
            for r in conn.execute(
                select(Alert.__table__).where(Alert.__table__.c.kind == "spread")
            ).mappings()
        ]
    assert [p["reposts"] for p in points] == sorted(p["reposts"] for p in points) and points[-1][
        "reposts"
    ] > 30
    got = {r["repost_id"]: r["parent_id"] for r in stored}
    edges = [(rid, parent) for rid, parent in truth["edges"].items() if rid in got]
    assert len(edges) >= len(truth["edges"]) - 12  # what appeared after the last visit is missing
    right = sum(got[rid] == parent for rid, parent in edges)
    assert right / len(edges) >= 0.95
    mine = [s["author_name"] for s in spreaders(stored, 5)]
    theirs = [
        s["author_name"] for s in cascade.truth(max(r["published_at"] for r in stored))["spreaders"][:5]
    ]
    assert mine == theirs
    assert tracked["fetches"] == 6 and tracked["requests"] >= 12
    big = [a for a in alerts if any("大V转发" in r for r in a["payload"]["reasons"])]
    assert big and root.author.name not in str(big[0]["payload"]["reasons"])


def test_a_failed_visit_is_recorded_and_retried_soon(tmp_path: Path, sim: Simulator) -> None:
    data = crisis_config(tmp_path)
    data["platforms"]["weibo"]["base_url"] = sim.base_url("weibo")
    cfg = config_from_dict(data)
    engine = open_database(cfg.database_url)
    root_id = next(iter(sim.world.cascades))
    with engine.begin() as conn:
        start_watch(
            conn,
            cfg,
            {"platform": "weibo", "kind": "post", "post_id": root_id, "brand": "鲜果时光"},
            "非常紧急",
            datetime.now(UTC),
        )
    sim.set_fault("weibo", "auth_expired", path="repostTimeline")
    try:
        [v] = run_due(
            engine,
            cfg,
            fetcher=LightFetcher(
                "weibo", {"SUB": WEIBO_TEST_SUB}, retries=1, statuses={432: ErrorKind.AUTH_EXPIRED}
            ),
        )
    finally:
        sim.clear_faults("weibo")
    assert v.status == "failed" and v.error_kind == "auth_expired"
    with engine.connect() as conn:
        tracked = conn.execute(select(TrackedPost.__table__)).mappings().one()
    assert tracked["status"] == "watching" and "HTTP 432" in tracked["last_error"] and tracked["fetches"] == 0
    assert tracked["next_at"] - datetime.now(UTC) < timedelta(minutes=cfg.tracking.min_minutes + 1)
