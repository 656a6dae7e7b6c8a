"""Health incidents from crawl_runs: each opens once and clears once, with one alert each."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from crawler.clock import utcnow
from crawler.service.health import brand_problems, evaluate, platform_problems
from crawler.storage.engine import make_engine
from crawler.storage.mentions import RUNS
from crawler.storage.models import Alert, AlertDelivery, HealthIncident

ALERTS = Alert.__table__
DELIVERIES = AlertDelivery.__table__
INCIDENTS = HealthIncident.__table__
_clock = [utcnow() - timedelta(hours=5)]


def add_run(
    engine,
    platform: str,
    brand: str,
    status: str = "ok",
    *,
    items: int = 5,
    error_kind: str | None = None,
    message: str | None = None,
    spider: str | None = None,
) -> None:
    _clock[0] += timedelta(minutes=1)
    with engine.begin() as conn:
        conn.execute(
            insert(RUNS),
            {
                "spider": spider or platform,
                "platform": platform,
                "brand": brand,
                "status": status,
                "started_at": _clock[0],
                "finished_at": _clock[0],
                "items": items,
                "error_kind": error_kind,
                "error_message": message,
            },
        )


def health_alerts(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = (
            conn.execute(select(ALERTS).where(ALERTS.c.kind == "health").order_by(ALERTS.c.id))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def incidents(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(INCIDENTS).order_by(INCIDENTS.c.id)).mappings()]


@pytest.fixture
def setup(make_config, db_url):
    cfg = make_config(
        db_url,
        platforms={
            "weibo": {},
            "heimao": {},
            "xiaohongshu": {"enabled": False},
            "douyin": {"enabled": False},
        },
        scheduler={"zero_result_runs": 3},
    )
    return cfg, make_engine(db_url)


def test_session_expired_opens_once_and_clears_once(setup) -> None:
    cfg, engine = setup
    add_run(engine, "weibo", "鲜果时光")
    assert evaluate(engine, cfg).opened == []
    add_run(engine, "weibo", "鲜果时光", "failed", items=0, error_kind="auth_expired", message="HTTP 432")
    changes = evaluate(engine, cfg)
    assert changes.opened == [("session_expired", "weibo", None)]
    add_run(engine, "weibo", "小鹿宝贝", "failed", items=0, error_kind="auth_expired")
    for _ in range(3):  # the same problem seen again: no new incident, no new alert
        assert evaluate(engine, cfg).opened == []
    alerts = health_alerts(engine)
    assert len(alerts) == 1
    payload = alerts[0]["payload"]
    assert payload["health"]["state"] == "opened" and payload["health"]["kind"] == "session_expired"
    assert "yuqing login weibo" in payload["health"]["fix"]
    assert "微博" in alerts[0]["title"] and "登录已失效" in alerts[0]["title"]
    with engine.connect() as conn:
        deliveries = conn.execute(
            select(DELIVERIES.c.channel).where(DELIVERIES.c.alert_id == alerts[0]["id"])
        ).all()
    assert [d.channel for d in deliveries] == ["ops"]  # the operators' route

    add_run(engine, "weibo", "鲜果时光", "ok", items=7)
    assert evaluate(engine, cfg).cleared == [("session_expired", "weibo", None)]
    assert evaluate(engine, cfg).cleared == []
    alerts = health_alerts(engine)
    assert [a["payload"]["health"]["state"] for a in alerts] == ["opened", "cleared"]
    assert "已恢复" in alerts[1]["title"]
    (inc,) = incidents(engine)
    assert inc["kind"] == "session_expired" and inc["cleared_at"] is not None and "yuqing login" in inc["fix"]


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([("failed", "captcha")], ["blocked"]),
        ([("failed", "ip_blocked")], ["blocked"]),
        ([("failed", "rate_limited")], ["blocked"]),
        ([("partial", "rate_limited")], []),  # retried and got through: not an incident
        ([("partial", "signature_rejected")], ["signature_rejected"]),
        ([("failed", "bad_payload")], ["schema_change"]),
        ([("failed", "captcha"), ("ok", None)], []),  # the latest run is fine again
    ],
)
def test_platform_problems_are_judged_on_the_latest_run(runs, expected) -> None:
    rows = [{"status": s, "error_kind": k, "error_message": None, "items": 1} for s, k in runs]
    got = platform_problems("heimao", list(reversed(rows)))
    assert [p.kind for p in got] == expected


def _runs(*spec):  # newest last, as written
    return list(
        reversed([{"status": s, "items": n, "error_kind": k, "error_message": None} for s, n, k in spec])
    )


def test_brand_problems() -> None:
    kw = {"zero_runs": 3, "failed_runs": 3}
    had = ("ok", 5, None)
    zero = ("ok", 0, None)
    assert [p.kind for p in brand_problems("weibo", "b", _runs(had, zero, zero, zero), **kw)] == [
        "zero_results"
    ]
    assert brand_problems("weibo", "b", _runs(had, zero, zero), **kw) == []  # only two in a row
    assert brand_problems("weibo", "b", _runs(zero, zero, zero, zero), **kw) == []  # never had results
    assert brand_problems("weibo", "b", _runs(had, zero, zero, zero, had), **kw) == []
    assert [p.kind for p in brand_problems("weibo", "b", _runs(had, ("timeout", 0, "timeout")), **kw)] == [
        "timeout"
    ]
    fails = [("failed", 0, "server_error")] * 3
    assert [p.kind for p in brand_problems("weibo", "b", _runs(had, *fails), **kw)] == ["crawl_failed"]
    auth = [("failed", 0, "auth_expired")] * 3  # reported platform-wide instead
    assert brand_problems("weibo", "b", _runs(had, *auth), **kw) == []


def test_zero_results_and_timeout_per_brand(setup) -> None:
    cfg, engine = setup
    add_run(engine, "heimao", "小鹿宝贝", items=12)
    for _ in range(3):
        add_run(engine, "heimao", "小鹿宝贝", items=0)
    add_run(engine, "heimao", "鲜果时光", "timeout", items=0, error_kind="timeout")
    changes = evaluate(engine, cfg)
    assert sorted(changes.opened) == [
        ("timeout", "heimao", "鲜果时光"),
        ("zero_results", "heimao", "小鹿宝贝"),
    ]
    texts = {a["payload"]["health"]["kind"]: a["payload"]["health"]["message"] for a in health_alerts(engine)}
    assert "0 条不代表没有舆情" in texts["zero_results"] and "超过" in texts["timeout"]
    add_run(engine, "heimao", "小鹿宝贝", items=3)
    add_run(engine, "heimao", "鲜果时光", items=3)
    assert sorted(evaluate(engine, cfg, platforms=["heimao"]).cleared) == [
        ("timeout", "heimao", "鲜果时光"),
        ("zero_results", "heimao", "小鹿宝贝"),
    ]
    assert len(health_alerts(engine)) == 4


def test_tracking_polls_are_not_brand_crawls(setup) -> None:
    """A tracked post's polls (crawl_runs rows of spider ``tracking`` with the post's brand) that
    find no new reposts are not crawls that found nothing: no zero-results incident, and the
    brand's last crawl stays the last search crawl in ``yuqing status``."""
    from crawler.service.status import crawl_info

    cfg, engine = setup
    add_run(engine, "weibo", "鲜果时光", items=30)
    for _ in range(4):
        add_run(engine, "weibo", "鲜果时光", items=0, spider="tracking")
    add_run(engine, "weibo", None, items=50, spider="hotlist")  # type: ignore[arg-type]
    assert evaluate(engine, cfg).opened == []
    for _ in range(3):  # the crawls themselves coming back empty still open one
        add_run(engine, "weibo", "鲜果时光", items=0)
        add_run(engine, "weibo", "鲜果时光", items=2, spider="tracking")
    assert evaluate(engine, cfg).opened == [("zero_results", "weibo", "鲜果时光")]
    add_run(engine, "weibo", "鲜果时光", "timeout", items=0, spider="tracking")
    with engine.connect() as conn:
        info = crawl_info(conn, cfg, ZoneInfo("Asia/Shanghai"), set())
    (row,) = [r for r in info if (r["platform"], r["brand"]) == ("weibo", "鲜果时光")]
    assert row["last_status"] == "ok"  # not the tracking poll's timeout
    assert ("timeout", "weibo", "鲜果时光") not in evaluate(engine, cfg).opened


