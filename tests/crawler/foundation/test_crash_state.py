"""Crash-safe crawl state: open work in crawl_pending, leases of dead processes, stale runs by heartbeat."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from crawler.clock import utcnow
from crawler.service.crawl_job import mark_stale_runs
from crawler.storage.engine import make_engine
from crawler.storage.locks import holder, try_acquire
from crawler.storage.mentions import PENDING, RUNS, load_pending, record_pending, settle_pending, start_run


def test_open_work_is_recorded_once_settled_and_given_up_after_five_crawls(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        record_pending(conn, "weibo", "鲜果时光", [("comments", "1"), ("comments", "2"), ("details", "3")])
        record_pending(conn, "weibo", "鲜果时光", [("comments", "1")])  # again: no duplicate, no error
        record_pending(conn, "weibo", "小鹿宝贝", [("comments", "1")])
    assert load_pending(engine, "weibo", "鲜果时光", ("comments", "details")) == {
        "comments": {"1", "2"},
        "details": {"3"},
    }
    # A crawl finished comments of 1; 2 and 3 stay open. A killed crawl (no attempt) changes nothing else.
    settle_pending(
        engine,
        "weibo",
        "鲜果时光",
        done=[("comments", "1")],
        still_open=[("comments", "2"), ("details", "3")],
        count_attempt=False,
    )
    assert load_pending(engine, "weibo", "鲜果时光", ("comments", "details")) == {
        "comments": {"2"},
        "details": {"3"},
    }
    assert load_pending(engine, "weibo", "小鹿宝贝", ("comments",)) == {"comments": {"1"}}  # another brand's
    given_up = []
    for _ in range(5):
        given_up += settle_pending(
            engine, "weibo", "鲜果时光", done=[], still_open=[("details", "3")], count_attempt=True
        )
    assert given_up == [("details", "3")]
    with engine.connect() as conn:
        left = {
            (r.kind, r.post_id, r.attempts)
            for r in conn.execute(select(PENDING).where(PENDING.c.brand == "鲜果时光"))
        }
    assert left == {("comments", "2", 0)}


def test_a_lease_of_a_dead_process_of_this_host_is_taken_over_at_once(db_url: str) -> None:
    engine = make_engine(db_url)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    assert try_acquire(engine, "crawl:weibo:x", "old-owner", 600)
    from crawler.storage.locks import LOCKS

    with engine.begin() as conn:
        conn.execute(update(LOCKS).where(LOCKS.c.name == "crawl:weibo:x").values(pid=int(dead.stdout)))
    assert try_acquire(engine, "crawl:weibo:x", "new-owner", 600)
    info = holder(engine, "crawl:weibo:x")
    assert info is not None and info.owner == "new-owner"
    # A live holder (this very process) is never taken over.
    assert not try_acquire(engine, "crawl:weibo:x", "third-owner", 600)


def test_stale_runs_of_other_hosts_are_told_by_their_heartbeat(db_url: str) -> None:
    engine = make_engine(db_url)
    now = utcnow()
    ids = [start_run(engine, spider="weibo", platform="weibo", brand="b") for _ in range(3)]
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id.in_(ids)).values(host="elsewhere", pid=1))
        conn.execute(update(RUNS).where(RUNS.c.id == ids[0]).values(heartbeat_at=now - timedelta(minutes=10)))
        conn.execute(update(RUNS).where(RUNS.c.id == ids[1]).values(heartbeat_at=now - timedelta(seconds=20)))
        conn.execute(update(RUNS).where(RUNS.c.id == ids[2]).values(started_at=now - timedelta(hours=2)))
    assert mark_stale_runs(engine, older_than=timedelta(hours=1), now=now) == 2
    with engine.connect() as conn:
        status = dict(conn.execute(select(RUNS.c.id, RUNS.c.status)).all())
    assert [status[i] for i in ids] == ["killed", "running", "killed"]
