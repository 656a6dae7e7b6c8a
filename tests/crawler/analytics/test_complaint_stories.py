"""The record page of a story: linked mentions with count, spread and why each joined, the 群体投诉 of an
event, through the API and in the dashboard (Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.conftest import mention, store
from tests.crawler.analytics.conftest import ARTIFACTS, HANDLER, H, LiveServer, make_cfg

STORY = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，要求道歉并赔偿"


def _story_rows() -> list[dict[str, Any]]:
    kw = {"category": "食用不适", "urgency": "紧急", "risk": 75}
    rt = {"retweeted": {"id": "s1", "text": STORY}}
    return [
        mention(STORY, post_id="s1", author_id="poster", likes=300, shares=500, **kw),
        mention("转发微博", post_id="s2", author_id="r1", platform="weibo", extra=rt, likes=10, **kw),
        mention(
            f"天哪，{STORY}", post_id="s3", author_id="r2", platform="douyin", author_followers=5000, **kw
        ),
        mention("建议直接打12315", kind="comment", parent_post_id="s1", post_id="c1", author_id="c1", **kw),
        mention(
            "我家孩子喝了也拉肚子，去医院挂了急诊",
            kind="comment",
            parent_post_id="s1",
            post_id="c2",
            author_id="c2",
            **kw,
        ),
        mention(
            "我昨天买的冰沙里也有玻璃渣，要求退款",
            kind="comment",
            parent_post_id="s1",
            post_id="c3",
            author_id="c3",
            **kw,
        ),
    ]


@pytest.fixture
def story_client(db_url: str, data_dir: Path) -> Iterator[tuple[Any, Any]]:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from crawler.storage.engine import make_engine

    cfg = make_cfg(db_url, data_dir, complaints={"group_min_records": 3})
    engine = make_engine(db_url)
    store(engine, cfg, _story_rows())
    with TestClient(create_app(cfg)) as c:
        yield c, engine


def test_the_list_and_the_record_page_show_linked_mentions_and_the_group(
    story_client: tuple[Any, Any],
) -> None:
    c, _ = story_client
    items = c.get("/api/complaints", params={"limit": 50}, headers=H).json()["items"]
    assert len(items) == 3  # the story and two parents with their own harm; reposts and advice joined
    story = next(i for i in items if i["linked_count"])
    assert story["linked_count"] == 3 and all("群体投诉" in i["tags"] for i in items)
    spread = story["spread"]
    assert spread["mentions"] == 4 and spread["relations"] == {
        "source": 1,
        "repost": 1,
        "copy": 1,
        "comment": 1,
    }
    assert spread["platforms"] == {"weibo": 3, "douyin": 1} and spread["engagement"] >= 810
    assert story["group"]["size"] == 3 and story["group"]["tagged"]
    assert {r["number"] for r in story["group"]["records"]} == {i["number"] for i in items}
    detail = c.get(f"/api/complaints/{story['id']}", headers=H).json()
    assert [m["id"] for m in detail["mentions"]][0] == story["mention_id"]  # the source first
    rel = {link["relation"]: link for link in detail["links"]}
    assert (
        rel["repost"]["note"] == f"转发同一事件，并入 {story['number']}"
        and rel["repost"]["relation_name"] == "转发"
    )
    assert rel["comment"]["note"].startswith("评论给出建议") and rel["copy"]["relation_name"] == "近似内容"
    by_event = c.get("/api/complaints", params={"event_id": story["event_id"]}, headers=H).json()["items"]
    assert len(by_event) == 3
    ev = c.get(f"/api/events/{story['event_id']}", headers=H).json()
    assert [r["number"] for r in ev["complaints"]] == sorted(i["number"] for i in items)


@pytest.mark.slow
@pytest.mark.browser
def test_the_board_shows_plus_n_the_group_and_why_each_mention_joined(tmp_path: Path, data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.api import create_app
    from crawler.storage.engine import open_database
    from tests.crawler.api.test_dashboard import CHROMIUM_ARGS, _login

    url = f"sqlite:///{tmp_path / 'story.db'}"
    cfg = make_cfg(url, data_dir, complaints={"group_min_records": 3})
    engine = open_database(url)
    store(engine, cfg, _story_rows())
    with LiveServer(create_app(cfg, engine=engine)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _login(page, srv.url, HANDLER)
            assert page.locator("#board .c-card").count() == 3
            assert page.locator("#board .group-mark").all_text_contents() == ["群体投诉"] * 3
            card = page.locator("#board .c-card", has=page.locator(".linked-mark"))
            assert card.locator(".linked-mark").text_content() == "+3"
            assert "同一事件 3 张客诉单" in card.locator(".c-group").text_content()
            card.locator("details.c-linked summary").click()
            page.wait_for_selector("#board .c-link[data-relation='comment']", timeout=15_000)
            relations = card.locator(".c-link").evaluate_all("els => els.map(e => e.dataset.relation)")
            assert sorted(relations) == ["comment", "copy", "repost", "source"]
            notes = " ".join(card.locator(".c-link-note").all_text_contents())
            assert "转发同一事件，并入" in notes and "评论给出建议" in notes
            assert errors == []
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            card.screenshot(path=str(ARTIFACTS / "board-story.png"))
        finally:
            browser.close()