def test_a_public_hot_list_does_not_clear_an_expired_login(setup) -> None:
    """The hot lists are public: their polls succeed with an expired login, or fail for a passing
    reason, between two failed crawls. Neither clears the incident (one opened and one cleared
    alert, not a pair per poll), however many polls come between two crawls."""
    cfg, engine = setup

    def hot(status: str = "ok", error_kind: str | None = None) -> None:
        add_run(engine, "weibo", None, status, items=50, error_kind=error_kind, spider="hotlist")  # type: ignore[arg-type]

    add_run(engine, "weibo", "鲜果时光", "failed", items=0, error_kind="auth_expired")
    assert evaluate(engine, cfg).opened == [("session_expired", "weibo", None)]
    for _ in range(2):
        hot()
        hot("failed", "server_error")  # a passing failure of the list
        assert evaluate(engine, cfg).cleared == []
        add_run(engine, "weibo", "鲜果时光", "failed", items=0, error_kind="auth_expired")
        assert evaluate(engine, cfg).opened == []
    for _ in range(60):  # hours of polls without a crawl (more than the history read)
        hot()
    assert evaluate(engine, cfg).cleared == []
    add_run(engine, "weibo", "鲜果时光", items=9)
    assert evaluate(engine, cfg).cleared == [("session_expired", "weibo", None)]
    assert [a["payload"]["health"]["state"] for a in health_alerts(engine)] == ["opened", "cleared"]


