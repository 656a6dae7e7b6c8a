"""End to end against the simulator, in a subprocess with real Chromium: every post and comment once.

Xiaohongshu through the xhshow-signed API (the simulator verifies X-S for each request);
Douyin through the real browser (the search page's own JavaScript signs with a_bogus and the
simulator verifies it) and through the direct-API mode signed by the page's function.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.spiders.signed.conftest import live_chromium, run_plan, runs, stored

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _by_label(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["label"]: r for r in out["results"] if r.get("label")}


def _expected(out: dict[str, Any], platform: str, *keywords: str) -> set[str]:
    return {pid for kw in keywords for pid in out["matching"][f"{platform}:{kw}"]}


def _close(shown: int, exact: int) -> bool:
    """Xiaohongshu shows counts ≥ 10,000 as "1.2万": within the rounding of one decimal of 万."""
    return shown == exact if exact < 10_000 else abs(shown - exact) <= 500


def _check_fields(
    rows: list[dict[str, Any]], truth: dict[str, dict[str, Any]], *, exact_counts: bool
) -> None:
    replies: dict[str, int] = {}
    for rec in truth.values():
        root = (rec.get("extra") or {}).get("root_id")
        if root:
            replies[root] = replies.get(root, 0) + 1
    for row in rows:
        want = dict(truth[row["post_id"]])
        if want["kind"] == "comment":  # a comment's count is its replies, as the platform shows it
            want["comments"] = replies.get(row["post_id"], 0)
        assert row["kind"] == want["kind"] and row["brand"] == want["brand"]
        assert row["parent_post_id"] == want["parent_post_id"]
        assert row["text"] == want["text"]
        if want["kind"] == "post" and want.get("title"):
            assert row["title"] == want["title"]
        assert row["published_at"] == datetime.fromisoformat(want["published_at"])
        assert row["ip_region"] == want["ip_region"]
        assert row["author_name"] == want["author_name"]
        for field in ("likes", "comments", "shares"):
            if want["kind"] == "comment" and field == "shares":
                continue
            ok = row[field] == want[field] if exact_counts else _close(row[field], want[field])
            assert ok, (row["post_id"], field, row[field], want[field])


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("xd-e2e")
    steps = [
        {"op": "crawl", "platform": "xiaohongshu", "brand": "鲜果时光", "label": "xhs"},
        {"op": "crawl", "platform": "douyin", "brand": "鲜果时光", "label": "dy"},
        {
            "op": "crawl",
            "platform": "douyin",
            "brand": "小鹿宝贝",
            "label": "dy-api",
            "settings": {"DOUYIN_MODE": "api"},
        },
        {
            "op": "crawl",
            "platform": "xiaohongshu",
            "brand": "小鹿宝贝",
            "label": "xhs-browser-signer",
            "settings": {"XIAOHONGSHU_SIGNER": "browser"},
        },
        {"op": "crawl", "platform": "xiaohongshu", "brand": "鲜果时光", "label": "xhs-again"},
        {"op": "crawl", "platform": "douyin", "brand": "鲜果时光", "label": "dy-again"},
    ]
    return tmp, run_plan(tmp, steps)


def test_xiaohongshu_finds_every_note_and_comment_once(crawled: tuple[Path, dict[str, Any]]) -> None:
    tmp, out = crawled
    first = _by_label(out)["xhs"]
    assert first["status"] == "ok" and first["error_kind"] is None, first
    rows = [r for r in stored(tmp, "xiaohongshu") if r["brand"] == "鲜果时光"]
    assert {r["post_id"] for r in rows} == _expected(out, "xiaohongshu", "鲜果时光")
    assert len(rows) == len({r["post_id"] for r in rows})
    assert {r["kind"] for r in rows} == {"post", "comment"}
    truth = {t["post_id"]: t for t in out["truth"]["xiaohongshu"]}
    _check_fields(rows, truth, exact_counts=False)
    assert all(r["url"].startswith("http://127.0.0.1:") and "xsec_token=" in r["url"] for r in rows)


def test_the_browser_signer_signs_what_the_platform_accepts(crawled: tuple[Path, dict[str, Any]]) -> None:
    """X-s/X-t from the page's own window._webmsxyw pass the simulator's signature check."""
    tmp, out = crawled
    run = _by_label(out)["xhs-browser-signer"]
    assert run["status"] == "ok" and run["error_kind"] is None, run
    rows = [r for r in stored(tmp, "xiaohongshu") if r["brand"] == "小鹿宝贝"]
    assert {r["post_id"] for r in rows} == _expected(out, "xiaohongshu", "小鹿宝贝")


def test_douyin_browser_and_api_modes_find_everything_once(crawled: tuple[Path, dict[str, Any]]) -> None:
    tmp, out = crawled
    labels = _by_label(out)
    for label in ("dy", "dy-api"):
        assert labels[label]["status"] == "ok" and labels[label]["error_kind"] is None, labels[label]
    rows = stored(tmp, "douyin")
    assert {r["post_id"] for r in rows} == _expected(out, "douyin", "鲜果时光", "小鹿宝贝")
    truth = {t["post_id"]: t for t in out["truth"]["douyin"]}
    _check_fields(rows, truth, exact_counts=True)
    assert labels["dy"]["requests"] >= 2  # the browser's own API calls are counted as the crawl's requests


def test_an_unchanged_platform_costs_one_or_two_requests(crawled: tuple[Path, dict[str, Any]]) -> None:
    tmp, out = crawled
    labels = _by_label(out)
    again_x, again_d = labels["xhs-again"], labels["dy-again"]
    assert again_x["status"] == again_d["status"] == "ok"
    assert again_x["new"] == 0 and again_d["new"] == 0
    assert again_x["sim_requests"] <= 2, again_x  # one signed search page
    assert again_d["sim_requests"] <= 3, again_d  # the search page and its first API call
    assert [r["status"] for r in runs(tmp)] == ["ok"] * 6


def test_no_browser_survives_the_crawls(crawled: tuple[Path, dict[str, Any]]) -> None:
    assert live_chromium() == []
