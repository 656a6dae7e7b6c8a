"""``yuqing config check``: validate the config file and show what was loaded, secrets masked;
``yuqing config init``: write the starter configuration (the one this repository runs with)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax

from crawler.cli._common import console, state

config_app = typer.Typer(help="Create or inspect the configuration.", no_args_is_help=True)
DEFAULT_PATH = "config/yuqing.toml"


@config_app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(help="Where to write it (default: --config, YUQING_CONFIG, else config/yuqing.toml)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter config: two example brands, the four platforms, two alert channels whose
    webhook URLs come from the environment. Edit [[brands]] first, then run 'yuqing config check'."""
    from rich.markup import escape

    from crawler.errors import YuqingError
    from crawler.paths import config_path, package_path

    target = Path(path) if path else config_path(state(ctx).config_path)  # where the commands will look
    if target.exists() and not force:
        raise YuqingError(f"{target} exists; not overwritten (--force to replace it)")
    if target.exists() and not target.is_file():
        raise YuqingError(f"{target} is not a file")
    template = package_path("crawler", "templates", "yuqing.toml").read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template, encoding="utf-8")
    console.print(
        f"[green]wrote[/] {escape(str(target))}: edit its \\[\\[brands]] (names, aliases, keywords), then "
        f"'yuqing config check'"
        + ("" if target == config_path(state(ctx).config_path) else f" (use --config {target})"),
        highlight=False,
    )


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
