"""The REST API on a seeded SQLite file and a seeded PostgreSQL database: reads, stats, roles, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from crawler.analytics.query import MENTIONS
from tests.crawler.analytics.conftest import HANDLER, VIEWER, H, SeededDb, V


def _count(seeded: SeededDb, *where: Any) -> int:
    from crawler.storage.engine import make_engine

    with make_engine(seeded.url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(MENTIONS).where(*where)).scalar_one())


def test_mentions_filters_and_paging(client: Any, seeded: SeededDb) -> None:
    params = {
        "brand": "鲜果",
        "platform": "weibo,douyin",
        "since": "14d",
        "sentiment": "negative",
        "complaint": "true",
        "min_risk": 40,
        "limit": 25,
    }
    first = client.get("/api/mentions", params=params, headers=V).json()
    assert len(first["items"]) == 25 and first["has_more"]
    for m in first["items"]:
        assert m["brand"] == "鲜果时光" and m["platform"] in ("weibo", "douyin")
        assert (
            m["sentiment"] < 0.4 and m["is_complaint"] and m["risk"] >= 40 and m["sentiment_label"] == "负面"
        )
    second = client.get("/api/mentions", params={**params, "offset": 25}, headers=V).json()
    assert not {m["id"] for m in first["items"]} & {m["id"] for m in second["items"]}
    expected = _count(
        seeded,
        MENTIONS.c.brand == "鲜果时光",
        MENTIONS.c.platform.in_(["weibo", "douyin"]),
        MENTIONS.c.sentiment < 0.4,
        MENTIONS.c.is_complaint.is_(True),
        MENTIONS.c.risk >= 40,
    )
    assert len(first["items"]) + len(second["items"]) == min(expected, 50)


def test_search_region_author_event(client: Any, seeded: SeededDb) -> None:
    hits = client.get("/api/mentions", params={"q": "玻璃碴 -广告", "limit": 200}, headers=V).json()["items"]
    assert len(hits) == 24 and all("玻璃碴" in m["text"] for m in hits)
    ev = client.get("/api/mentions", params={"event_id": seeded.ids.event_id, "limit": 200}, headers=V).json()
    assert {m["id"] for m in ev["items"]} == {m["id"] for m in hits}
    one = client.get("/api/mentions", params={"author": "热心网友3", "region": "上海"}, headers=V).json()[
        "items"
    ]
    assert [m["author_name"] for m in one] == ["热心网友3"]


def test_masking_and_unmasked_for_handlers(client: Any, seeded: SeededDb) -> None:
    phone = client.get("/api/mentions", params={"q": "联系电话", "limit": 1}, headers=H).json()["items"][0]
    assert "****" in phone["text"]
    raw = client.get(f"/api/mentions/{phone['id']}", params={"unmasked": "true"}, headers=H).json()
    assert "****" not in raw["text"] and raw["text"] != phone["text"]
    denied = client.get(f"/api/mentions/{phone['id']}", params={"unmasked": "true"}, headers=V)
    assert denied.status_code == 403 and "handler" in denied.json()["detail"]


def test_overview_adds_up(client: Any) -> None:
    ov = client.get("/api/stats/overview", params={"brand": "鲜果时光", "since": "7d"}, headers=V).json()
    total = ov["summary"]["total"]
    assert total > 50
    assert sum(p["total"] for p in ov["trend"]) == total
    assert sum(s["count"] for s in ov["sentiment"]) == total
    assert sum(s["count"] for s in ov["platform"]) == total
    assert sum(s["count"] for s in ov["category"]) == ov["summary"]["complaints"]
    assert {s["label"] for s in ov["platform"]} <= {"微博", "小红书", "抖音", "黑猫投诉"}
    assert ov["surges"] and ov["surges"][0]["event_id"] is not None
    assert ov["words"] and "鲜果时光" not in {w["word"] for w in ov["words"]}
    hourly = client.get("/api/stats/trend", params={"since": "24h", "bucket": "hour"}, headers=V).json()
    assert 24 <= len(hourly) <= 25 and all(p["t"].endswith(":00") for p in hourly)


def test_events_alerts_health_meta(client: Any, seeded: SeededDb) -> None:
    events = client.get("/api/events", params={"brand": "鲜果时光", "since": "2d"}, headers=V).json()
    assert events[0]["id"] == seeded.ids.event_id and events[0]["surge_at"]
    detail = client.get(f"/api/events/{seeded.ids.event_id}", headers=V).json()
    assert sum(p["total"] for p in detail["timeline"]) == 24 and len(detail["mentions"]) == 20
    alerts = client.get("/api/alerts", params={"kind": "surge"}, headers=V).json()
    assert alerts and alerts[0]["kind"] == "surge" and alerts[0]["deliveries"] == {"failed": 1}
    health = client.get("/api/health", headers=V).json()
    assert any(r["status"] == "failed" and r["error_kind"] == "captcha" for r in health["latest"])
    # the latest crawl of each platform × brand, not the newer tracking poll of a Weibo post
    assert len(health["latest"]) == 8 and all(
        r["items"] > 0 or r["status"] == "failed" for r in health["latest"]
    )
    runs = client.get("/api/crawl-runs", params={"platform": "weibo"}, headers=V).json()
    assert runs[0]["spider"] == "tracking" and {r["spider"] for r in runs[1:]} == {"weibo"}
    assert health["incidents"][0]["fix"] == "运行 yuqing login douyin 重新登录"
    meta = client.get("/api/meta", headers=V).json()
    assert meta["brands"] == ["鲜果时光", "小鹿宝贝"] and meta["user"] == {
        "name": "analyst",
        "role": "viewer",
    }
    assert "处理中" in meta["transitions"]["待处理"]


def test_complaint_board_marks_overdue(client: Any, seeded: SeededDb) -> None:
    page = client.get("/api/complaints", params={"limit": 100}, headers=V).json()
    assert len(page["items"]) == 24
    overdue = {c["id"] for c in page["items"] if c["overdue"]}
    assert overdue >= set(seeded.ids.overdue_ids) and overdue
    flagged = client.get("/api/complaints", params={"overdue": "true", "limit": 100}, headers=V).json()[
        "items"
    ]
    assert {c["id"] for c in flagged} == overdue
    late = next(c for c in page["items"] if c["overdue"])
    assert any(m["state"] == "overdue" for m in late["milestones"]) and late["next_due_at"]
    detail = client.get(f"/api/complaints/{late['id']}", headers=V).json()
    assert detail["history"][0]["action"] == "registered" and detail["mentions"]


def test_openapi_and_docs(client: Any) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in (
        "/api/mentions",
        "/api/stats/overview",
        "/api/complaints/{complaint_id}/status",
        "/api/login",
        "/api/events/{event_id}",
        "/api/health",
        "/api/export",
    ):
        assert path in spec["paths"], path
    assert client.get("/api/docs").status_code == 200


# --- auth and roles ------------------------------------------------------------------


def test_tokens_and_roles(client: Any, seeded: SeededDb) -> None:
    assert client.get("/api/mentions").status_code == 401
    assert (
        client.get("/api/mentions", headers={"Authorization": "Bearer nope-nope-nope-nope"}).status_code
        == 401
    )
    assert client.get("/api/mentions", headers={"Authorization": f"Basic {VIEWER}"}).status_code == 401
    assert client.post("/api/login", json={"token": VIEWER}).json() == {"name": "analyst", "role": "viewer"}
    assert client.post("/api/login", json={"token": HANDLER}).json()["role"] == "handler"
    cid = seeded.ids.complaint_ids[0]
    r = client.post(f"/api/complaints/{cid}/status", json={"status": "处理中"}, headers=V)
    assert r.status_code == 403
    r = client.post(f"/api/complaints/{cid}/notes", json={"note": "viewer note"}, headers=V)
    assert r.status_code == 403


def test_failed_logins_are_rate_limited(seeded: SeededDb, data_dir: Any) -> None:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from tests.crawler.analytics.conftest import make_cfg

    cfg = make_cfg(seeded.url, data_dir, api={"login_max_failures": 3, "login_window_seconds": 60})
    with TestClient(create_app(cfg)) as c:
        for _ in range(3):
            assert c.post("/api/login", json={"token": "guess-guess-guess"}).status_code == 401
        blocked = c.post("/api/login", json={"token": VIEWER})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
        assert c.get("/api/mentions", headers=V).status_code == 429  # bearer guesses count the same
        assert c.get("/healthz").status_code == 200


def test_no_tokens_configured_means_a_one_off_token(seeded: SeededDb, data_dir: Any) -> None:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from tests.crawler.analytics.conftest import make_cfg

    cfg = make_cfg(seeded.url, data_dir, api={"tokens": []})
    app = create_app(cfg)
    with TestClient(app) as c:
        assert c.get("/api/me", headers=V).status_code == 401
        token = app.state.ephemeral_token
        assert len(token) >= 24
        assert c.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "handler"


def test_cors_is_off_unless_configured(client: Any, seeded: SeededDb, data_dir: Any) -> None:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from tests.crawler.analytics.conftest import make_cfg

    pre = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    r = client.options("/api/mentions", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    cfg = make_cfg(seeded.url, data_dir, api={"cors_origins": ["http://bi.example:8080"]})
    with TestClient(create_app(cfg)) as c:
        ok = c.options("/api/mentions", headers={**pre, "Origin": "http://bi.example:8080"})
        assert ok.headers["access-control-allow-origin"] == "http://bi.example:8080"
        assert "access-control-allow-origin" not in c.options("/api/mentions", headers=pre).headers


def test_security_headers(client: Any) -> None:
    for path in ("/", "/api/openapi.json", "/static/app.js"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


# --- bad input ----------------------------------------------------------------------------

BAD_QUERIES = [
    ("/api/mentions", {"since": "yesterday-ish"}, "时间"),
    ("/api/mentions", {"platform": "tiktok"}, "未知平台"),
    ("/api/mentions", {"category": "好吃"}, "未知投诉类别"),
    ("/api/mentions", {"urgency": "超级紧急"}, "紧急程度"),
    ("/api/mentions", {"min_risk": 101}, "min_risk"),
    ("/api/mentions", {"min_risk": 80, "max_risk": 20}, "最低风险分"),
    ("/api/mentions", {"since": "2026-11-10", "until": "2026-11-01"}, "起始时间"),
    ("/api/mentions", {"limit": 0}, "limit"),
    ("/api/mentions", {"offset": -1}, "offset"),
    ("/api/mentions", {"q": "，，，"}, "没有可搜索的词"),
    ("/api/mentions", {"q": "x" * 201}, "q"),
    ("/api/mentions", {"sentiment": "angry"}, "sentiment"),
    ("/api/mentions", {"brand": "不存在的牌子"}, "未知品牌"),
    ("/api/mentions", {"order": "random"}, "order"),
    ("/api/mentions", {"event_id": 0}, "event_id"),
    ("/api/stats/trend", {"since": "90d", "bucket": "hour"}, "31 天"),
    ("/api/stats/distribution", {"dim": "colour"}, "dim"),
    ("/api/complaints", {"status": "已爆炸"}, "未知状态"),
    ("/api/events", {"order": "latest"}, "order"),
    ("/api/alerts", {"since": "later"}, "时间"),
    ("/api/mentions", {"since": "9999-12-31T23:59:59-14:00"}, "超出可查询范围"),
    ("/api/mentions", {"until": "9999-12-31"}, "超出可查询范围"),
    ("/api/mentions", {"since": "0001-01-01T00:00:00+14:00"}, "超出可查询范围"),
    ("/api/events", {"since": "9999-12-31T23:59:59-14:00"}, "超出可查询范围"),
    ("/api/stats/trend", {"until": "9999-12-31"}, "超出可查询范围"),
]


@pytest.mark.parametrize(("path", "params", "words"), BAD_QUERIES)
def test_bad_query_parameters_get_a_clear_422(
    client: Any, path: str, params: dict[str, Any], words: str
) -> None:
    r = client.get(path, params=params, headers=V)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]


def test_bad_paths_and_bodies(client: Any, seeded: SeededDb) -> None:
    assert client.get("/api/mentions/0", headers=V).status_code == 422
    assert client.get("/api/mentions/99999999", headers=V).status_code == 404
    assert client.get("/api/events/abc", headers=V).status_code == 422
    assert client.get("/api/complaints/99999999", headers=V).status_code == 404
    cid = seeded.ids.complaint_ids[0]
    for body in ({}, {"status": ""}, {"status": "x" * 50}, {"status": 5}, [], "text"):
        r = client.post(f"/api/complaints/{cid}/status", json=body, headers=H)
        assert r.status_code == 422, (body, r.text)
    assert client.post(f"/api/complaints/{cid}/assign", json={}, headers=H).status_code == 422
    r = client.post(
        f"/api/complaints/{cid}/status",
        content=b"{not json",
        headers={**H, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert client.post("/api/complaints/99999999/notes", json={"note": "x"}, headers=H).status_code == 404


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]])
def test_lockout_behind_a_proxy_header_only_when_the_proxy_is_trusted(
    seeded: SeededDb, data_dir: Any, trusted: list[str]
) -> None:
    """The real server (uvicorn, with the options 'yuqing serve' uses): X-Forwarded-For moves the
    lockout to another address only when the peer is a configured trusted proxy."""
    import httpx

    from crawler.api import create_app
    from crawler.cli.serve import uvicorn_options
    from tests.crawler.analytics.conftest import LiveServer, make_cfg

    cfg = make_cfg(
        seeded.url,
        data_dir,
        api={"login_max_failures": 3, "login_window_seconds": 60, "trusted_proxies": trusted},
    )
    with LiveServer(create_app(cfg), uvicorn_options(cfg)) as srv, httpx.Client(base_url=srv.url) as c:
        for i in range(3):  # three wrong guesses, each claiming another client address
            r = c.post(
                "/api/login", json={"token": "guess-guess-guess"}, headers={"X-Forwarded-For": f"10.9.9.{i}"}
            )
            assert r.status_code == 401
        fourth = c.post(
            "/api/login", json={"token": "guess-guess-guess"}, headers={"X-Forwarded-For": "10.9.9.7"}
        )
        if trusted:  # each forwarded client has one failure: none is locked out
            assert fourth.status_code == 401
        else:  # the header is ignored: the peer itself made three failures
            assert fourth.status_code == 429


def test_requests_without_a_token_do_not_lock_anyone_out(seeded: SeededDb, data_dir: Any) -> None:
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from tests.crawler.analytics.conftest import make_cfg

    cfg = make_cfg(seeded.url, data_dir, api={"login_max_failures": 3, "login_window_seconds": 60})
    with TestClient(create_app(cfg)) as c:
        for _ in range(10):
            assert c.get("/api/mentions").status_code == 401  # a dashboard not logged in yet
        assert c.get("/api/mentions", headers=V).status_code == 200
        for _ in range(3):
            assert (
                c.get("/api/mentions", headers={"Authorization": "Bearer wrong-wrong-wrong"}).status_code
                == 401
            )
        assert c.get("/api/mentions", headers=V).status_code == 429


def test_a_database_that_goes_away_is_a_503_with_the_security_headers(tmp_path: Any, data_dir: Any) -> None:
    """A real SQLite file overwritten while the API runs: JSON 503, same headers, no traceback body."""
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from crawler.api.app import SECURITY_HEADERS
    from tests.crawler.analytics.conftest import make_cfg

    db = tmp_path / "gone.db"
    cfg = make_cfg(f"sqlite:///{db}", data_dir)
    with TestClient(create_app(cfg), raise_server_exceptions=False) as c:
        assert c.get("/api/mentions", headers=V).status_code == 200
        c.app.state.engine.dispose()  # type: ignore[attr-defined]
        db.write_bytes(b"this is not a database" * 100)
        r = c.get("/api/mentions", headers=V)
        assert r.status_code == 503, r.text
        assert r.json() == {"detail": "数据库暂时不可用，请稍后再试"}
        assert r.headers["Retry-After"] == "30"
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value
