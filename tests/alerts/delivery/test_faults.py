"""Fault tests: a channel down for five minutes, rate-limit answers, many dispatchers, a crash mid-send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from alerts.delivery.dispatch import dispatch_once
from crawler.clock import utcnow
from crawler.storage.models import AlertDelivery
from simulator.receiver.server import Receiver

from .conftest import FakeClock, alert_refs, enqueue_many, make_config

D = AlertDelivery.__table__  # type: ignore[attr-defined]
ROOT = Path(__file__).resolve().parents[3]


def rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(D).order_by(D.c.id))]


def run_until_done(engine: Engine, cfg, clock: FakeClock, *, step: float, limit: float) -> float:  # type: ignore[no-untyped-def]
    start = clock.time()
    while clock.time() - start < limit:
        dispatch_once(engine, cfg, now=clock.now())
        if all(r["status"] == "sent" for r in rows(engine)):
            break
        clock.advance(step)
    return clock.time() - start


def test_channel_down_five_minutes_then_back(engine: Engine, receiver: Receiver, clock: FakeClock) -> None:
    cfg = make_config(
        {
            "dt": {"type": "dingtalk", "url": receiver.dingtalk("dt", secret="SECx"), "secret": "SECx"},
            "wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"},
        }
    )
    ids = enqueue_many(engine, cfg, 12, ["dt", "wh"])
    receiver.fault("dt", "down", seconds=300)
    receiver.fault("wh", "http_502", seconds=300)
    took = run_until_done(engine, cfg, clock, step=10, limit=1800)
    assert 300 <= took <= 300 + 130  # delivered soon after the channel came back
    for robot in ("dt", "wh"):
        assert sorted(alert_refs(receiver.visible(robot))) == sorted(str(i) for i in ids)  # each exactly once
    statuses = Counter(receiver.statuses("dt"))
    assert statuses["accepted"] == 12 and 3 <= statuses["dropped"] <= 30  # probed, not hammered
    assert all(r["status"] == "sent" and r["last_error"] is None for r in rows(engine))
    assert max(r["attempts"] for r in rows(engine)) > 1


@pytest.mark.parametrize(("kind", "minimum_pause"), [("dingtalk", 600), ("wecom", 65)])
def test_rate_limit_answer_backs_off_then_succeeds(
    sqlite_url: str, receiver: Receiver, clock: FakeClock, kind: str, minimum_pause: float
) -> None:
    from crawler.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    url = receiver.dingtalk("r") if kind == "dingtalk" else receiver.wecom("r")
    cfg = make_config({"r": {"type": kind, "url": url}})
    enqueue_many(engine, cfg, 3, ["r"])
    receiver.fault("r", "rate_limited", count=1)  # errcode 130101 / 45009 once
    stats = dispatch_once(engine, cfg, now=clock.now())
    assert stats.rate_limited == 1 and stats.sent == 0
    first = rows(engine)[0]
    assert first["attempts"] == 0 and ("130101" in first["last_error"] or "45009" in first["last_error"])
    clock.advance(minimum_pause - 5)
    assert dispatch_once(engine, cfg, now=clock.now()).claimed == 0  # the whole channel waits
    took = run_until_done(engine, cfg, clock, step=10, limit=2000)
    assert took <= minimum_pause * 0.25 + 20
    assert sorted(alert_refs(receiver.visible("r"))) == ["1", "2", "3"]
    assert [r["attempts"] for r in rows(engine)] == [1, 1, 1]


def test_rate_limit_holds_across_dispatchers(
    engine: Engine, receiver: Receiver, clock: FakeClock, db_url: str
) -> None:
    from crawler.storage.engine import make_engine

    cfg = make_config({"dt": {"type": "dingtalk", "url": receiver.dingtalk("dt")}})
    enqueue_many(engine, cfg, 45, ["dt"])
    # Two dispatchers with separate connection pools, racing on every tick.
    second = (
        db_url.replace("/yuqing.db", "/./yuqing.db")
        if db_url.startswith("sqlite")
        else db_url + "?application_name=b"
    )
    engines = [engine, make_engine(second)]
    assert engines[1] is not engine
    for _ in range(40):
        now = clock.now()
        threads = [
            threading.Thread(target=dispatch_once, args=(e, cfg), kwargs={"now": now}) for e in engines
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if all(r["status"] == "sent" for r in rows(engine)):
            break
        clock.advance(10)
    assert len(receiver.visible("dt")) == 45
    assert not any("130101" in s for s in receiver.statuses("dt"))  # the robot never had to refuse
    sent = sorted(r.at for r in receiver.messages("dt"))
    assert all(sent[i + 20] - sent[i] >= 60 for i in range(len(sent) - 20))  # never more than 20 a minute


CRASH_SCRIPT = """
import json, sys
from crawler.config import config_from_dict
from crawler.storage.engine import open_database
from alerts.delivery.dispatch import dispatch_once
spec = json.loads(sys.argv[1])
dispatch_once(open_database(spec["db"]), config_from_dict(spec["cfg"]))
print("dispatch returned", flush=True)
"""


@pytest.mark.slow
def test_crash_between_send_and_commit(sqlite_url: str, tmp_path: Path) -> None:
    from crawler.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    with Receiver() as rx:  # real clock: the dispatcher runs in another process
        raw = {
            "brands": [{"name": "鲜果时光"}],
            "alerts": {
                "lease_seconds": 30,
                "channels": {
                    "wh": {"type": "webhook", "url": rx.webhook("wh", secret="w"), "secret": "w"},
                    "dt": {"type": "dingtalk", "url": rx.dingtalk("dt", secret="SECx"), "secret": "SECx"},
                },
            },
        }
        cfg = make_config(raw["alerts"]["channels"], lease_seconds=30)
        [alert_id] = enqueue_many(engine, cfg, 1, ["wh", "dt"])
        rx.fault(
            "wh", "hold", count=1, hold_seconds=20
        )  # accept, then keep the answer back: the crash window
        rx.fault("dt", "hold", count=1, hold_seconds=20)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_SCRIPT, json.dumps({"db": sqlite_url, "cfg": raw})],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while len(rx.messages()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()  # SIGKILL: sent, but the success was never committed
        proc.wait(10)
        assert len(rx.messages()) == 2 and {r["status"] for r in rows(engine)} == {"sending"}
        assert dispatch_once(engine, cfg).claimed == 0  # the lease protects the row while it may be in flight
        stats = dispatch_once(engine, cfg, now=utcnow() + timedelta(seconds=31))
        assert stats.sent == 2
        assert [r.duplicate for r in rx.messages("wh")] == [False, True]  # re-sent with the same key
        assert len(rx.visible("wh")) == 1 and alert_refs(rx.visible("wh")) == [str(alert_id)]
        assert len(rx.messages("dt")) == 2  # a robot has no key: at least once (documented)
        assert [(r["status"], r["attempts"]) for r in rows(engine)] == [("sent", 2), ("sent", 2)]
