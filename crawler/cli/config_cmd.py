"""``yuqing config check``: validate the config file and show what was loaded, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.syntax import Syntax

from crawler.cli._common import console, state

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("check")
def check(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("--config", "-c", help="Config file to check.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the redacted config as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict.")] = False,
) -> None:
    """Validate the config file; print one line per problem, or a redacted view of what was loaded."""
    from crawler.config import load_config

    st = state(ctx)
    cfg = load_config(config or st.config_path)
    view = cfg.redacted()
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2, default=str))
        return
    if not quiet:
        console.print(
            Syntax(
                json.dumps(view, ensure_ascii=False, indent=2, default=str),
                "json",
                theme="ansi_dark",
                word_wrap=True,
            )
        )
    enabled = ", ".join(cfg.platforms.enabled()) or "none"
    console.print(
        f"[green]OK[/] {cfg.source}: {len(cfg.brands)} brand(s), platforms: {enabled}, "
        f"{len(cfg.alerts.channels)} channel(s), {len(cfg.alerts.rules)} rule(s)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
