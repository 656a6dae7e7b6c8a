"""The simulator's crisis-tracking endpoints: hot lists over time, the repost timeline, their faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from simulator import WEIBO_TEST_SUB, Simulator

HOT = "/ajax/side/hotSearch"
REPOSTS = "/api/statuses/repostTimeline"
DOUYIN_HOT = "/aweme/v1/web/hot/search/list/"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    # the brand topic entered 20 minutes ago; the crisis post is 3 hours old, its reposts spread over 6 hours
    with Simulator(
        seed=11,
        platforms=("weibo", "douyin"),
        hot_enter_after=-1200,
        crisis_age_hours=3,
        repost_hours=6,
        reposts=80,
        posts_per_brand=8,
    ) as s:
        yield s


@pytest.fixture
def weibo(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url("weibo"), cookies={"SUB": WEIBO_TEST_SUB}, timeout=10) as c:
        yield c


def test_hot_search_shape_ads_and_brand_topic(sim: Simulator, weibo: httpx.Client) -> None:
    body = weibo.get(HOT).json()
    assert body["ok"] == 1 and body["data"]["hotgov"]["word"]
    items = body["data"]["realtime"]
    assert [i["realpos"] for i in items] == list(range(1, len(items) + 1))
    ads = [i for i in items if i.get("is_ad") == 1]
    assert {a["icon_desc"] for a in ads} == {"荐"} and len(ads) == 2
    assert "鲜果时光夏日新品上市" in {a["word"] for a in ads}  # the brand's own paid placement
    topic = next(i for i in items if i["word"] == "鲜果时光门店被曝使用过期水果")
    assert topic["realpos"] <= 10 and topic["label_name"] in ("沸", "爆") and topic["num"] > 1_000_000
    assert {"新鲜果汁夏日特饮", "鲜果时光校园招聘"} <= {i["word"] for i in items}
    truth = sim.world.hot["weibo"].truth()
    assert truth["on_list"] and truth["rank"] == topic["realpos"]


def test_hot_list_changes_over_time_and_topic_path() -> None:
    with Simulator(seed=3, platforms=("weibo",), posts_per_brand=4, reposts=0) as s:
        board = s.world.hot["weibo"]
        t0 = s.world.t0
        before = [e.word for e in board.entries(t0)]
        assert "鲜果时光门店被曝使用过期水果" not in before
        path = []
        for minutes in (5.5, 10, 20, 30, 60, 90):
            entry = next(e for e in board.entries(t0 + timedelta(minutes=minutes)) if e.brand_topic)
            path.append((entry.rank, entry.label))
        assert path[0][0] > 30 and path[0][1] == "新"  # enters low, labelled 新
        assert path[2][0] <= 10  # top 10 within 15 minutes of entering
        assert any(label == "沸" for _, label in path) and path[-1][1] == "爆"
        later = [e.word for e in board.entries(t0 + timedelta(hours=20))]
        assert later != before and "鲜果时光门店被曝使用过期水果" not in later  # faded


def test_douyin_hot_list_needs_the_web_cookie(sim: Simulator) -> None:
    base = sim.base_url("douyin")
    assert httpx.get(base + DOUYIN_HOT).content == b""
    with httpx.Client(base_url=base) as c:
        c.get("/")  # sets ttwid
        body = c.get(
            DOUYIN_HOT, params={"device_platform": "webapp", "aid": "6383", "detail_list": "1"}
        ).json()
    words = body["data"]["word_list"]
    assert body["status_code"] == 0 and [w["position"] for w in words] == list(range(1, len(words) + 1))
    assert any(w["word"] == "鲜果时光过期水果事件" for w in words)
    assert {w["label"] for w in words} <= {0, 1, 3, 8}


def test_repost_timeline_chains_match_the_truth(sim: Simulator, weibo: httpx.Client) -> None:
    root = next(iter(sim.world.cascades))
    cascade = sim.world.cascades[root]
    first = weibo.get(REPOSTS, params={"id": root, "page": 1}).json()["data"]
    seen = []
    for page in range(1, first["max"] + 1):
        seen += weibo.get(REPOSTS, params={"id": root, "page": page}).json()["data"]["data"]
    truth = cascade.truth()
    assert 10 < first["total_number"] < 80 and len(seen) >= first["total_number"] - 2
    names = {r.author.name: r.post_id for r in cascade.reposts}
    checked = 0
    for rp in seen:
        parent = truth["edges"].get(rp["id"], "?")
        chain = re.findall(r"//<a href='/n/([^']+)'>@", rp["text"])
        if parent is None:
            assert not chain
        elif parent != "?":
            assert names[chain[0]] == parent
            checked += 1
    assert checked > 5
    assert weibo.get(REPOSTS, params={"id": "123", "page": 1}).json()["ok"] == 0


def test_cascade_grows_and_has_big_v(sim: Simulator) -> None:
    cascade = next(iter(sim.world.cascades.values()))
    now = sim.world.t0
    assert len(cascade.visible(now)) < len(cascade.visible(now + timedelta(hours=4))) <= 80
    full = cascade.truth(now + timedelta(days=2))
    assert full["count"] == 80 and len(full["big_v"]) >= 3
    top = full["spreaders"][0]
    assert top["reach"] >= top["followers"] and top["reposts_below"] > 0


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("rate_limited", lambda r: r.status_code == 429 or r.json()["ok"] == 0),
        ("captcha", lambda r: "安全验证" in r.text),
        ("server_error", lambda r: r.status_code == 503),
        ("malformed_json", lambda r: r.status_code == 200 and not r.text.rstrip().endswith("}")),
        ("schema_change", lambda r: "band_list" in r.json()["data"] or "comments" in r.json()["data"]),
    ],
)
def test_faults_on_the_new_weibo_endpoints(sim: Simulator, weibo: httpx.Client, kind: str, check) -> None:
    root = next(iter(sim.world.cascades))
    for path, params in ((HOT, {}), (REPOSTS, {"id": root})):
        sim.set_fault("weibo", kind, path=path)
        try:
            assert check(weibo.get(path, params=params)), (kind, path)
        finally:
            sim.clear_faults("weibo")


def test_auth_expired_on_hot_search(sim: Simulator) -> None:
    assert httpx.get(sim.base_url("weibo") + HOT).status_code == 432
