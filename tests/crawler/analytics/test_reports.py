"""Daily and weekly reports: the figures, HTML / XLSX / PDF output, hostile text, sending by e-mail."""

from __future__ import annotations

import email
import socket
from datetime import UTC, date, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crawler.analytics.reports import build_report, period_for, scheduled_report, send_report, write_report
from crawler.clock import utcnow
from crawler.config import CATEGORIES
from crawler.storage.engine import make_engine
from crawler.storage.models import MENTIONS
from tests.crawler.analytics.conftest import SeededDb, make_cfg


def _today() -> date:
    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_periods_are_local_days_and_weeks() -> None:
    p = period_for("daily", tz="Asia/Shanghai", day=date(2026, 11, 20))
    assert (p.start.hour, p.end - p.start, p.label) == (16, timedelta(days=1), "2026-11-20（周五）")
    w = period_for("weekly", tz="Asia/Shanghai", day=date(2026, 11, 20))
    assert w.label == "2026-11-16 至 2026-11-22" and w.end - w.start == timedelta(days=7)
    assert w.previous.end == w.start


def test_weekly_report_figures(seeded: SeededDb) -> None:
    with make_engine(seeded.url).connect() as conn:
        data = build_report(conn, seeded.cfg, "weekly", brand="鲜果时光", day=_today())
    s = data.summary
    assert s["total"] > 50 and sum(p["total"] for p in data.trend) == s["total"]
    assert sum(r["count"] for r in data.by["category"]) == s["complaints"]
    assert {r["label"] for r in data.by["customer"]} <= {"普通用户", "活跃用户", "腰部达人", "大V"}
    assert sum(data.hours) == s["complaints"]
    assert data.events and data.events[0]["surge_at"] is not None
    assert data.risky and all(m["risk"] >= 60 for m in data.risky)
    sla = data.sla
    assert sla["total"] >= 1 and sla["registered_timed"] == sla["total"]
    assert 0 <= sla["registered_in_time"] <= sla["total"] and sla["breached_records"] >= 1
    assert data.root_causes and set(data.root_causes) <= set(CATEGORIES)
    words = {w["word"] for ws in data.root_causes.values() for w in ws}
    assert words and not words & {"鲜果时光", "鲜榨橙汁", "要求"}


def test_html_and_xlsx_escape_hostile_text(seeded_sqlite: SeededDb, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    with make_engine(seeded_sqlite.url).connect() as conn:
        # the day the hostile posts fall on (seeded 30 minutes back: just after midnight in
        # Beijing that is yesterday)
        at = conn.execute(
            select(MENTIONS.c.published_at).where(MENTIONS.c.post_id == "hostile0")
        ).scalar_one()
        day = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo("Asia/Shanghai")).date()
        data = build_report(conn, seeded_sqlite.cfg, "daily", brand="鲜果时光", day=day)
    html_file, xlsx_file = write_report(data, ["html", "xlsx"], tmp_path)
    html = html_file.read_text(encoding="utf-8")
    for section in (
        "核心指标",
        "趋势",
        "投诉类别",
        "地区分布",
        "用户群体",
        "投诉处理 SLA",
        "重点事件",
        "高风险帖子",
        "根因提示",
    ):
        assert section in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "<script>alert" not in html and "javascript:" not in html
    assert "<script" not in html.lower().replace("&lt;script", "")
    wb = load_workbook(xlsx_file)
    assert wb.sheetnames == ["概览", "趋势", "分布", "投诉SLA", "重点事件", "高风险帖子", "根因提示"]
    risky = wb["高风险帖子"]
    cells = [c for row in risky.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert any(c.value.startswith("=HYPERLINK") and c.data_type == "s" for c in cells)


@pytest.mark.slow
def test_pdf_has_the_cjk_text(seeded_sqlite: SeededDb, tmp_path: Path) -> None:
    with make_engine(seeded_sqlite.url).connect() as conn:
        data = build_report(conn, seeded_sqlite.cfg, "daily", day=_today())
    [pdf] = write_report(data, ["pdf"], tmp_path)
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF") and len(body) > 20_000
    assert b"NotoSansCJK" in body or b"NotoSerifCJK" in body  # the CJK font is embedded


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_report_sent_by_email_once(db_url: str, data_dir: Path, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    from alerts.delivery.dispatch import dispatch_once
    from simulator.fakedata.database import seed_database

    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        cfg = make_cfg(
            db_url,
            data_dir,
            alerts={
                "channels": {
                    "mail": {
                        "type": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp.port,
                        "security": "none",
                        "sender": "yuqing@example.com",
                        "recipients": ["pr@example.com"],
                    }
                }
            },
            reports={"channels": ["mail"], "formats": ["html", "xlsx"], "output_dir": str(tmp_path / "out")},
        )
        engine = make_engine(db_url)
        seed_database(engine, cfg, mentions=120, complaints=6)
        now = utcnow() + timedelta(days=1)
        done = scheduled_report(engine, cfg, "daily", now=now)
        assert len(done["files"]) == 4 and all(
            Path(f).exists() for f in done["files"]
        )  # 2 brands × 2 formats
        assert all(done["alerts"])
        with engine.begin() as conn:  # the same report again is not queued twice
            with make_engine(db_url).connect() as rc:
                data = build_report(rc, cfg, "daily", brand="鲜果时光", now=now)
            assert send_report(conn, cfg, data) is None
        stats = dispatch_once(engine, cfg)
        assert stats.sent == 2 and stats.dead == 0
        assert len(inbox.messages) == 2
        bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in inbox.messages]
        assert all("舆情日报" in str(m["Subject"]) for m in inbox.messages)
        assert any("投诉单" in b and "负面占比" in b for b in bodies)
    finally:
        smtp.stop()
