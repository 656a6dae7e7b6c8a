"""``yuqing crawl <platform> --brand NAME``: one crawl with a live progress line and a summary."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crawler.cli._choices import Platform
from crawler.cli._common import console, state
from crawler.errors import YuqingError

_FIELDS = ("requests", "pages", "items", "new", "updated", "duplicate", "retries")


def progress_line(s: dict[str, Any]) -> Text:
    """One line of live progress for a running crawl summary."""
    line = Text()
    line.append(f"{s.get('platform', '?')} ", style="bold cyan")
    line.append(f"{s.get('brand', '')} ", style="bold")
    line.append(" ".join(f"{k} {s.get(k, 0)}" for k in _FIELDS))
    line.append(f"  {s.get('elapsed', 0):.1f}s", style="dim")
    return line


def summary_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """Per crawl: status, requests, pages, new, updated, unchanged, retries, error, time."""
    table = Table(title=title, show_lines=False)
    for col in (
        "platform",
        "brand",
        "status",
        "requests",
        "pages",
        "new",
        "updated",
        "unchanged",
        "retries",
        "error",
        "time",
    ):
        table.add_column(col, justify="right" if col in _FIELDS or col in ("unchanged", "time") else "left")
    for s in rows:
        status = str(s.get("status", "?"))
        style = {"ok": "green", "partial": "yellow"}.get(status, "red")
        error = f"{s.get('error_kind')}" if s.get("error_kind") else ""
        table.add_row(
            s.get("platform", "?"),
            s.get("brand", ""),
            f"[{style}]{status}[/]",
            str(s.get("requests", 0)),
            str(s.get("pages", 0)),
            str(s.get("new", 0)),
            str(s.get("updated", 0)),
            str(s.get("duplicate", 0)),
            str(s.get("retries", 0)),
            Text(error),
            f"{s.get('elapsed', 0):.1f}s",
        )
    return table


def _parse_sets(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--set")
        out[key.strip()] = val
    return out


def crawl_cmd(
    ctx: typer.Context,
    platform: Annotated[Platform, typer.Argument(help="The platform to crawl.", show_default=False)],
    brand: Annotated[str, typer.Option("--brand", "-b", help="Brand name (or alias) from the config.")],
    keyword: Annotated[str | None, typer.Option("--keyword", "-k", help="Only this keyword.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1.0, help="Stop the crawl after SECONDS.")
    ] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", "-s", help="Scrapy setting KEY=VALUE.")] = None,
) -> None:
    """Run one crawl of PLATFORM for a brand and record it in crawl_runs."""
    from crawler.service.crawl_runner import run_crawl
    from spiders import SPIDERS

    st = state(ctx)
    cfg = st.config()
    if platform not in SPIDERS:
        raise YuqingError(f"no spider for platform {platform!r} (have: {', '.join(SPIDERS)})")
    brand_name = cfg.brand(brand).name
    overrides = _parse_sets(sets)
    st.writable_engine("crawl")
    _close_stale_runs(st)
    with _crawl_lease(st, platform, brand_name):
        if as_json:
            outcome = run_crawl(
                platform,
                brand,
                keyword=keyword,
                config_path=st.config_path,
                overrides=overrides,
                timeout=timeout,
            )
        else:
            with Live(
                Text(f"starting the {platform} crawl of {brand} ..."),
                console=console,
                transient=True,
                refresh_per_second=4,
            ) as live:
                outcome = run_crawl(
                    platform,
                    brand,
                    keyword=keyword,
                    config_path=st.config_path,
                    overrides=overrides,
                    timeout=timeout,
                    on_progress=lambda s: live.update(progress_line(s)),
                )
    summary = {
        "platform": platform,
        "brand": brand,
        **outcome.summary,
        # the crawl process has ended whatever its last progress note said ("running" when killed)
        "state": "finished" if outcome.summary.get("state") == "finished" else "ended",
        "status": outcome.status,
        "returncode": outcome.returncode,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        console.print(summary_table([summary]))
        if summary.get("error_message"):
            console.print(
                Text(
                    f"{summary.get('error_kind')}: {summary['error_message']}",
                    style="red" if outcome.status == "failed" else "yellow",
                )
            )
        if summary.get("log_tail"):
            console.print(Text(summary["log_tail"], style="dim"))
    if outcome.status in ("failed", "timeout") or outcome.returncode not in (0, 1):
        kind = summary.get("error_kind") or f"exit status {outcome.returncode}"
        raise YuqingError(f"the {platform} crawl of {brand} {outcome.status} ({kind})")


def _crawl_lease(st: Any, platform: str, brand: str) -> Any:
    """The (platform, brand) crawl lease the scheduler and workers also take: one crawl of a
    pair at a time, across processes and machines."""
    from crawler.storage.locks import Lease, crawl_lock_name, holder, new_owner

    engine = st.engine()
    name = crawl_lock_name(platform, brand)
    lease = Lease.acquire(
        engine, name, new_owner("crawl"), st.config().scheduler.lock_lease_seconds, note="manual crawl"
    )
    if lease is None:
        other = holder(engine, name)
        who = f"{other.owner} since {other.acquired_at:%Y-%m-%d %H:%M:%S} UTC" if other else "another process"
        raise YuqingError(
            f"a {platform} crawl of {brand} is already running ({who}); "
            "wait for it to end, or see 'yuqing status'"
        )
    return lease


def _close_stale_runs(st: Any) -> None:
    """Close ``running`` rows whose crawl process is gone (a kill -9), whoever looks first."""

    from crawler.service.crawl_job import mark_stale_runs, stale_age

    cfg = st.config()
    mark_stale_runs(st.engine(), older_than=stale_age(cfg))


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl_cmd)
