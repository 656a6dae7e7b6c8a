"""``yuqing db``: migrate the database and show its state."""

from __future__ import annotations

import typer

from crawler.commands._common import console, state

db_app = typer.Typer(help="Database migrations and status.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Create or migrate the database to the newest schema."""
    from crawler.storage.engine import current_revision, head_revision, safe_url

    st = state(ctx)
    engine = st.engine(migrate=True)
    rev = current_revision(engine)
    console.print(f"[green]OK[/] {safe_url(str(engine.url))} at revision {rev} (head {head_revision()})",
                  highlight=False)


@db_app.command("status")
def status_cmd(ctx: typer.Context) -> None:
    """Show the schema revision and row counts."""
    from rich.table import Table
    from sqlalchemy import func, select

    from crawler.storage.engine import current_revision, head_revision, safe_url
    from crawler.storage.models import ALL_TABLES

    st = state(ctx)
    engine = st.engine(migrate=False)
    rev = current_revision(engine)
    console.print(f"{safe_url(str(engine.url))}: revision {rev}, head {head_revision()}", highlight=False)
    if rev is None:
        console.print("[yellow]not migrated yet: run `yuqing db upgrade`[/]")
        return
    table = Table("table", "rows")
    with engine.connect() as conn:
        for model in ALL_TABLES:
            t = model.__table__  # type: ignore[attr-defined]
            table.add_row(t.name, str(conn.execute(select(func.count()).select_from(t)).scalar_one()))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
