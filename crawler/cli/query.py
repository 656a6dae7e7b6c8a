"""``yuqing query``: filter and search mentions; print a table, JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from loguru import logger

from crawler.cli._analyst import authorise_unmasked, make_filter
from crawler.cli._choices import (
    CATEGORIES,
    KINDS,
    PLATFORMS,
    URGENCIES,
    Order,
    QueryFormat,
    Sentiment,
    comma_choice,
)
from crawler.cli._common import console, state

Multi = list[str] | None


def _json_default(value: Any) -> Any:

    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _table(rows: list[dict[str, Any]], tz: str) -> None:
    from rich.table import Table
    from rich.text import Text

    from crawler.analytics.export import _local
    from crawler.analytics.query import sentiment_label
    from crawler.config import PLATFORM_NAMES

    table = Table(show_lines=False, expand=True)
    for col, kw in (
        ("ID", {"justify": "right"}),
        ("时间", {}),
        ("平台", {}),
        ("作者", {"max_width": 14}),
        ("情感", {}),
        ("类别", {}),
        ("紧急", {}),
        ("风险", {"justify": "right"}),
        ("内容", {"ratio": 1, "min_width": 24, "overflow": "fold"}),
    ):
        table.add_column(col, **kw)
    for r in rows:
        when = _local(r["published_at"], tz)
        table.add_row(
            str(r["id"]),
            when.strftime("%m-%d %H:%M") if when else "",
            PLATFORM_NAMES.get(r["platform"], r["platform"]),
            Text(r["author_name"] or ""),
            sentiment_label(r["sentiment"]),
            r["category"] or "",
            r["urgency"] or "",
            "" if r["risk"] is None else str(r["risk"]),
            Text(r["text"] or ""),
        )
    console.print(table)


def query_cmd(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help='Full-text search: words ANDed, OR, -word, "phrase", prefix*', show_default=False
        ),
    ] = None,
    brand: Annotated[str | None, typer.Option("--brand", "-b", help="Brand name or alias.")] = None,
    platform: Annotated[
        Multi,
        typer.Option(
            "--platform",
            "-p",
            help="Platforms (repeatable or comma-separated).",
            **comma_choice(PLATFORMS, "platform"),
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="24h, 7d, 2026-11-01 or an ISO time.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End (exclusive); a date means through that day.")
    ] = None,
    sentiment: Annotated[
        Sentiment | None, typer.Option("--sentiment", help="Sentiment of the mention.")
    ] = None,
    complaint: Annotated[
        bool | None, typer.Option("--complaint/--no-complaint", help="Only (non-)complaints.")
    ] = None,
    category: Annotated[
        Multi,
        typer.Option(
            "--category",
            help="Complaint categories (repeatable or comma-separated).",
            **comma_choice(CATEGORIES, "category"),
        ),
    ] = None,
    urgency: Annotated[
        Multi,
        typer.Option(
            "--urgency",
            "-u",
            help="Urgencies (repeatable or comma-separated).",
            **comma_choice(URGENCIES, "urgency"),
        ),
    ] = None,
    min_risk: Annotated[int | None, typer.Option("--min-risk", min=0, max=100)] = None,
    max_risk: Annotated[int | None, typer.Option("--max-risk", min=0, max=100)] = None,
    region: Annotated[Multi, typer.Option("--region", help="IP region, e.g. 广东.")] = None,
    author: Annotated[str | None, typer.Option("--author", help="Author id or exact name.")] = None,
    event: Annotated[int | None, typer.Option("--event", min=1, help="Event id.")] = None,
    kind: Annotated[
        Multi,
        typer.Option(
            "--kind", help="Mention kinds (repeatable or comma-separated).", **comma_choice(KINDS, "kind")
        ),
    ] = None,
    order: Annotated[Order, typer.Option("--order", help="Sort order.")] = "newest",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    fmt: Annotated[
        QueryFormat, typer.Option("--format", "-f", help="table, json (JSON lines) or csv.")
    ] = "table",
    count: Annotated[bool, typer.Option("--count", help="Only print how many mentions match.")] = False,
    unmasked: Annotated[bool, typer.Option("--unmasked", help="Show PII (needs a handler token).")] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Handler token (prefer $YUQING_API_TOKEN).")
    ] = None,
    hot: Annotated[
        bool,
        typer.Option(
            "--hot",
            help="List the brands' hot-list appearances instead (--brand, --since, --limit, --format apply).",
        ),
    ] = False,
) -> None:
    """Search and slice the mention database."""
    from crawler.analytics import search_index
    from crawler.analytics.query import count_mentions, find_mentions

    st = state(ctx)
    cfg = st.config()
    if hot:
        _hot(st, cfg, brand=brand, since=since, limit=limit, fmt=fmt)
        return
    actor = authorise_unmasked(cfg, token) if unmasked else None
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
        kinds=kind,
        q=" ".join(words) if words else None,
    )
    with st.engine().connect() as conn:
        if count:
            console.print(str(count_mentions(conn, f)), highlight=False)
            return
        rows, more = find_mentions(
            conn,
            f,
            order=order,
            limit=limit,
            offset=offset,
            unmasked=unmasked,
        )
    if actor:
        logger.warning("unmasked query by {actor}: {n} rows", actor=actor, n=len(rows))
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n")
    elif fmt == "csv":
        from crawler.analytics.export import records_csv

        sys.stdout.write(records_csv(rows, tz=cfg.scheduler.timezone))
    else:
        _table(rows, cfg.scheduler.timezone)
        console.print(f"[dim]{len(rows)} 条{'，还有更多 (--offset)' if more else ''}[/]", highlight=False)


def _hot(st: Any, cfg: Any, *, brand: str | None, since: str | None, limit: int, fmt: str) -> None:
    """``yuqing query --hot``: brand topics seen on hot lists, most recent first."""
    from rich.table import Table
    from rich.text import Text

    from crawler.analytics.export import _local
    from crawler.analytics.spread import hot_topics
    from crawler.cli._analyst import make_filter

    f = make_filter(cfg, brand=brand, since=since)
    with st.engine().connect() as conn:
        rows = hot_topics(conn, brand=f.brand, since=f.since, limit=limit)
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n")
        return
    if fmt == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(
            ["平台", "话题", "品牌", "首次上榜", "首次排名", "最高排名", "当前排名", "标签", "事件", "链接"]
        )
        for r in rows:
            first = _local(r["first_seen_at"], cfg.scheduler.timezone)
            out.writerow(
                [
                    r["platform"],
                    r["word"],
                    r["brand"],
                    first.isoformat() if first else "",
                    r["first_rank"],
                    r["best_rank"],
                    r["last_rank"] or "",
                    "/".join(r["labels"] or []),
                    r["event_id"] or "",
                    r["search_url"] or "",
                ]
            )
        return
    table = Table(expand=True)
    for col in ("热榜", "话题", "品牌", "首次上榜", "首次", "最高", "当前", "标签", "事件"):
        table.add_column(col)
    for r in rows:
        first = _local(r["first_seen_at"], cfg.scheduler.timezone)
        table.add_row(
            "微博热搜" if r["platform"] == "weibo" else "抖音热榜",
            Text(r["word"]),
            r["brand"],
            first.strftime("%m-%d %H:%M") if first else "",
            str(r["first_rank"]),
            str(r["best_rank"]),
            str(r["last_rank"]) if r["last_rank"] else "已下榜",
            "/".join(r["labels"] or []),
            f"#{r['event_id']}" if r["event_id"] else "",
        )
    console.print(table)
    console.print(f"[dim]{len(rows)} 个热榜话题[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("query")(query_cmd)
