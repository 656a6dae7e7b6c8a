"""The service against the simulator with the real spiders, PostgreSQL and Redis, in real processes."""

from __future__ import annotations

import signal
import uuid

import psutil
import pytest
import redis
from sqlalchemy import func, select

from alerts.complaints.grievance import judge
from alerts.rules import is_brand_voice
from crawler.config import load_config
from crawler.storage.engine import make_engine
from crawler.storage.mentions import MENTIONS, RUNS
from crawler.storage.models import Alert, AlertDelivery, ComplaintMention
from tests.conftest import REDIS_TEST
from tests.crawler.service.e2e import (
    fresh_ok_runs,
    mention_counts,
    now,
    sim_config,
    spawn,
    stop,
    truth_posts,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis]
ALERTS = Alert.__table__
DELIVERIES = AlertDelivery.__table__
LINKS = ComplaintMention.__table__
PLATFORMS = ("weibo", "heimao")


@pytest.fixture
def pg(pg_database):
    from tests.conftest import _truncate_pg

    _truncate_pg(pg_database)
    return pg_database


def _nothing_lost(engine, cfg) -> None:
    """Every complaint-eligible mention has its record; every alert has its deliveries."""
    with engine.connect() as conn:
        mentions = [dict(r) for r in conn.execute(select(MENTIONS)).mappings()]
        linked = set(conn.execute(select(LINKS.c.mention_id)).scalars())
        alerts = conn.execute(select(ALERTS.c.id, ALERTS.c.kind)).all()
        delivered = set(conn.execute(select(DELIVERIES.c.alert_id)).scalars())
    # The registration rule (alerts/complaints/registration.py): a complaint at or above [complaints].min_risk is on a
    # record, except the brand's own replies and a comment with no grievance of its own under a post that
    # has no record to join.
    eligible = [
        m
        for m in mentions
        if m["is_complaint"] and int(m["risk"] or 0) >= cfg.complaints.min_risk and not is_brand_voice(cfg, m)
    ]
    on_records = {(m["platform"], m["post_id"]) for m in mentions if m["id"] in linked}
    lost = [
        m["id"]
        for m in eligible
        if m["id"] not in linked
        and not (
            m["parent_post_id"]
            and (m["platform"], m["parent_post_id"]) not in on_records
            and not judge(m["text"], author_name=m["author_name"]).own
        )
    ]
    detail = [
        (m["id"], m["kind"], m["parent_post_id"], m["event_id"], m["text"][:30], m["first_seen_at"])
        for m in mentions
        if m["id"] in lost
    ]
    assert eligible and not lost, f"stored complaints lost their complaint record: {detail}"
    assert alerts and {a.id for a in alerts if a.kind != "health"} <= delivered


def test_kill9_of_run_mid_crawl_then_restart(tmp_path, pg) -> None:
    from simulator import Simulator

    with Simulator(
        seed=21, posts_per_brand={"weibo": 30}, comments_per_post=(0, 3), days=3, platforms=("weibo",)
    ) as sim:
        config = sim_config(tmp_path, sim, pg, brands=["鲜果时光"], schedule="every 4s")
        cfg = load_config(config)
        engine = make_engine(pg)
        log = tmp_path / "run.log"
        sim.set_fault("weibo", "slow", path="/comments", delay=1.0)  # posts come fast, comments slowly
        proc = spawn(["run"], config, log)
        try:

            def stored() -> int:
                with engine.connect() as conn:
                    return int(conn.execute(select(func.count()).select_from(MENTIONS)).scalar_one())

            wait_for(lambda: stored() > 5, 60, "the first Weibo mentions")  # then kill mid-crawl
            with engine.connect() as conn:
                running = conn.execute(select(func.count()).where(RUNS.c.status == "running")).scalar_one()
            proc.send_signal(signal.SIGKILL)  # in the middle of a crawl
            proc.wait(10)
            assert running >= 1  # a crawl was still going when its service died (a second job may be too)
            sim.clear_faults()
            restarted_at = now()
            proc = spawn(["run"], config, log)
            wait_for(
                lambda: fresh_ok_runs(engine, restarted_at, [("weibo", "鲜果时光")]),
                90,
                "complete crawls after the restart",
            )
        finally:
            assert stop(proc) == 0
        truth = truth_posts(sim, ("weibo",), ["鲜果时光"])
    counts = mention_counts(engine, ("weibo",))
    assert set(counts) == truth and set(counts.values()) == {1}
    with engine.connect() as conn:
        cut = conn.execute(select(RUNS.c.status).where(RUNS.c.started_at < restarted_at)).scalars().all()
        assert conn.execute(select(func.count()).where(RUNS.c.status == "running")).scalar_one() == 0
    # The crawl cut by kill -9 was stopped (PDEATHSIG) and closed as interrupted, not left running.
    assert any(status in ("partial", "failed", "killed") for status in cut), cut
    _nothing_lost(engine, cfg)


