"""Triage starts the watch: mentions stored and triaged the way the crawl's Store pipeline does it
(``upsert_mentions`` + ``triage`` in one transaction), never ``start_watch`` by hand.

The post featured in an event's first immediate alert goes on watch (事件首帖); a post graded 非常紧急
goes on watch even when no rule alerts on it; an event is followed through one post, its earliest.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from crawler.clock import utcnow
from crawler.storage.models import Alert, Mention, TrackedPost
from tests.alerts.conftest import make_cfg, mention, store

T = TrackedPost.__table__  # type: ignore[attr-defined]
STORY = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"
DIGEST_ONLY = {"rules": [{"name": "摘要", "channels": ["ops"], "min_risk": 30, "mode": "digest"}]}


def watches(engine) -> list[dict]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(T).order_by(T.c.id)).mappings()]


def mention_id(engine, post_id: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(Mention.id).where(Mention.post_id == post_id)).scalar_one())


def test_featured_post_of_a_first_alert_goes_on_watch(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={"surge": {"enabled": False}})  # rule 危机: 紧急 and above alert at once
    now = utcnow()
    post = mention(STORY, urgency="紧急", risk=80)  # 紧急 only: the watch comes from the alert
    counts = store(engine, cfg, [post], now=now)
    assert counts["tracked"] == 1
    with engine.connect() as conn:
        alert = conn.execute(select(Alert.kind, Alert.mention_id, Alert.event_id)).one()
    assert alert.kind == "mention"
    [w] = watches(engine)
    assert (w["post_id"], w["reason"], w["status"], w["platform"]) == (
        post["post_id"],
        "事件首帖",
        "watching",
        "weibo",
    )
    assert w["mention_id"] == alert.mention_id == mention_id(engine, post["post_id"])
    assert w["event_id"] == alert.event_id is not None
    assert (
        w["fetches"] == 0
        and abs((w["until"] - w["started_at"]) - timedelta(hours=cfg.tracking.hours)).seconds < 1
    )


def test_very_urgent_post_goes_on_watch_without_an_alert(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={**DIGEST_ONLY, "surge": {"enabled": False}})
    now = utcnow()
    urgent = mention("鲜果时光橙汁喝出玻璃，已经送医，要求门店负责", urgency="紧急", risk=80)
    very = mention(
        "小鹿宝贝奶粉结块有异味，宝宝喝了住院，要求召回", brand="小鹿宝贝", urgency="非常紧急", risk=95
    )
    comment = mention(
        "鲜果时光过期水果当新鲜卖，必须曝光",
        kind="comment",
        parent_post_id="p-root",
        urgency="非常紧急",
        risk=95,
    )
    elsewhere = mention("鲜果时光冰沙吃出虫子，孩子上吐下泻", platform="douyin", urgency="非常紧急", risk=95)
    counts = store(engine, cfg, [urgent, very, comment, elsewhere], now=now)
    with engine.connect() as conn:
        immediate = conn.execute(select(Alert.id).where(Alert.kind.in_(("mention", "event")))).all()
    assert immediate == []  # nothing alerted at once: the 非常紧急 grade alone starts the watch
    [w] = watches(engine)  # not the 紧急 post, not a comment, not another platform's post
    assert (w["post_id"], w["reason"], w["brand"]) == (very["post_id"], "非常紧急", "小鹿宝贝")
    assert counts["tracked"] == 1


def test_an_event_is_followed_through_its_earliest_post(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(alerts={**DIGEST_ONLY, "surge": {"enabled": False}})
    now = utcnow()
    copies = [
        mention(
            f"{STORY} //@网友{i}:", urgency="非常紧急", risk=92, published_at=now - timedelta(minutes=30 - i)
        )
        for i in range(4)
    ]
    store(engine, cfg, copies, now=now)  # the crawl found the copies first
    [w] = watches(engine)
    assert w["post_id"] == copies[0]["post_id"] and w["event_id"] is not None  # the earliest of the batch
    event_id = w["event_id"]

    original = mention(STORY, urgency="非常紧急", risk=95, published_at=now - timedelta(hours=2))
    store(engine, cfg, [original], now=now + timedelta(minutes=1))
    [w] = watches(engine)  # the copy's watch was never visited: it is dropped, the original takes over
    assert (w["post_id"], w["event_id"], w["status"]) == (original["post_id"], event_id, "watching")

    with engine.begin() as conn:  # the original's watch has been visited
        conn.execute(update(T).values(fetches=2))
    later = [mention(f"{STORY} //@路人{i}:", urgency="非常紧急", risk=93, published_at=now) for i in range(3)]
    assert store(engine, cfg, later, now=now + timedelta(minutes=2))["tracked"] == 0
    assert [x["post_id"] for x in watches(engine)] == [original["post_id"]]

    older = mention(STORY + "（原帖）", urgency="非常紧急", risk=95, published_at=now - timedelta(hours=3))
    store(engine, cfg, [older], now=now + timedelta(minutes=3))
    rows = watches(engine)  # an even earlier post turns up: the visited watch ends, it is kept
    assert [(x["post_id"], x["status"]) for x in rows] == [
        (original["post_id"], "done"),
        (older["post_id"], "watching"),
    ]
    assert rows[0]["last_error"] == "让位于同一事件更早的帖子" and rows[1]["event_id"] == event_id
