"""The item pages behind alert links, in Debian's Chromium: #/mention/<id> (analysis, its post, the
thread, its records), #/event/<id> (timeline, related posts), #/complaint/<number> (the record,
SLA clocks, handler actions), hostile text shown as text; and alert links point at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler.storage.engine import open_database
from crawler.storage.models import Complaint, ComplaintHistory, ComplaintMention, Mention
from simulator.fakedata.database import seed_database
from tests.crawler.analytics.conftest import ARTIFACTS, HANDLER, VIEWER, LiveServer, make_cfg
from tests.crawler.api.test_dashboard import CHROMIUM_ARGS, _login

M, C, CM, CH = (t.__table__ for t in (Mention, Complaint, ComplaintMention, ComplaintHistory))  # type: ignore[attr-defined]


def test_alert_links_name_the_exact_page() -> None:
    from alerts.delivery.escape import safe_link
    from alerts.delivery.payloads import links
    from crawler.config import AppConfig

    cfg = AppConfig.model_validate(
        {"brands": [{"name": "b"}], "api": {"public_url": "https://yq.example.com/dash/"}}
    )
    assert links(cfg, mention_id=12)["dashboard"] == "https://yq.example.com/dash/#/mention/12"
    assert links(cfg, event_id=3)["dashboard"] == "https://yq.example.com/dash/#/event/3"
    assert (
        links(cfg, complaint_number="TS20261204-0007", mention_id=1)["dashboard"]
        == "https://yq.example.com/dash/#/complaint/TS20261204-0007"
    )
    assert links(cfg)["dashboard"] == "https://yq.example.com/dash/"
    assert safe_link("https://yq.example.com/#/mention/12") == "https://yq.example.com/#/mention/12"
    assert safe_link("https://yq.example.com/#/x)<b>") == "https://yq.example.com/#/x%29%3Cb%3E"


@pytest.mark.slow
@pytest.mark.browser
def test_item_pages_in_chromium(tmp_path: Path, data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'items.db'}"
    cfg = make_cfg(url, data_dir)
    engine = open_database(url)
    seed_database(engine, cfg, mentions=200, hostile=True)
    with engine.connect() as conn:
        comment = conn.execute(
            select(M.c.id, M.c.platform, M.c.parent_post_id).where(M.c.kind == "comment")
        ).first()
        rec = conn.execute(
            select(C.c.id, C.c.number, C.c.event_id, C.c.status)
            .where(C.c.status == "待处理")
            .order_by(C.c.id)
        ).first()
        linked = conn.execute(select(CM.c.mention_id).where(CM.c.complaint_id == rec.id)).scalar()
        event = conn.execute(select(M.c.event_id).where(M.c.event_id.is_not(None))).scalar()
    assert comment is not None and rec is not None and linked is not None and event is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with LiveServer(create_app(cfg, engine=engine)) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            _login(page, srv.url, HANDLER)

            # a mention linked to a record: analysis, its record, a link back to the overview
            page.goto(f"{srv.url}/#/mention/{linked}")
            page.wait_for_selector("body[data-item='mention']", timeout=20_000)
            body = page.text_content("#item-page") or ""
            assert f"提及 #{linked}" in body and "判定" in body and "风险分" in body and rec.number in body
            assert page.is_hidden("#kpis")

            # a comment: its post is shown above the thread
            page.goto(f"{srv.url}/#/mention/{comment.id}")
            page.wait_for_selector("body[data-item='mention']", timeout=20_000)
            assert "评论（" in (page.text_content("#item-page") or "")
            page.screenshot(path=str(ARTIFACTS / "item-mention.png"), full_page=True)

            # the event page: timeline chart and related mentions with links to their pages
            page.goto(f"{srv.url}/#/event/{event}")
            page.wait_for_selector("body[data-item='event']", timeout=20_000)
            page.wait_for_selector("#c-item-event canvas", timeout=15_000)
            assert page.locator("#item-page .item-mention").count() >= 1
            page.locator("#item-page .item-mention a.item-link").first.click()
            page.wait_for_selector("body[data-item='mention']", timeout=20_000)

            # the complaint record: card with SLA clock; handler assigns and adds a note
            page.goto(f"{srv.url}/#/complaint/{rec.number}")
            page.wait_for_selector("body[data-item='complaint'] #item-page .handler-tools", timeout=20_000)
            assert page.locator("#item-page .c-card .sla").count() == 1
            page.fill("#item-page input.assignee-input", "李娜")
            page.click("#item-page button.assign")
            page.wait_for_function(
                "() => document.querySelector('#item-page').textContent.includes('处理人：李娜')",
                timeout=30_000,
            )
            page.wait_for_selector("body[data-item='complaint'] #item-page .handler-tools", timeout=20_000)
            page.fill("#item-page input.note-only", "已电话联系顾客")
            page.click("#item-page button.add-note")
            page.wait_for_function(
                "() => ((document.querySelector('#item-page .history') || {}).textContent || '')"
                ".includes('已电话联系顾客')",
                timeout=30_000,
            )
            page.screenshot(path=str(ARTIFACTS / "item-complaint.png"), full_page=True)
            with engine.connect() as conn:
                assignee = conn.execute(select(C.c.assignee).where(C.c.id == rec.id)).scalar()
            assert assignee == "李娜"

            # 纠正判定: the handler corrects the urgency; the record, its clocks and its history follow
            with engine.connect() as conn:
                old = conn.execute(select(C.c.urgency, C.c.due_resolve_at).where(C.c.id == rec.id)).one()
            new = "一般" if old.urgency != "一般" else "非常紧急"
            page.locator("#item-page details.verdict-controls summary").click()
            page.select_option("#item-page select.urgency-select", new)
            page.click("#item-page button.apply-urgency")
            page.wait_for_function(
                "(u) => ((document.querySelector('#item-page .history') || {}).textContent || '')"
                ".includes('verdict urgency：' + u)",
                arg=f"{old.urgency} → {new}",
                timeout=30_000,
            )
            with engine.connect() as conn:
                now = conn.execute(select(C.c.urgency, C.c.due_resolve_at).where(C.c.id == rec.id)).one()
                fields = [
                    h.field
                    for h in conn.execute(
                        select(CH.c.field).where(CH.c.complaint_id == rec.id, CH.c.action == "verdict")
                    )
                ]
            assert now.urgency == new and now.due_resolve_at != old.due_resolve_at and fields == ["urgency"]

            # an unknown item: a message, not a blank page; back to the overview
            page.goto(f"{srv.url}/#/complaint/TS00000000-9999")
            page.wait_for_selector("body[data-item='error']", timeout=20_000)
            assert "不存在" in (page.text_content("#item-page") or "")
            page.click("#item-page a.back")
            page.wait_for_function("() => !document.querySelector('#kpis').hidden", timeout=15_000)

            # a viewer sees the pages but no handler tools
            viewer = browser.new_page()
            _login(viewer, srv.url, VIEWER)
            viewer.goto(f"{srv.url}/#/complaint/{rec.number}")
            viewer.wait_for_selector("body[data-item='complaint']", timeout=20_000)
            assert viewer.locator("#item-page .handler-tools").count() == 0
            injected = page.evaluate(
                "() => document.querySelectorAll('#item-page script, [onerror], [onload]').length"
            )
            assert injected == 0 and dialogs == [] and errors == []
        finally:
            browser.close()


def test_thread_and_number_endpoints(tmp_path: Path, data_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'api.db'}"
    cfg = make_cfg(url, data_dir)
    engine = open_database(url)
    seed_database(engine, cfg, mentions=120)
    from crawler.storage.mentions import upsert_mentions

    base = {"platform": "weibo", "brand": "鲜果时光", "likes": 0, "comments": 0, "shares": 0}
    with engine.begin() as conn:
        upsert_mentions(
            conn,
            [
                {**base, "post_id": "P1", "kind": "post", "text": "鲜果时光的果汁有问题"},
                {
                    **base,
                    "post_id": "C1",
                    "kind": "comment",
                    "parent_post_id": "P1",
                    "text": "同样遇到",
                    "likes": 5,
                },
                {**base, "post_id": "C2", "kind": "comment", "parent_post_id": "P1", "text": "建议打12315"},
            ],
        )
    with engine.connect() as conn:
        ids = dict(conn.execute(select(M.c.post_id, M.c.id).where(M.c.post_id.in_(["P1", "C1", "C2"]))).all())
        rec = conn.execute(select(C.c.id, C.c.number)).first()
    client: Any = TestClient(create_app(cfg, engine=engine))
    auth = {"Authorization": f"Bearer {VIEWER}"}
    t = client.get(f"/api/mentions/{ids['C2']}/thread", headers=auth).json()
    assert t["mention"]["id"] == ids["C2"] and t["post"]["id"] == ids["P1"]
    assert [c["id"] for c in t["comments"]] == [ids["C1"], ids["C2"]]  # most liked first
    t = client.get(f"/api/mentions/{ids['P1']}/thread", headers=auth).json()
    assert t["post"]["id"] == ids["P1"] and len(t["comments"]) == 2
    r = client.get(f"/api/complaints/number/{rec.number}", headers=auth)
    assert r.status_code == 200 and r.json()["id"] == rec.id
    assert client.get("/api/complaints/number/TS-nope", headers=auth).status_code == 404
    assert client.get("/api/complaints/number/a%20b", headers=auth).status_code == 422
    assert client.get("/api/mentions/999999/thread", headers=auth).status_code == 404
