"""``yuqing complaints``: list, show, assign, change status, add notes, export and SLA sweep."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from crawler.cli._choices import (
    COMPLAINT_STATUSES,
    Category,
    ComplaintExportFormat,
    ComplaintStatus,
    Urgency,
    comma_choice,
)
from crawler.cli._common import console, state

complaints_app = typer.Typer(
    help="Complaint records (客诉登记): list, handle, export, SLA sweep.", no_args_is_help=True
)

ACTIONS = {
    "registered": "登记",
    "status": "状态",
    "assign": "分派",
    "note": "备注",
    "answer": "答复",
    "urgency": "紧急程度",
    "merged": "并入",
    "group": "群体投诉",
    "reported": "上报",
    "sla_warning": "即将超时",
    "breach": "超时",
    "escalate": "升级",
    "callback_due": "回访到期",
}
_OUTPUT_OPT = typer.Option(..., "--output", "-o", help="File to write (.csv, .xlsx or .json).")
_LABELS_OPT = typer.Option(..., "--output", "-o", help="JSON Lines file to write (RUBRIC record format).")
_STATUS_OPT = typer.Option(
    None,
    "--status",
    help="Only records in these statuses (repeatable or comma-separated).",
    **comma_choice(COMPLAINT_STATUSES, "complaint status"),
)
_JSON_OPT = typer.Option(False, "--json", help="Print the record as JSON.")


def _actor(value: str | None) -> str:
    if value:
        return value
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _tz(ctx: typer.Context) -> ZoneInfo:
    return ZoneInfo(state(ctx).config().scheduler.timezone)


def _t(value: Any, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%m-%d %H:%M") if value is not None else "-"


def _statuses(values: list[str] | None) -> tuple[str, ...]:
    return tuple(s for v in values or () for s in v.split(","))


def _jsonable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rec.items()}


def _sla_cell(rec: dict[str, Any], tz: ZoneInfo) -> str:
    from alerts.complaints.sla import milestone_status
    from crawler.clock import utcnow

    status = milestone_status(rec, utcnow(), 30)
    marks = {"overdue": "[red]超时[/]", "due_soon": "[yellow]将到期[/]"}
    parts = [f"{ms} {marks[st]}" for ms, st in status.items() if st in marks]
    if parts:
        return " ".join(parts)
    return f"处理时限 {_t(rec.get('due_resolve_at'), tz)}"


@complaints_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: list[str] = _STATUS_OPT,
    team: str | None = typer.Option(None, "--team", help="Only this team."),
    brand: str | None = typer.Option(None, "--brand", help="Only this brand."),
    assignee: str | None = typer.Option(None, "--assignee"),
    urgency: Annotated[Urgency | None, typer.Option("--urgency", "-u", help="Only this urgency.")] = None,
    overdue: bool = typer.Option(False, "--overdue", help="Only records with a missed SLA deadline."),
    due_soon: int | None = typer.Option(
        None, "--due-soon", metavar="MINUTES", help="Only records with a deadline within MINUTES."
    ),
    event: int | None = typer.Option(
        None, "--event", min=1, help="Only the records of this event (a 群体投诉)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List complaint records, newest first: one line per record, +N = mentions joined to it."""
    from crawler.analytics.complaints import list_records

    tz = _tz(ctx)
    with state(ctx).engine().connect() as conn:
        rows = list_records(
            conn,
            status=_statuses(status),
            team=team,
            brand=brand,
            assignee=assignee,
            urgency=urgency,
            overdue=overdue,
            due_soon_minutes=due_soon,
            event_id=event,
            limit=limit,
        )
    if as_json:
        for r in rows:
            typer.echo(json.dumps(_jsonable(r), ensure_ascii=False))
        return
    table = Table(
        "编号",
        "关联",
        "品牌",
        "平台",
        "类别",
        "紧急",
        "状态",
        "团队/负责人",
        "登记",
        "SLA",
        title=f"{len(rows)} 条客诉",
    )
    for r in rows:
        tags = " ".join(f"[magenta]{escape(t)}[/]" for t in r.get("tags") or [])
        table.add_row(
            f"{r['number']} {tags}".strip(),
            f"+{r['linked']}" if r["linked"] else "-",
            escape(r["brand"]),
            r["platform"],
            r["category"] or "-",
            r["urgency"],
            r["status"],
            escape(" / ".join(x for x in (r["team"], r["assignee"]) if x) or "-"),
            _t(r["registered_at"], tz),
            _sla_cell(r, tz),
        )
    console.print(table)


