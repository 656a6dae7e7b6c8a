"""``yuqing alerts``: deliver the outbox, inspect and retry alerts, test a channel, run a local receiver."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import exists, func, select

from crawler.cli._choices import AlertKind, DeliveryStatus
from crawler.cli._common import console, state
from crawler.errors import ConfigError, YuqingError

alerts_app = typer.Typer(
    help="Alert outbox: dispatch, list, show, retry, test channels.", no_args_is_help=True
)

SAMPLE = {
    "kind": "mention",
    "brand": "示例品牌",
    "urgency": "紧急",
    "risk": 80,
    "reasons": ["这是一条测试消息"],
    "title": "yuqing 告警通道测试",
    "mention": {
        "platform": "weibo",
        "platform_name": "微博",
        "author_name": "测试账号",
        "author_followers": 12345,
        "text": "收到这条消息说明通道配置正确（签名、关键词、地址均有效）。",
        "likes": 1,
        "comments": 2,
        "shares": 3,
        "url": "https://m.weibo.cn/",
        "category": "其他",
    },
}


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%m-%d %H:%M:%S") if value else ""


@alerts_app.command("dispatch")
def dispatch_cmd(
    ctx: typer.Context,
    loop: Annotated[bool, typer.Option("--loop", help="Keep dispatching until interrupted.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Idle wait between passes (seconds).")
    ] = 0.5,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Deliver due alerts to their channels (once, or continuously with --loop)."""
    from alerts.delivery.dispatch import dispatch_once, run_loop

    st = state(ctx)
    cfg, engine = st.config(), st.engine()
    for name in channel or []:
        if name not in cfg.alerts.channels:
            raise ConfigError(f"unknown channel {name!r}", path=cfg.source, key="alerts.channels")
    if loop:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        console.print(f"dispatching every {interval:g}s when idle; Ctrl-C to stop", highlight=False)
        stats = run_loop(engine, cfg, interval=interval, stop=stop, channels=channel)
    else:
        stats = dispatch_once(engine, cfg, channels=channel)
    out = stats.as_dict()
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        console.print(
            " ".join(f"{k}={v}" for k, v in out.items() if v or k in ("sent", "claimed")), highlight=False
        )


def _deliveries_by_alert(conn: Any, alert_ids: list[int]) -> dict[int, list[Any]]:

    from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES

    out: dict[int, list[Any]] = {}
    if alert_ids:
        for row in conn.execute(
            select(DELIVERIES).where(DELIVERIES.c.alert_id.in_(alert_ids)).order_by(DELIVERIES.c.id)
        ):
            out.setdefault(row.alert_id, []).append(row)
    return out


