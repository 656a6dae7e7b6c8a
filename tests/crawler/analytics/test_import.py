"""``yuqing import``: yuqing's mention format, MediaCrawler and weibo-crawler exports, into a real SQLite file.

The files are written here the way IMPORT_FORMATS.md says each crawler writes them (BOMs,
string counts with 万 and +, ms vs s times, weibo-crawler's trailing tab on ids, repeated
posts of reruns), with a few broken rows that must be reported by line and skipped.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.storage.engine import make_engine
from crawler.storage.mentions import MENTIONS
from crawler.storage.models import Complaint

runner = CliRunner()
COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        f'[project]\ndata_dir = "{tmp_path / "data"}"\n[storage]\nurl = "sqlite:///{tmp_path / "y.db"}"\n'
        '[[brands]]\nname = "鲜果时光"\naliases = ["鲜果"]\n[[brands]]\nname = "小鹿宝贝"\n',
        encoding="utf-8",
    )
    return cfg


def _import(cfg: Path, *args: str) -> tuple[int, Any]:
    res = runner.invoke(app, ["--config", str(cfg), "import", *args, "--json"])
    try:
        data = json.loads(res.output.strip().splitlines()[-1]) if res.output.strip() else None
    except json.JSONDecodeError:
        data = res.output
    return res.exit_code, data


def _rows(tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with make_engine(f"sqlite:///{tmp_path / 'y.db'}").connect() as conn:
        return {(r["platform"], r["post_id"]): dict(r) for r in conn.execute(select(MENTIONS)).mappings()}


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
    return path


def test_mediacrawler_weibo_jsonl_posts_and_comments(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    posts = tmp_path / "data_mc" / "weibo" / "jsonl" / "search_contents_2026-12-01.jsonl"
    posts.parent.mkdir(parents=True)
    lines = [
        {
            "note_id": "4900000000000001",
            "content": "鲜果时光的橙汁喝出了虫子，要求退款！",
            "create_time": 1764556200,
            "create_date_time": "2025-12-01 10:30:00+08:00",
            "liked_count": "12",
            "comments_count": "3",
            "shared_count": "100万+",
            "note_url": "https://m.weibo.cn/detail/4900000000000001",
            "creator_hash": "ab12cd34ef56ab78",
            "nickname": "张***三",
            "source_keyword": "鲜果时光",
            "last_modify_ts": 1,
        },
        {
            "note_id": "4900000000000002",
            "content": "鲜果的芒果冰沙真好喝",
            "create_time": 1764559800,
            "liked_count": "1.2万",
            "comments_count": "0",
            "shared_count": "None",
            "last_modify_ts": 1,
        },
        # the same post again, a later crawl: the fresher copy wins
        {
            "note_id": "4900000000000001",
            "content": "鲜果时光的橙汁喝出了虫子，要求退款！",
            "create_time": 1764556200,
            "liked_count": "40",
            "comments_count": "5",
            "shared_count": "100万+",
            "last_modify_ts": 9,
            "creator_hash": "ab12cd34ef56ab78",
            "nickname": "张***三",
        },
        {"content": "没有编号的一条", "create_time": 1764559800},
    ]
    posts.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken json\n", encoding="utf-8"
    )
    code, rep = _import(cfg, str(posts))
    assert code == 0, rep
    rep = rep[0]
    assert rep["format"] == "mediacrawler" and rep["platform"] == "weibo"
    assert rep["rows"] == 5 and rep["stored"] == 2 and rep["duplicates"] == 1
    assert [b["line"] for b in rep["bad"]] == [4, 5] and "note_id" in rep["bad"][0]["error"]
    rows = _rows(tmp_path)
    first = rows[("weibo", "4900000000000001")]
    assert first["likes"] == 40 and first["comments"] == 5 and first["shares"] == 1_000_000
    assert (
        first["brand"] == "鲜果时光" and first["author_id"] == "ab12cd34ef56ab78" and first["kind"] == "post"
    )
    assert first["published_at"].isoformat().startswith("2025-12-01T02:30:00")  # 10:30 Beijing time
    assert first["is_complaint"] is True
    assert rows[("weibo", "4900000000000002")]["likes"] == 12_000

    comments = posts.parent / "search_comments_2026-12-01.jsonl"
    comments.write_text(
        json.dumps(
            {
                "comment_id": "5100000000000009",
                "note_id": "4900000000000001",
                "content": "我也遇到过，太恶心了",
                "create_time": 1764560000,
                "comment_like_count": "2",
                "sub_comment_count": "0",
                "user_id": "77",
                "nickname": "李四",
                "ip_location": "发布于 上海",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    code, rep = _import(cfg, str(comments), "--no-alerts")
    assert code == 0 and rep[0]["stored"] == 1
    c = _rows(tmp_path)[("weibo", "5100000000000009")]
    assert c["kind"] == "comment" and c["parent_post_id"] == "4900000000000001"
    assert c["brand"] == "鲜果时光"  # from its stored post: the comment does not name the brand
    assert c["ip_region"] == "上海" and c["author_name"] == "李四"

    # Re-import: idempotent, a changed count updates the row.
    lines[2]["liked_count"] = "41"
    lines[2]["last_modify_ts"] = 10
    posts.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:3]) + "\n", encoding="utf-8")
    code, rep = _import(cfg, str(posts))
    assert code == 0 and rep[0]["new"] == 0 and rep[0]["updated"] == 1 and rep[0]["unchanged"] == 1
    assert _rows(tmp_path)[("weibo", "4900000000000001")]["likes"] == 41


def test_mediacrawler_xhs_csv_and_douyin_json(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    xhs = _csv(
        tmp_path / "mc" / "xhs" / "csv" / "search_contents_2026-12-01.csv",
        [
            "note_id",
            "type",
            "title",
            "desc",
            "time",
            "liked_count",
            "collected_count",
            "comment_count",
            "share_count",
            "note_url",
            "xsec_token",
            "nickname",
            "user_id",
            "ip_location",
        ],
        [
            [
                "68f599c10000000031002403",
                "normal",
                "小鹿宝贝奶粉踩雷",
                "宝宝喝了小鹿宝贝奶粉起疹子 #避雷[话题]#",
                1764556200123,
                "1.2万",
                "30",
                "88",
                "5",
                "https://www.xiaohongshu.com/explore/68f599c10000000031002403?xsec_token=AB&xsec_source=pc_search",
                "AB",
                "小红",
                "5f00",
                "广东",
            ]
        ],
    )
    douyin = tmp_path / "mc" / "douyin" / "json" / "search_contents_2026-12-01.json"
    douyin.parent.mkdir(parents=True)
    douyin.write_text(
        json.dumps(
            [
                {
                    "aweme_id": "7312345678901234567",
                    "aweme_type": "0",
                    "title": "鲜果时光探店",
                    "desc": "鲜果时光探店 #好喝",
                    "create_time": 1764556200,
                    "liked_count": "None",
                    "comment_count": "7",
                    "share_count": "2",
                    "aweme_url": "https://www.douyin.com/video/7312345678901234567",
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    code, rep = _import(cfg, str(xhs), str(douyin))
    assert code == 0, rep
    assert [(r["format"], r["platform"], r["stored"]) for r in rep] == [
        ("mediacrawler", "xiaohongshu", 1),
        ("mediacrawler", "douyin", 1),
    ]
    rows = _rows(tmp_path)
    note = rows[("xiaohongshu", "68f599c10000000031002403")]
    assert note["likes"] == 12_000 and note["collects"] == 30 and note["brand"] == "小鹿宝贝"
    assert note["url"] == "https://www.xiaohongshu.com/explore/68f599c10000000031002403"  # token dropped
    assert note["published_at"].isoformat().startswith("2025-12-01T02:30:00")  # milliseconds
    video = rows[("douyin", "7312345678901234567")]  # 19 digits survive as a string
    assert video["likes"] == 0 and video["comments"] == 7 and video["title"] is None


def test_weibo_crawler_csv_with_users_and_comments(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    folder = tmp_path / "weibo" / "某用户"
    _csv(
        folder / "users.csv",
        ["用户id", "昵称", "性别", "粉丝数", "IP属地"],
        [["1669879400", "某用户", "f", "25000", "北京"]],
    )
    header = [
        "id",
        "bid",
        "正文",
        "头条文章url",
        "原始图片url",
        "视频url",
        "位置",
        "日期",
        "工具",
        "点赞数",
        "评论数",
        "转发数",
        "话题",
        "@用户",
        "完整日期",
    ]
    posts = _csv(
        folder / "1669879400.csv",
        header,
        [
            [
                "4950000000000001\t",
                "Pabc",
                "在鲜果时光买的果切发霉了，客服不理人",
                "",
                "",
                "",
                "",
                "2025-12-01T10:30:00",
                "iPhone",
                5,
                2,
                1,
                "",
                "",
                "2025-12-01 10:30:00",
            ],
            [
                "4950000000000002\t",
                "Pabd",
                "小鹿宝贝纸尿裤还不错",
                "",
                "",
                "",
                "",
                "2025-12-01T11:00:00",
                "iPhone",
                1,
                0,
                0,
                "",
                "",
            ],  # a short row: an older layout
            [
                "4950000000000003\t",
                "Pabe",
                "今天天气很好",
                "",
                "",
                "",
                "",
                "2025-12-01T12:00:00",
                "iPhone",
                1,
                0,
                0,
                "",
                "",
                "2025-12-01 12:00:00",
            ],
        ],
    )
    code, rep = _import(cfg, str(posts))
    assert code == 0, rep
    rep = rep[0]
    assert rep["format"] == "weibo-crawler" and rep["stored"] == 1
    bad = {b["line"]: b["error"] for b in rep["bad"]}
    assert set(bad) == {3, 4} and "values for" in bad[3] and "brand" in bad[4]
    post = _rows(tmp_path)[("weibo", "4950000000000001")]  # the trailing tab is gone
    assert (
        post["author_id"] == "1669879400"
        and post["author_followers"] == 25000
        and post["ip_region"] == "北京"
    )
    assert post["url"] == "https://m.weibo.cn/detail/4950000000000001" and post["brand"] == "鲜果时光"

    comments = _csv(
        folder / "某用户_comments.csv",
        ["id", "weibo_id", "created_at", "user_screen_name", "text", "pic_url", "like_count"],
        [
            [
                "5200000000000001",
                "4950000000000001",
                "Mon Dec 01 12:00:00 +0800 2025",
                "路人",
                "同样遇到",
                "",
                "3",
            ]
        ],
    )
    code, rep = _import(cfg, str(comments))
    assert code == 0 and rep[0]["stored"] == 1
    c = _rows(tmp_path)[("weibo", "5200000000000001")]
    assert c["kind"] == "comment" and c["brand"] == "鲜果时光" and c["likes"] == 3
    assert c["published_at"].isoformat().startswith("2025-12-01T04:00:00")


def test_mention_format_triage_and_no_alerts(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    text = "小鹿宝贝奶粉喝完宝宝腹泻住院了，已经投诉到12315，要求赔偿！"
    recs = [
        {
            "platform": "weibo",
            "post_id": "m1",
            "text": text,
            "author_id": "u1",
            "author_name": "王五",
            "published_at": "2026-12-04T08:00:00+08:00",
            "likes": 3,
        },
        {
            "platform": "weibo",
            "post_id": "m2",
            "text": text + "（第二条）",
            "author_id": "u2",
            "published_at": "not a time",
        },
        {"platform": "myspace", "post_id": "m3", "text": text},
        {
            "platform": " 小红书",
            "post_id": "m5",
            "text": "小鹿宝贝奶粉还不错",
            "author_id": "u5",
        },  # any spelling
    ]
    path = tmp_path / "mentions.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    code, rep = _import(cfg, str(path), "--no-alerts")
    assert code == 0, rep
    assert rep[0]["format"] == "mention" and rep[0]["stored"] == 2
    assert [b["line"] for b in rep[0]["bad"]] == [2, 3] and "myspace" in rep[0]["bad"][1]["error"]
    engine = make_engine(f"sqlite:///{tmp_path / 'y.db'}")
    with engine.connect() as conn:
        assert (
            conn.execute(select(MENTIONS.c.platform).where(MENTIONS.c.post_id == "m5")).scalar()
            == "xiaohongshu"
        )
    with engine.connect() as conn:
        assert conn.execute(select(COMPLAINTS)).first() is None  # history: no records
    other = tmp_path / "more.jsonl"
    other.write_text(json.dumps({**recs[0], "post_id": "m4", "author_id": "u4"}, ensure_ascii=False), "utf-8")
    code, rep = _import(cfg, str(other))
    assert code == 0 and rep[0]["triage"].get("complaints", 0) == 1
    with engine.connect() as conn:
        assert len(conn.execute(select(COMPLAINTS)).all()) == 1


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cfg = _config(tmp_path)
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04 not really")
    unknown = tmp_path / "u.jsonl"
    unknown.write_text(json.dumps({"foo": 1}) + "\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[3]
    for args, needle in (
        (["nope.jsonl"], "no such file"),
        ([str(tmp_path / "x.xlsx")], "Excel"),
        ([str(unknown)], "unknown file format"),
        ([str(unknown), "--format", "csv"], "--format"),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "crawler.cli.app", "--config", str(cfg), "import", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        out = res.stdout + res.stderr
        assert res.returncode != 0 and needle in out, (args, out)
        assert "Traceback" not in out


def test_a_brand_named_in_traditional_characters_is_found(tmp_path: Path) -> None:
    """Rows are matched to brands as the analyser reads them: in simplified characters."""
    from crawler.config import load_config
    from crawler.items import MentionItem
    from crawler.scraping.importer import brand_matcher

    match = brand_matcher(load_config(_config(tmp_path)), None)

    def item(text: str) -> MentionItem:
        return MentionItem(platform="weibo", post_id="1", text=text, brand="")

    assert match(item("鮮果時光的橙汁壞了，要求退款")) == "鲜果时光"
    assert match(item("小鹿寶貝的玩具邊緣好鋒利")) == "小鹿宝贝"
    assert match(item("今天天氣真好")) is None
    assert match(MentionItem(platform="weibo", post_id="2", text="x", brand="鮮果時光")) == "鲜果时光"


def test_one_undecodable_line_costs_one_row_and_an_empty_file_is_an_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    good = {"platform": "weibo", "text": "小鹿宝贝奶粉结块了，要求退款", "author_id": "u1"}
    lines = [
        json.dumps({**good, "post_id": "a1"}, ensure_ascii=False).encode(),
        b'{"platform": "weibo", "post_id": "a2", "text": "bad \xff\xfe bytes"}',
        json.dumps({**good, "post_id": "a3"}, ensure_ascii=False).encode(),
        json.dumps({**good, "post_id": {"a": 1}}, ensure_ascii=False).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, rep = _import(cfg, str(path), "--no-alerts")
    assert code == 0, rep
    assert rep[0]["stored"] == 2 and [b["line"] for b in rep[0]["bad"]] == [2, 4]
    assert "UTF-8" in rep[0]["bad"][0]["error"] and "post_id" in rep[0]["bad"][1]["error"]
    assert {k[1] for k in _rows(tmp_path)} == {"a1", "a3"}
    binary = tmp_path / "noise.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 50 + b"\n" + b"\xfe\xff\x80" * 40)
    res = runner.invoke(app, ["--config", str(cfg), "import", str(binary)])
    assert res.exit_code != 0 and "neither UTF-8 nor GB18030" in str(res.exception)
    pretty = tmp_path / "pretty.json"  # a JSON document is read whole: a bad line fails the file, naming it
    body = json.dumps([{**good, "post_id": "p1"}, {**good, "post_id": "p2"}], ensure_ascii=False, indent=4)
    pretty.write_bytes(body.encode().replace(b"post_id", b"post_\xffid", 1))
    res = runner.invoke(app, ["--config", str(cfg), "import", str(pretty)])
    assert res.exit_code != 0 and "line 6" in str(res.exception) and "read whole" in str(res.exception)
    assert "p1" not in {k[1] for k in _rows(tmp_path)}
    header_only = _csv(tmp_path / "h.csv", ["platform", "post_id", "text"], [])
    res = runner.invoke(app, ["--config", str(cfg), "import", str(header_only)])
    assert res.exit_code != 0 and "no records found" in str(res.exception), res.output