def _spread_line(st: dict[str, Any] | None) -> str:
    """Count and spread of a record's mentions, in Chinese."""
    from crawler.analytics.complaints import RELATION_NAMES
    from crawler.config import PLATFORM_NAMES

    if not st:
        return "-"
    kinds = "、".join(
        f"{RELATION_NAMES.get(k, k)} {n}" for k, n in sorted(st["relations"].items(), key=lambda kv: -kv[1])
    )
    where = "、".join(
        f"{PLATFORM_NAMES.get(p, p)} {n}" for p, n in sorted(st["platforms"].items(), key=lambda kv: -kv[1])
    )
    return (
        f"{st['mentions']} 条（{kinds}）；平台 {where}；合计互动 {st['engagement']}；"
        f"作者粉丝合计 {st['followers']}（最大 {st['max_followers']}）"
    )


SHOW_LINKS = 20


def _linked_mentions(conn: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Platform, author, engagement and a masked excerpt of each mention in ``ids``."""

    from alerts.delivery.payloads import masked_excerpt
    from crawler.storage.models import MENTIONS

    if not ids:
        return {}
    c = MENTIONS.c
    rows = conn.execute(
        select(c.id, c.platform, c.author_name, c.text, c.masked_text, c.likes, c.comments, c.shares).where(
            c.id.in_(ids)
        )
    ).mappings()
    return {
        r["id"]: {
            "platform": r["platform"],
            "author_name": r["author_name"],
            "engagement": int(r["likes"] or 0) + int(r["comments"] or 0) + int(r["shares"] or 0),
            "excerpt": masked_excerpt(dict(r), 40),
        }
        for r in rows
    }


@complaints_app.command("show")
def show_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Record number (TS...) or id."),
    as_json: bool = _JSON_OPT,
) -> None:
    """Show one record: customer, deadlines, source mentions and its full history."""
    from alerts.complaints import records as complaints
    from crawler.analytics.complaints import RELATION_NAMES, event_records, link_stats

    tz = _tz(ctx)
    with state(ctx).engine().connect() as conn:
        rec = complaints.get(conn, key)
        hist = complaints.history(conn, rec["id"])
        links = complaints.links(conn, rec["id"])
        stats = link_stats(conn, [rec["id"]]).get(rec["id"])
        group = event_records(conn, [rec["event_id"]]).get(rec["event_id"], []) if rec["event_id"] else []
        shown = _linked_mentions(conn, [x["mention_id"] for x in links[:SHOW_LINKS]])
    if as_json:
        typer.echo(
            json.dumps(
                {
                    **_jsonable(rec),
                    "mention_ids": [x["mention_id"] for x in links],
                    "links": [_jsonable(x) for x in links],
                    "spread": stats,
                    "event_records": [_jsonable(g) for g in group] if group else [],
                    "history": [_jsonable(h) for h in hist],
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
        return
    fields = [
        ("编号", rec["number"]),
        ("品牌", rec["brand"]),
        ("平台", rec["platform"]),
        (
            "客户",
            f"{rec['customer_name'] or '-'} ({rec['customer_platform'] or '-'}:{rec['customer_id'] or '-'})",
        ),
        ("客户标签", "、".join(rec["customer_tags"] or []) or "-"),
        ("类别", rec["category"]),
        ("紧急程度", rec["urgency"]),
        ("风险", str(rec["risk"])),
        ("原因", "；".join(rec["reasons"] or []) or "-"),
        ("状态", rec["status"]),
        ("团队/负责人", f"{rec['team'] or '-'} / {rec['assignee'] or '-'}"),
        ("摘要", rec["summary"]),
        ("登记", _t(rec["registered_at"], tz)),
        (
            "登记耗时",
            f"{rec['registration_latency_s']:.1f} 秒" if rec["registration_latency_s"] is not None else "-",
        ),
        ("上报时限", _t(rec["due_report_at"], tz)),
        ("初核时限", _t(rec["due_first_check_at"], tz)),
        ("答复时限", _t(rec["due_answer_at"], tz)),
        ("处理时限", _t(rec["due_resolve_at"], tz)),
        ("回访时限", _t(rec["callback_due_at"], tz)),
        ("升级级别", str(rec["escalation_level"])),
        ("标签", "、".join(rec.get("tags") or []) or "-"),
        ("关联提及", f"+{max(0, len(links) - 1)}；{_spread_line(stats)}"),
    ]
    if len(group) > 1 or "群体投诉" in (rec.get("tags") or []):
        fields.append(
            (
                "同一事件",
                f"事件 #{rec['event_id']} 共 {len(group)} 张客诉单："
                + "、".join(f"{g['number']}（{g['status']}）" for g in group[:20])
                + ("…" if len(group) > 20 else ""),
            )
        )
    for label, value in fields:
        console.print(f"[bold]{label}[/]: {escape(str(value))}", highlight=False)
    console.print(f"[bold]关联帖子[/]（{len(links)} 条）", highlight=False)
    for link in links[:SHOW_LINKS]:
        m = shown.get(link["mention_id"], {})
        who = " · ".join(
            str(x) for x in (m.get("platform"), m.get("author_name"), f"互动 {m.get('engagement', 0)}") if x
        )
        line = (
            f"#{link['mention_id']} {RELATION_NAMES.get(link['relation'] or 'source', link['relation'])} "
            f"[{who}] {m.get('excerpt', '')} — {link['note'] or ''}"
        )
        console.print(f"  {escape(line)}", highlight=False)
    if len(links) > SHOW_LINKS:
        console.print(
            f"  …另有 {len(links) - SHOW_LINKS} 条（yuqing complaints show --json 或看板查看）",
            highlight=False,
        )
    console.print("[bold]处理记录[/]", highlight=False)
    for h in hist:
        change = f"{h['field']}: {h['old'] or '-'} → {h['new'] or '-'}" if h["field"] else ""
        line = "  ".join(
            x
            for x in (
                _t(h["at"], tz),
                h["actor"],
                ACTIONS.get(h["action"], h["action"]),
                change,
                h["note"] or "",
            )
            if x
        )
        console.print(f"  {escape(line)}", highlight=False)


@complaints_app.command("assign")
def assign_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Record number or id."),
    assignee: str | None = typer.Option(None, "--assignee", "-a"),
    team: str | None = typer.Option(None, "--team", "-t"),
    note: str | None = typer.Option(None, "--note"),
    actor: str | None = typer.Option(None, "--actor", help="Who does this (default: cli:<user>)."),
) -> None:
    """Assign a record to a person and/or team."""
    from alerts.complaints import records as complaints

    with state(ctx).engine().begin() as conn:
        rec = complaints.assign(conn, key, assignee=assignee, team=team, actor=_actor(actor), note=note)
    console.print(
        f"[green]OK[/] {rec['number']} → {escape(rec['team'] or '-')} / {escape(rec['assignee'] or '-')}",
        highlight=False,
    )


@complaints_app.command("status")
def status_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Record number or id.", show_default=False)],
    new_status: Annotated[
        ComplaintStatus,
        typer.Argument(help="The new status (the workflow decides which are allowed).", show_default=False),
    ],
    note: str | None = typer.Option(None, "--note", "-m"),
    actor: str | None = typer.Option(None, "--actor"),
    as_json: bool = _JSON_OPT,
) -> None:
    """Move a record to a new status (the workflow is validated; history is kept)."""
    from alerts.complaints import records as complaints

    with state(ctx).engine().begin() as conn:
        rec = complaints.change_status(conn, key, new_status, actor=_actor(actor), note=note)
    if as_json:
        typer.echo(json.dumps(_jsonable(rec), ensure_ascii=False))
        return
    extra = f"，回访时限 {_t(rec['callback_due_at'], _tz(ctx))}" if rec["callback_due_at"] else ""
    console.print(f"[green]OK[/] {rec['number']}: {rec['status']}{extra}", highlight=False)


@complaints_app.command("note")
def note_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Record number or id."),
    text: str = typer.Argument(..., help="The note."),
    answer: bool = typer.Option(False, "--answer", help="This note is the answer given to the customer."),
    actor: str | None = typer.Option(None, "--actor"),
) -> None:
    """Add a note (or the answer to the customer) to a record's history."""
    from alerts.complaints import records as complaints

    with state(ctx).engine().begin() as conn:
        rec = complaints.add_note(conn, key, actor=_actor(actor), note=text, answer=answer)
    console.print(
        f"[green]OK[/] {rec['number']}：{'已记录答复' if answer else '已添加备注'}", highlight=False
    )


@complaints_app.command("verdict")
def verdict_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Record number or id."),
    not_complaint: bool = typer.Option(
        False, "--not-complaint", help="误报: the mentions are not a complaint (an open record is closed)."
    ),
    category: Annotated[Category | None, typer.Option("--category", help="The correct category.")] = None,
    urgency: Annotated[
        Urgency | None, typer.Option("--urgency", help="The correct urgency (the SLA deadlines follow it).")
    ] = None,
    note: str | None = typer.Option(None, "--note"),
    actor: str | None = typer.Option(None, "--actor"),
) -> None:
    """Correct the model's verdict: mark 误报, fix the category or the urgency (each becomes a training label)."""
    from alerts.complaints import records as complaints

    st = state(ctx)
    cfg = st.config()
    with st.engine().begin() as conn:
        rec = complaints.correct_verdict(
            conn,
            key,
            actor=_actor(actor),
            not_complaint=not_complaint,
            category=category,
            urgency=urgency,
            cfg=cfg,
            note=note,
        )
    what = ["已标记为误报"] if not_complaint else []
    if category is not None:
        what.append(f"类别 {rec['category']}")
    if urgency is not None:
        tz = ZoneInfo(cfg.scheduler.timezone)
        what.append(
            f"紧急程度 {rec['urgency']}（时限按登记时间重算：上报 {_t(rec['due_report_at'], tz)}，"
            f"答复 {_t(rec['due_answer_at'], tz)}，处理 {_t(rec['due_resolve_at'], tz)}）"
        )
    console.print(f"[green]OK[/] {rec['number']}：{'；'.join(what)}（状态 {rec['status']}）", highlight=False)