def _worker_of(engine, worker: psutil.Process) -> bool:
    """True while ``worker`` runs a crawl (a crawl_runs row of one of its children is running)."""
    children = {c.pid for c in worker.children(recursive=True)}
    with engine.connect() as conn:
        pids = set(conn.execute(select(RUNS.c.pid).where(RUNS.c.status == "running")).scalars())
    return bool(children & pids)


def test_distributed_two_workers_live_kill9_rate_limit_and_health(tmp_path, pg) -> None:
    from simulator import Simulator

    prefix = f"yqe2e{uuid.uuid4().hex[:6]}"
    brands = ["鲜果时光", "小鹿宝贝"]
    pairs = [(p, b) for p in PLATFORMS for b in brands]
    rate = 360  # Weibo requests per minute, all workers together: one every 1/6 s
    with Simulator(
        seed=5,
        live=True,
        live_interval=1.0,
        posts_per_brand={"weibo": 8, "heimao": 6},
        days=3,
        crisis=False,
        comments_per_post=(0, 1),
        platforms=PLATFORMS,
    ) as sim:
        config = sim_config(tmp_path, sim, pg, brands=brands, schedule="every 5s", redis_prefix=prefix)
        text = config.read_text(encoding="utf-8").replace(
            "rate_limit_per_minute = 6000", f"rate_limit_per_minute = {rate}", 1
        )
        config.write_text(text, encoding="utf-8")
        engine = make_engine(pg)
        procs = {
            "run": spawn(["run"], config, tmp_path / "run.log"),
            "w1": spawn(["worker"], config, tmp_path / "w1.log"),
            "w2": spawn(["worker"], config, tmp_path / "w2.log"),
        }
        try:
            w1 = psutil.Process(procs["w1"].pid)
            wait_for(lambda: _worker_of(engine, w1), 60, "worker 1 to be crawling")
            procs["w1"].send_signal(signal.SIGKILL)
            procs["w1"].wait(10)
            # A login expires on Weibo for a while: one health alert opens, then clears.
            sim.set_fault("weibo", "auth_expired", duration=15)  # long enough for a crawl to start inside it
            mark = now()
            snapshot = truth_posts(sim, PLATFORMS, brands)  # all of it must be stored in the end
            wait_for(lambda: _health_states(engine) == ["opened"], 40, "the health alert to open")
            wait_for(lambda: _health_states(engine) == ["opened", "cleared"], 60, "the health alert to clear")
            wait_for(
                lambda: fresh_ok_runs(engine, mark, pairs), 60, "a full round of crawls after the snapshot"
            )
        finally:
            codes = {name: stop(p) for name, p in procs.items()}
        final = truth_posts(sim, PLATFORMS, brands)
        per_minute = sim.request_counts()
        weibo_times = sorted(t for t, platform, _, _ in list(sim.stats.log) if platform == "weibo")
    assert codes["run"] == 0 and codes["w2"] == 0
    counts = mention_counts(engine, PLATFORMS)
    assert snapshot <= set(counts), f"missing: {sorted(snapshot - set(counts))[:5]}"
    assert set(counts) <= final and set(counts.values()) == {1}  # nothing invented, nothing twice
    assert max(per_minute["weibo"].values()) <= rate, per_minute["weibo"]
    # Finer than the simulator's per-minute counts, from its request log: in any 1 s (10 s) window
    # at most rate/60 (rate/6) requests, +1 for the slot grid's closed ends, +1 for a request a
    # busy process sent a little late.
    for seconds in (1.0, 10.0):
        busiest = max(sum(1 for t in weibo_times if s <= t < s + seconds) for s in weibo_times)
        assert busiest <= rate * seconds / 60 + 2, f"{busiest} Weibo requests within {seconds} s"
    # The limit was binding: inside bursts, requests left one slot (60/rate s) apart, not back to back.
    gaps = sorted(b - a for a, b in zip(weibo_times, weibo_times[1:], strict=False) if b - a < 2.0)
    assert len(gaps) > 20 and gaps[len(gaps) // 2] >= 0.8 * 60 / rate, gaps[len(gaps) // 2]
    assert "resuming task" in (tmp_path / "w2.log").read_text(encoding="utf-8") or "requeued" in (
        tmp_path / "run.log"
    ).read_text(encoding="utf-8") + (tmp_path / "w2.log").read_text(encoding="utf-8")
    with engine.connect() as conn:
        kinds = conn.execute(select(ALERTS.c.payload).where(ALERTS.c.kind == "health")).scalars().all()
    assert [(k["health"]["kind"], k["health"]["platform"]) for k in kinds] == [
        ("session_expired", "weibo")
    ] * 2
    r = redis.Redis.from_url(REDIS_TEST)
    leftover = list(r.scan_iter(f"{prefix}:*"))
    if leftover:
        r.delete(*leftover)


def _health_states(engine) -> list[str]:
    with engine.connect() as conn:
        payloads = conn.execute(
            select(ALERTS.c.payload).where(ALERTS.c.kind == "health").order_by(ALERTS.c.id)
        ).scalars()
        return [p["health"]["state"] for p in payloads]
