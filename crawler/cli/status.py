"""``yuqing status [--json]``: the service at a glance (see :mod:`crawler.service.status`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from crawler.cli._common import console, state

_STATUS_STYLE = {"ok": "green", "partial": "yellow", "failed": "red", "timeout": "red", "killed": "yellow"}


def _crawls_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("platform", "brand", "last run", "finished", "items", "new", "error", title="crawls")
    for r in rows:
        st = r["last_status"] or "never"
        shown = f"[{_STATUS_STYLE.get(st, 'dim')}]{st}[/]" + (" [cyan](running)[/]" if r["running"] else "")
        table.add_row(
            r["platform"],
            escape(r["brand"]),
            shown,
            r["last_finished"] or "-",
            str(r["items"] if r["items"] is not None else "-"),
            str(r["new"] if r["new"] is not None else "-"),
            r["error_kind"] or "",
        )
    return table


def _jobs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("job", "name", "trigger", "next run", title="jobs")
    for j in rows:
        table.add_row(
            escape(j["id"]), escape(j["name"] or ""), j["trigger"], j["next_run"] or "[yellow]paused[/]"
        )
    return table


def render(status: dict[str, Any]) -> None:
    sched = status["scheduler"]
    if sched["active"]:
        console.print(
            f"[green]scheduler active[/] ({escape(sched['owner'])}, since {sched['since']}), "
            f"mode {status['mode']}",
            highlight=False,
        )
    else:
        console.print(
            f"[red]no scheduler running[/] (start `yuqing run`), mode {status['mode']}", highlight=False
        )
    if status["jobs"]:
        console.print(_jobs_table(status["jobs"]))
    else:
        console.print("jobs: none yet (`yuqing run` creates them from the config)")
    console.print(_crawls_table(status["crawls"]))
    alerts = status["alerts"]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(alerts["open_by_kind"].items())) or "none"
    console.print(
        f"open alerts: {alerts['open']} ({kinds}); undelivered: {alerts['undelivered']}", highlight=False
    )
    for a in alerts["latest"]:
        console.print(f"  #{a['id']} {escape('[' + a['kind'] + ']')} {escape(a['title'])}", highlight=False)
    overdue = status["overdue_complaints"]
    console.print(f"overdue complaints: {len(overdue)}", style="red" if overdue else None, highlight=False)
    for c in overdue[:10]:
        console.print(
            f"  {c['number']} {escape(c['brand'])} {c['urgency']} {c['status']} "
            f"{escape(c['assignee'] or '-')} overdue: {', '.join(c['overdue'])}",
            highlight=False,
        )
    health = status["health"]
    console.print(
        f"open health incidents: {len(health)}", style="red" if health else "green", highlight=False
    )
    for h in health:
        where = " · ".join(x for x in (h["platform"], h["brand"]) if x) or "service"
        console.print(
            f"  {escape('[' + h['kind'] + ']')} {escape(where)}: {escape(h['message'])}\n"
            f"    fix: {escape(h['fix'] or '')}",
            highlight=False,
        )
    if "queue" in status:
        q = status["queue"]
        console.print(
            f"task queue: {q['pending']} pending, {q['inflight']} running, workers {q['workers']}",
            highlight=False,
        )


def status_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Each job's next run, the last crawl per platform and brand, open alerts, overdue complaints, health."""
    from crawler.service.status import collect_status
    from crawler.storage.engine import read_only_reason

    st = state(ctx)
    engine = st.engine()
    if read_only_reason(engine) is None:  # a read-only file is only shown, never swept
        from crawler.cli.crawl import _close_stale_runs

        _close_stale_runs(st)
    status = collect_status(engine, st.config())
    if as_json:
        typer.echo(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        render(status)


def register(app: typer.Typer) -> None:
    app.command("status")(status_cmd)