@complaints_app.command("export-labels")
def export_labels_cmd(
    ctx: typer.Context,
    output: Path = _LABELS_OPT,
) -> None:
    """Write the corrected verdicts (误报, category and urgency fixes) as training labels for 'yuqing train --data'."""
    from alerts.complaints import records as complaints

    with state(ctx).engine().connect() as conn:
        labels = complaints.training_labels(conn)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in labels:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(output)
    negatives = sum(1 for r in labels if not r["is_complaint"])
    console.print(
        f"[green]OK[/] {output}: {len(labels)} labelled mentions ({negatives} 误报, "
        f"{len(labels) - negatives} with a corrected category or urgency)",
        highlight=False,
    )


@complaints_app.command("export")
def export_cmd(
    ctx: typer.Context,
    output: Path = _OUTPUT_OPT,
    fmt: Annotated[
        ComplaintExportFormat | None, typer.Option("--format", "-f", help="Default: from the file name.")
    ] = None,
    status: list[str] = _STATUS_OPT,
    team: str | None = typer.Option(None, "--team"),
    brand: str | None = typer.Option(None, "--brand"),
    overdue: bool = typer.Option(False, "--overdue"),
    due_soon: int | None = typer.Option(None, "--due-soon", metavar="MINUTES"),
    limit: int = typer.Option(100_000, "--limit", min=1),
) -> None:
    """Export records (with the same filters as list)."""
    from crawler.analytics.complaints import export, list_records
    from crawler.errors import YuqingError

    kind = (fmt or output.suffix.lstrip(".")).lower()
    if kind not in ("csv", "xlsx", "json"):
        raise YuqingError(f"cannot tell the export format of {output.name!r}: use --format csv|xlsx|json")
    if output.is_dir():
        raise YuqingError(
            f"{output} is a folder: give the file to write, e.g. {output / ('complaints.' + kind)}"
        )
    with state(ctx).engine().connect() as conn:
        rows = list_records(
            conn,
            status=_statuses(status),
            team=team,
            brand=brand,
            overdue=overdue,
            due_soon_minutes=due_soon,
            limit=limit,
        )
    n = export(rows, output, kind, _tz(ctx))
    console.print(f"[green]OK[/] 已导出 {n} 条客诉 → {escape(str(output))}", highlight=False)


@complaints_app.command("sweep")
def sweep_cmd(
    ctx: typer.Context,
    loop: bool = typer.Option(False, "--loop", help="Keep sweeping every [scheduler].sweep_seconds."),
) -> None:
    """Check SLA deadlines now: warnings, breaches, escalations, callback reminders (each sent once)."""
    from alerts.complaints.sla import sweep

    st = state(ctx)
    cfg, engine = st.config(), st.engine()
    while True:
        stats = sweep(engine, cfg)
        console.print(" ".join(f"{k}={v}" for k, v in stats.as_dict().items()), highlight=False)
        if not loop:
            return
        time.sleep(cfg.scheduler.sweep_seconds)


def register(app: typer.Typer) -> None:
    app.add_typer(complaints_app, name="complaints")
