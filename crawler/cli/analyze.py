"""``yuqing analyze``: analyse one text, a JSON Lines file, or score a labelled file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crawler.cli._choices import Platform
from crawler.cli._common import console, state
from crawler.errors import ConfigError, YuqingError


class AnalyzeError(YuqingError):
    """Bad input for ``yuqing analyze``."""


def _configure(ctx: typer.Context) -> None:
    import sentiment

    st = state(ctx)
    try:
        cfg = st.config()
    except ConfigError:
        if st.config_path:  # an explicit --config must load
            raise
        cfg = None  # no config file: built-in lexicons, no brand dictionary
    sentiment.configure(cfg)


def analyze_command(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="Text to analyse.")] = None,
    jsonl: Annotated[
        Path | None, typer.Option("--jsonl", help="Analyse each record of a JSON Lines file.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --jsonl: write here (default stdout).")
    ] = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval", help="Score a labelled JSON Lines file.")
    ] = None,
    errors: Annotated[
        int, typer.Option("--errors", help="With --eval: list this many misclassified records.")
    ] = 0,
    platform: Annotated[
        Platform | None,
        typer.Option(
            "--platform",
            "-p",
            help="Where the text was posted (without it: read as a review of the business).",
        ),
    ] = None,
    brand: Annotated[
        str | None,
        typer.Option(
            "--brand",
            "-b",
            help="The brand the text is about (a post given none needs a configured brand or a word of "
            "a purchase or service to be a complaint).",
        ),
    ] = None,
    followers: Annotated[int, typer.Option("--followers", min=0)] = 0,
    likes: Annotated[int, typer.Option("--likes", min=0)] = 0,
    comments: Annotated[int, typer.Option("--comments", min=0)] = 0,
    shares: Annotated[int, typer.Option("--shares", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
) -> None:
    """Analyse a text (sentiment, complaint, category, urgency, risk, reasons), a file, or score labels."""
    chosen = [x is not None for x in (text, jsonl, eval_file)]
    if sum(chosen) != 1:
        raise AnalyzeError('give exactly one of: "文本", --jsonl FILE, --eval FILE')
    _configure(ctx)
    if eval_file is not None:
        _run_eval(eval_file, errors)
    elif jsonl is not None:
        _run_jsonl(jsonl, out)
    else:
        _run_text(
            text or "",
            platform=platform,
            brand=brand,
            followers=followers,
            likes=likes,
            comments=comments,
            shares=shares,
            as_json=as_json,
        )


def _run_text(text: str, *, as_json: bool, **kw: Any) -> None:
    import sentiment

    a = sentiment.analyze(text, **kw)
    if as_json:
        typer.echo(json.dumps(a.to_json(), ensure_ascii=False))
        return
    table = Table(show_header=False, box=None)
    verdict = f"是 · {a.category} · {a.urgency}" if a.is_complaint else "否"
    for key, value in (
        ("投诉", verdict),
        ("风险", str(a.risk)),
        ("情感(正面概率)", f"{a.sentiment:.3f}"),
        ("依据", "；".join(a.reasons) or "—"),
        ("脱敏文本", a.masked_text),
        ("分词", a.tokens),
        ("指纹", str(a.fingerprint)),
        ("模型", a.model_version),
    ):
        table.add_row(f"[bold]{key}[/]", value)
    console.print(table, highlight=False, markup=True)


def _read(path: Path) -> list[dict[str, Any]]:
    from sentiment.evaluate import LabelledFileError, read_jsonl

    try:
        return read_jsonl(path)
    except LabelledFileError as exc:
        raise AnalyzeError(str(exc)) from exc


def _run_jsonl(path: Path, out: Path | None) -> None:
    from sentiment import analyze_many

    records = _read(path)
    analyses = analyze_many(records)
    lines = []
    for rec, a in zip(records, analyses, strict=True):
        row = {"id": rec.get("id"), **a.to_json()}
        lines.append(json.dumps(row, ensure_ascii=False))
    payload = "\n".join(lines) + ("\n" if lines else "")
    if out is None:
        sys.stdout.write(payload)
    else:
        out.write_text(payload, encoding="utf-8")
        console.print(f"[green]OK[/] {len(lines)} analyses → {out}", highlight=False)


def _run_eval(path: Path, errors: int) -> None:
    from sentiment.evaluate import evaluate

    records = _read(path)
    if not any("is_complaint" in r for r in records):
        raise AnalyzeError(f"{path}: no record has an is_complaint label")
    rep = evaluate(records)
    console.print(f"[bold]{path}[/]: {rep.n} labelled records", highlight=False)
    console.print(
        f"is_complaint  accuracy {rep.complaint.accuracy():.3f}  precision {rep.precision:.3f}  "
        f"recall {rep.recall:.3f}  F1 {rep.f1:.3f}",
        highlight=False,
    )
    console.print(
        f"category      accuracy {rep.category.accuracy():.3f}  (on labelled complaints)", highlight=False
    )
    console.print(
        f"urgency       accuracy {rep.urgency.accuracy():.3f}  (on labelled complaints)", highlight=False
    )
    for title, conf in (
        ("is_complaint", rep.complaint),
        ("category", rep.category),
        ("urgency", rep.urgency),
    ):
        table = Table(title=f"{title}: rows = label, columns = prediction", title_justify="left")
        table.add_column("", no_wrap=True, min_width=8)
        for lab in conf.labels:
            table.add_column(lab, justify="right", no_wrap=True, min_width=2 * len(lab))
        for lab, row in zip(conf.labels, conf.rows(), strict=True):
            if any(row) or lab in {g for g, _ in conf.counts}:
                table.add_row(lab, *[str(v) if v else "·" for v in row])
        console.print(table, width=max(console.width, 150))  # ten category columns: never squeeze
    for err in rep.errors[:errors]:
        console.print(json.dumps(err, ensure_ascii=False), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_command)
