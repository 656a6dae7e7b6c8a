"""Event clustering: near-duplicates and the same story join one event; scale without scans."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from alerts.triage import events
from crawler.clock import utcnow
from crawler.storage.models import Event, EventKey, Mention
from tests.alerts.conftest import mention, store

STORY = "鲜果时光门店的芒果冰沙里喝出了一根头发，店员态度还很差，大家以后别去这家店了"


def test_features_drop_brand_names_links_and_mentions() -> None:
    a = events.features("鲜果时光 真难喝 https://t.cn/abc @某某 //@路人:转发", drop=["鲜果时光"])
    assert "鲜果" not in a and "真难" in a and "难喝" in a
    assert not any("t.cn" in f or "某某" in f for f in a)


def test_similarity_and_band_keys() -> None:
    a, b = events.features(STORY), events.features("转发：" + STORY + "！！")
    jac, contain = events.similarity(a, b)
    assert jac > 0.8 and contain > 0.9
    assert set(events.minhash_keys(a)) & set(events.minhash_keys(b))
    assert events.minhash_keys(events.features("短")) == []
    keys = events.simhash_keys(-1)
    assert len(keys) == 4 and keys[0] == "s0:ffff"
    assert events.hamming(0b1011, 0b0001) == 2


def test_reposts_across_platforms_make_one_event(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rows = [
        mention(
            f"{STORY}{'！' * (i % 3)} 转发{i}",
            platform=("weibo", "douyin", "xiaohongshu")[i % 3],
            likes=10,
            comments=2,
            shares=1,
            sentiment=0.1 if i % 2 else 0.8,
            published_at=now - timedelta(minutes=30 - i),
        )
        for i in range(12)
    ]
    rows.append(
        mention(
            "鲜果时光新品橙汁上市了，买一送一活动很划算",
            is_complaint=False,
            urgency=None,
            category=None,
            risk=5,
            sentiment=0.9,
        )
    )
    counts = store(engine, cfg, rows, now=now)
    assert counts["events"] == 2
    with engine.connect() as conn:
        evs = conn.execute(select(Event).order_by(Event.mention_count.desc())).all()
        big = evs[0]
        assert big.mention_count == 12
        assert big.platform_counts == {"weibo": 4, "douyin": 4, "xiaohongshu": 4}
        assert big.engagement == 12 * 13
        assert big.negative_count == 6 and big.positive_count == 6
        assert big.max_urgency == "紧急" and big.max_risk == 70
        assert "头发" in big.title
        assert evs[1].mention_count == 1
        linked = conn.execute(
            text("select count(*) from mentions where event_id = :e"), {"e": big.id}
        ).scalar()
        assert linked == 12


def test_fingerprint_joins_even_when_texts_differ(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    fp = 0x1234_5678_9ABC_DEF0
    store(engine, cfg, [mention("鲜果时光奶茶太甜了完全喝不下去", fingerprint=fp)])
    store(engine, cfg, [mention("今天路过看到排队的人好多啊", fingerprint=fp ^ 0b101)])  # 2 bits apart
    store(engine, cfg, [mention("今天路过看到排队的人好多啊另一个", fingerprint=~fp)])  # far apart
    with engine.connect() as conn:
        counts = sorted(r[0] for r in conn.execute(select(Event.mention_count)))
    assert counts == [1, 2]


def test_window_and_brand_separate_events(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    store(engine, cfg, [mention(STORY, published_at=now - timedelta(hours=60))], now=now)
    store(engine, cfg, [mention(STORY, published_at=now - timedelta(minutes=1))], now=now)  # 60 h later: new
    store(engine, cfg, [mention(STORY.replace("鲜果时光", "小鹿宝贝"), brand="小鹿宝贝")], now=now)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Event)).scalar() == 3


def test_a_crisis_of_500_reposts_is_one_event_with_few_keys(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    for batch in range(5):
        rows = [
            mention(
                f"{STORY} //@网友{batch * 100 + i}: 真的假的",
                is_complaint=False,
                urgency=None,
                risk=20,
                published_at=now - timedelta(minutes=50 - batch * 10),
            )
            for i in range(100)
        ]
        store(engine, cfg, rows, now=now)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Event)).scalar() == 1
        assert conn.execute(select(Event.mention_count)).scalar() == 500
        # lookup keys are stored for the representative only, not per repost
        assert conn.execute(select(func.count()).select_from(EventKey)).scalar() <= 24


def test_comments_join_their_posts_event(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    post = mention(STORY, post_id="root1", is_complaint=False, urgency=None, risk=10)
    same_batch = mention(
        "太恶心了吧", kind="comment", parent_post_id="root1", is_complaint=False, urgency=None
    )
    store(engine, cfg, [same_batch, post])
    later = mention("支持维权！", kind="comment", parent_post_id="root1", is_complaint=False, urgency=None)
    orphan = mention(
        "这条评论的帖子没抓到", kind="comment", parent_post_id="nope", is_complaint=False, urgency=None
    )
    store(engine, cfg, [later, orphan])
    with engine.connect() as conn:
        counts = sorted(r[0] for r in conn.execute(select(Event.mention_count)))
    assert counts == [1, 3]


CRISIS = "多名消费者反映吃了鲜果时光的轻食杯后集体腹泻呕吐，已有人住院，鲜果时光至今没有回应"


def test_a_story_first_seen_framed_on_one_platform_gathers_the_reposts_on_another(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    heimao = mention(
        f"看到网上很多人反映，我家吃了鲜果时光的轻食杯后也腹泻呕吐，{CRISIS}。要求赔偿。",
        platform="heimao",
        title="鲜果时光轻食杯吃完腹泻呕吐，要求赔偿",
        urgency="非常紧急",
        risk=90,
        published_at=now - timedelta(minutes=50),
    )
    framed = [
        "太可怕了，" + CRISIS + "大家千万别买了，已转给家人",
        "扩散周知！" + CRISIS + "，太吓人了，大家千万别买了",
        "天哪，" + CRISIS + "，太吓人了，求官方回应，已转给家人",
    ]
    drop = ["鲜果时光", "鲜果"]
    story = events.features(f"{heimao['title']} {heimao['text']}", drop=drop)
    for text_ in framed:  # each repost alone is too far from the framed Heimao copy to join it
        jac, contain = events.similarity(story, events.features(text_, drop=drop))
        assert jac < cfg.alerts.events.min_similarity and contain < 0.8, text_
    store(engine, cfg, [heimao], now=now)
    weibo = [mention(CRISIS + "。#鲜果时光食品安全#", published_at=now - timedelta(minutes=40))] + [
        mention(t, published_at=now - timedelta(minutes=30 - i)) for i, t in enumerate(framed)
    ]
    counts = store(
        engine, cfg, weibo[:1], now=now
    )  # the original, inside the copy: joins, and is kept as a wording
    assert counts["events"] == 0
    counts = store(engine, cfg, weibo[1:], now=now)  # reposts framed their own way join through it
    assert counts["events"] == 0
    with engine.connect() as conn:
        evs = conn.execute(select(Event)).all()
        assert len(evs) == 1 and evs[0].mention_count == 5
        assert evs[0].platform_counts == {"heimao": 1, "weibo": 4}
        wordings = evs[0].variants["wordings"]
        assert evs[0].variants["platform"] == "heimao" and [w["platform"] for w in wordings] == ["weibo"]
        assert "集体" in wordings[0]["features"] and "赔偿" not in wordings[0]["features"]
        n_keys = conn.execute(
            select(func.count()).select_from(EventKey).where(EventKey.event_id == evs[0].id)
        ).scalar()
        assert n_keys > len(events.minhash_keys(story))  # the wording's keys were added


def test_same_platform_members_are_not_kept_as_wordings(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    long = mention(
        f"看到网上很多人反映，我家吃了鲜果时光的轻食杯后也腹泻呕吐，{CRISIS}。要求赔偿。",
        platform="heimao",
        published_at=now - timedelta(minutes=50),
    )
    inside = mention(f"{CRISIS}。要求赔偿", platform="heimao", published_at=now - timedelta(minutes=40))
    store(engine, cfg, [long, inside], now=now)
    with engine.connect() as conn:
        evs = conn.execute(select(Event)).all()
    assert len(evs) == 1 and evs[0].mention_count == 2
    assert evs[0].variants == {"platform": "heimao", "wordings": []}


def test_growth_of_a_story_seen_once_is_counted_as_the_query_counts_it(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    from alerts.delivery import payloads

    now = utcnow()
    ages = [None, 5, 59, 61, 119, 121, 60 * 24]
    import random

    rng, pool = (
        random.Random(4),
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定",
    )
    rows = [
        mention(
            "鲜果时光" + "".join(rng.choice(pool) for _ in range(30)),
            kind="comment" if i == 2 else "post",
            published_at=None if a is None else now - timedelta(minutes=a),
        )
        for i, a in enumerate(ages)
    ]
    store(engine, cfg, rows, now=now)
    with engine.connect() as conn:
        stored = [
            dict(r)
            for r in conn.execute(
                select(Mention.id, Mention.event_id, Mention.published_at, Mention.kind)
            ).mappings()
        ]
        assert len(stored) == len(ages) and len({m["event_id"] for m in stored}) == len(
            ages
        )  # one story each
        for m in stored:
            assert payloads.growth_of_one(m, now) == payloads.growth(conn, m["event_id"], now), m