@alerts_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[
        DeliveryStatus | None, typer.Option("--status", help="Only alerts with a delivery in this state.")
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only deliveries to this channel.")] = None,
    kind: Annotated[AlertKind | None, typer.Option("--kind", help="Only alerts of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent alerts with the state of each channel's delivery."""

    from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
    from crawler.storage.models import ALERTS

    q = select(ALERTS).order_by(ALERTS.c.id.desc()).limit(limit)
    if kind:
        q = q.where(ALERTS.c.kind == kind)
    if status or channel:
        cond = DELIVERIES.c.alert_id == ALERTS.c.id
        if status:
            cond = cond & (DELIVERIES.c.status == status)
        if channel:
            cond = cond & (DELIVERIES.c.channel == channel)
        q = q.where(exists().where(cond))
    with state(ctx).engine().connect() as conn:
        alerts = conn.execute(q).all()
        dels = _deliveries_by_alert(conn, [a.id for a in alerts])
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": a.id,
                        "kind": a.kind,
                        "brand": a.brand,
                        "urgency": a.urgency,
                        "risk": a.risk,
                        "title": a.title,
                        "created_at": a.created_at.isoformat(),
                        "deliveries": {d.channel: d.status for d in dels.get(a.id, [])},
                    }
                    for a in alerts
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    table = Table("id", "created", "kind", "brand", "urgency", "risk", "title", "deliveries")
    for a in alerts:
        table.add_row(
            str(a.id),
            _when(a.created_at),
            a.kind,
            a.brand or "",
            a.urgency or "",
            "" if a.risk is None else str(a.risk),
            (a.title or "")[:40],
            " ".join(f"{d.channel}:{d.status}" for d in dels.get(a.id, [])),
        )
    console.print(table)


@alerts_app.command("show")
def show_cmd(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One alert: its message (as plain text), payload and every delivery attempt's state."""

    from alerts.delivery.formats import to_text
    from alerts.delivery.render import render
    from crawler.storage.models import ALERTS

    st = state(ctx)
    with st.engine().connect() as conn:
        alert = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()
        if alert is None:
            raise YuqingError(f"no alert {alert_id}")
        dels = _deliveries_by_alert(conn, [alert_id]).get(alert_id, [])
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": alert.id,
                    "kind": alert.kind,
                    "dedup_key": alert.dedup_key,
                    "payload": alert.payload,
                    "deliveries": [
                        {
                            k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in d._mapping.items()
                            if k != "claim_token"
                        }
                        for d in dels
                    ],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    console.print(
        to_text(render(alert.payload or {}, ref=f"告警编号 {alert.id}", tz=st.config().scheduler.timezone)),
        highlight=False,
        markup=False,
    )
    console.print(
        f"\nkind={alert.kind} dedup_key={alert.dedup_key} created={_when(alert.created_at)}",
        highlight=False,
        markup=False,
    )
    table = Table("delivery", "channel", "status", "attempts", "parts", "next attempt", "sent", "last error")
    for d in dels:
        parts = f"{d.parts_sent}/{d.parts_total}" if d.parts_total else str(d.parts_sent)
        table.add_row(
            str(d.id),
            d.channel,
            d.status,
            str(d.attempts),
            parts,
            _when(d.next_attempt_at) if d.status in ("pending", "failed") else "",
            _when(d.sent_at),
            (d.last_error or "")[:80],
        )
    console.print(table)


@alerts_app.command("retry")
def retry_cmd(
    ctx: typer.Context,
    alert_id: Annotated[
        int | None, typer.Argument(help="Requeue this alert's failed and dead deliveries.")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Requeue every dead-lettered delivery.")] = False,
) -> None:
    """Put failed or dead-lettered deliveries back in the queue with fresh attempts."""
    from alerts.delivery.ledger import requeue
    from crawler.clock import utcnow

    if alert_id is None and not dead:
        raise YuqingError("give an alert id or --dead")
    n = requeue(state(ctx).engine(), now=utcnow(), alert_id=alert_id, dead_only=dead)
    console.print(f"requeued {n} deliver{'y' if n == 1 else 'ies'}", highlight=False)


@alerts_app.command("test")
def test_cmd(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(help="A channel name from [alerts.channels].", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Send a sample message to CHANNEL now (not through the outbox) and report the platform's answer."""
    from alerts.delivery.channels import DeliveryFailed, make_channel

    cfg = state(ctx).config()
    ccfg = cfg.alerts.channels.get(channel)
    if ccfg is None:
        known = ", ".join(cfg.alerts.channels) or "none configured"
        raise ConfigError(
            f"unknown channel {channel!r} (known: {known})", path=cfg.source, key="alerts.channels"
        )
    ch = make_channel(channel, ccfg, tz=cfg.scheduler.timezone)
    key = f"yq-test-{int(datetime.now().timestamp())}"
    try:
        for i, part in enumerate(parts := ch.parts(SAMPLE, ref="测试消息", key=key)):
            ch.send(part, key=key if len(parts) == 1 else f"{key}-{i + 1}")
    except DeliveryFailed as exc:
        hint = "retryable: try again later" if exc.retryable else "permanent: check url, secret and keyword"
        raise YuqingError(f"test message refused: {exc} ({hint})") from exc
    finally:
        ch.close()
    if as_json:
        typer.echo(json.dumps({"channel": channel, "type": ccfg.type, "ok": True, "parts": len(parts)}))
        return
    console.print(f"[green]OK[/] {channel} ({ccfg.type}) accepted the test message", highlight=False)


@alerts_app.command("channels")
def channels_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each channel: type, limits, queue by status, pause and last error."""

    from crawler.storage.models import ALERT_CHANNELS as CHANNELS
    from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES

    st = state(ctx)
    cfg = st.config()
    with st.engine().connect() as conn:
        counts = conn.execute(
            select(DELIVERIES.c.channel, DELIVERIES.c.status, func.count()).group_by(
                DELIVERIES.c.channel, DELIVERIES.c.status
            )
        ).all()
        states = {r.name: r for r in conn.execute(select(CHANNELS))}
    if as_json:
        out = []
        for name, c in cfg.alerts.channels.items():
            row = states.get(name)
            out.append(
                {
                    "channel": name,
                    "type": c.type,
                    "enabled": c.enabled,
                    "per_minute": c.limits[0],
                    "per_second": c.limits[1],
                    "queue": {s: n for ch, s, n in counts if ch == name},
                    "paused_until": row.paused_until.isoformat() if row and row.paused_until else None,
                    "last_ok_at": row.last_ok_at.isoformat() if row and row.last_ok_at else None,
                    "last_error": row.last_error if row else None,
                }
            )
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    table = Table("channel", "type", "limit", "queue", "paused until", "last ok", "last error")
    for name, c in cfg.alerts.channels.items():
        per_min, per_sec = c.limits
        queue = " ".join(f"{s}:{n}" for ch, s, n in counts if ch == name)
        row = states.get(name)
        table.add_row(
            name + ("" if c.enabled else " (off)"),
            c.type,
            f"{per_min}/min" + (f", {per_sec}/s" if per_sec else ""),
            queue,
            _when(row.paused_until) if row else "",
            _when(row.last_ok_at) if row else "",
            (row.last_error or "")[:60] if row else "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    from crawler.cli._alerts_receiver import receiver_cmd

    alerts_app.command("receiver")(receiver_cmd)
    app.add_typer(alerts_app, name="alerts")
