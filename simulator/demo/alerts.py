"""``yuqing demo`` sections for alerts and complaint records (hooked into ``simulator.demo.runner.SECTIONS``).

``alerts_section`` flushes the digest, runs the SLA sweeper, then delivers the outbox the
crawls filled to a loopback receiver (``simulator/receiver/server.py``) that stands in for every
configured channel: the configured URLs are never contacted. ``complaints_section`` lists
the complaint records the crawls registered, with their SLA deadlines, and prints records,
linked mentions and distinct stories (target: at most 3 records per story on average).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any, TypedDict
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import func, select

from alerts.complaints.registration import eligible
from alerts.complaints.sla import sweep
from alerts.delivery.dispatch import dispatch_once
from alerts.rules import rank
from alerts.triage.run import flush_digest
from crawler.config import AppConfig, ChannelConfig
from crawler.storage.models import (
    ALERT_DELIVERIES,
    ALERT_HOLDS,
    ALERTS,
    COMPLAINT_MENTIONS,
    COMPLAINTS,
    MENTIONS,
)
from simulator.demo.runner import DemoSection
from simulator.receiver.server import Receiver

if TYPE_CHECKING:
    from simulator.demo.runner import DemoContext, DemoSection
    from simulator.receiver.server import Receiver


class _Rates(TypedDict):
    rate_per_minute: int
    rate_per_second: int


_FAST: _Rates = {"rate_per_minute": 100_000, "rate_per_second": 10_000}
IMMEDIATE_KINDS = (
    "mention",
    "event",
    "surge",
)  # one message per story; complaint reports go to the complaint team


def _stand_in(receiver: Receiver, name: str, ch: ChannelConfig) -> ChannelConfig:
    """The channel ``name`` re-pointed at the receiver (same type, secret and keyword; e-mail → webhook)."""
    secret = ch.secret.get_secret_value() if ch.secret else None
    keywords = [ch.keyword] if ch.keyword else None
    if ch.type == "dingtalk":
        url = receiver.dingtalk(name, secret=secret, keywords=keywords, per_minute=100_000, ban_seconds=0)
    elif ch.type == "wecom":
        url = receiver.wecom(name, per_minute=100_000)
    elif ch.type == "feishu":
        url = receiver.feishu(name, secret=secret, keywords=keywords, per_minute=100_000, per_second=10_000)
    elif ch.type == "slack":
        url = receiver.slack(name, per_minute=None)
    else:
        url = receiver.webhook(name, secret=secret)
        if ch.type == "email":
            return ChannelConfig(type="webhook", url=SecretStr(url), secret=ch.secret, **_FAST)
    return ch.model_copy(update={"url": SecretStr(url), **_FAST})


def demo_config(cfg: AppConfig, receiver: Receiver) -> AppConfig:
    """``cfg`` with every enabled channel delivering to ``receiver``."""
    channels = {name: _stand_in(receiver, name, ch) for name, ch in cfg.alerts.channels.items() if ch.enabled}
    return cfg.model_copy(update={"alerts": cfg.alerts.model_copy(update={"channels": channels})})


def _pending(ctx: DemoContext) -> int:
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(ALERT_DELIVERIES)
                .where(ALERT_DELIVERIES.c.status.in_(("pending", "sending", "failed")))
            ).scalar_one()
        )


def _deliver(ctx: DemoContext, cfg: AppConfig, seconds: float = 20.0) -> None:

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatch_once(ctx.engine, cfg)
        if _pending(ctx) == 0:
            return
        time.sleep(0.3)


def alerts_section(ctx: DemoContext) -> DemoSection | None:
    """Alerts delivered to a local receiver: per channel and kind, with the first lines people read."""

    if not ctx.cfg.alerts.channels:
        return DemoSection(
            "告警 (alerts)", ["note"], [["no [alerts.channels] configured: nothing to deliver"]]
        )
    flush_digest(ctx.engine, ctx.cfg, force=True)
    sweep(ctx.engine, ctx.cfg)
    with Receiver(enforce_limits=False) as receiver:
        _deliver(ctx, demo_config(ctx.cfg, receiver))
        seen = receiver.visible()
    with ctx.engine.connect() as conn:
        kinds: dict[str, int] = dict(
            conn.execute(select(ALERTS.c.kind, func.count()).group_by(ALERTS.c.kind)).all()
        )
        waiting = int(
            conn.execute(
                select(func.count()).select_from(ALERT_DELIVERIES).where(ALERT_DELIVERIES.c.status != "sent")
            ).scalar_one()
        )
        immediate: dict[str, int] = dict(
            conn.execute(
                select(ALERTS.c.brand, func.count())
                .where(ALERTS.c.kind.in_(IMMEDIATE_KINDS))
                .group_by(ALERTS.c.brand)
            ).all()
        )
        held: dict[str, int] = dict(
            conn.execute(
                select(ALERT_HOLDS.c.kind, func.count(func.distinct(ALERT_HOLDS.c.ref))).group_by(
                    ALERT_HOLDS.c.kind
                )
            ).all()
        )
    rows: list[list[Any]] = []
    for msg in seen[:15]:
        lines = [ln.strip(" #*>") for ln in msg.text.splitlines() if len(ln.strip(" #*>")) > 3]
        rows.append([msg.robot, msg.kind, (lines[0] if lines else "")[:70]])
    per_channel = Counter(m.robot for m in seen)
    note = (
        f"{len(seen)} message(s) delivered to a local receiver standing in for "
        f"{', '.join(sorted(per_channel)) or 'no channel'}; alerts by kind: "
        f"{', '.join(f'{k} {n}' for k, n in sorted(kinds.items())) or 'none'}; not delivered: {waiting}; "
        f"immediate alerts per brand: {', '.join(f'{b} {n}' for b, n in sorted(immediate.items())) or 'none'}; "
        f"held back: {held.get('backfill', 0)} backfill item(s) in backfill summaries, "
        f"{held.get('rollup', 0)} over the hourly budget in roll-ups"
    )
    return DemoSection(
        "告警 (alerts delivered)",
        ["channel", "robot", "first line"],
        rows,
        {
            "delivered": len(seen),
            "per_channel": dict(per_channel),
            "alerts_by_kind": kinds,
            "undelivered": waiting,
            "immediate_per_brand": immediate,
            "held": {"backfill": held.get("backfill", 0), "rollup": held.get("rollup", 0)},
        },
        note,
    )


MAX_RECORDS_PER_STORY = 3.0


def story_figures(conn: Any, cfg: AppConfig) -> dict[str, Any]:
    """Records against stories: complaint mentions, the distinct stories (events) they tell, records,
    linked mentions, and the old one-record-per-author count as the baseline."""

    m = MENTIONS
    rows = [
        dict(r)
        for r in conn.execute(
            select(
                m.c.id, m.c.event_id, m.c.brand, m.c.platform, m.c.author_id, m.c.is_complaint, m.c.risk
            ).where(m.c.is_complaint.is_(True))
        ).mappings()
    ]
    rows = [r for r in rows if eligible(cfg, r)]
    linked = set(conn.execute(select(COMPLAINT_MENTIONS.c.mention_id)).scalars())
    records = int(conn.execute(select(func.count()).select_from(COMPLAINTS)).scalar_one())
    stories = len({r["event_id"] for r in rows if r["event_id"]}) + sum(1 for r in rows if not r["event_id"])
    per_story = records / stories if stories else 0.0
    return {
        "complaint_mentions": len(rows),
        "records": records,
        "linked_mentions": len(linked),
        "joined": len(linked) - records,
        "not_registered": sum(1 for r in rows if r["id"] not in linked),
        "distinct_stories": stories,
        "records_per_story": round(per_story, 2),
        "per_author_baseline": len(
            {(r["brand"], r["platform"], r["author_id"] or f"#{r['id']}") for r in rows}
        ),
        "target_met": per_story <= MAX_RECORDS_PER_STORY,
    }


def complaints_section(ctx: DemoContext) -> DemoSection | None:
    """Complaint records registered during the crawls, most urgent first, with SLA deadlines, and the
    records-per-story figures (one record per consumer's complaint, not per repost)."""

    tz = ZoneInfo(ctx.cfg.scheduler.timezone)
    with ctx.engine.connect() as conn:
        recs = [dict(r) for r in conn.execute(select(COMPLAINTS)).mappings()]
        story = story_figures(conn, ctx.cfg)
    recs.sort(key=lambda r: (-rank(r["urgency"]), r["registered_at"], r["id"]))

    def t(v: Any) -> str:
        return v.astimezone(tz).strftime("%H:%M") if v is not None else "-"

    rows = [
        [
            r["number"],
            r["platform"],
            r["category"],
            r["urgency"],
            " / ".join(x for x in (r["team"], r["assignee"]) if x) or "-",
            t(r["due_report_at"]),
            t(r["due_first_check_at"]),
            t(r["due_answer_at"]),
            t(r["due_resolve_at"]),
        ]
        for r in recs[:15]
    ]
    latencies = [r["registration_latency_s"] for r in recs if r["registration_latency_s"] is not None]
    limit = ctx.cfg.complaints.registration_minutes * 60
    by_urgency = Counter(r["urgency"] for r in recs)
    note = (
        f"{len(recs)} record(s): "
        + ", ".join(f"{u} {n}" for u, n in sorted(by_urgency.items(), key=lambda x: -rank(x[0])))
        + (f"; registration latency max {max(latencies):.1f}s (limit {limit}s)" if latencies else "")
        + f". Stories: {story['records']} record(s), {story['linked_mentions']} linked mention(s) "
        f"({story['joined']} joined a record as repost, copy, comment or repeat), "
        f"{story['distinct_stories']} distinct stories → {story['records_per_story']:.2f} records per story "
        f"(target ≤ {MAX_RECORDS_PER_STORY:g}: {'met' if story['target_met'] else 'not met'}); "
        f"{story['complaint_mentions']} complaint mention(s), {story['not_registered']} comment(s) without a "
        f"grievance of their own and no record to join; baseline one record per author: "
        f"{story['per_author_baseline']}"
    )
    return DemoSection(
        "客诉登记 (complaint records, SLA deadlines)",
        [
            "number",
            "platform",
            "category",
            "urgency",
            "team / assignee",
            "report by",
            "first check",
            "answer by",
            "resolve by",
        ],
        rows,
        {
            "records": len(recs),
            "by_urgency": dict(by_urgency),
            "stories": story,
            "max_latency_s": max(latencies) if latencies else None,
            "within_registration_limit": all(x <= limit for x in latencies),
        },
        note,
    )
