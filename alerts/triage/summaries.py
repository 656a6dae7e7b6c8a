"""Backfill summaries and roll-ups: one message per brand and channel for what pacing held back.

``alerts/triage/pacing.py`` holds (table ``alert_holds``) mentions, complaint records and surges that
must not go out one by one: backfill (first seen long after publication) and alerts over the
hourly budget. :func:`flush_holds` (called by ``flush_digest``, i.e. the scheduler's digest
job) turns each due group into one alert:

- **backfill** (``回溯汇总``): once the group has settled (nothing added for
  ``BACKFILL_SETTLE``, so the first crawls of a new brand on every platform land in one
  message) or its oldest item has waited ``[alerts].digest_minutes``;
- **rollup** (``风险汇总``, "另有 N 条风险提及 …"): as soon as the hourly budget of its brand and
  channel has room again; it is charged to the budget like any immediate message.

Both list counts and the most urgent items with a dashboard link. Complaint records in them
are marked reported by that message. Nothing is flushed during quiet hours (``flush_digest``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import select
from sqlalchemy.engine import Connection

from alerts import rules
from alerts.complaints import records as complaints
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue, release_holds
from alerts.triage import pacing
from alerts.triage.pacing import lock_brands
from crawler.config import PLATFORM_NAMES
from crawler.storage.models import ALERT_HOLDS as HOLDS
from crawler.storage.models import COMPLAINTS, EVENTS, MENTIONS

if TYPE_CHECKING:
    from crawler.config import AppConfig

BACKFILL_SETTLE = timedelta(minutes=10)
BACKFILL_TOP = 5
ROLLUP_TOP = 3
_BATCH = 20_000
_VIA = {"backfill": "回溯汇总", "rollup": "风险汇总"}


def _pending(conn: Connection) -> list[dict[str, Any]]:
    stmt = (
        select(HOLDS)
        .where(
            HOLDS.c.flushed_at.is_(None), HOLDS.c.kind.in_(tuple(_VIA))
        )  # SLA notices: alerts.complaints.sla
        .order_by(HOLDS.c.id)
        .limit(_BATCH)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _rows(
    conn: Connection, table: Any, ids: set[int], columns: list[Any] | None = None
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    ordered = sorted(i for i in ids if i is not None)
    for start in range(0, len(ordered), 500):
        stmt = select(*(columns or [table])).where(table.c.id.in_(ordered[start : start + 500]))
        out.update({r["id"]: dict(r) for r in conn.execute(stmt).mappings()})
    return out


def _due(
    conn: Connection,
    cfg: AppConfig,
    kind: str,
    brand: str,
    channel: str,
    group: list[dict[str, Any]],
    now: datetime,
) -> bool:
    if kind == "backfill":
        newest: datetime = max(it["created_at"] for it in group)
        oldest: datetime = min(it["created_at"] for it in group)
        return newest <= now - BACKFILL_SETTLE or oldest <= now - timedelta(minutes=cfg.alerts.digest_minutes)
    return pacing.has_room(conn, cfg, brand, channel, now)


def _parents(conn: Connection, ms: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Masked excerpts of the posts the comments among ``ms`` answer, by (platform, post id)."""
    wanted = {(m["platform"], m["parent_post_id"]) for m in ms if m.get("parent_post_id")}
    out: dict[tuple[str, str], str] = {}
    c = MENTIONS.c
    for platform, post_id in sorted(wanted):
        row = (
            conn.execute(select(c.text, c.masked_text).where(c.platform == platform, c.post_id == post_id))
            .mappings()
            .first()
        )
        if row is not None:
            out[(platform, post_id)] = payloads.masked_excerpt(dict(row), 50)
    return out


def _rank(it: dict[str, Any]) -> tuple[int, int, int]:
    return (rules.rank(it["urgency"]), int(it["risk"] or 0), -int(it["id"]))


