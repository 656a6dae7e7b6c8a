"""The dashboard in Debian's Chromium: it loads with data, charts render, filters work, the complaint
board changes a status, and hostile post text shows as text and runs nothing. Screenshots go to
``artifacts/analysts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler.platform.browser import require_chromium
from crawler.storage.engine import open_database
from crawler.storage.models import Complaint, ComplaintHistory
from simulator.fakedata.database import HOSTILE_TEXTS, seed_database
from tests.crawler.analytics.conftest import ARTIFACTS, HANDLER, VIEWER, LiveServer, make_cfg

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = ("c-trend", "c-sentiment", "c-category", "c-platform", "c-region", "c-customer", "c-words")


def _login(page: Any, base: str, token: str) -> None:
    page.goto(base + "/")
    page.fill("#login-token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-loaded='1']", timeout=30_000)


def _reload_done(page: Any) -> None:
    page.wait_for_selector("body[data-loaded='1']", timeout=30_000)


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'dash.db'}"
    cfg = make_cfg(url, data_dir)
    engine = open_database(url)
    seed_database(engine, cfg, mentions=250, hostile=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with LiveServer(create_app(cfg, engine=engine)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1800})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            foreign: list[str] = []
            page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(srv.url) else None)

            # a wrong token is refused on the login form
            page.goto(srv.url + "/")
            page.fill("#login-token", "wrong-token-0000000000")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#login-error:not(:empty)")
            assert "令牌无效" in page.text_content("#login-error")

            _login(page, srv.url, HANDLER)
            for chart in CHARTS:  # every chart drew on a canvas, with data
                assert page.locator(f"#{chart} canvas").count() >= 1, chart
                assert int(page.get_attribute(f"#{chart}", "data-count") or 0) > 0, chart
            assert int(page.get_attribute("#c-trend", "data-surges") or 0) >= 1
            assert int(page.text_content("#k-overdue") or 0) > 0
            assert page.locator("#board .c-card.is-overdue .overdue-mark").count() > 0
            assert page.locator("#board .sla.overdue").count() > 0
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            # hostile posts: shown as text, nothing executed, no element injected
            risky_text = page.text_content("#risky")
            for payload in HOSTILE_TEXTS[:3]:
                assert payload in risky_text
            injected = page.evaluate("""() => document.querySelectorAll(
                'img[src="x"], svg[onload], #risky script, #results script, [onerror], [onload]').length""")
            assert injected == 0 and dialogs == [] and errors == []
            assert page.evaluate(
                "() => [...document.querySelectorAll('a')].every(a => !a.href.startsWith('javascript:'))"
            )

            # an event opens with its timeline chart
            page.locator("#events .event").first.click()
            page.wait_for_selector("#c-event canvas", timeout=15_000)
            assert int(page.get_attribute("#c-event", "data-count") or 0) >= 5

            # filters: a platform, then a search
            page.select_option("#f-platform", "douyin")
            _reload_done(page)
            platforms = page.locator("#results .mention .m-head .muted").all_text_contents()
            assert platforms and all(t.startswith("抖音") for t in platforms)
            page.select_option("#f-platform", "")
            page.fill("#f-q", "玻璃碴")
            page.click("#filters button[type=submit]")
            _reload_done(page)
            texts = page.locator("#results .m-text").all_text_contents()
            assert texts and all("玻璃碴" in t for t in texts)

            # the complaint board: move a waiting record to 处理中 from the browser
            card = page.locator("#board [data-col='待处理'] .c-card").first
            cid = int(card.get_attribute("data-id"))
            card.locator("details.controls summary").click()
            card.locator("select.status-select").select_option("处理中")
            card.locator("input.note-input").fill("浏览器中受理")
            card.locator("button.apply").click()
            page.wait_for_selector(f"#board [data-col='处理中'] .c-card[data-id='{cid}']", timeout=15_000)
            with engine.connect() as conn:
                row = conn.execute(
                    select(Complaint.__table__.c.status).where(Complaint.__table__.c.id == cid)
                ).one()
            assert row.status == "处理中"
            page.screenshot(path=str(ARTIFACTS / "dashboard-after-status.png"), full_page=True)

            # the same record marked 误报 from the browser: closed, and a training label in its history
            card = page.locator(f"#board .c-card[data-id='{cid}']")
            card.locator("details.verdict-controls summary").click()
            card.locator("button.mark-false").click()
            page.wait_for_selector(f"#board [data-col='已关闭'] .c-card[data-id='{cid}']", timeout=15_000)
            with engine.connect() as conn:
                hist = conn.execute(
                    select(ComplaintHistory.__table__.c.field, ComplaintHistory.__table__.c.new).where(
                        ComplaintHistory.__table__.c.complaint_id == cid,
                        ComplaintHistory.__table__.c.action == "verdict",
                    )
                ).all()
            assert [(h.field, h.new) for h in hist] == [("is_complaint", "false")]
            assert foreign == [], foreign  # fully offline: every request went to this server

            # a viewer sees the board without the controls
            viewer = browser.new_page(viewport={"width": 1280, "height": 900})
            _login(viewer, srv.url, VIEWER)
            assert viewer.locator("#board .c-card").count() > 0
            assert viewer.locator("#board select.status-select").count() == 0
            assert viewer.locator("#board button.mark-false").count() == 0
        finally:
            browser.close()


def _shown_seconds(text: str) -> int:
    """Seconds of an SLA countdown as the board shows it ("剩余 3时12分5秒", "超时 1天2时3分")."""
    import re

    m = re.fullmatch(r"(剩余|超时) (?:(\d+)天)?(?:(\d+)时)?(\d+)分(?:(\d+)秒)?", text.strip())
    assert m, text
    d, h, mi, s = (int(x or 0) for x in m.group(2, 3, 4, 5))
    total = ((d * 24 + h) * 60 + mi) * 60 + s
    return -total if m.group(1) == "超时" else total


@pytest.mark.slow
@pytest.mark.browser
def test_sla_countdowns_follow_the_server_clock_not_a_wrong_browser_clock(
    tmp_path: Path, data_dir: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from playwright.sync_api import sync_playwright

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'clock.db'}"
    cfg = make_cfg(url, data_dir)
    engine = open_database(url)
    seed_database(engine, cfg, mentions=120)
    with LiveServer(create_app(cfg, engine=engine)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.clock.install(time=datetime.now(UTC) + timedelta(hours=7))  # a browser clock 7 h fast
            _login(page, srv.url, VIEWER)
            spans = page.locator("#board .sla[data-due]")
            assert spans.count() > 0
            checked = 0
            for i in range(min(spans.count(), 8)):
                span = spans.nth(i)
                due = datetime.fromisoformat(span.get_attribute("data-due").replace("Z", "+00:00"))
                if due.tzinfo is None:
                    due = due.replace(tzinfo=UTC)
                expected = (due - datetime.now(UTC)).total_seconds()
                shown = _shown_seconds(span.text_content() or "")
                assert abs(shown - expected) < 120, (span.text_content(), expected)  # not 7 h off
                checked += 1
            assert checked and page.evaluate("() => YQ.clockOffset") < -6 * 3600 * 1000
        finally:
            browser.close()
