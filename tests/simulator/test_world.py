"""The world: determinism, corpus coverage of RUBRIC.md, labels true to the rubric, crisis, live mode, admin."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from simulator import WEIBO_TEST_SUB, Simulator
from simulator.corpus import CATEGORIES, ESCALATION_KEYS, NON_COMPLAINT_TYPES
from tests.simulator.conftest import search_params

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ESCALATION_WORDS = ("12315", "消协", "市场监管", "315", "媒体曝光", "律师", "起诉", "报警")


def strip_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "published_at"} for r in records]


def test_same_seed_same_world_and_other_seed_differs() -> None:
    a = Simulator(seed=5, platforms=("weibo", "heimao"), now=NOW).truth()
    b = Simulator(seed=5, platforms=("weibo", "heimao"), now=NOW).truth()
    c = Simulator(seed=5, platforms=("weibo", "heimao"), now=NOW + timedelta(hours=3)).truth()
    d = Simulator(seed=6, platforms=("weibo", "heimao"), now=NOW).truth()
    assert a == b
    assert strip_time(a) == strip_time(c)  # timestamps are relative to now, the rest is the seed's
    assert [r["published_at"] + timedelta(hours=3) for r in a] == [r["published_at"] for r in c]
    assert [r["text"] for r in a] != [r["text"] for r in d]


def test_a_demo_rerun_rebuilds_the_same_world(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A second ``yuqing demo`` on the same database within twelve hours starts its world when the
    first did, so every post keeps its time and its id (Xiaohongshu and Douyin ids embed the
    publication time, which their spiders read back): nothing is stored twice."""
    import json

    from crawler.config import load_config
    from simulator.demo.runner import world_start

    cfg_path = tmp_path / "yuqing.toml"
    cfg_path.write_text(
        f'[project]\ndata_dir = "{tmp_path / "data"}"\n[[brands]]\nname = "鲜果时光"\n', "utf-8"
    )
    cfg = load_config(cfg_path)
    first = world_start(cfg, "sqlite:///a.db", 7)
    assert world_start(cfg, "sqlite:///a.db", 7) == first
    assert world_start(cfg, "sqlite:///b.db", 7) >= first  # another database: a world of its own
    four = ("weibo", "heimao", "xiaohongshu", "douyin")
    a = Simulator(seed=5, platforms=four, now=first).truth()
    b = Simulator(seed=5, platforms=four, now=world_start(cfg, "sqlite:///a.db", 7)).truth()
    assert {r["platform"] for r in a} == set(four) and a == b
    # a start older than twelve hours (or unreadable) is replaced by now
    saved = json.loads((tmp_path / "data" / "demo_world.json").read_text("utf-8"))
    key = next(k for k in saved if k.endswith("a.db"))
    saved[key] = (first - timedelta(hours=13)).isoformat()
    (tmp_path / "data" / "demo_world.json").write_text(json.dumps(saved), "utf-8")
    assert world_start(cfg, "sqlite:///a.db", 7) >= first
    (tmp_path / "data" / "demo_world.json").write_text("{not json", "utf-8")
    assert world_start(cfg, "sqlite:///a.db", 7) >= first


def test_corpus_covers_every_category_urgency_and_signal(sim: Simulator) -> None:
    posts = [t for t in sim.truth() if t["kind"] != "comment"]
    pairs = {(t["label"]["category"], t["label"]["urgency"]) for t in posts if t["label"]["is_complaint"]}
    for cat in CATEGORIES:
        for urg in ("非常紧急",) if cat == "食用不适" else ("非常紧急", "紧急", "一般"):
            assert (cat, urg) in pairs, (cat, urg)
    types = {t["label"]["type"] for t in posts}
    assert set(NON_COMPLAINT_TYPES) - {"hostile"} <= types
    signals = Counter(s for t in posts for s in t["label"]["signals"])
    for key in ESCALATION_KEYS:
        assert signals[f"escalation:{key}"], key
    for sig in (
        "health",
        "bulk",
        "viral",
        "big_v",
        "pii:phone",
        "pii:order",
        "pii:email",
        "crisis",
        "hostile",
    ):
        assert signals[sig], sig
    text = "\n".join(t["text"] for t in posts)
    assert all(w in text for w in ESCALATION_WORDS)
    assert (
        re.search(r"1[3-9]\d{9}", text)
        and re.search(r"订单号\d{18}", text)
        and re.search(r"@(qq|163|126)\.com", text)
    )
    ads = [t["text"] for t in posts if t["label"]["type"] == "ad"]
    assert any("投诉" in a or "退款" in a for a in ads)
    assert all(
        any(n in t["text"] or n in (t["title"] or "") for n in ("鲜果", "XGSG", "小鹿", "XLBB"))
        for t in posts
    )


