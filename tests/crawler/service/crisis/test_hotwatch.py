"""The hot-list watch against the simulator over HTTP: snapshots, topics, alerts, faults, the topic crawl."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler.config import AppConfig, config_from_dict
from crawler.service.fetch import LightFetcher
from crawler.service.hotwatch import watch_once
from crawler.storage.engine import open_database
from crawler.storage.models import Alert, CrawlRun, HotSnapshot, HotTopic, Mention
from simulator import WEIBO_TEST_SUB, Simulator
from tests.crawler.service.crisis.conftest import crisis_config

ALERTS = Alert.__table__
TOPICS = HotTopic.__table__
SNAPS = HotSnapshot.__table__
RUNS = CrawlRun.__table__
WORD = "鲜果时光门店被曝使用过期水果"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(
        seed=7,
        platforms=("weibo", "douyin"),
        hot_enter_after=-60,
        posts_per_brand=10,
        reposts=20,
        crisis_size=8,
    ) as s:
        yield s


def sim_config(tmp_path: Path, sim: Simulator, **hot: Any) -> dict[str, Any]:
    data = crisis_config(tmp_path)
    data["platforms"]["weibo"]["base_url"] = sim.base_url("weibo")
    data["platforms"]["weibo"]["accounts"] = [{"name": "sim", "cookies": f"SUB={WEIBO_TEST_SUB}"}]
    data["platforms"]["douyin"]["base_url"] = sim.base_url("douyin")
    data["hot_lists"] = {
        "weibo_url": sim.base_url("weibo"),
        "douyin_url": sim.base_url("douyin"),
        "crawl_topics": False,
        **hot,
    }
    return data


def toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for these configs: tables, arrays of tables, strings, numbers, booleans, lists."""
    import json

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    scalars = [
        f"{k} = {value(v)}"
        for k, v in data.items()
        if not isinstance(v, dict)
        and not (isinstance(v, list) and v and isinstance(v[0], dict) and k == "brands")
    ]
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for k, v in data.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.append(toml(v, name))
        elif k == "brands":
            for b in v:
                out.append(f"[[{name}]]\n" + "\n".join(f"{bk} = {value(bv)}" for bk, bv in b.items()))
    return "\n".join(out)


def fetcher(cfg: AppConfig, platform: str) -> LightFetcher:
    return LightFetcher.for_platform(cfg, platform, backoff_base=0.01, backoff_cap=0.02)


def move(sim: Simulator, platform: str, minutes: float) -> None:
    """Put the brand topic ``minutes`` into its path on the list (the list is a function of the clock)."""
    sim.world.hot[platform].enter_at = datetime.now(UTC) - timedelta(minutes=minutes)


def alerts(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(ALERTS).where(ALERTS.c.kind == "hot").order_by(ALERTS.c.id)
            ).mappings()
        ]


def test_watch_alerts_once_then_updates(tmp_path: Path, sim: Simulator) -> None:
    cfg = config_from_dict(sim_config(tmp_path, sim))
    engine = open_database(cfg.database_url)
    move(sim, "weibo", 1)
    first = watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    assert first.status == "ok" and first.entered == [WORD] and first.topics == [WORD]
    assert len(first.alerts) == 1
    sent = alerts(engine)
    hot = sent[0]["payload"]["hot"]
    assert hot["word"] == WORD and hot["rank"] > 30 and hot["label"] == "新" and hot["heat"] > 0
    assert hot["search_url"].startswith("https://s.weibo.com/weibo?q=%23")
    with engine.connect() as conn:
        snaps = conn.execute(select(SNAPS)).mappings().all()
        assert len(snaps) == first.lines > 20
        assert {s["word"] for s in snaps if s["brand"]} == {
            WORD
        }  # decoys, ads and the brand's own ad left out
        assert sum(s["is_ad"] for s in snaps) == 2
        run = conn.execute(select(RUNS).where(RUNS.c.id == first.run_id)).mappings().one()
        assert (run["spider"], run["platform"], run["status"], run["requests"]) == (
            "hotlist",
            "weibo",
            "ok",
            1,
        )

    again = watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    assert again.alerts == [] and again.entered == []  # nothing new: stored, not alerted
    move(sim, "weibo", 16)  # top 10 now
    up = watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    assert len(up.alerts) == 1 and alerts(engine)[-1]["payload"]["reasons"] == ["进入前10"]
    move(sim, "weibo", 26)  # 沸
    watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    move(sim, "weibo", 40)  # 爆
    watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    reasons = [a["payload"]["reasons"] for a in alerts(engine)]
    assert reasons[2:] == [["获得「沸」标签"], ["获得「爆」标签"]]
    assert {a["dedup_key"] for a in alerts(engine)} == {f"hot:1:{n}" for n in range(1, 5)}
    with engine.connect() as conn:
        topic = conn.execute(select(TOPICS)).mappings().one()
    assert topic["best_rank"] <= 2 and topic["first_rank"] > 30 and set(topic["labels"]) >= {"新", "沸", "爆"}
    move(sim, "weibo", 60 * 24)  # off the list
    watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    with engine.connect() as conn:
        assert conn.execute(select(TOPICS.c.last_rank)).scalar_one() is None


