"""Pacing of immediate alerts end to end (triage → summaries → dispatcher → loopback robots), on SQLite and PostgreSQL.

Backfill never alerts one by one and makes one summary per brand and channel; the hourly
budget per brand and channel holds the seventh alert for one roll-up; a new 非常紧急 event
passes a spent budget; the budget lives in the database, so crawls in other processes share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.delivery.dispatch import dispatch_once
from alerts.triage.run import flush_digest
from crawler.clock import utcnow
from crawler.config import AppConfig, ConfigError, config_from_dict, load_config
from crawler.storage.models import Alert, AlertCharge, AlertHold, Complaint
from simulator.receiver.server import Receiver
from tests.alerts.conftest import make_cfg, mention, seen_when_published, store, watched_for

ROOT = Path(__file__).resolve().parents[3]
PROBLEMS = [
    "喝出玻璃碎片",
    "发霉长毛",
    "吃完上吐下泻",
    "包装漏液",
    "配送超时三小时",
    "退款被拒",
    "客服电话打不通",
    "杯子里有头发",
    "价格虚标",
    "会员积分清零",
    "门店拒绝开发票",
    "少送了一杯",
]
PRODUCTS = ["芒果冰沙", "鲜榨橙汁", "轻食杯", "草莓奶昔", "椰子水", "葡萄柚茶", "牛油果杯", "西瓜汁"]


def story(i: int, brand: str = "鲜果时光") -> str:
    """Distinct complaint texts (each its own event)."""
    return (
        f"{brand}的{PRODUCTS[i % len(PRODUCTS)]}{PROBLEMS[i % len(PROBLEMS)]}，第{i}次遇到"
        f"{chr(0x4E00 + 97 * i)}{chr(0x4E50 + 53 * i)}{chr(0x4F00 + 31 * i)}，要求退款"
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def paced_cfg(rx: Receiver, **alerts: Any) -> AppConfig:
    return config_from_dict(
        {
            "brands": [
                {"name": "鲜果时光", "aliases": ["鲜果"], "keywords": ["鲜果时光"]},
                {"name": "小鹿宝贝", "keywords": ["小鹿宝贝"]},
            ],
            "alerts": {
                "channels": {
                    "pr": {"type": "dingtalk", "url": rx.dingtalk("pr", secret="SECpr"), "secret": "SECpr"},
                    "kefu": {"type": "wecom", "url": rx.wecom("kefu")},
                },
                "rules": [
                    {"name": "危机", "channels": ["pr"], "min_urgency": "紧急", "surge": True},
                    {"name": "投诉摘要", "channels": ["kefu"], "min_risk": 30, "mode": "digest"},
                ],
                "dashboard_url": "https://yuqing.example.com/",
                **alerts,
            },
            "complaints": {"report_channels": ["kefu"]},
        }
    )


def deliver(engine: Any, cfg: AppConfig) -> None:
    for _ in range(5):
        if dispatch_once(engine, cfg).claimed == 0:
            return


def kinds(engine: Any) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [(r.kind, r.brand) for r in conn.execute(select(Alert.kind, Alert.brand).order_by(Alert.id))]


def test_backfill_never_alerts_and_makes_one_summary_per_brand_and_channel(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver)
    now = utcnow()
    old = [
        mention(
            story(i, b),
            brand=b,
            urgency="非常紧急" if i % 3 == 0 else "紧急",
            risk=70 + i,
            published_at=now - timedelta(days=2, hours=i),
            platform="weibo" if i % 2 else "douyin",
        )
        for b in ("鲜果时光", "小鹿宝贝")
        for i in range(9)
    ]
    fresh = mention(story(40), urgency="非常紧急", risk=95, published_at=now - timedelta(hours=3))
    counts = store(engine, cfg, [*old, fresh], now=now)
    assert counts["backfill"] >= 18  # the fresh story alone goes out now (and its complaint record's report)
    assert kinds(engine) == [("mention", "鲜果时光"), ("complaint", "鲜果时光")]
    # a re-crawl of the same history (engagement changed) adds nothing
    again = store(engine, cfg, [dict(m, likes=50) for m in old], now=now + timedelta(minutes=2))
    assert again["alerts"] == 0 and again["backfill"] == 0
    assert (
        flush_digest(engine, cfg, now=now + timedelta(minutes=3)) == 0
    )  # still settling (crawls of other platforms)
    assert flush_digest(engine, cfg, now=now + timedelta(minutes=11)) == 4  # brand × channel
    summaries = [k for k in kinds(engine) if k[0] == "backfill"]
    assert sorted(summaries) == [
        ("backfill", "小鹿宝贝"),
        ("backfill", "小鹿宝贝"),
        ("backfill", "鲜果时光"),
        ("backfill", "鲜果时光"),
    ]
    with engine.connect() as conn:
        unreported = conn.execute(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.reported_at.is_(None), Complaint.urgency.in_(("紧急", "非常紧急")))
        ).scalar_one()
        pending = conn.execute(
            select(func.count()).select_from(AlertHold).where(AlertHold.flushed_at.is_(None))
        ).scalar_one()
    assert unreported == 0 and pending == 0  # the summary is the records' report
    deliver(engine, cfg)
    pr = [m.text for m in receiver.visible("pr")]
    kefu = [m.text for m in receiver.visible("kefu")]
    assert len(pr) == 3 and len(kefu) == 3  # the fresh story (kefu: its record) + one summary per brand
    xg = next(t for t in pr if "鲜果时光 回溯汇总" in t)
    assert "9 条历史内容" in xg and "发布超过 24 小时后才首次采集到" in xg
    assert "抖音 5" in xg and "微博 4" in xg and "非常紧急 3" in xg and "紧急 6" in xg
    assert "第5条" in xg and "第6条" not in xg  # the top five, one per story
    assert "在看板中查看" in xg and "https://yuqing.example.com/" in xg
    summaries_kefu = [t for t in kefu if "回溯汇总" in t]
    assert len(summaries_kefu) == 2 and all("客诉单" in t and "涉及 9 张" in t for t in summaries_kefu)


def test_budget_holds_the_seventh_and_sends_one_rollup(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver, surge={"enabled": False})  # a surge alert would take a slot too
    now = utcnow()
    for i in range(10):  # ten new 紧急 stories within the hour, one crawl batch each
        store(engine, cfg, [mention(story(i), urgency="紧急", risk=60 + i)], now=now + timedelta(minutes=i))
    store(
        engine,
        cfg,
        [mention(story(i, "小鹿宝贝"), brand="小鹿宝贝", urgency="紧急") for i in range(2)],
        now=now + timedelta(minutes=10),
    )
    immediate = [k for k in kinds(engine) if k[0] == "mention"]
    assert immediate.count(("mention", "鲜果时光")) == 6 and immediate.count(("mention", "小鹿宝贝")) == 2
    with engine.connect() as conn:
        held = conn.execute(
            select(AlertHold.ref).where(AlertHold.kind == "rollup", AlertHold.channel == "pr")
        ).all()
    assert len(held) == 4
    assert flush_digest(engine, cfg, now=now + timedelta(minutes=30)) == 0  # no room yet: the roll-up waits
    # while a roll-up waits, a newcomer joins it even once room frees (one roll-up, in order)
    store(engine, cfg, [mention(story(20), urgency="紧急", risk=99)], now=now + timedelta(minutes=59))
    flush_digest(engine, cfg, now=now + timedelta(minutes=61))
    flush_digest(engine, cfg, now=now + timedelta(minutes=62))
    rollups = [k for k in kinds(engine) if k[0] == "rollup"]
    assert (
        rollups == [("rollup", "鲜果时光")] * 2
    )  # one per channel: pr (alerts) and kefu (complaint reports)
    deliver(engine, cfg)
    texts = [m.text for m in receiver.visible("pr")]
    assert len(texts) == 6 + 2 + 1
    rollup = next(t for t in texts if "风险汇总" in t)
    assert "另有 5 条风险提及" in rollup and "一小时内即时告警已达 6 条上限" in rollup
    assert "第3条" in rollup and "第4条" not in rollup and "风险 99" in rollup  # the top three
    assert "在看板中查看" in rollup
    with engine.connect() as conn:
        charges = conn.execute(
            select(func.count())
            .select_from(AlertCharge)
            .where(AlertCharge.brand == "鲜果时光", AlertCharge.channel == "pr")
        ).scalar_one()
    assert charges == 7  # six alerts and the roll-up


def test_a_new_very_urgent_event_passes_a_spent_budget_once(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver, max_immediate_per_hour=2, surge={"enabled": False})
    now = utcnow()
    store(engine, cfg, [mention(story(i), urgency="紧急") for i in range(3)], now=now)
    assert len([k for k in kinds(engine) if k[0] == "mention"]) == 2
    crisis = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"
    store(
        engine,
        cfg,
        [mention(f"{crisis} //@网友{i}:", urgency="非常紧急", risk=95) for i in range(5)],
        now=now + timedelta(minutes=1),
    )
    store(
        engine,
        cfg,
        [mention(f"{crisis} //@又一位{i}:", urgency="非常紧急", risk=96) for i in range(5)],
        now=now + timedelta(minutes=2),
    )
    # a big-V joins the crisis: an update, but not a new 非常紧急 event → over budget, held
    store(
        engine,
        cfg,
        [
            mention(
                f"{crisis} //@美食大V:", urgency="非常紧急", author_followers=2_000_000, author_name="美食大V"
            )
        ],
        now=now + timedelta(minutes=3),
    )
    # an event that escalates to 非常紧急 passes again
    store(engine, cfg, [mention(story(7) + "，已经报警", urgency="紧急")], now=now + timedelta(minutes=4))
    store(
        engine,
        cfg,
        [mention(story(7) + "，已经报警了", urgency="非常紧急", risk=97)],
        now=now + timedelta(minutes=5),
    )
    alerts = kinds(engine)
    assert alerts.count(("mention", "鲜果时光")) == 3  # two within the budget, then the crisis
    assert alerts.count(("event", "鲜果时光")) == 1  # story 7 reaching 非常紧急
    with engine.connect() as conn:
        exempt = conn.execute(
            select(func.count())
            .select_from(AlertCharge)
            .where(AlertCharge.exempt.is_(True), AlertCharge.channel == "pr")
        ).scalar_one()
        held = {
            r.alert_kind
            for r in conn.execute(
                select(AlertHold.alert_kind).where(AlertHold.kind == "rollup", AlertHold.channel == "pr")
            )
        }
    assert exempt == 2 and held == {"mention", "event"}  # story 2, story 7's first alert and the big-V update
    deliver(engine, cfg)
    crisis_msgs = [m.text for m in receiver.visible("pr") if "孩子嘴巴划破了" in m.text]
    assert len(crisis_msgs) == 1 and "【非常紧急】" in crisis_msgs[0]


def test_the_budget_is_shared_by_crawls_in_other_processes(db_url, engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg_data = {
        "brands": [{"name": "鲜果时光", "keywords": ["鲜果时光"]}],
        "alerts": {
            "channels": {"pr": {"type": "webhook", "url": receiver.webhook("pr")}},
            "rules": [{"name": "危机", "channels": ["pr"], "min_urgency": "紧急"}],
            "max_immediate_per_hour": 5,
            "surge": {"enabled": False},
        },
    }
    script = (
        "import json, sys\n"
        "from crawler.config import config_from_dict\n"
        "from crawler.storage.engine import make_engine\n"
        "from tests.alerts.conftest import mention, store\n"
        "from tests.alerts.triage.test_pacing import story\n"
        "cfg = config_from_dict(json.loads(sys.argv[2]))\n"
        "start = int(sys.argv[3])\n"
        "for i in range(start, start + 4):\n"
        "    store(make_engine(sys.argv[1]), cfg, [mention(story(i), urgency='紧急', post_id=f'x{i}')])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for start in (0, 10):  # two crawl processes, one after the other, four new stories each
        subprocess.run(
            [sys.executable, "-c", script, db_url, json.dumps(cfg_data, ensure_ascii=False), str(start)],
            check=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )
    assert [k for k, _ in kinds(engine)].count("mention") == 5
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AlertHold)).scalar_one() == 3


@pytest.mark.parametrize("first", ["brand", "platform"])
def test_a_surge_against_a_backfilled_baseline_joins_the_summary(engine, receiver, first: str) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver, surge={"min_count": 5})
    if first == "platform":  # the brand is watched on Weibo; Douyin's first crawl brings its history in
        watched_for(engine, cfg, hours=20)
    now = utcnow()
    calm = [
        mention(
            f"聊聊鲜果时光的新品{story(i)}",
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            platform="douyin",
            published_at=now - timedelta(hours=2, minutes=30 * i),
        )
        for i in range(8)
    ]
    burst = [
        mention(
            f"鲜果时光今天到处都在讨论{story(100 + i)}",
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            platform="douyin",
            published_at=now - timedelta(minutes=2 + i),
        )
        for i in range(12)
    ]
    counts = store(
        engine, cfg, [*calm, *burst], now=now
    )  # a first crawl: the calm hours are history it brought in
    assert counts["surges"] >= 1 and not [k for k in kinds(engine) if k[0] == "surge"]
    flush_digest(engine, cfg, now=now + timedelta(minutes=11))
    deliver(engine, cfg)
    [summary] = [m.text for m in receiver.visible("pr") if "回溯汇总" in m.text]
    assert "声量激增" in summary


def test_a_surge_against_a_watched_baseline_alerts(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver, surge={"min_count": 5})
    now = utcnow()
    calm = [
        mention(
            f"聊聊鲜果时光的新品{story(i)}",
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            published_at=now - timedelta(hours=2, minutes=30 * i),
        )
        for i in range(8)
    ]
    store(engine, cfg, calm, now=now)
    seen_when_published(engine)
    burst = [
        mention(
            f"鲜果时光今天到处都在讨论{story(100 + i)}",
            is_complaint=False,
            urgency=None,
            risk=5,
            sentiment=0.7,
            published_at=now - timedelta(minutes=2 + i),
        )
        for i in range(12)
    ]
    assert store(engine, cfg, burst, now=now)["surges"] >= 1
    assert ("surge", "鲜果时光") in kinds(engine)


def test_the_brands_own_official_account_never_alerts(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = paced_cfg(receiver)
    reply = "您好，非常抱歉给您带来不好的体验，已私信您，请留意查看。"
    store(
        engine,
        cfg,
        [
            mention(
                reply,
                author_name="鲜果时光官方",
                author_verified=True,
                author_followers=1_200_000,
                urgency="非常紧急",
                risk=89,
            ),
            mention(
                "鲜果官方客服说不给退，鲜果时光太过分了",
                author_name="鲜果官方客服受害者",
                author_verified=False,
                urgency="非常紧急",
                risk=90,
            ),
        ],
    )
    with engine.connect() as conn:
        featured = conn.execute(select(Alert.payload).where(Alert.kind == "mention")).scalars().all()
    assert len(featured) == 1 and featured[0]["mention"]["author_name"] == "鲜果官方客服受害者"


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("max_age_hours = -1", "alerts.max_age_hours: Input should be greater than or equal to 0 (got -1)"),
        ('max_age_hours = "24"', "alerts.max_age_hours: Input should be a valid number (got '24')"),
        ("max_age_hours = nan", "alerts.max_age_hours"),
        (
            "max_immediate_per_hour = -3",
            "alerts.max_immediate_per_hour: Input should be greater than or equal to 0",
        ),
        (
            "max_immediate_per_hour = 2.5",
            "alerts.max_immediate_per_hour: Input should be a valid integer (got 2.5)",
        ),
        (
            "max_immediate_per_hour = true",
            "alerts.max_immediate_per_hour: Input should be a valid integer (got True)",
        ),
        (
            'max_immediate_per_hour = "6"',
            "alerts.max_immediate_per_hour: Input should be a valid integer (got '6')",
        ),
    ],
)
def test_pacing_keys_are_validated(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text(f'[[brands]]\nname = "鲜果时光"\n[alerts]\n{toml}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert problem in str(err.value) and str(path) in str(err.value)


def test_pacing_defaults_and_switching_off(tmp_path: Path) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text('[[brands]]\nname = "鲜果时光"\n', encoding="utf-8")
    cfg = load_config(path)
    assert (cfg.alerts.max_age_hours, cfg.alerts.max_immediate_per_hour) == (24.0, 6)
    path.write_text(
        '[[brands]]\nname = "鲜果时光"\n[alerts]\nmax_age_hours = 0\nmax_immediate_per_hour = 0\n',
        encoding="utf-8",
    )
    cfg = load_config(path)
    from alerts.triage import pacing

    old = {"published_at": utcnow() - timedelta(days=30), "first_seen_at": utcnow()}
    assert not pacing.is_backfill(cfg, old, utcnow())


def test_retention_deletes_old_mentions_that_were_held_or_digested(engine, receiver) -> None:  # type: ignore[no-untyped-def]
    from crawler.storage.models import DigestItem, Mention
    from crawler.storage.retention import purge

    rules = [
        {"name": "全部", "channels": ["pr"], "complaints_only": False, "min_risk": 50},
        {"name": "摘要", "channels": ["kefu"], "complaints_only": False, "mode": "digest"},
    ]
    now = utcnow()

    def old(i: int) -> dict[str, Any]:
        return mention(
            story(i), is_complaint=False, urgency=None, risk=60, published_at=now - timedelta(days=400 + i)
        )

    store(engine, paced_cfg(receiver, rules=rules), [old(i) for i in range(3)], now=now)  # backfill: held
    store(
        engine, paced_cfg(receiver, rules=rules, max_age_hours=0), [old(i) for i in range(3, 6)], now=now
    )  # digest
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(AlertHold)).scalar_one() == 6
        )  # 3 mentions × 2 channels
        assert conn.execute(select(func.count()).select_from(DigestItem)).scalar_one() == 3
    result = purge(engine, paced_cfg(receiver, rules=rules), now=now)  # PostgreSQL checks every foreign key
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Mention)).scalar_one() == 0
        assert set(conn.execute(select(AlertHold.mention_id)).scalars()) == {None}
        assert conn.execute(select(func.count()).select_from(DigestItem)).scalar_one() == 0
    assert result.mentions_deleted == 6


def test_hot_list_updates_over_the_budget_wait_for_the_roll_up(engine: Any) -> None:
    from types import SimpleNamespace

    from alerts.triage import hotlist
    from crawler.storage.engine import upgrade

    upgrade(engine)
    cfg = make_cfg(alerts={"max_immediate_per_hour": 2})
    now = utcnow()

    def topic(tid: int, alerts: int) -> dict[str, Any]:
        return {
            "id": tid,
            "brand": "鲜果时光",
            "platform": "weibo",
            "word": f"鲜果时光话题{tid}",
            "event_id": None,
            "alert_state": {"alerts": alerts} if alerts else None,
            "best_rank": 5,
            "first_seen_at": now,
        }

    def item(rank: int) -> Any:
        return SimpleNamespace(
            rank=rank, heat=100_000, label=None, search_url="https://s.weibo.com/weibo?q=x"
        )

    with engine.begin() as conn:
        sent = [hotlist.send(conn, cfg, topic(1, n), item(30 - 5 * n), ["排名上升"], now) for n in range(4)]
        late_first = hotlist.send(conn, cfg, topic(2, 0), item(40), ["登榜"], now)
        kinds = [
            (k, a)
            for k, a in conn.execute(
                select(AlertCharge.exempt, AlertCharge.alert_id).order_by(AlertCharge.id)
            )
        ]
        holds = conn.execute(
            select(AlertHold.kind, AlertHold.alert_kind, AlertHold.ref, AlertHold.note)
        ).all()
    # 登榜 (exempt, but it counts) and one update fill the hourly budget of 2; later updates are held, not sent
    assert [a is not None for a in sent] == [True, True, False, False]
    assert late_first is not None  # a brand topic newly on a list passes a spent budget
    assert [bool(k) for k, _ in kinds] == [True, False, True]
    assert [(h.kind, h.alert_kind, h.ref) for h in holds] == [
        ("rollup", "hot", "hot:1:3"),
        ("rollup", "hot", "hot:1:4"),
    ]
    assert "微博热搜第20位" in holds[0].note and "排名上升" in holds[0].note