def _items(
    conn: Connection,
    group: list[dict[str, Any]],
    mentions: dict[int, dict[str, Any]],
    evts: dict[int, dict[str, Any]],
    recs: dict[int, dict[str, Any]],
    limit: int,
) -> list[dict[str, Any]]:
    """The most urgent held items, one per event (surges as notes), with complaint numbers and post context."""
    best: dict[Any, dict[str, Any]] = {}
    for it in sorted(group, key=_rank, reverse=True):
        key = it["event_id"] or it["ref"]
        best.setdefault(key, it)
    top = sorted(best.values(), key=_rank, reverse=True)[:limit]
    shown = [mentions[it["mention_id"]] for it in top if it["mention_id"] in mentions]
    parents = _parents(conn, shown)
    out: list[dict[str, Any]] = []
    for it in top:
        m = mentions.get(it["mention_id"]) if it["mention_id"] else None
        if m is None:
            out.append(
                {"note": it["note"] or "", "brand": it["brand"], "urgency": it["urgency"], "risk": it["risk"]}
            )
            continue
        entry = payloads.mention_part(m) | {"brand": m["brand"], "reason": it["note"]}
        e = evts.get(it["event_id"] or -1)
        if e is not None:
            entry["event_title"], entry["event_mentions"] = e.get("title"), e.get("mention_count")
        rec = recs.get(it["complaint_id"] or -1)
        if rec is not None:
            entry["complaint"] = payloads.complaint_part(rec)
        if m.get("parent_post_id"):
            entry["post_text"] = parents.get((m["platform"], m["parent_post_id"]))
        out.append(entry)
    return out


def _breakdown(group: list[dict[str, Any]], mentions: dict[int, dict[str, Any]]) -> list[list[str]]:
    """[label, value] lines: per platform, per urgency, complaint records and surges of a group of holds."""
    seen: set[int] = set()
    platforms: Counter[str] = Counter()
    for it in group:
        m = mentions.get(it["mention_id"] or -1)
        if m is not None and m["id"] not in seen:
            seen.add(m["id"])
            platforms[PLATFORM_NAMES.get(m["platform"], m["platform"])] += 1
    levels = Counter(
        it["urgency"]
        for it in {f"m:{it['mention_id']}" if it["mention_id"] else it["ref"]: it for it in group}.values()
        if it["urgency"]
    )
    out = []
    if platforms:
        out.append(["平台", " · ".join(f"{p} {n}" for p, n in platforms.most_common())])
    level_line = payloads.levels_fact(levels)
    if level_line:
        out.append(level_line)
    records = {it["complaint_id"] for it in group if it["complaint_id"]}
    if records:
        out.append(["客诉单", f"涉及 {len(records)} 张（已登记，见看板）"])
    surges = [it["note"] for it in group if it["alert_kind"] == "surge" and it["note"]]
    if surges:
        out.append(["异动", "；".join(surges[:2]) + (f" 等 {len(surges)} 次" if len(surges) > 2 else "")])
    return out


def _count(group: list[dict[str, Any]]) -> int:
    """Distinct things held: a mention and its complaint record count once."""
    return len({f"m:{it['mention_id']}" if it["mention_id"] else it["ref"] for it in group})


def _base(
    kind: str,
    title: str,
    brand: str,
    text: str,
    facts: list[list[str]],
    group: list[dict[str, Any]],
    items: list[dict[str, Any]],
    cfg: AppConfig,
) -> dict[str, Any]:
    return payloads.list_payload(
        cfg,
        kind,
        title,
        brand,
        text,
        facts,
        items,
        total=_count(group),
        max_risk=max((int(it["risk"] or 0) for it in group), default=0),
    )


