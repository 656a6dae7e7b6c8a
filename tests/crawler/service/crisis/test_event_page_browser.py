"""The event page of a tracked event in Debian's Chromium: the hot-list record, the growth curve, the
repost tree and the spreaders table, with hostile (HTML/script) topic and account names shown as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from crawler.storage.engine import open_database
from crawler.storage.mentions import upsert_mentions
from crawler.storage.models import Event, HotSnapshot, HotTopic, Mention, Repost, TrackedPost, TrackPoint
from tests.crawler.analytics.conftest import ARTIFACTS, VIEWER, LiveServer, make_cfg
from tests.crawler.api.test_dashboard import CHROMIUM_ARGS, _login

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "鲜果时光<script>alert('topic')</script>门店翻车"
IMG = "<img src=x onerror=alert('name')>"
SPREADERS = [  # repost id, parent, name, followers, verified
    ("r1", None, f"小号{IMG}", 120, False),
    ("r2", "r1", "<b>美食大V</b>", 2_300_000, True),
    ("r3", "r2", "粉丝甲", 40, False),
    ("r4", "r2", "<script>alert('x')</script>粉丝乙", 15, False),
    ("r5", None, "路人丙", 800, False),
    ("r6", "r5", "路人丁", 60, False),
]


def seed(engine: Any) -> int:
    with engine.begin() as conn:
        eid = conn.execute(
            insert(Event.__table__).returning(Event.__table__.c.id),
            {
                "brand": "鲜果时光",
                "title": "门店过期水果",
                "first_seen_at": NOW - timedelta(hours=3),
                "last_seen_at": NOW - timedelta(hours=1),
                "mention_count": 1,
                "engagement": 5000,
                "updated_at": NOW,
                "max_urgency": "非常紧急",
            },
        ).scalar_one()
    res = upsert_mentions(
        engine,
        [
            {
                "platform": "weibo",
                "post_id": "4900000000000001",
                "brand": "鲜果时光",
                "kind": "post",
                "text": f"鲜果时光门店用过期水果{IMG}",
                "author_id": "u1",
                "author_name": "爆料人",
                "published_at": NOW - timedelta(hours=3),
                "url": "https://m.weibo.cn/detail/4900000000000001",
            }
        ],
    )
    mid = res.rows[0][0]
    with engine.begin() as conn:
        conn.execute(Mention.__table__.update().where(Mention.__table__.c.id == mid).values(event_id=eid))
        tid = conn.execute(
            insert(TrackedPost.__table__).returning(TrackedPost.__table__.c.id),
            {
                "platform": "weibo",
                "post_id": "4900000000000001",
                "brand": "鲜果时光",
                "mention_id": mid,
                "event_id": eid,
                "reason": "事件首帖",
                "started_at": NOW - timedelta(hours=2),
                "until": NOW + timedelta(hours=46),
                "next_at": NOW,
                "status": "watching",
                "fetches": 4,
                "requests": 9,
            },
        ).scalar_one()
        conn.execute(
            insert(TrackPoint.__table__),
            [
                {
                    "tracked_id": tid,
                    "at": NOW - timedelta(minutes=m),
                    "reposts": r,
                    "comments": c,
                    "requests": 2,
                }
                for m, r, c in ((90, 1, 0), (60, 2, 1), (30, 4, 3), (0, 6, 5))
            ],
        )
        conn.execute(
            insert(Repost.__table__),
            [
                {
                    "tracked_id": tid,
                    "repost_id": rid,
                    "parent_id": parent,
                    "author_name": name,
                    "author_id": f"u-{rid}",
                    "followers": f,
                    "verified": v,
                    "published_at": NOW - timedelta(minutes=80 - 10 * i),
                    "text": "转发",
                    "first_seen_at": NOW,
                }
                for i, (rid, parent, name, f, v) in enumerate(SPREADERS)
            ],
        )
        conn.execute(
            insert(HotTopic.__table__),
            {
                "platform": "weibo",
                "word": TOPIC,
                "brand": "鲜果时光",
                "first_seen_at": NOW - timedelta(hours=2),
                "last_seen_at": NOW,
                "first_rank": 38,
                "best_rank": 2,
                "last_rank": 3,
                "labels": ["新", "沸", "爆"],
                "search_url": "https://s.weibo.com/weibo?q=%23x%23",
                "event_id": eid,
                "alert_state": {},
            },
        )
        conn.execute(
            insert(HotSnapshot.__table__),
            [
                {
                    "platform": "weibo",
                    "fetched_at": NOW - timedelta(minutes=m),
                    "word": TOPIC,
                    "rank": r,
                    "heat": 10_000 * r,
                    "label": lab,
                    "is_ad": False,
                    "brand": "鲜果时光",
                }
                for m, r, lab in ((100, 38, "新"), (50, 8, "热"), (0, 3, "爆"))
            ],
        )
    return int(eid)


@pytest.mark.slow
@pytest.mark.browser
def test_event_page_shows_curve_tree_and_spreaders_safely(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'event.db'}"
    cfg = make_cfg(url, tmp_path / "data")
    engine = open_database(url)
    eid = seed(engine)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with LiveServer(create_app(cfg, engine=engine)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            errors: list[str] = []
            dialogs: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            _login(page, srv.url, VIEWER)
            page.goto(f"{srv.url}/#/event/{eid}")
            page.wait_for_selector("body[data-item='event']", timeout=20_000)
            page.wait_for_selector("#c-spread-curve-0 canvas", timeout=15_000)
            page.wait_for_selector("#c-spread-tree-0 canvas", timeout=15_000)
            body = page.text_content("#item-page") or ""
            assert "传播追踪 · 原帖 4900000000000001（事件首帖）" in body and "转发 6 次" in body
            assert "已访问 4 次（请求 9 次）" in body

            # the growth curve holds every visit; the tree every repost under the one its chain names
            curve = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('c-spread-curve-0'))
                .getOption().series.map(s => s.data.map(d => d[1]))""")
            assert curve == [[1, 2, 4, 6], [0, 1, 3, 5]]
            tree = page.evaluate("""() => { const walk = n => ({name: n.name, kids: (n.children || []).map(walk)});
                return walk(echarts.getInstanceByDom(document.getElementById('c-spread-tree-0'))
                  .getOption().series[0].data[0]); }""")
            assert tree["name"] == "原帖" and [k["name"] for k in tree["kids"]] == [f"小号{IMG}", "路人丙"]
            big = tree["kids"][0]["kids"][0]
            assert big["name"] == "<b>美食大V</b>" and {k["name"] for k in big["kids"]} == {
                "粉丝甲",
                "<script>alert('x')</script>粉丝乙",
            }

            # the spreaders table: ranked by reach, hostile names as text, verified marks
            rows = page.locator("#item-page table.compact").last.locator("tbody tr")
            assert rows.count() == len(SPREADERS)
            first = rows.nth(0).locator("td").all_text_contents()
            assert (
                first[0] == "1" and first[1].startswith(f"小号{IMG}（粉丝 120") and first[4] == "230万"
            )  # 2,300,175 reached through it
            second = rows.nth(1).locator("td").all_text_contents()
            assert (
                second[1] == "<b>美食大V</b>（粉丝 230万，已认证）" and second[2] == "✔" and second[3] == "2"
            )

            # the hot-list record: the topic as text, its history
            assert f"微博热搜 · {TOPIC}" in body and "最高第 2 位" in body and "标签 新/沸/爆" in body

            # tooltips of the tree and the curve escape the names too
            for i in range(len(SPREADERS) + 1):
                page.evaluate(f"""() => echarts.getInstanceByDom(document.getElementById('c-spread-tree-0'))
                    .dispatchAction({{type: 'showTip', seriesIndex: 0, dataIndex: {i}}})""")
                page.wait_for_timeout(50)
            page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('c-spread-curve-0'))
                .dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 2})""")
            page.wait_for_timeout(200)
            injected = page.evaluate("""() => document.querySelectorAll(
                '#item-page script, #item-page b, #item-page img, [onerror], img[src="x"]').length""")
            page.screenshot(path=str(ARTIFACTS / "item-event-spread.png"), full_page=True)
            assert injected == 0 and dialogs == [] and errors == []
        finally:
            browser.close()
