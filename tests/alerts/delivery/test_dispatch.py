"""Outbox and dispatcher on SQLite and PostgreSQL: routing, exactly-once display, retries, dead letters, leases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from alerts.delivery import ledger
from alerts.delivery.dispatch import dispatch_once
from alerts.delivery.outbox import enqueue, idempotency_key
from crawler.storage.models import AlertDelivery
from simulator.receiver.server import Receiver

from .conftest import FakeClock, alert_refs, enqueue_many, make_config, mention_payload

D = AlertDelivery.__table__  # type: ignore[attr-defined]


def deliveries(engine: Engine, channel: str | None = None) -> list[dict]:
    with engine.connect() as conn:
        q = select(D).order_by(D.c.id)
        if channel:
            q = q.where(D.c.channel == channel)
        return [dict(r._mapping) for r in conn.execute(q)]


def test_enqueue_is_deduplicated_and_routes_known_channels(engine: Engine) -> None:
    cfg = make_config(
        {
            "a": {"type": "wecom", "url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=a"},
            "off": {"type": "wecom", "url": "http://127.0.0.1:9/x", "enabled": False},
        }
    )
    with engine.begin() as conn:
        first = enqueue(
            conn,
            cfg,
            kind="mention",
            dedup_key="m:1",
            title="t",
            payload=mention_payload(),
            channels=["a", "off", "nope", "a"],
        )
        again = enqueue(
            conn, cfg, kind="mention", dedup_key="m:1", title="t", payload=mention_payload(), channels=["a"]
        )
    assert first is not None and again is None
    [row] = deliveries(engine)
    assert (row["channel"], row["status"], row["idempotency_key"]) == (
        "a",
        "pending",
        idempotency_key("m:1", "a"),
    )
    assert idempotency_key("m:1", "a") != idempotency_key("m:1", "b")


def test_each_alert_shown_once_per_channel(engine: Engine, receiver: Receiver, clock: FakeClock) -> None:
    cfg = make_config(
        {
            "dt": {"type": "dingtalk", "url": receiver.dingtalk("dt", secret="SECx"), "secret": "SECx"},
            "fs": {"type": "feishu", "url": receiver.feishu("fs", secret="f"), "secret": "f"},
            "wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"},
        }
    )
    ids = enqueue_many(engine, cfg, 6, ["dt", "fs", "wh"])
    stats = dispatch_once(engine, cfg, now=clock.now())
    assert (stats.claimed, stats.sent, stats.messages) == (17, 17, 17)  # Feishu allows 5 a second
    assert stats.paused == [] and len(receiver.visible("fs")) == 5
    clock.advance(2)
    assert dispatch_once(engine, cfg, now=clock.now()).sent == 1
    clock.advance(300)
    assert dispatch_once(engine, cfg, now=clock.now()).claimed == 0
    for robot in ("dt", "fs", "wh"):
        assert sorted(alert_refs(receiver.visible(robot))) == sorted(str(i) for i in ids)
    assert {r["status"] for r in deliveries(engine)} == {"sent"}
    assert all(r["attempts"] == 1 and r["parts_sent"] == 1 for r in deliveries(engine))


def test_quiet_until_not_before(sqlite_url: str, receiver: Receiver, clock: FakeClock) -> None:
    from crawler.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    cfg = make_config({"wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"}})
    with engine.begin() as conn:
        enqueue(
            conn,
            cfg,
            kind="digest",
            dedup_key="d:1",
            title="摘要",
            payload={"items": []},
            channels=["wh"],
            not_before=clock.now() + timedelta(hours=1),
        )
    assert dispatch_once(engine, cfg, now=clock.now()).claimed == 0
    clock.advance(3600)
    assert dispatch_once(engine, cfg, now=clock.now()).sent == 1


def test_one_failing_channel_does_not_block_the_others(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    cfg = make_config(
        {
            "bad": {"type": "wecom", "url": receiver.wecom("bad")},
            "good": {"type": "slack", "url": receiver.slack("good")},
        }
    )
    enqueue_many(engine, cfg, 4, ["bad", "good"])
    receiver.fault("bad", "down")
    stats = dispatch_once(engine, cfg, now=clock.now())
    assert stats.sent == 4 and stats.retried == 1 and stats.released == 3
    assert len(receiver.visible("good")) == 4 and receiver.visible("bad") == []
    bad = deliveries(engine, "bad")
    assert [r["status"] for r in bad] == ["failed", "pending", "pending", "pending"]
    assert "network error" in bad[0]["last_error"] and bad[0]["attempts"] == 1
    assert ledger.paused_until(engine, "bad") > clock.now()


def test_permanent_error_dead_letters_then_retry(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    cfg = make_config({"wc": {"type": "wecom", "url": receiver.wecom("wc")}})
    [alert_id] = enqueue_many(engine, cfg, 1, ["wc"])
    receiver.fault("wc", "invalid_url")
    stats = dispatch_once(engine, cfg, now=clock.now())
    [row] = deliveries(engine)
    assert stats.dead == 1 and row["status"] == "dead" and "errcode 93000" in row["last_error"]
    receiver.clear()
    assert ledger.requeue(engine, now=clock.now(), dead_only=True) == 1
    clock.advance(120)  # past the channel pause after the failure
    assert dispatch_once(engine, cfg, now=clock.now()).sent == 1
    assert alert_refs(receiver.visible("wc")) == [str(alert_id)]


def test_gives_up_after_max_attempts(sqlite_url: str, receiver: Receiver, clock: FakeClock) -> None:
    from crawler.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    cfg = make_config(
        {"wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"}},
        max_attempts=3,
        backoff_seconds=10,
    )
    enqueue_many(engine, cfg, 1, ["wh"])
    receiver.fault("wh", "http_502")
    delays = []
    for _ in range(40):
        dispatch_once(engine, cfg, now=clock.now())
        [row] = deliveries(engine)
        if row["status"] == "dead":
            break
        if row["next_attempt_at"] > clock.now() and (not delays or delays[-1][0] != row["attempts"]):
            delays.append((row["attempts"], (row["next_attempt_at"] - clock.now()).total_seconds()))
        clock.advance(5)
    assert row["status"] == "dead" and row["attempts"] == 3
    assert "gave up after 3 attempts" in row["last_error"] and "HTTP 502" in row["last_error"]
    assert len(receiver.statuses("wh")) == 3
    assert [n for n, _ in delays] == [1, 2]
    assert 5 <= delays[0][1] <= 10 and 10 <= delays[1][1] <= 20  # 10 s doubling, equal jitter


def test_expired_lease_is_reclaimed_and_counted(engine: Engine, receiver: Receiver, clock: FakeClock) -> None:
    cfg = make_config(
        {"wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"}},
        lease_seconds=60,
    )
    enqueue_many(engine, cfg, 1, ["wh"])
    token, [claimed] = ledger.claim(engine, "wh", now=clock.now(), lease_seconds=60, limit=10)  # then "dies"
    assert not claimed.reclaimed
    assert (
        dispatch_once(engine, cfg, now=clock.now() + timedelta(seconds=30)).claimed == 0
    )  # lease still held
    stats = dispatch_once(engine, cfg, now=clock.now() + timedelta(seconds=61))
    [row] = deliveries(engine)
    assert stats.sent == 1 and row["status"] == "sent" and row["attempts"] == 2
    assert not ledger.mark_part(
        engine, row["id"], token, parts_sent=1, parts_total=1, now=clock.now()
    )  # stale owner


def test_split_message_resumes_after_the_last_accepted_part(
    sqlite_url: str, receiver: Receiver, clock: FakeClock
) -> None:
    from crawler.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    cfg = make_config({"wc": {"type": "wecom", "url": receiver.wecom("wc"), "rate_per_minute": 1}})
    items = [dict(mention_payload(i)["mention"], text="内容" * 120) for i in range(24)]
    with engine.begin() as conn:
        enqueue(
            conn,
            cfg,
            kind="digest",
            dedup_key="digest:1",
            title="过去一小时",
            payload={"items": items},
            channels=["wc"],
        )
    for _ in range(10):
        dispatch_once(engine, cfg, now=clock.now())
        clock.advance(62)
    [row] = deliveries(engine)
    parts = receiver.messages("wc")
    assert row["status"] == "sent" and row["parts_total"] == len(parts) >= 3
    labels = [p.text.split("\n")[0][-5:] for p in parts]
    assert labels == [f"（{i}/{len(parts)}）" for i in range(1, len(parts) + 1)]


def test_a_broken_payload_is_dead_lettered_and_the_queue_moves_on(
    sqlite_url: str, receiver: Receiver, clock: FakeClock
) -> None:
    from sqlalchemy import update

    from crawler.storage.engine import make_engine
    from crawler.storage.models import Alert

    engine = make_engine(sqlite_url)
    cfg = make_config({"wh": {"type": "webhook", "url": receiver.webhook("wh", secret="w"), "secret": "w"}})
    first, second = enqueue_many(engine, cfg, 2, ["wh"])
    with engine.begin() as conn:  # a payload the renderer cannot read (e.g. written by a buggy producer)
        conn.execute(
            update(Alert.__table__)
            .where(Alert.__table__.c.id == first)  # type: ignore[attr-defined]
            .values(payload={"kind": "digest", "items": 5})
        )
    stats = dispatch_once(engine, cfg, now=clock.now())
    assert (stats.dead, stats.sent, stats.errors) == (1, 1, 1)
    dead = deliveries(engine)[0]
    assert dead["status"] == "dead" and dead["last_error"].startswith("cannot render: TypeError")
    assert alert_refs(receiver.visible("wh")) == [str(second)]
