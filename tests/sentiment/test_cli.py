"""``yuqing analyze`` (text, --jsonl, --eval) and ``yuqing train-sentiment``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crawler.cli.app import app

runner = CliRunner()
LABELLED = [
    {
        "id": "a1",
        "platform": "weibo",
        "brand": "鲜果时光",
        "text": "鲜果时光的橙汁喝出虫子，要求退款！",
        "author_followers": 10,
        "likes": 1,
        "comments": 0,
        "shares": 0,
        "is_complaint": True,
        "category": "产品质量",
        "urgency": "紧急",
    },
    {
        "id": "a2",
        "platform": "weibo",
        "brand": "鲜果时光",
        "text": "鲜果时光的芒果冰沙真好喝，推荐！",
        "author_followers": 10,
        "likes": 1,
        "comments": 0,
        "shares": 0,
        "is_complaint": False,
        "category": None,
        "urgency": None,
    },
    {
        "id": "a3",
        "platform": "heimao",
        "brand": "鲜果时光",
        "text": "投诉对象：鲜果时光｜投诉问题：喝完腹泻住院｜投诉要求：赔偿医药费。喝了果汁后全家腹泻，已住院。",
        "author_followers": 0,
        "likes": 0,
        "comments": 0,
        "shares": 0,
        "is_complaint": True,
        "category": "食用不适",
        "urgency": "非常紧急",
    },
    {
        "id": "a4",
        "platform": "weibo",
        "brand": "鲜果时光",
        "text": "鲜果时光门店今天开业，排队的人很多",
        "author_followers": 10,
        "likes": 1,
        "comments": 0,
        "shares": 0,
        "is_complaint": True,
        "category": "其他",
        "urgency": "一般",
    },  # deliberately mislabelled
]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path) -> str:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        f'[project]\ndata_dir = "{tmp_path / "data"}"\n\n[[brands]]\nname = "鲜果时光"\naliases = ["鲜果"]\n',
        encoding="utf-8",
    )
    return str(cfg)


def test_analyze_text_prints_the_verdict(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["--config", _config(tmp_path), "analyze", "鲜果时光的橙汁喝出虫子，电话13812345678，已打12315"],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "是 · 产品质量 · 非常紧急" in res.output
    assert "138****5678" in res.output and "13812345678" not in res.output
    res = runner.invoke(app, ["--config", _config(tmp_path), "analyze", "好喝", "--json"])
    data = json.loads(res.output)
    assert data["is_complaint"] is False and "model_version" in data


def test_analyze_jsonl_writes_one_analysis_per_line_with_the_same_id(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", LABELLED)
    out = tmp_path / "out.jsonl"
    res = runner.invoke(
        app, ["--config", _config(tmp_path), "analyze", "--jsonl", str(src), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["a1", "a2", "a3", "a4"]
    assert lines[0]["is_complaint"] and not lines[1]["is_complaint"]
    assert set(lines[0]) >= {
        "sentiment",
        "category",
        "urgency",
        "risk",
        "reasons",
        "fingerprint",
        "masked_text",
    }


def test_analyze_eval_prints_accuracy_f1_and_confusion_tables(tmp_path: Path) -> None:
    src = _write(tmp_path / "labelled.jsonl", LABELLED)
    res = runner.invoke(
        app,
        ["--config", _config(tmp_path), "analyze", "--eval", str(src), "--errors", "5"],
        env={"COLUMNS": "220"},
    )
    assert res.exit_code == 0, res.output
    # the figures the command prints are the analyser's verdicts scored against the labels
    import sentiment
    from crawler.config import load_config

    sentiment.configure(load_config(_config(tmp_path)))
    got = sentiment.analyze_many(LABELLED)
    tp = sum(1 for r, a in zip(LABELLED, got, strict=True) if r["is_complaint"] and a.is_complaint)
    fp = sum(1 for r, a in zip(LABELLED, got, strict=True) if not r["is_complaint"] and a.is_complaint)
    fn = sum(1 for r, a in zip(LABELLED, got, strict=True) if r["is_complaint"] and not a.is_complaint)
    acc = sum(r["is_complaint"] == a.is_complaint for r, a in zip(LABELLED, got, strict=True)) / len(LABELLED)
    prec, rec = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * prec * rec / (prec + rec)
    assert (
        f"is_complaint  accuracy {acc:.3f}  precision {prec:.3f}  recall {rec:.3f}  F1 {f1:.3f}" in res.output
    )
    gold = [(r, a) for r, a in zip(LABELLED, got, strict=True) if r["is_complaint"]]
    cat = sum(a.is_complaint and a.category == r["category"] for r, a in gold) / len(gold)
    assert f"category      accuracy {cat:.3f}" in res.output
    assert "rows = label, columns = prediction" in res.output
    assert '"id": "a4"' in res.output  # a4 is deliberately mislabelled (其他): always an error


def test_analyze_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "好"}\nnot json\n', encoding="utf-8")
    res = runner.invoke(app, ["--config", _config(tmp_path), "analyze", "--jsonl", str(bad)])
    assert res.exit_code == 1 and "bad.jsonl:2: not JSON" in str(res.exception)
    res = runner.invoke(app, ["--config", _config(tmp_path), "analyze"])
    assert res.exit_code == 1 and "exactly one of" in str(res.exception)
    res = runner.invoke(
        app,
        [
            "--config",
            _config(tmp_path),
            "analyze",
            "--eval",
            str(_write(tmp_path / "u.jsonl", [{"text": "x"}])),
        ],
    )
    assert res.exit_code == 1 and "no record has an is_complaint label" in str(res.exception)


def test_train_sentiment_builds_a_model_file(tmp_path: Path) -> None:
    from tests.sentiment.test_model import NEG, POS, write_csv

    data = write_csv(tmp_path / "train.csv", [(1, t) for t in POS * 2] + [(0, t) for t in NEG * 2])
    out = tmp_path / "model.npz"
    res = runner.invoke(
        app,
        ["train-sentiment", "--data", str(data), "--out", str(out), "--holdout", "0"],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert out.is_file() and "sha256" in res.output
    res = runner.invoke(app, ["train-sentiment", "--data", str(tmp_path / "missing")])
    assert res.exit_code == 1 and "no such file" in str(res.exception)
