"""End to end: both spiders crawl the simulator in a subprocess; the database matches the ground truth.

One scenario run (``tests/scenario.py``): a first crawl of each platform, an unchanged
re-crawl (incremental: at most two requests per keyword), then new posts and a post that
starts spreading, then a keyword-restricted crawl of the second brand.
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime

import pytest

from tests.scenario import expected_ids, runs, stored
from tests.spiders.helpers import run_plan

pytestmark = pytest.mark.slow
BRAND = "鲜果时光"


def _by_label(out: dict, label: str) -> dict:
    return next(r for r in out["results"] if r.get("label") == label)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    from tests.spiders.conftest import write_config

    tmp = tmp_path_factory.mktemp("e2e")
    config = write_config(tmp)
    db_url = f"sqlite:///{tmp / 'yuqing.db'}"
    steps = [
        {"op": "snapshot", "name": "start"},
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "weibo-1"},
        {"op": "crawl", "platform": "heimao", "brand": BRAND, "label": "heimao-1"},
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "weibo-2"},
        {"op": "crawl", "platform": "heimao", "brand": BRAND, "label": "heimao-2"},
        {"op": "publish", "platform": "weibo", "brand": BRAND, "count": 4},
        {"op": "boost", "platform": "weibo", "post_id": f"recent:{BRAND}", "likes": 5000, "shares": 800},
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "weibo-3"},
        {
            "op": "crawl",
            "platform": "heimao",
            "brand": "小鹿宝贝",
            "keyword": "小鹿宝贝",
            "label": "heimao-kw",
            "settings": {"YUQING_RATE_LIMIT_PER_MINUTE": 600},
        },  # one request per 0.1 s
    ]
    out = run_plan(tmp, config, steps, keywords={"weibo": [BRAND], "heimao": [BRAND, "小鹿宝贝"]})
    return out, db_url


def test_first_crawl_finds_every_post_exactly_once(scenario: tuple[dict, str]) -> None:
    out, db = scenario
    for platform in ("weibo", "heimao"):
        expected = expected_ids(
            out, platform, [BRAND], brand=BRAND if platform == "heimao" else None, snapshot="start"
        )
        rows = [r for r in stored(db, platform) if r["brand"] == BRAND]
        ids = [r["post_id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert expected <= set(ids), f"{platform}: missing {sorted(expected - set(ids))[:5]}"
        first = _by_label(out, f"{platform}-1")
        assert first["status"] == "ok" and first["error_kind"] is None
        assert first["new"] == len(expected) and first["updated"] == 0
        assert first["requests"] == first["sim_requests"]


def test_mentions_have_normalised_fields(scenario: tuple[dict, str]) -> None:
    out, db = scenario
    truth = {r["post_id"]: r for r in out["truth"]["weibo"]}
    rows = {r["post_id"]: r for r in stored(db, "weibo")}
    posts = [r for r in rows.values() if r["kind"] == "post"]
    comments = [r for r in rows.values() if r["kind"] == "comment"]
    assert posts and comments
    assert all(c["parent_post_id"] in rows for c in comments)
    for r in rows.values():
        t = truth[r["post_id"]]
        assert "<" not in r["text"] and r["text"].strip() == t["text"].strip()
        published = datetime.fromisoformat(t["published_at"])
        assert r["published_at"] is not None and r["published_at"].tzinfo is not None
        # Relative display forms (MM-DD, 今天 HH:MM) carry less precision than the truth.
        assert abs((r["published_at"] - published).total_seconds()) < 86_400
    # Posts shown with the full RFC time ("Sat Jan 14 18:39:37 +0800 2023") keep it to the second.
    rfc = [
        r
        for r in posts
        if re.match(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d ", str((r["raw"] or {}).get("created_at")))
    ]
    assert len(rfc) >= len(posts) // 2
    assert all(r["published_at"] == datetime.fromisoformat(truth[r["post_id"]]["published_at"]) for r in rfc)
    complaints = stored(db, "heimao")
    assert all(
        c["kind"] == "complaint" and c["url"].startswith("https://tousu.sina.com.cn/complaint/view/")
        for c in complaints
    )
    detailed = [c for c in complaints if c["extra"] and c["extra"].get("steps")]
    assert len(detailed) == len(complaints)
    assert all("status" in c["extra"] and "demand" in c["extra"] for c in complaints)


def test_unchanged_recrawl_costs_at_most_two_requests_per_keyword(scenario: tuple[dict, str]) -> None:
    out, _ = scenario
    for platform in ("weibo", "heimao"):
        second = _by_label(out, f"{platform}-2")
        assert second["status"] == "ok"
        assert second["sim_requests"] <= 2, second  # one keyword
        assert second["new"] == 0 and second["updated"] == 0


def test_new_posts_and_spreading_posts_are_seen(scenario: tuple[dict, str]) -> None:
    out, db = scenario
    third = _by_label(out, "weibo-3")
    expected = expected_ids(out, "weibo", [BRAND])
    ids = {r["post_id"] for r in stored(db, "weibo")}
    assert expected <= ids
    published = next(r["published"] for r in out["results"] if "published" in r)
    matching = [p for p in published if p in expected]
    assert third["new"] >= len(matching) >= 1
    boosted = next(r for r in out["results"] if r.get("boosted"))
    row = next(r for r in stored(db, "weibo") if r["post_id"] == boosted["boosted"])
    assert row["likes"] >= 5000 and row["shares"] >= 800
    assert third["sim_requests"] <= 10


def test_keyword_crawl_and_runs_recorded(scenario: tuple[dict, str]) -> None:
    out, db = scenario
    kw = _by_label(out, "heimao-kw")
    assert kw["status"] == "ok" and kw["keyword"] == "小鹿宝贝"
    ids = {r["post_id"] for r in stored(db, "heimao") if r["brand"] == "小鹿宝贝"}
    assert expected_ids(out, "heimao", ["小鹿宝贝"]) <= ids
    recorded = runs(db)
    assert len(recorded) == 6
    assert all(r["status"] == "ok" and r["finished_at"] is not None and r["requests"] > 0 for r in recorded)
    assert recorded[0]["new_count"] == _by_label(out, "weibo-1")["new"]
    assert recorded[-1]["keyword"] == "小鹿宝贝" and recorded[-1]["brand"] == "小鹿宝贝"


def test_database_rows_are_unique(scenario: tuple[dict, str]) -> None:
    _, db = scenario
    for platform in ("weibo", "heimao"):
        ids = [r["post_id"] for r in stored(db, platform)]
        assert len(ids) == len(set(ids))


def test_rate_ceiling_holds_as_the_platform_sees_it(scenario: tuple[dict, str]) -> None:
    out, _ = scenario
    arrivals = _by_label(out, "heimao-kw")["arrivals"]
    assert len(arrivals) >= 5
    # The simulator shares a process (and the GIL) with the crawl, so single arrivals can bunch up.
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert statistics.median(gaps) >= 0.07, gaps
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) * 60 <= 600 * 1.25
