"""Errors of the API: every 4xx/5xx carries the same security headers as a 200, and every route
that needs the database answers a JSON 503 when the database goes away (a SQLite file turned to
garbage, a PostgreSQL database dropped) while the dashboard page, the docs and the routes that do
not need the database keep answering 200.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crawler.api import create_app
from crawler.api.app import SECURITY_HEADERS
from crawler.storage.engine import make_engine, open_database
from simulator.fakedata.database import seed_database
from tests.conftest import PG_ADMIN, _pg_conninfo
from tests.crawler.analytics.conftest import VIEWER, H, SeededDb, V, make_cfg

GONE = {"detail": "数据库暂时不可用，请稍后再试"}


def _same_headers_as_a_200(r: Any, ok: Any) -> None:
    for name in SECURITY_HEADERS:
        assert r.headers.get(name) == ok.headers.get(name) == SECURITY_HEADERS[name], (r.status_code, name)
    assert r.headers.get("Cache-Control") == "no-store", r.status_code


def test_every_error_status_carries_the_security_headers(
    seeded_sqlite: SeededDb, data_dir: Path, tmp_path: Path
) -> None:
    cfg = make_cfg(seeded_sqlite.url, data_dir, api={"login_max_failures": 3, "login_window_seconds": 60})
    app = create_app(cfg)

    def crash() -> None:  # the only way to reach the last-resort handler: no route of the app may crash
        raise RuntimeError("deliberate crash for the 500 handler")

    app.add_api_route("/api/test-crash", crash, include_in_schema=False)
    seen: dict[int, Any] = {}
    with TestClient(app, raise_server_exceptions=False) as c:
        ok = c.get("/api/me", headers=V)
        assert ok.status_code == 200
        seen[404] = c.get("/api/mentions/999999999", headers=V)
        seen[405] = c.delete("/api/mentions", headers=V)
        seen[422] = c.get("/api/mentions", params={"since": "9999-12-31T23:59:59-14:00"}, headers=V)
        seen[401] = c.get("/api/mentions")
        complaint = seeded_sqlite.ids.complaint_ids[0]
        seen[403] = c.post(f"/api/complaints/{complaint}/notes", json={"note": "x"}, headers=V)
        seen[500] = c.get("/api/test-crash", headers=V)
        for _ in range(3):
            assert (
                c.get("/api/me", headers={"Authorization": "Bearer wrong-token-000000000"}).status_code == 401
            )
        seen[429] = c.get("/api/me", headers=H)
        other_404 = c.get("/no/such/page")  # outside /api: the router's own 404
        static_404 = c.get("/static/no-such-file.js")
    for status, r in seen.items():
        assert r.status_code == status, (status, r.text)
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]
        _same_headers_as_a_200(r, ok)
    assert "Traceback" not in seen[500].text and seen[500].json() == {"detail": "服务器内部错误"}
    assert seen[429].headers["Retry-After"]
    for r in (other_404, static_404):
        assert r.status_code == 404
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value

    # 503: the database file turned to garbage under the running app
    db = tmp_path / "gone.db"
    with TestClient(create_app(make_cfg(f"sqlite:///{db}", data_dir)), raise_server_exceptions=False) as c:
        ok = c.get("/api/mentions", headers=V)
        assert ok.status_code == 200
        c.app.state.engine.dispose()  # type: ignore[attr-defined]
        db.write_bytes(b"not a database " * 500)
        r = c.get("/api/mentions", headers=V)
    assert r.status_code == 503 and r.json() == GONE and r.headers["Retry-After"] == "30"
    _same_headers_as_a_200(r, ok)


def _requests(
    complaint: int, mention: int, event: int, number: str = ""
) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """One valid request per API route, keyed by (method, path template as in the OpenAPI spec)."""
    return {
        ("get", "/api/mentions"): ("/api/mentions?q=橙汁", {}),
        ("get", "/api/mentions/{mention_id}"): (f"/api/mentions/{mention}", {}),
        ("get", "/api/mentions/{mention_id}/thread"): (f"/api/mentions/{mention}/thread", {}),
        ("get", "/api/export"): ("/api/export?format=csv", {}),
        ("get", "/api/stats/summary"): ("/api/stats/summary", {}),
        ("get", "/api/stats/trend"): ("/api/stats/trend", {}),
        ("get", "/api/stats/distribution"): ("/api/stats/distribution?dim=category", {}),
        ("get", "/api/stats/words"): ("/api/stats/words", {}),
        ("get", "/api/stats/surges"): ("/api/stats/surges", {}),
        ("get", "/api/stats/overview"): ("/api/stats/overview", {}),
        ("get", "/api/events"): ("/api/events", {}),
        ("get", "/api/events/{event_id}"): (f"/api/events/{event}", {}),
        ("get", "/api/events/{event_id}/spread"): (f"/api/events/{event}/spread", {}),
        ("get", "/api/hot-topics"): ("/api/hot-topics", {}),
        ("get", "/api/alerts"): ("/api/alerts", {}),
        ("get", "/api/crawl-runs"): ("/api/crawl-runs", {}),
        ("get", "/api/health"): ("/api/health", {}),
        ("get", "/api/complaints"): ("/api/complaints", {}),
        ("get", "/api/complaints/{complaint_id}"): (f"/api/complaints/{complaint}", {}),
        ("get", "/api/complaints/number/{number}"): (f"/api/complaints/number/{number}", {}),
        ("post", "/api/complaints/{complaint_id}/status"): (
            f"/api/complaints/{complaint}/status",
            {"status": "处理中"},
        ),
        ("post", "/api/complaints/{complaint_id}/notes"): (
            f"/api/complaints/{complaint}/notes",
            {"note": "已联系"},
        ),
        ("post", "/api/complaints/{complaint_id}/verdict"): (
            f"/api/complaints/{complaint}/verdict",
            {"not_complaint": True},
        ),
        ("post", "/api/complaints/{complaint_id}/assign"): (
            f"/api/complaints/{complaint}/assign",
            {"assignee": "王芳"},
        ),
    }


NO_DATABASE = {("post", "/api/login"), ("get", "/api/me"), ("get", "/api/meta")}


def _every_route_when_the_database_is_gone(c: TestClient, go_away: Any, ids: Any) -> None:
    spec = c.get("/api/openapi.json").json()
    routes = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    number = c.get(f"/api/complaints/{ids.complaint_ids[0]}", headers=H).json()["number"]
    requests = _requests(ids.complaint_ids[0], ids.mention_ids[0], ids.event_id, number)
    assert routes == set(requests) | NO_DATABASE, "a new route: add it to _requests() or NO_DATABASE"
    for (method, _), (url, body) in requests.items():  # everything works first
        r = c.request(method.upper(), url, headers=H, json=body or None)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    go_away()
    for (method, template), (url, body) in requests.items():
        r = c.request(method.upper(), url, headers=H, json=body or None)
        assert r.status_code == 503, (template, r.status_code, r.text[:300])
        assert r.json() == GONE and r.headers["Retry-After"] == "30", template
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (template, name)
    # what does not need the database keeps working: the dashboard can load and say why data is missing
    assert c.post("/api/login", json={"token": VIEWER}).status_code == 200
    assert c.get("/api/me", headers=V).status_code == 200
    assert c.get("/api/meta", headers=V).status_code == 200
    for page in ("/", "/static/app.js", "/api/docs", "/api/openapi.json", "/healthz"):
        assert c.get(page).status_code == 200, page


def test_every_route_answers_503_when_the_sqlite_file_goes_away(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "gone.db"
    url = f"sqlite:///{db}"
    cfg = make_cfg(url, data_dir)
    ids = seed_database(open_database(url), cfg, mentions=80)
    engine = make_engine(url)

    def go_away() -> None:
        engine.dispose()
        db.write_bytes(os.urandom(4096))
        for suffix in ("-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)

    with TestClient(create_app(cfg, engine=engine), raise_server_exceptions=False) as c:
        _every_route_when_the_database_is_gone(c, go_away, ids)


@pytest.fixture
def pg_scratch() -> Iterator[str]:
    import psycopg

    name = f"yuqing_gone_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_every_route_answers_503_when_the_postgres_database_is_dropped(
    pg_scratch: str, data_dir: Path
) -> None:
    import psycopg

    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_scratch}"
    cfg = make_cfg(url, data_dir)
    ids = seed_database(open_database(url), cfg, mentions=80)

    def go_away() -> None:
        with psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE "{pg_scratch}" WITH (FORCE)')

    with TestClient(create_app(cfg, engine=make_engine(url)), raise_server_exceptions=False) as c:
        _every_route_when_the_database_is_gone(c, go_away, ids)


@pytest.mark.slow
@pytest.mark.postgres
def test_yuqing_serve_logs_one_line_not_a_traceback_when_the_database_is_dropped(
    pg_scratch: str, tmp_path: Path
) -> None:
    """The real server: a database error used to reach uvicorn as 'Exception in ASGI application'
    with a traceback on every request; now it is one log line naming the database, and a 503."""
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import psycopg

    from tests.crawler.analytics.conftest import write_cfg_file

    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_scratch}"
    open_database(url)
    config = write_cfg_file(tmp_path / "yuqing.toml", url, tmp_path / "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli.app", "--config", str(config), "serve", "--port", str(port)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "yuqing serve did not start"
            time.sleep(0.2)
        assert httpx.get(base + "/api/mentions", headers=V, timeout=30).status_code == 200
        with psycopg.connect(_pg_conninfo(PG_ADMIN), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE "{pg_scratch}" WITH (FORCE)')
        for path in ("/api/mentions", "/api/stats/overview", "/api/complaints"):
            r = httpx.get(base + path, headers=V, timeout=30)
            assert r.status_code == 503 and r.json() == GONE, path
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out and "Exception in ASGI application" not in out, out[-3000:]
    logged = [line for line in out.splitlines() if "API: database unavailable on GET" in line]
    assert len(logged) == 3 and all(f"/{pg_scratch}" in line for line in logged), out[-3000:]
    assert all(f'database "{pg_scratch}" does not exist' in line for line in logged), logged
