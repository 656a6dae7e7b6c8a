"""Working complaint records through the API (handler role): status, notes, assignment, with history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.fakedata.database import Seeded, seed_database
from tests.crawler.analytics.conftest import H, make_cfg


@pytest.fixture
def fresh(db_url: str, data_dir: Path) -> Iterator[tuple[Any, Seeded]]:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from crawler.storage.engine import make_engine

    cfg = make_cfg(db_url, data_dir)
    ids = seed_database(make_engine(db_url), cfg, mentions=80, complaints=6)
    with TestClient(create_app(cfg)) as c:
        yield c, ids


def _first(c: Any, status: str) -> dict[str, Any]:
    items = c.get("/api/complaints", params={"status": status, "limit": 100}, headers=H).json()["items"]
    assert items, f"no record in {status}"
    return items[0]  # type: ignore[no-any-return]


def test_status_note_assign_with_history(fresh: tuple[Any, Seeded]) -> None:
    c, _ = fresh
    rec = _first(c, "待处理")
    r = c.post(
        f"/api/complaints/{rec['id']}/status", json={"status": "处理中", "note": "已联系顾客"}, headers=H
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "处理中" and "已升级" in body["allowed_statuses"]
    assert body["history"][-1] == {
        **body["history"][-1],
        "actor": "zhang",
        "action": "status",
        "old": "待处理",
        "new": "处理中",
        "note": "已联系顾客",
    }
    r = c.post(
        f"/api/complaints/{rec['id']}/notes", json={"note": "已答复：安排退款", "answer": True}, headers=H
    )
    assert r.status_code == 200 and r.json()["history"][-1]["action"] == "answer"
    assert any(m["key"] == "answer" and m["done_at"] for m in r.json()["milestones"])
    r = c.post(
        f"/api/complaints/{rec['id']}/assign", json={"assignee": "赵晓雨", "team": "品控组"}, headers=H
    )
    assert r.status_code == 200 and (r.json()["assignee"], r.json()["team"]) == ("赵晓雨", "品控组")
    listed = c.get("/api/complaints", params={"assignee": "赵晓雨"}, headers=H).json()["items"]
    assert [x["id"] for x in listed] == [rec["id"]]


def test_workflow_refusals_are_409(fresh: tuple[Any, Seeded]) -> None:
    c, _ = fresh
    rec = _first(c, "待处理")
    r = c.post(f"/api/complaints/{rec['id']}/status", json={"status": "已回访"}, headers=H)
    assert r.status_code == 409 and "已回访" in r.json()["detail"]
    r = c.post(f"/api/complaints/{rec['id']}/status", json={"status": "已关闭"}, headers=H)
    assert r.status_code == 409  # closing an open record needs a reason
    r = c.post(
        f"/api/complaints/{rec['id']}/status",
        json={"status": "已关闭", "note": "重复投诉，已合并"},
        headers=H,
    )
    assert r.status_code == 200 and r.json()["status"] == "已关闭" and r.json()["allowed_statuses"] == []
    r = c.post(f"/api/complaints/{rec['id']}/status", json={"status": "处理中"}, headers=H)
    assert r.status_code == 409
    r = c.post(f"/api/complaints/{rec['id']}/status", json={"status": "吃饭中"}, headers=H)
    assert r.status_code == 422 and "未知状态" in r.json()["detail"]
    r = c.post(f"/api/complaints/{rec['id']}/notes", json={"note": "   "}, headers=H)
    assert r.status_code == 422


def test_verdict_corrections_close_a_false_alarm_and_fix_a_category(fresh: tuple[Any, Seeded]) -> None:
    from tests.crawler.analytics.conftest import V

    c, _ = fresh
    items = c.get("/api/complaints", params={"status": "待处理", "limit": 100}, headers=H).json()["items"]
    assert len(items) >= 2
    false_alarm, wrong_cat = items[0], items[1]
    r = c.post(
        f"/api/complaints/{false_alarm['id']}/verdict",
        json={"not_complaint": True, "note": "广告"},
        headers=V,
    )
    assert r.status_code == 403  # viewers cannot correct verdicts
    r = c.post(
        f"/api/complaints/{false_alarm['id']}/verdict",
        json={"not_complaint": True, "note": "广告"},
        headers=H,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "已关闭"
    assert any(
        h["action"] == "verdict" and h["field"] == "is_complaint" and h["new"] == "false"
        for h in body["history"]
    )
    new_cat = "退换货" if wrong_cat["category"] != "退换货" else "物流配送"
    r = c.post(f"/api/complaints/{wrong_cat['id']}/verdict", json={"category": new_cat}, headers=H)
    assert r.status_code == 200 and r.json()["category"] == new_cat
    r = c.post(f"/api/complaints/{wrong_cat['id']}/verdict", json={"category": "吃饭"}, headers=H)
    assert r.status_code == 409 and "unknown category" in r.json()["detail"]
    r = c.post(f"/api/complaints/{wrong_cat['id']}/verdict", json={}, headers=H)
    assert r.status_code == 422


def test_verdict_corrects_the_urgency_and_recomputes_the_sla_clocks(fresh: tuple[Any, Seeded]) -> None:
    from datetime import datetime, timedelta

    from tests.crawler.analytics.conftest import V

    c, _ = fresh
    rec = _first(c, "待处理")
    new = "一般" if rec["urgency"] != "一般" else "非常紧急"
    r = c.post(f"/api/complaints/{rec['id']}/verdict", json={"urgency": new}, headers=V)
    assert r.status_code == 403  # viewers cannot correct verdicts
    r = c.post(
        f"/api/complaints/{rec['id']}/verdict", json={"urgency": new, "note": "按顾客诉求重新定级"}, headers=H
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["urgency"] == new and body["category"] == rec["category"] and body["status"] == rec["status"]
    verdict = [h for h in body["history"] if h["action"] == "verdict"]
    assert [(h["field"], h["old"], h["new"], h["actor"], h["note"]) for h in verdict] == [
        ("urgency", rec["urgency"], new, "zhang", "按顾客诉求重新定级")
    ]
    assert any(h["action"] == "urgency" and "SLA 重算" in (h["note"] or "") for h in body["history"])
    registered = datetime.fromisoformat(body["registered_at"])
    due = {m["key"]: m["due_at"] for m in body["milestones"]}
    resolve = {"一般": 1440, "紧急": 240, "非常紧急": 240}[new]
    assert datetime.fromisoformat(due["resolve"]) == registered + timedelta(minutes=resolve)
    assert (due.get("report") is None) == (new == "一般")
    r = c.post(f"/api/complaints/{rec['id']}/verdict", json={"urgency": "很急"}, headers=H)
    assert r.status_code == 422 and "未知紧急程度" in r.json()["detail"]