def test_labels_agree_with_the_rubric_thresholds(sim: Simulator) -> None:
    for t in sim.truth():
        lab = t["label"]
        if t["platform"] == "heimao":
            assert lab["is_complaint"] and lab["urgency"] in ("非常紧急", "紧急")
            assert t["likes"] == t["comments"] == t["shares"] == 0
        if lab["is_complaint"] and lab["urgency"] != "非常紧急":
            assert t["likes"] + t["comments"] + t["shares"] < 1000 and t["author_followers"] < 100_000, t
        if "viral" in lab["signals"]:
            assert t["likes"] + t["comments"] + t["shares"] >= 1000
        if "big_v" in lab["signals"]:
            assert t["author_followers"] >= 100_000


def test_crisis_bursts_near_identical_reposts_across_platforms(sim: Simulator) -> None:
    crisis = [t for t in sim.truth() if t["crisis"]]
    by_platform = Counter(t["platform"] for t in crisis)
    assert by_platform["weibo"] >= 20 and by_platform["heimao"] >= 5
    times = [t["published_at"] for t in crisis]
    assert max(times) - min(times) <= timedelta(minutes=91)
    weibo_texts = [t["text"] for t in crisis if t["platform"] == "weibo"]
    story = weibo_texts[0].split("。")[0]
    assert sum(story in x for x in weibo_texts) == len(weibo_texts)
    assert len(set(weibo_texts)) > len(weibo_texts) // 3  # near-identical, not all identical


def test_scale_knob_and_window() -> None:
    sim = Simulator(
        seed=2,
        platforms=("weibo", "heimao"),
        posts_per_brand={"weibo": 2500, "heimao": 2500},
        comments_per_post=(0, 0),
        crisis=False,
        now=NOW,
    )
    posts = sim.truth(kind=None)
    assert Counter(t["platform"] for t in posts) == {"weibo": 5000, "heimao": 5000}
    assert all(NOW - timedelta(days=7) < t["published_at"] < NOW for t in posts)
    assert len({(t["platform"], t["post_id"]) for t in posts}) == 10_000


def test_live_mode_publishes_and_grows_engagement() -> None:
    with Simulator(
        seed=4, platforms=("weibo", "heimao"), posts_per_brand=5, live=True, live_interval=0.1, live_posts=2
    ) as sim:
        before = len(sim.truth())
        recent = [
            p for p in sim.world.posts["weibo"] if p.published_at > datetime.now(UTC) - timedelta(hours=24)
        ]
        likes = sum(p.likes + p.shares for p in recent)
        time.sleep(0.8)
        after = sim.truth()
        assert len(after) >= before + 6
        newest = max(
            (t for t in after if t["platform"] == "weibo" and t["kind"] == "post"),
            key=lambda t: t["published_at"],
        )
        assert datetime.now(UTC) - newest["published_at"] < timedelta(seconds=5)
        assert sum(p.likes + p.shares for p in recent) > likes
        kw = newest["brand"]
        with httpx.Client(cookies={"SUB": WEIBO_TEST_SUB}) as c:
            page = c.get(sim.base_url("weibo") + "/api/container/getIndex", params=search_params(kw)).json()
        assert page["data"]["cards"][0]["mblog"]["id"] in {t["post_id"] for t in sim.truth("weibo")}


