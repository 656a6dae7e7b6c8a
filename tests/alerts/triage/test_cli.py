"""``yuqing complaints ...`` on a config file and a SQLite database; config validation of our sections."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.config import load_config
from crawler.errors import ConfigError, YuqingError
from crawler.storage.engine import open_database
from tests.alerts.conftest import make_cfg, mention, store

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(
        f"""
[project]
data_dir = "{tmp_path / "data"}"
[storage]
url = "sqlite:///{tmp_path / "y.db"}"
[[brands]]
name = "鲜果时光"
[complaints]
default_team = "客诉组"
[[complaints.assignment]]
categories = ["物流配送"]
team = "售后组"
""",
        encoding="utf-8",
    )
    cfg = load_config(path)
    engine = open_database(cfg.database_url)
    store(
        engine,
        cfg,
        [
            mention("鲜果时光橙汁有异物，要求退款", author_name='=HYPERLINK("x")'),
            mention("鲜果时光配送慢", category="物流配送", urgency="一般", risk=40),
        ],
    )
    return path


def run(path: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(path), *args], catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_list_show_and_filters(cfg_path: Path) -> None:
    out = run(cfg_path, "complaints", "list", "--json")
    recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {r["team"] for r in recs} == {"客诉组", "售后组"}
    team = [
        json.loads(x)
        for x in run(cfg_path, "complaints", "list", "--team", "售后组", "--json").splitlines()
        if x.startswith("{")
    ]
    assert [r["category"] for r in team] == ["物流配送"]
    assert "0 条客诉" in run(cfg_path, "complaints", "list", "--overdue")
    assert "1 条客诉" in run(
        cfg_path, "complaints", "list", "--due-soon", "45"
    )  # the 紧急 one: first check 30 min
    number = recs[-1]["number"]
    shown = run(cfg_path, "complaints", "show", number)
    assert number in shown and "登记" in shown and "处理时限" in shown


def test_list_shows_one_line_per_record_with_its_linked_mentions(cfg_path: Path) -> None:
    story = "鲜果时光芒果冰沙里喝出玻璃碎片，门店拒绝赔偿，要求道歉"
    kw = {"category": "食用不适", "urgency": "紧急", "risk": 75}
    cfg = load_config(cfg_path)
    store(
        open_database(cfg.database_url),
        cfg,
        [
            mention(story, post_id="st1", author_name="原帖作者", **kw),
            mention(f"扩散！{story}", author_name="转发者", **kw),
            mention(f"天哪，{story}[怒]", author_name="路人", **kw),
            mention("支持维权", kind="comment", parent_post_id="st1", author_name="评论者", **kw),
        ],
    )
    recs = [
        json.loads(x) for x in run(cfg_path, "complaints", "list", "--json").splitlines() if x.startswith("{")
    ]
    assert len(recs) == 3 and sorted(r["linked"] for r in recs) == [0, 0, 3]  # one line per record
    rec = next(r for r in recs if r["linked"])
    assert rec["spread"]["relations"] == {"source": 1, "repost": 1, "copy": 1, "comment": 1}
    table = run(cfg_path, "complaints", "list")
    assert "+3" in table and "3 条客诉" in table
    only = run(cfg_path, "complaints", "list", "--event", str(rec["event_id"]), "--json")
    assert [json.loads(x)["number"] for x in only.splitlines() if x.startswith("{")] == [rec["number"]]
    shown = run(cfg_path, "complaints", "show", rec["number"])
    for text in (
        "关联提及: +3",
        "关联帖子（4 条）",
        f"转发同一事件，并入 {rec['number']}",
        "评论声援，未自述本人问题",
        "与同一事件内容近似",
        "合计互动",
    ):
        assert text in shown, text


def test_handle_a_record_from_the_command_line(cfg_path: Path) -> None:
    run(cfg_path, "complaints", "status", "1", "处理中", "--actor", "张三")
    run(cfg_path, "complaints", "assign", "1", "--assignee", "李四")
    run(cfg_path, "complaints", "note", "1", "已电话联系客户", "--answer", "--actor", "李四")
    out = run(cfg_path, "complaints", "status", "1", "已解决", "-m", "已退款")
    assert "回访时限" in out
    shown = run(cfg_path, "complaints", "show", "1")
    for text in ("张三", "李四", "已电话联系客户", "已解决"):
        assert text in shown
    bad = runner.invoke(app, ["--config", str(cfg_path), "complaints", "status", "1", "待处理"])
    assert bad.exit_code == 1 and "cannot go from 已解决 to 待处理" in str(bad.exception)


def test_export_formats_are_safe(cfg_path: Path, tmp_path: Path) -> None:
    run(cfg_path, "complaints", "export", "-o", str(tmp_path / "c.csv"))
    rows = list(csv.reader((tmp_path / "c.csv").open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["编号", "品牌", "平台"] and len(rows) == 3
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)  # formula injection defused
    run(cfg_path, "complaints", "export", "-o", str(tmp_path / "c.xlsx"), "--status", "待处理")
    ws = load_workbook(tmp_path / "c.xlsx").active
    assert ws.max_row == 3 and ws["A1"].value == "编号"
    run(cfg_path, "complaints", "export", "-o", str(tmp_path / "c.json"))
    assert len(json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))) == 2
    bad = runner.invoke(
        app, ["--config", str(cfg_path), "complaints", "export", "-o", str(tmp_path / "c.txt")]
    )
    assert bad.exit_code == 1
    assert "sweep" in run(cfg_path, "complaints", "--help")
    assert "checked=" in run(cfg_path, "complaints", "sweep")


def test_unknown_record_is_a_clear_error(cfg_path: Path) -> None:
    res = runner.invoke(app, ["--config", str(cfg_path), "complaints", "show", "TS20000101-0009"])
    assert res.exit_code == 1 and "no complaint record" in str(res.exception)
    assert issubclass(__import__("alerts.complaints.records").complaints.records.ComplaintError, YuqingError)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("complaints", {"business_hours": {"start": "18:00", "end": "09:00"}}, "end must be after start"),
        ("complaints", {"business_hours": {"weekdays": [0]}}, "ISO weekdays"),
        ("complaints", {"sla_channels": ["nope"]}, "unknown channel 'nope'"),
        ("complaints", {"report_channels": ["nope"]}, "unknown channel 'nope'"),
        ("alerts", {"surge": {"baseline_hours": 1, "window_minutes": 120}}, "baseline_hours"),
        ("alerts", {"events": {"min_similarity": 0}}, "min_similarity"),
    ],
)
def test_config_validation(section: str, values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_cfg(**{section: values})


def test_partial_sla_override_keeps_the_seed_defaults() -> None:
    cfg = make_cfg(
        complaints={
            "sla": {"紧急": {"first_check_minutes": 15, "answer_minutes": 60, "resolve_minutes": 120}}
        }
    )
    assert cfg.complaints.sla["紧急"].first_check_minutes == 15
    assert (
        cfg.complaints.sla["非常紧急"].resolve_minutes == 240
        and cfg.complaints.sla["一般"].answer_minutes == 120
    )


def test_verdict_corrections_become_training_labels_for_yuqing_train(cfg_path: Path, tmp_path: Path) -> None:
    # record 1: 产品质量 → marked 误报 (closed); record 2: 物流配送 → corrected to 服务态度
    out = run(
        cfg_path, "complaints", "verdict", "1", "--not-complaint", "--note", "门店开业广告", "--actor", "张三"
    )
    assert "误报" in out and "已关闭" in out
    run(cfg_path, "complaints", "verdict", "2", "--category", "服务态度")
    shown = run(cfg_path, "complaints", "show", "2")
    assert "服务态度" in shown
    bad = runner.invoke(app, ["--config", str(cfg_path), "complaints", "verdict", "2", "--category", "质量"])
    assert (
        bad.exit_code == 2 and "'质量' is not one of '产品质量'" in bad.output
    )  # a usage error: the choices
    nothing = runner.invoke(app, ["--config", str(cfg_path), "complaints", "verdict", "2"])
    assert nothing.exit_code == 1 and "--not-complaint" in str(nothing.exception)
    labels_path = tmp_path / "labels" / "mine.jsonl"
    out = run(cfg_path, "complaints", "export-labels", "-o", str(labels_path))
    assert "2 labelled mentions (1 误报, 1 with a corrected category or urgency)" in out
    labels = [json.loads(x) for x in labels_path.read_text(encoding="utf-8").splitlines()]
    by_text = {x["text"]: x for x in labels}
    assert by_text["鲜果时光橙汁有异物，要求退款"]["is_complaint"] is False
    assert by_text["鲜果时光橙汁有异物，要求退款"]["category"] is None
    assert (by_text["鲜果时光配送慢"]["is_complaint"], by_text["鲜果时光配送慢"]["category"]) == (
        True,
        "服务态度",
    )
    # those labels feed 'yuqing train' (with a few more of the customer's own, so both classes are there)
    extra = tmp_path / "more.csv"
    extra.write_text(
        "text,is_complaint,category,urgency\n"
        "鲜果时光门店今天开业，排队的人很多,false,,\n鲜果时光的橙汁是坏的,true,产品质量,一般\n"
        "鲜果时光新品真好喝,false,,\n鲜果时光客服不理人,true,服务态度,一般\n",
        encoding="utf-8",
    )
    model = tmp_path / "cm.npz"
    out = run(
        cfg_path,
        "train",
        "--data",
        str(labels_path),
        "--data",
        str(extra),
        "--no-corpus",
        "--no-cv",
        "-o",
        str(model),
    )
    assert model.is_file() and "6 records" in out and "complaint_model" in out
    from sentiment import complaint_model

    assert complaint_model.load(model).meta["records"] == 6
    complaint_model.clear_cache()
    import sentiment

    sentiment.configure(None)


def test_urgency_correction_moves_the_sla_clocks_and_becomes_the_urgency_label(
    cfg_path: Path, tmp_path: Path
) -> None:
    from datetime import timedelta

    from alerts.complaints import records as complaints

    cfg = load_config(cfg_path)
    engine = open_database(cfg.database_url)
    with engine.connect() as conn:
        before = complaints.get(conn, 2)  # 配送慢: 一般, no report clock, resolve within a day
    assert before["urgency"] == "一般" and before["due_report_at"] is None
    out = run(
        cfg_path,
        "complaints",
        "verdict",
        str(before["number"]),
        "--urgency",
        "紧急",
        "--note",
        "顾客已投诉三次",
        "--actor",
        "李四",
    )
    assert "紧急程度 紧急" in out and "时限按登记时间重算" in out
    with engine.connect() as conn:
        after = complaints.get(conn, 2)
        hist = complaints.history(conn, 2)
    registered = after["registered_at"]
    # the rubric's SLA for 紧急 (report 30, first check 30, answer 120, resolve 240 minutes), from registration
    assert after["urgency"] == "紧急" and after["category"] == "物流配送"
    assert after["due_report_at"] == registered + timedelta(minutes=30)
    assert after["due_answer_at"] == registered + timedelta(minutes=120)
    assert after["due_resolve_at"] == registered + timedelta(minutes=240) < before["due_resolve_at"]
    verdicts = [h for h in hist if h["action"] == "verdict"]
    assert [(h["field"], h["old"], h["new"], h["actor"], h["note"]) for h in verdicts] == [
        ("urgency", "一般", "紧急", "李四", "顾客已投诉三次")
    ]
    assert any(
        h["action"] == "urgency" and h["new"] == "紧急" and "SLA 重算" in (h["note"] or "") for h in hist
    )
    bad = runner.invoke(app, ["--config", str(cfg_path), "complaints", "verdict", "2", "--urgency", "很急"])
    assert bad.exit_code == 2 and "'很急' is not one of" in bad.output
    # the same urgency again changes nothing and writes no second verdict row
    run(cfg_path, "complaints", "verdict", "2", "--urgency", "紧急")
    with engine.connect() as conn:
        assert sum(h["action"] == "verdict" for h in complaints.history(conn, 2)) == 1
    labels_path = tmp_path / "labels.jsonl"
    out = run(cfg_path, "complaints", "export-labels", "-o", str(labels_path))
    assert "1 labelled mentions (0 误报, 1 with a corrected category or urgency)" in out
    labels = [json.loads(x) for x in labels_path.read_text(encoding="utf-8").splitlines()]
    assert [(x["text"], x["is_complaint"], x["category"], x["urgency"]) for x in labels] == [
        ("鲜果时光配送慢", True, "物流配送", "紧急")
    ]
