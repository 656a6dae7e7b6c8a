"""One meaning of "overdue": ``yuqing complaints list --overdue``, the board (``/api/complaints``), ``yuqing
status``, the report figures and the SLA sweeper agree on which records are overdue, instant by instant,
on SQLite and PostgreSQL — at a deadline's exact instant, a second after it, and for the records on which
the two read sides used to disagree (resolved but not closed, the callback, a closed record)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from crawler.analytics import complaints as complaint_view
from crawler.cli.app import app
from crawler.storage.models import Complaint
from tests.crawler.analytics.conftest import H, make_cfg, write_cfg_file

C = Complaint.__table__  # type: ignore[attr-defined]
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # every record registered now, urgency 紧急


def at(minutes: float = 0, *, days: int = 0, seconds: int = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes, seconds=seconds)


CALLBACK_DUE = at(20, days=7)  # resolved at +20 min, callback due 7 days later
# number -> (status, the columns set besides the 紧急 deadlines)
RECORDS: dict[str, tuple[str, dict[str, Any]]] = {
    # nothing done: report and first check due at +30 min, answer at +2 h, resolve at +4 h
    "TS-OPEN": ("待处理", {}),
    # first response in time (reported, checked, answered), the resolution is late
    "TS-RESOLVE-LATE": (
        "处理中",
        {"reported_at": at(5), "first_checked_at": at(10), "answered_at": at(60)},
    ),
    # closed with every milestone unmet: closing stops every clock
    "TS-CLOSED": ("已关闭", {"closed_at": at(50)}),
    # resolved (which answers the customer) but never reported, not yet called back
    "TS-RESOLVED": (
        "已解决",
        {"first_checked_at": at(10), "resolved_at": at(20), "callback_due_at": CALLBACK_DUE},
    ),
    # called back: the callback is met
    "TS-CALLED-BACK": (
        "已回访",
        {
            "reported_at": at(5),
            "first_checked_at": at(10),
            "resolved_at": at(20),
            "callback_due_at": CALLBACK_DUE,
            "callback_done_at": at(20, days=1),
        },
    ),
    # escalated by a handler (meets the resolve clock) but the customer was never answered
    "TS-ESCALATED": ("已升级", {"reported_at": at(5), "first_checked_at": at(10), "escalated_at": at(25)}),
}
FIRST = {"TS-OPEN": ["report", "first_check"]}
ANSWER = {"TS-OPEN": ["report", "first_check", "answer"], "TS-ESCALATED": ["answer"]}
RESOLVE = {
    "TS-OPEN": ["report", "first_check", "answer", "resolve"],
    "TS-RESOLVE-LATE": ["resolve"],
    "TS-ESCALATED": ["answer"],
}
# instant -> the overdue records and the milestones they are overdue on
EXPECTED: list[tuple[datetime, dict[str, list[str]]]] = [
    (at(29), {}),
    (at(30), {}),  # the deadline's instant is still on time
    (at(30, seconds=1), FIRST),
    (at(120), FIRST),
    (at(120, seconds=1), ANSWER),
    (at(240), ANSWER),
    (at(240, seconds=1), RESOLVE),
    (CALLBACK_DUE, RESOLVE),
    (CALLBACK_DUE + timedelta(seconds=1), {**RESOLVE, "TS-RESOLVED": ["callback"]}),
]


@pytest.fixture
def world(db_url: str, data_dir: Path, tmp_path: Path) -> Iterator[tuple[Any, Path, Any, Any]]:
    """The six records in one database, the API on it and a config file for the CLI."""
    from fastapi.testclient import TestClient

    from crawler.api import create_app
    from crawler.storage.engine import make_engine

    cfg = make_cfg(db_url, data_dir)
    engine = make_engine(db_url)
    deadlines = {
        "due_report_at": at(30),
        "due_first_check_at": at(30),
        "due_answer_at": at(120),
        "due_resolve_at": at(240),
    }
    with engine.begin() as conn:
        for number, (status, values) in RECORDS.items():
            conn.execute(
                insert(C),
                {
                    "number": number,
                    "brand": "鲜果时光",
                    "platform": "weibo",
                    "urgency": "紧急",
                    "status": status,
                    "registered_at": T0,
                    "updated_at": T0,
                    **deadlines,
                    **values,
                },
            )
    path = write_cfg_file(tmp_path / "yuqing.toml", db_url, data_dir)
    with TestClient(create_app(cfg)) as client:
        yield client, path, engine, cfg


def _cli(path: Path) -> set[str]:
    result = CliRunner().invoke(
        app, ["--config", str(path), "complaints", "list", "--overdue", "--json", "--limit", "100"]
    )
    assert result.exit_code == 0, result.output
    return {json.loads(line)["number"] for line in result.output.splitlines() if line.startswith("{")}


def _api(client: Any, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/complaints", params={"limit": 100, **params}, headers=H)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def _breached(engine: Any) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(C.c.number, C.c.sla_state)).all()
    out = {(n, ms) for n, state in rows for ms in ((state or {}).get("breached") or {})}
    return out | {(n, "callback") for n, state in rows if (state or {}).get("callback_reminded")}


def test_cli_board_status_reports_and_sweeper_list_the_same_overdue_records(
    world: tuple[Any, Path, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.complaints.sla import sweep
    from crawler.service.status import overdue_complaints

    client, path, engine, cfg = world
    seen: set[tuple[str, str]] = set()
    for now, expected in EXPECTED:
        monkeypatch.setattr(complaint_view, "utcnow", lambda now=now: now)  # the read side's clock
        want = set(expected)
        assert _cli(path) == want, now
        board = _api(client)
        assert {i["number"] for i in board if i["overdue"]} == want, now
        assert {i["number"] for i in _api(client, overdue="true")} == want, now
        assert {i["number"] for i in _api(client, overdue="false")} == set(RECORDS) - want, now
        late = {i["number"]: [m["key"] for m in i["milestones"] if m["state"] == "overdue"] for i in board}
        assert {n: ms for n, ms in late.items() if ms} == expected, now
        with engine.connect() as conn:
            status = overdue_complaints(conn, ZoneInfo("Asia/Shanghai"), now)
            sla = complaint_view.sla_performance(conn, since=at(-1), until=at(1), now=now)
        assert {c["number"]: c["overdue"] for c in status} == expected, now
        assert sla["overdue_open"] == len(want - {"TS-RESOLVED"}), now
        sweep(engine, cfg, now=now)  # breaches what is overdue now, once; reminds the overdue callback
        seen |= {(n, ms) for n, keys in expected.items() for ms in keys}
        assert _breached(engine) == seen, now
    states = {
        m["key"]: m["state"] for m in next(i for i in board if i["number"] == "TS-RESOLVED")["milestones"]
    }
    assert states == {  # never reported before it was resolved: late, not overdue
        "report": "late",
        "first_check": "done",
        "answer": "done",
        "resolve": "done",
        "callback": "overdue",
    }
