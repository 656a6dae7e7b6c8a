"""``yuqing export``: mentions to CSV (UTF-8 with BOM) or XLSX, PII masked unless a handler asks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from crawler.cli._analyst import authorise_unmasked, make_filter
from crawler.cli._choices import CATEGORIES, PLATFORMS, URGENCIES, ExportFormat, Sentiment, comma_choice
from crawler.cli._common import console, state

if TYPE_CHECKING:
    from crawler.analytics.export import Format

Multi = list[str] | None


def export_cmd(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Argument(help="File to write: .csv or .xlsx (the suffix picks the format).")
    ],
    text: Annotated[
        str | None, typer.Option("--search", help="Full-text search (as in yuqing query).")
    ] = None,
    brand: Annotated[str | None, typer.Option("--brand", "-b")] = None,
    platform: Annotated[
        Multi, typer.Option("--platform", "-p", **comma_choice(PLATFORMS, "platform"))
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="24h, 7d, 2026-11-01 or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option("--until")] = None,
    sentiment: Annotated[Sentiment | None, typer.Option("--sentiment")] = None,
    complaint: Annotated[bool | None, typer.Option("--complaint/--no-complaint")] = None,
    category: Annotated[Multi, typer.Option("--category", **comma_choice(CATEGORIES, "category"))] = None,
    urgency: Annotated[Multi, typer.Option("--urgency", "-u", **comma_choice(URGENCIES, "urgency"))] = None,
    min_risk: Annotated[int | None, typer.Option("--min-risk", min=0, max=100)] = None,
    max_risk: Annotated[int | None, typer.Option("--max-risk", min=0, max=100)] = None,
    region: Annotated[Multi, typer.Option("--region")] = None,
    author: Annotated[str | None, typer.Option("--author")] = None,
    event: Annotated[int | None, typer.Option("--event", min=1)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1_000_000)] = 100_000,
    fmt: Annotated[
        ExportFormat | None, typer.Option("--format", "-f", help="Default: from the suffix.")
    ] = None,
    unmasked: Annotated[bool, typer.Option("--unmasked", help="Export PII (needs a handler token).")] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Handler token (prefer $YUQING_API_TOKEN).")
    ] = None,
) -> None:
    """Export matching mentions for Excel."""
    from crawler.analytics import search_index
    from crawler.analytics.export import export_file
    from crawler.errors import YuqingError

    chosen = (fmt or output.suffix.lstrip(".") or "csv").lower()
    if chosen not in ("csv", "xlsx"):
        raise YuqingError(f"cannot export to {chosen!r}: use a .csv or .xlsx file (or --format)")
    if output.is_dir():
        raise YuqingError(
            f"{output} is a folder: give the file to write, e.g. {output / ('mentions.' + chosen)}"
        )
    st = state(ctx)
    cfg = st.config()
    actor = authorise_unmasked(cfg, token) if unmasked else "cli"
    search_index.configure(cfg)
    f = make_filter(
        cfg,
        brand=brand,
        platform=platform,
        since=since,
        until=until,
        sentiment=sentiment,
        complaint=complaint,
        categories=category,
        urgencies=urgency,
        min_risk=min_risk,
        max_risk=max_risk,
        regions=region,
        author=author,
        event_id=event,
        q=text,
    )
    with st.engine().connect() as conn:
        n = export_file(
            conn,
            f,
            output,
            fmt=cast("Format", chosen),  # csv or xlsx: checked above
            unmasked=unmasked,
            limit=limit,
            tz=cfg.scheduler.timezone,
            actor=actor,
        )
    masked = "未脱敏" if unmasked else "已脱敏"
    console.print(f"[green]OK[/] {n} 条提及 → {output}（{masked}）", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
