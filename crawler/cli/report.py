"""``yuqing report daily|weekly``: write the report (HTML, PDF, XLSX) and optionally send it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli._choices import REPORT_FORMATS, ReportKind, comma_choice
from crawler.cli._common import console, state


def report_cmd(
    ctx: typer.Context,
    kind: Annotated[
        ReportKind,
        typer.Argument(help="daily (yesterday) or weekly (last Monday–Sunday).", show_default=False),
    ],
    brand: Annotated[
        str | None, typer.Option("--brand", "-b", help="One brand (default: all brands together).")
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="Repeatable; default [reports].formats.",
            **comma_choice(REPORT_FORMATS, "report format"),
        ),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="The day (daily) or a day of the week (weekly), e.g. 2026-11-20."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--output-dir", "-o", help="Folder to write the files into (default [reports].output_dir)."
        ),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Queue the summary to [reports].channels (chat, e-mail).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the files written (and the queued alert) as JSON.")
    ] = False,
) -> None:
    """Write a daily or weekly report."""
    from crawler.analytics import search_index
    from crawler.analytics.reports import KIND_NAMES, build_report, output_dir, send_report, write_report
    from crawler.errors import ConfigError, YuqingError

    if kind not in KIND_NAMES:
        raise YuqingError(f"unknown report {kind!r}: use daily or weekly")
    if out is not None and out.exists() and not out.is_dir():
        raise YuqingError(
            f"--output-dir {out} is a file: give a folder (the report writes one file per format)"
        )
    st = state(ctx)
    cfg = st.config()
    formats: list[str] = [f for value in fmt for f in value.split(",")] if fmt else list(cfg.reports.formats)
    if bad := [f for f in formats if f not in ("html", "pdf", "xlsx")]:
        raise YuqingError(f"unknown --format {bad[0]!r}: use html, pdf or xlsx")
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise YuqingError(f"--date {day!r} is not a date like 2026-11-20") from exc
    if send and not cfg.reports.channels:
        raise ConfigError(
            "--send needs channels in reports.channels", path=cfg.source, key="reports.channels"
        )
    search_index.configure(cfg)
    name = cfg.brand(brand).name if brand else None
    with st.engine().begin() as conn:
        data = build_report(conn, cfg, kind, brand=name, day=when)
        paths = write_report(data, formats, out or output_dir(cfg))
        alert_id = send_report(conn, cfg, data) if send else None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "kind": kind,
                    "brand": name,
                    "period": data.period.label,
                    "files": [str(p) for p in paths],
                    "queued_alert": alert_id if send else None,
                },
                ensure_ascii=False,
            )
        )
        return
    for p in paths:
        console.print(f"[green]OK[/] {p}", highlight=False)
    if send:
        console.print("已加入发送队列" if alert_id else "该报告已发送过（未重复发送）", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