def backfill_payload(
    cfg: AppConfig,
    brand: str,
    group: list[dict[str, Any]],
    items: list[dict[str, Any]],
    mentions: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """The backfill summary of one brand for one channel."""
    hours = cfg.alerts.max_age_hours
    tz = ZoneInfo(cfg.scheduler.timezone)
    facts = _breakdown(group, mentions)
    times = [m["published_at"] for m in mentions.values() if m.get("published_at")]
    if times:
        facts.append(["发布", f"{min(times).astimezone(tz):%m-%d} 至 {max(times).astimezone(tz):%m-%d}"])
    found = len({it["mention_id"] for it in group if it["mention_id"]})
    if found:
        text = f"以下 {found} 条在发布超过 {hours:g} 小时后才首次采集到（新品牌、新平台的首次采集或补采），不逐条推送。"
        title = f"{found} 条历史内容"
    else:
        text = "首次采集带回的历史被当作基线时出现的声量异动，不单独推送。"
        title = "首次采集期间的声量异动"
    return _base("backfill", title, brand, text, facts, group, items, cfg)


def rollup_payload(
    cfg: AppConfig,
    brand: str,
    group: list[dict[str, Any]],
    items: list[dict[str, Any]],
    mentions: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """The roll-up of one brand's alerts held over the hourly budget of one channel."""
    n = _count(group)
    budget = cfg.alerts.max_immediate_per_hour
    text = f"另有 {n} 条风险提及未逐条推送（一小时内即时告警已达 {budget} 条上限）。以下为风险最高的 {len(items)} 条，其余见看板。"
    return _base(
        "rollup", f"另有 {n} 条风险提及", brand, text, _breakdown(group, mentions), group, items, cfg
    )


def flush_holds(conn: Connection, cfg: AppConfig, now: datetime, *, force: bool = False) -> int:
    """Queue the due backfill summaries and roll-ups (``force``: all of them now); returns alerts queued."""

    holds = _pending(conn)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for it in holds:
        groups[(it["kind"], it["brand"], it["channel"])].append(it)
    lock_brands(
        conn, {brand for kind, brand, _ in groups if kind == "rollup"}
    )  # a roll-up takes a budget slot
    due = {k: g for k, g in groups.items() if force or _due(conn, cfg, *k, g, now)}
    if not due:
        return 0
    wanted = [it for g in due.values() for it in g]
    mentions = _rows(
        conn,
        MENTIONS,
        {it["mention_id"] for it in wanted if it["mention_id"]},
        [c for c in MENTIONS.columns if c.name not in ("raw", "tokens")],
    )
    evts = _rows(
        conn,
        EVENTS,
        {it["event_id"] for it in wanted if it["event_id"]},
        [EVENTS.c.id, EVENTS.c.title, EVENTS.c.mention_count],
    )
    recs = _rows(conn, COMPLAINTS, {it["complaint_id"] for it in wanted if it["complaint_id"]})
    queued = 0
    for (kind, brand, channel), group in sorted(due.items()):
        mine = {it["mention_id"]: mentions[it["mention_id"]] for it in group if it["mention_id"] in mentions}
        build = backfill_payload if kind == "backfill" else rollup_payload
        items = _items(conn, group, mine, evts, recs, BACKFILL_TOP if kind == "backfill" else ROLLUP_TOP)
        payload = build(cfg, brand, group, items, mine)
        key = f"{kind}:{channel}:{group[0]['id']}-{group[-1]['id']}-{len(group)}"
        alert_id = enqueue(
            conn,
            cfg,
            kind=kind,
            dedup_key=key,
            title=payload["title"],
            payload=payload,
            channels=[channel],
            brand=brand,
            risk=payload["max_risk"],
        )
        if alert_id is not None:
            queued += 1
            if kind == "rollup":
                pacing.charge(conn, brand, [channel], now, alert_id)
        release_holds(conn, [it["id"] for it in group], alert_id, now)
        records = sorted({it["complaint_id"] for it in group if it["complaint_id"]})
        if records and alert_id is not None:
            complaints.mark_reported(conn, records, via=_VIA[kind], now=now)
    logger.info("summaries: {n} held item(s) → {q} alert(s)", n=len(wanted), q=queued)
    return queued
