"""``yuqing query`` and ``yuqing export`` on the seeded SQLite database (real CLI, real files)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crawler.analytics.query import QueryError, build_filter, parse_time
from crawler.cli.app import app
from tests.crawler.analytics.conftest import HANDLER, VIEWER, SeededDb, write_cfg_file

runner = CliRunner()


@pytest.fixture(scope="module")
def cfg_file(seeded_sqlite: SeededDb, tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    return write_cfg_file(tmp_path_factory.mktemp("cli") / "yuqing.toml", seeded_sqlite.url, data_dir)


def yq(cfg_file: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["--config", str(cfg_file), *args], env=env or {})


def test_parse_time_forms() -> None:
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert parse_time("24h", now=now) == now - timedelta(hours=24)
    assert parse_time("2w", now=now) == now - timedelta(weeks=2)
    assert parse_time("2026-11-20") == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)  # Shanghai midnight
    assert parse_time("2026-11-20", end=True) == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert parse_time("2026-11-20T08:30:00+00:00") == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    for bad in ("soon", "7x", "2026-13-01"):
        with pytest.raises(QueryError):
            parse_time(bad)
    with pytest.raises(QueryError, match="未知平台"):
        build_filter(platforms=["facebook"])


def test_query_json_lines_match_every_filter(cfg_file: Path) -> None:
    r = yq(
        cfg_file,
        "query",
        "--brand",
        "鲜果",
        "-p",
        "xiaohongshu",
        "--since",
        "14d",
        "--sentiment",
        "negative",
        "--complaint",
        "--category",
        "产品质量,食用不适",
        "--min-risk",
        "30",
        "--max-risk",
        "100",
        "-n",
        "500",
        "-f",
        "json",
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows
    for m in rows:
        assert (m["brand"], m["platform"]) == ("鲜果时光", "xiaohongshu")
        assert m["sentiment"] < 0.4 and m["is_complaint"] and m["category"] in ("产品质量", "食用不适")
    count = yq(
        cfg_file,
        "query",
        "--brand",
        "鲜果",
        "-p",
        "xiaohongshu",
        "--since",
        "14d",
        "--sentiment",
        "negative",
        "--complaint",
        "--category",
        "产品质量",
        "--category",
        "食用不适",
        "--min-risk",
        "30",
        "--count",
    )
    assert int(count.stdout.strip()) == len(rows)


def test_query_search_table_and_csv(cfg_file: Path) -> None:
    r = yq(cfg_file, "query", "玻璃碴 -广告", "--since", "2d", "-n", "5")  # quoted: -word is not an option
    assert r.exit_code == 0 and "玻璃碴" in r.stdout and "还有更多" in r.stdout
    r = yq(cfg_file, "query", "玻璃碴", "-f", "csv", "-n", "100")
    table = list(csv.reader(io.StringIO(r.stdout)))
    assert table[0][:3] == ["ID", "平台", "品牌"] and len(table) == 25
    r = yq(cfg_file, "query", "--region", "上海", "--author", "热心网友3", "-f", "json")
    assert [json.loads(x)["author_name"] for x in r.stdout.splitlines()] == ["热心网友3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "--since", "someday"], "无法识别的时间"),
        (["query", "--since", "9999-12-31T23:59:59-14:00"], "超出可查询范围"),
        (["query", "--until", "9999-12-31"], "超出可查询范围"),
        (["query", "--brand", "无此品牌"], "unknown brand"),
        (["query", "，，"], "没有可搜索的词"),
        (["export", "out.pdf"], "cannot export"),
    ],
)
def test_bad_options_are_one_clear_line(
    cfg_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(cfg_file), *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["query", "--platform", "tiktok"],
            "tiktok is not a platform (choose from weibo, xiaohongshu, douyin, heimao)",
        ),
        (["query", "-p", "weibo,tiktok"], "tiktok is not a platform"),
        (["query", "--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
        (["query", "--category", "好吃"], "好吃 is not a category"),
        (
            ["export", "out.csv", "--sentiment", "angry"],
            "'angry' is not one of 'positive', 'neutral', 'negative'",
        ),
    ],
)
def test_bad_choices_are_usage_errors(
    cfg_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value outside the choices is refused before the command runs: exit 2, the usage, one error line."""
    from crawler.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(cfg_file), *args])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line]
    assert exit_info.value.code == 2, err
    assert lines[0].startswith("Usage: ") and lines[1].startswith("Try '") and len(lines) == 3, err
    assert lines[2].startswith("Error: ") and message in lines[2] and "Value error" not in err, err


def test_export_csv_has_bom_masked_and_no_formulas(cfg_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "mentions.csv"
    r = yq(cfg_file, "export", str(out), "--since", "14d")
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) > 500
    phones = [row["内容"] for row in rows if "联系电话" in row["内容"]]
    assert phones and all("****" in t for t in phones)
    formula = next(row for row in rows if "HYPERLINK" in row["内容"])
    assert formula["内容"].startswith("'=")
    assert all(row["链接"] == "" or row["链接"].startswith("https://") for row in rows)  # javascript: dropped


def test_export_xlsx_is_typed_frozen_and_linked(cfg_file: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "mentions.xlsx"
    assert yq(cfg_file, "export", str(out), "--brand", "鲜果时光", "--since", "7d").exit_code == 0
    ws = load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and header[0] == "ID"
    col = {name: i for i, name in enumerate(header)}
    row = list(ws.iter_rows(min_row=2, max_row=2))[0]
    assert isinstance(row[col["发布时间"]].value, datetime) and isinstance(row[col["风险分"]].value, int)
    assert isinstance(row[col["粉丝数"]].value, int)
    links = [r[col["链接"]] for r in ws.iter_rows(min_row=2)]
    assert all(c.hyperlink is not None and c.hyperlink.target == c.value for c in links if c.value)
    assert sum(1 for c in links if c.value) == ws.max_row - 2  # every row but the javascript: one
    texts = [r[col["内容"]] for r in ws.iter_rows(min_row=2)]
    hostile = next(c for c in texts if str(c.value).startswith("=HYPERLINK"))
    assert hostile.data_type == "s"  # stored as text, not as a formula


def test_unmasked_needs_a_handler_token(cfg_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw.csv"
    r = yq(cfg_file, "export", str(out), "--unmasked")
    assert r.exit_code == 1 and "handler" in str(r.exception) and not out.exists()
    r = yq(cfg_file, "export", str(out), "--unmasked", env={"YUQING_API_TOKEN": VIEWER})
    assert r.exit_code == 1 and "handler" in str(r.exception) and not out.exists()
    r = yq(cfg_file, "export", str(out), "--unmasked", "--since", "14d", env={"YUQING_API_TOKEN": HANDLER})
    assert r.exit_code == 0 and "未脱敏" in r.output
    text = out.read_text(encoding="utf-8-sig")
    assert "联系电话1" in text  # a full phone number, unmasked
    q = yq(cfg_file, "query", "联系电话", "-f", "json", "--unmasked", env={"YUQING_API_TOKEN": HANDLER})
    assert q.exit_code == 0 and "****" not in q.stdout.split("联系电话", 1)[1][:12]
