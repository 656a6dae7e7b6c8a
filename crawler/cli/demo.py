"""``yuqing demo``: run the whole product offline against the built-in platform simulator."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crawler.cli._choices import PLATFORMS, comma_choice
from crawler.cli._common import console, state


def _progress_table(progress: dict[tuple[str, str], dict[str, Any]]) -> Table:
    table = Table(title="crawling the simulator", show_edge=False)
    for col in ("platform", "brand", "state", "requests", "new", "updated", "time"):
        table.add_column(col)
    for (platform, brand), s in progress.items():
        table.add_row(
            platform,
            brand,
            str(s.get("status") or s.get("state", "waiting")),
            str(s.get("requests", 0)),
            str(s.get("new", 0)),
            str(s.get("updated", 0)),
            f"{s.get('elapsed', 0):.1f}s",
        )
    return table


def _totals_table(totals: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Crawls per platform")
    for col in ("platform", "status", "requests", "new", "updated", "same", "retries", "errors", "time"):
        table.add_column(col, justify="left" if col in ("platform", "status") else "right")
    for platform, t in totals.items():
        style = {"ok": "green", "partial": "yellow", "skipped": "yellow"}.get(t["status"], "red")
        table.add_row(
            platform,
            f"[{style}]{t['status']}[/]",
            *(str(t[k]) for k in ("requests", "new", "updated", "duplicate", "retries", "errors")),
            f"{t['seconds']:.1f}s",
        )
    return table


def demo_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed (the same seed, the same posts).")] = 7,
    platforms: Annotated[
        str | None,
        typer.Option(
            "--platforms",
            "-p",
            help="Comma-separated subset, e.g. weibo,heimao.",
            **comma_choice(PLATFORMS, "platform"),
        ),
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (default: the configured one).")
    ] = None,
) -> None:
    """Start the platform simulator, crawl every brand on every platform, show what was found."""
    from crawler.storage.engine import open_database, safe_url
    from simulator.demo.runner import platform_totals, run_demo

    st = state(ctx)
    cfg = st.config()
    url = database or cfg.database_url
    engine = open_database(url)
    from crawler.service.crawl_job import mark_stale_runs, stale_age

    # runs a killed demo left ``running`` are closed first, as ``yuqing crawl`` and ``status`` do
    mark_stale_runs(engine, older_than=stale_age(cfg))
    wanted = [p.strip() for p in platforms.split(",") if p.strip()] if platforms else None
    started = time.monotonic()
    progress: dict[tuple[str, str], dict[str, Any]] = {}
    if as_json:
        demo, sections = run_demo(cfg, engine, url, config_path=st.config_path, seed=seed, platforms=wanted)
    else:
        console.print(f"[bold]yuqing demo[/] — database {safe_url(url)}", highlight=False)
        with Live(_progress_table(progress), console=console, refresh_per_second=4, transient=True) as live:

            def show(job: tuple[str, str], s: dict[str, Any]) -> None:
                progress[job] = s
                live.update(_progress_table(progress))

            demo, sections = run_demo(
                cfg, engine, url, config_path=st.config_path, seed=seed, platforms=wanted, on_progress=show
            )
    totals = platform_totals(demo.crawls)
    for platform, reason in demo.skipped.items():
        totals[platform] = {
            "crawls": 0,
            "requests": 0,
            "pages": 0,
            "new": 0,
            "updated": 0,
            "duplicate": 0,
            "retries": 0,
            "errors": 0,
            "seconds": 0.0,
            "status": "skipped",
            "reason": reason,
        }
    elapsed = time.monotonic() - started
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "database": safe_url(url),
                    "seed": seed,
                    "seconds": round(elapsed, 2),
                    "platforms": totals,
                    "crawls": demo.crawls,
                    "skipped": demo.skipped,
                    "sections": {s.title: s.data for s in sections},
                },
                ensure_ascii=False,
                default=str,
            )
        )
        return
    console.print(_totals_table(totals))
    for platform, reason in demo.skipped.items():
        console.print(Text(f"{platform} skipped: {reason}", style="yellow"))
    for c in demo.crawls:
        if c.get("error_message"):
            console.print(
                Text(
                    f"{c['platform']} {c['brand']}: {c.get('error_kind')}: {c['error_message']}",
                    style="yellow",
                )
            )
    for section in sections:
        table = Table(title=section.title)
        for col in section.columns:
            table.add_column(col)
        for row in section.rows:
            table.add_row(*(Text(str(v)) for v in row))
        console.print(table)
        if section.note:
            console.print(Text(section.note, style="dim"))
    console.print(f"done in {elapsed:.1f}s — explore with `yuqing db status`", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
