"""``yuqing doctor``: check this machine and the config, print ✓/✗ with the fix for each (see :mod:`crawler.service.doctor`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from crawler.cli._common import console, state

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}


def doctor_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check Python and the install, the config, the database, Chromium, Redis, alert channels,
    login sessions and disk space; exit 1 when something the configured service needs is broken."""
    from crawler.service.doctor import run_checks

    checks = run_checks(state(ctx).config_path)
    broken = [c for c in checks if c.broken]
    if as_json:
        typer.echo(
            json.dumps(
                {"ok": not broken, "checks": [c.to_json() for c in checks]}, ensure_ascii=False, indent=1
            )
        )
    else:
        for c in checks:
            optional = "" if c.needed or c.status == "ok" else " (optional)"
            console.print(
                f"{MARKS[c.status]} {escape(c.name)}: {escape(c.detail)}{optional}", highlight=False
            )
            if c.fix and c.status != "ok":
                console.print(f"    fix: {escape(c.fix)}", highlight=False)
        verdict = (
            f"[red]{len(broken)} problem(s) to fix[/]"
            if broken
            else "[green]ready[/]" + (" (see the warnings)" if any(c.status != "ok" for c in checks) else "")
        )
        console.print(verdict, highlight=False)
    if broken:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)