def test_douyin_list_needs_and_gets_the_web_cookie(tmp_path: Path, sim: Simulator) -> None:
    cfg = config_from_dict(sim_config(tmp_path, sim))
    engine = open_database(cfg.database_url)
    move(sim, "douyin", 20)
    f = fetcher(cfg, "douyin")
    res = watch_once(engine, cfg, "douyin", fetcher=f)
    assert (
        res.status == "ok" and res.entered == ["鲜果时光过期水果事件"] and f.requests == 2
    )  # home page + list
    assert alerts(engine)[0]["payload"]["hot"]["list"] == "抖音热榜"


@pytest.mark.parametrize(
    ("kind", "error_kind", "requests"),
    [
        ("server_error", "server_error", 3),
        ("captcha", "captcha", 1),
        ("schema_change", "bad_payload", 1),
        ("auth_expired", "auth_expired", 1),
        ("malformed_json", "bad_payload", 1),
        ("rate_limited", "rate_limited", 3),
    ],
)
def test_faults_end_the_run_recorded(
    tmp_path: Path, sim: Simulator, kind: str, error_kind: str, requests: int
) -> None:
    cfg = config_from_dict(sim_config(tmp_path, sim))
    engine = open_database(cfg.database_url)
    sim.set_fault(
        "weibo", kind, path="/ajax/side/hotSearch", **({"variant": "http"} if kind == "rate_limited" else {})
    )
    try:
        f = fetcher(cfg, "weibo")
        res = watch_once(engine, cfg, "weibo", fetcher=f)
    finally:
        sim.clear_faults("weibo")
    assert res.status == "failed" and res.error_kind == error_kind and f.requests == requests
    with engine.connect() as conn:
        run = conn.execute(select(RUNS).where(RUNS.c.id == res.run_id)).mappings().one()
        assert run["status"] == "failed" and run["error_kind"] == error_kind
        assert conn.execute(select(SNAPS)).first() is None
    assert alerts(engine) == []


def test_new_topic_crawled_by_scrapy_and_joined_to_its_event(tmp_path: Path, sim: Simulator) -> None:
    """The topic's posts come from a real ``scrapy crawl weibo -a keyword=<topic>`` over HTTP."""
    from crawler.config import load_config

    path = tmp_path / "yuqing.toml"
    path.write_text(toml(sim_config(tmp_path, sim, crawl_topics=True)), encoding="utf-8")

    cfg = load_config(path)
    engine = open_database(cfg.database_url)
    move(sim, "weibo", 5)
    res = watch_once(engine, cfg, "weibo", fetcher=fetcher(cfg, "weibo"))
    assert res.crawled == {WORD: "ok"}
    with engine.connect() as conn:
        topic = conn.execute(select(TOPICS)).mappings().one()
        found = conn.execute(
            select(Mention.__table__.c.event_id).where(Mention.__table__.c.keyword == WORD)
        ).all()
    assert len(found) >= 4 and topic["event_id"] is not None and topic["crawl_status"] == "ok"
    assert sum(1 for (e,) in found if e == topic["event_id"]) * 2 > len(found)


def test_light_fetches_share_the_workers_rate_slot_in_distributed_mode(
    tmp_path: Path, sim: Simulator
) -> None:
    """In distributed mode the service's hot-list fetch takes the platform's slot in Redis that
    every crawl worker takes, so the platform sees one ceiling, not one per process."""
    import time
    import uuid

    from crawler.scraping.redis_scrapy import SharedRateLimiter
    from crawler.service import fetch
    from crawler.storage.redis_conn import connect
    from tests.conftest import REDIS_TEST

    data = sim_config(tmp_path, sim)
    data["platforms"]["weibo"]["rate_limit_per_minute"] = 600  # a slot every 0.1 s
    assert (
        fetcher(config_from_dict(data), "weibo").shared_reserve is None
    )  # one machine: this process's limiter
    prefix = f"t{uuid.uuid4().hex[:10]}"
    data["distributed"] = {"enabled": True, "redis_url": REDIS_TEST, "key_prefix": prefix}
    cfg = config_from_dict(data)
    fetch._LIMITERS.clear()  # a fresh service process
    slept: list[float] = []
    light = LightFetcher.for_platform(cfg, "weibo", sleep=slept.append)
    assert light.shared_reserve is not None
    server = connect(REDIS_TEST)
    try:
        worker = SharedRateLimiter(server, prefix)  # a crawl worker books the next ten slots
        booked = [worker.reserve("weibo", 600) for _ in range(10)]
        assert booked[-1] >= 0.8
        move(sim, "weibo", 1)
        from crawler.service.hotwatch import fetch_list

        started = time.monotonic()
        assert fetch_list(cfg, light, "weibo").items
        assert light.requests == 1 and slept and slept[0] >= 0.85  # it waited behind the worker's slots
        # and the worker's next slot comes after the one the light fetch took (0.1 s later)
        assert worker.reserve("weibo", 600) + (time.monotonic() - started) >= slept[0] + 0.09
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)
        light.close()
