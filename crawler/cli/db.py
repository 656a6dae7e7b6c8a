"""``yuqing db``: migrate the database and show its state."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import func, select

from crawler.cli._common import console, state

db_app = typer.Typer(help="Database migrations and status.", no_args_is_help=True)
_JSON = typer.Option("--json", help="Print JSON.")


@db_app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, as_json: Annotated[bool, _JSON] = False) -> None:
    """Create or migrate the database to the newest schema."""
    from crawler.storage.engine import current_revision, head_revision, safe_url

    st = state(ctx)
    engine = st.engine(migrate=True)
    rev = current_revision(engine)
    if as_json:
        typer.echo(
            json.dumps({"database": safe_url(str(engine.url)), "revision": rev, "head": head_revision()})
        )
        return
    console.print(
        f"[green]OK[/] {safe_url(str(engine.url))} at revision {rev} (head {head_revision()})",
        highlight=False,
    )


@db_app.command("status")
def status_cmd(ctx: typer.Context, as_json: Annotated[bool, _JSON] = False) -> None:
    """Show the schema revision and row counts."""
    from rich.table import Table

    from crawler.storage.engine import current_revision, head_revision, safe_url
    from crawler.storage.models import ALL_TABLES, table_of

    st = state(ctx)
    engine = st.engine(migrate=False)
    rev, head = current_revision(engine), head_revision()
    counts: dict[str, int] = {}
    if rev is not None:
        with engine.connect() as conn:
            for model in ALL_TABLES:
                t = table_of(model)
                counts[t.name] = int(conn.execute(select(func.count()).select_from(t)).scalar_one())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "database": safe_url(str(engine.url)),
                    "revision": rev,
                    "head": head,
                    "migrated": rev == head,
                    "rows": counts,
                },
                ensure_ascii=False,
            )
        )
        return
    console.print(f"{safe_url(str(engine.url))}: revision {rev}, head {head}", highlight=False)
    if rev is None:
        console.print("[yellow]not migrated yet: run `yuqing db upgrade`[/]")
        return
    table = Table("table", "rows")
    for name, n in counts.items():
        table.add_row(name, str(n))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