def test_a_blocked_hot_list_counts_while_it_is_the_newest_word(setup) -> None:
    """A blocked hot list opens the incident; its next success clears it, and so does a crawl
    that succeeds after it (the login fixed, the next crawl closes the incident, not the next
    poll); a crawl's own block stays open through the polls' successes."""
    cfg, engine = setup

    def hot(status: str = "ok", error_kind: str | None = None) -> None:
        add_run(engine, "weibo", None, status, items=50, error_kind=error_kind, spider="hotlist")  # type: ignore[arg-type]

    add_run(engine, "weibo", "鲜果时光", items=9)
    hot("failed", "captcha")
    assert evaluate(engine, cfg).opened == [("blocked", "weibo", None)]
    hot()
    assert evaluate(engine, cfg).cleared == [("blocked", "weibo", None)]
    hot("failed", "auth_expired")
    assert evaluate(engine, cfg).opened == [("session_expired", "weibo", None)]
    add_run(engine, "weibo", "鲜果时光", items=9)  # logged in again: the crawl works
    assert evaluate(engine, cfg).cleared == [("session_expired", "weibo", None)]
    # both blocked at once: one incident, open until the crawls recover
    add_run(engine, "weibo", "鲜果时光", "failed", items=0, error_kind="ip_blocked")
    hot("failed", "captcha")
    assert evaluate(engine, cfg).opened == [("blocked", "weibo", None)]
    hot()
    assert evaluate(engine, cfg).cleared == []
    add_run(engine, "weibo", "鲜果时光", items=9)
    assert evaluate(engine, cfg).cleared == [("blocked", "weibo", None)]