def test_admin_publish_boost_truth_reset() -> None:
    with Simulator(seed=9, platforms=("weibo", "heimao"), posts_per_brand=4) as sim, httpx.Client() as c:
        admin = sim.url + "/__admin"
        base = len(c.get(admin + "/truth").json())
        made = c.post(
            admin + "/publish",
            json={
                "count": 3,
                "platform": "weibo",
                "brand": "小鹿宝贝",
                "type": "complaint",
                "category": "退换货",
                "urgency": "紧急",
            },
        ).json()
        assert len(made) == 3 and all(
            m["label"]["category"] == "退换货" and m["brand"] == "小鹿宝贝" for m in made
        )
        assert (
            len(c.get(admin + "/truth", params={"platform": "weibo"}).json()) == len(sim.truth("weibo"))
            and len(sim.truth()) == base + 3
        )
        boosted = c.post(
            admin + "/boost", json={"platform": "weibo", "post_id": made[0]["post_id"], "likes": 5000}
        ).json()
        assert boosted["likes"] >= 5000 and boosted["label"]["urgency"] == "非常紧急"
        assert c.post(admin + "/boost", json={"platform": "weibo", "post_id": "0"}).status_code == 404
        cookies = c.post(admin + "/sessions", json={"platform": "weibo"}).json()["cookies"]
        assert (
            httpx.get(sim.base_url("weibo") + "/api/config", cookies=cookies).json()["data"]["login"] is True
        )
        assert c.post(admin + "/reset").json()["ok"] is True
        assert len(sim.truth()) == base
        assert c.get(admin + "/").json()["platforms"]["heimao"] == sim.base_url("heimao")


def test_bad_construction_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Simulator(host="0.0.0.0")
    with pytest.raises(ValueError, match="no simulated platform named tieba"):
        Simulator(platforms=("tieba",))


def test_brands_as_names_lists_dicts_or_config() -> None:
    from crawler.config import config_from_dict

    sim = Simulator(
        brands=["甲品牌", ["乙品牌", "乙乙"], {"name": "丙品牌", "heimao_couid": ["42"]}],
        platforms=("heimao",),
        posts_per_brand=1,
        crisis=False,
    )
    assert [(b.name, b.aliases) for b in sim.ctx.brands] == [
        ("甲品牌", ()),
        ("乙品牌", ("乙乙",)),
        ("丙品牌", ()),
    ]
    assert sim.ctx.brands[2].couid == "42" and sim.ctx.brands[0].couid.isdigit()
    cfg = config_from_dict(
        {
            "brands": [{"name": "丁品牌", "aliases": ["丁丁"], "heimao_couid": ["7"]}],
            "platforms": {"heimao": {"signature_secret": "abc"}},
        }
    )
    from_cfg = Simulator(cfg=cfg, platforms=("heimao",), posts_per_brand=1)
    assert from_cfg.ctx.brands[0].couid == "7" and from_cfg.ctx.options.heimao_secret == "abc"
    assert {t["extra"]["couid"] for t in from_cfg.truth()} == {"7"}


def test_loadtest_measures_the_serving_rate(sim: Simulator) -> None:
    from simulator.loadtest import serving_rate

    for platform in ("weibo", "heimao"):
        result = serving_rate(sim.url, platform=platform, keyword="鲜果时光", seconds=0.4, concurrency=2)
        assert result["errors"] == 0 and result["requests"] > 0 and result["mentions_per_s"] > 0, result
    with pytest.raises(ValueError, match="weibo or heimao"):
        serving_rate(sim.url, platform="tieba")


def test_the_crisis_names_one_product_on_every_platform() -> None:
    from simulator import Simulator

    with Simulator(seed=5, brands=["鲜果时光"], posts_per_brand=20, comments_per_post=(0, 0)) as sim:
        crisis = [
            r
            for p in ("weibo", "xiaohongshu", "douyin", "heimao")
            for r in sim.truth(p, brand="鲜果时光")
            if r.get("crisis")
        ]
    assert {r["platform"] for r in crisis} == {"weibo", "xiaohongshu", "douyin", "heimao"}
    original = next(
        r
        for r in crisis
        if r["platform"] == "weibo"
        and "食品安全#" in r["text"]
        and not (r.get("extra") or {}).get("repost_of")
    )
    assert all(original["text"].split("。")[0] in r["text"] for r in crisis)  # the story, product included
