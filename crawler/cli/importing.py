"""``yuqing import FILE...``: mentions from yuqing's format, MediaCrawler or weibo-crawler exports."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from crawler.cli._common import console, state
from crawler.errors import YuqingError


def _advance(bar: Progress, task: TaskID, done: int, total: int) -> None:
    """The importer's progress callback: ``done`` of ``total`` rows on ``task``'s bar."""
    bar.update(task, completed=done, total=total)


def import_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="JSON Lines, JSON or CSV files.", show_default=False)],
    brand: Annotated[
        str | None,
        typer.Option(
            "--brand",
            "-b",
            help="Brand of every row (default: the row's own, else the configured brand its text names).",
        ),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform", "-p", help="weibo, xiaohongshu, douyin or heimao (default: from the file)."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="auto, mention, mediacrawler or weibo-crawler.")
    ] = "auto",
    no_alerts: Annotated[
        bool,
        typer.Option(
            "--no-alerts", help="History: store and analyse only (no alerts, no complaint records)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import mentions from files (idempotent: a re-import updates); bad rows are listed by line and skipped."""
    from crawler.scraping.importer import FORMATS, PLATFORMS, import_file

    if fmt not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    if platform is not None and platform not in PLATFORMS:
        raise typer.BadParameter(f"one of {', '.join(PLATFORMS)}", param_hint="--platform")
    for f in files:
        if not f.is_file():
            raise YuqingError(f"{f}: no such file" if not f.exists() else f"{f}: not a file")
    st = state(ctx)
    cfg = st.config()
    if brand:
        cfg.brand(brand)
    engine = st.engine()
    reports = []
    for path in files:
        if as_json:
            rep = import_file(
                path, cfg, engine, fmt=fmt, platform=platform, brand=brand, alerts=not no_alerts
            )
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"importing {path.name}", total=None)
                rep = import_file(
                    path,
                    cfg,
                    engine,
                    fmt=fmt,
                    platform=platform,
                    brand=brand,
                    alerts=not no_alerts,
                    on_progress=partial(_advance, bar, task),
                )
        reports.append(rep)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in reports], ensure_ascii=False))
    else:
        table = Table(title="import")
        for col in (
            "file",
            "format",
            "platform",
            "rows",
            "stored",
            "new",
            "updated",
            "unchanged",
            "duplicates",
            "bad",
        ):
            table.add_column(col, justify="left" if col in ("file", "format", "platform") else "right")
        for r in reports:
            table.add_row(
                Text(Path(r.path).name),
                r.format,
                r.platform or "",
                str(r.rows),
                str(r.stored),
                str(r.new),
                str(r.updated),
                str(r.unchanged),
                str(r.duplicates),
                str(len(r.bad)),
            )
        console.print(table)
        for r in reports:
            for line, error in r.bad[:20]:
                console.print(Text(f"{Path(r.path).name}:{line}: skipped: {error}", style="yellow"))
            if len(r.bad) > 20:
                console.print(
                    Text(
                        f"{Path(r.path).name}: ... and {len(r.bad) - 20} more skipped rows (--json lists "
                        "them all)",
                        style="yellow",
                    )
                )
            if r.alerts and not no_alerts:
                console.print(
                    Text(
                        f"{Path(r.path).name}: triage {json.dumps(r.alerts, ensure_ascii=False)}", style="dim"
                    )
                )
    empty = [r.path for r in reports if not r.rows]
    failed = [r.path for r in reports if r.rows and not r.stored]
    if empty or failed:
        problems = []
        if empty:
            problems.append(
                "no records found in " + ", ".join(empty) + " (empty, a header only, or not an export)"
            )
        if failed:
            problems.append("nothing could be imported from " + ", ".join(failed))
        raise YuqingError("; ".join(problems))


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