def test_dispatcher_falling_behind(setup) -> None:
    cfg, engine = setup
    old = utcnow() - timedelta(seconds=cfg.scheduler.dispatch_lag_seconds + 60)
    with engine.begin() as conn:
        alert_id = conn.execute(
            insert(ALERTS).returning(ALERTS.c.id),
            {
                "kind": "mention",
                "dedup_key": "m:1",
                "title": "t",
                "payload": {},
                "status": "open",
                "created_at": old,
            },
        ).scalar_one()
        conn.execute(
            insert(DELIVERIES),
            {
                "alert_id": alert_id,
                "channel": "ops",
                "idempotency_key": "k1",
                "status": "pending",
                "next_attempt_at": old,
                "created_at": old,
            },
        )
    assert evaluate(engine, cfg).opened == [("dispatcher_lag", None, None)]
    assert evaluate(engine, cfg, platforms=["weibo"], service=False).cleared == []  # out of that scope
    with engine.begin() as conn:
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.alert_id == alert_id).values(status="sent"))
    assert evaluate(engine, cfg).cleared == [("dispatcher_lag", None, None)]
    states = [
        (a["payload"]["health"]["kind"], a["payload"]["health"]["state"]) for a in health_alerts(engine)
    ]
    assert states == [("dispatcher_lag", "opened"), ("dispatcher_lag", "cleared")]


def test_no_workers_in_distributed_mode(setup) -> None:
    cfg, engine = setup
    assert evaluate(engine, cfg, queue_stats={"pending": 3, "workers": 0, "oldest_wait_s": 20}).opened == []
    waiting = {"pending": 3, "inflight": 0, "workers": 0, "oldest_wait_s": 75}
    assert evaluate(engine, cfg, queue_stats=waiting).opened == [("no_workers", None, None)]
    assert evaluate(engine, cfg, queue_stats=waiting).opened == []
    assert evaluate(engine, cfg, queue_stats={**waiting, "workers": 2}).cleared == [
        ("no_workers", None, None)
    ]
    texts = [a["payload"]["health"] for a in health_alerts(engine)]
    assert [t["state"] for t in texts] == ["opened", "cleared"]
    assert "yuqing worker" in texts[0]["fix"] and "3 个采集任务" in texts[0]["message"]


def test_a_stopped_crawl_closes_its_own_run_not_a_tracking_poll_beside_it(setup) -> None:
    """record_outcome (the service's view of a crawl child that ended) reads only brand crawls:
    a tracking poll of the same brand running beside the crawl is neither closed as ``killed``
    nor counted in the crawl's items."""
    from crawler.procs import ChildResult
    from crawler.service.crawl_job import record_outcome
    from crawler.storage.mentions import start_run

    _cfg, engine = setup
    since = utcnow() - timedelta(seconds=1)
    crawl = start_run(engine, spider="weibo", platform="weibo", brand="鲜果时光")
    poll = start_run(engine, spider="tracking", platform="weibo", brand="鲜果时光", keyword="4900001")
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == poll).values(items=71, new_count=71))
        conn.execute(update(RUNS).where(RUNS.c.id == crawl).values(items=4, new_count=3))
    result = ChildResult(returncode=-15, timed_out=False, stopped=True, killed=False, seconds=1.0)
    outcome = record_outcome(engine, "weibo", "鲜果时光", since=since, result=result, timeout=60)
    assert (outcome.status, outcome.run_ids, outcome.items, outcome.new) == ("killed", [crawl], 4, 3)
    with engine.connect() as conn:
        status = dict(conn.execute(select(RUNS.c.id, RUNS.c.status)).all())
    assert status == {crawl: "killed", poll: "running"}  # the poll finishes on its own


def test_leftover_pending_work_is_read_from_the_brands_last_crawl(setup) -> None:
    """The incremental crawler's fallback for work a crawl left pending (the ``pending`` of its
    run's stats, from versions before crawl_pending) reads the brand's last crawl, not a tracking
    poll recorded after it."""
    from crawler.platform.incremental import CrawlMemory
    from crawler.storage.mentions import finish_run, start_run

    _cfg, engine = setup
    crawl = start_run(engine, spider="weibo", platform="weibo", brand="鲜果时光")
    finish_run(engine, crawl, status="partial", stats={"pending": {"comments": ["4900001", "4900002"]}})
    poll = start_run(engine, spider="tracking", platform="weibo", brand="鲜果时光", keyword="4900001")
    finish_run(engine, poll, status="ok", stats={"reposts": 0})
    mem = CrawlMemory.load(engine, platform="weibo", brand="鲜果时光", keywords=["鲜果时光"])
    assert mem.pending["comments"] == {"4900001", "4900002"}
