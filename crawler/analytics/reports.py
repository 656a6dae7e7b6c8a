"""Daily and weekly reports: what was said, how negative, which complaints, how the team kept its SLAs.

``build_report`` gathers one period's figures (and the previous period's, for changes):
volumes and trend, sentiment / category / platform / region / customer-group breakdowns,
complaints by time of day, top events, top risky posts (masked), complaint SLA
performance and root-cause hints (the most frequent words of each category's
complaints). ``report_render`` turns it into HTML, PDF or XLSX. ``scheduled_report``
is what ``yuqing run`` calls; ``send_report`` queues it to ``[reports].channels``.
Periods are local (``[scheduler].timezone``): daily = yesterday, weekly = last Mon–Sun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from alerts.delivery.outbox import enqueue
from crawler.analytics import report_render
from crawler.analytics.complaints import sla_performance
from crawler.analytics.query import MentionFilter, find_mentions, mask_text
from crawler.analytics.report_render import to_text
from crawler.analytics.spread import event_spread
from crawler.analytics.stats import distribution, summary, top_words, volume_trend
from crawler.clock import utcnow
from crawler.config import CATEGORIES, AppConfig
from crawler.storage.models import EVENTS

Kind = Literal["daily", "weekly"]
KIND_NAMES = {"daily": "日报", "weekly": "周报"}
WEEKDAYS = "一二三四五六日"
GENERIC_COMPLAINT_WORDS = {
    "要求",
    "希望",
    "给个",
    "说法",
    "解释",
    "太气人",
    "无语",
    "避雷",
    "再也",
    "不买",
    "投诉",
    "已经",
    "一直",
    "还是",
    "根本",
    "大家",
    "真的",
}


@dataclass
class Period:
    kind: Kind
    start: datetime  # aware UTC
    end: datetime
    label: str

    @property
    def previous(self) -> Period:
        span = self.end - self.start
        return Period(self.kind, self.start - span, self.start, "")


@dataclass
class ReportData:
    kind: Kind
    brand: str | None
    period: Period
    generated_at: datetime
    tz: str
    summary: dict[str, Any]
    previous: dict[str, Any]
    trend: list[dict[str, Any]]
    by: dict[str, list[dict[str, Any]]]
    hours: list[int]
    events: list[dict[str, Any]]
    risky: list[dict[str, Any]]
    sla: dict[str, Any]
    root_causes: dict[str, list[dict[str, Any]]]
    dashboard_url: str | None = None
    spread: list[dict[str, Any]] = field(default_factory=list)  # weekly: 传播 of the biggest events
    files: list[Path] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.brand or '全部品牌'} 舆情{KIND_NAMES[self.kind]} {self.period.label}"


def period_for(kind: Kind, *, tz: str, day: date | None = None, now: datetime | None = None) -> Period:
    """The reported period: ``day`` (daily) or the Mon–Sun week holding ``day``; default: the last full one."""
    zone = ZoneInfo(tz)
    today = (now or utcnow()).astimezone(zone).date()
    if kind == "daily":
        d = day or today - timedelta(days=1)
        start, end, label = d, d + timedelta(days=1), f"{d.isoformat()}（周{WEEKDAYS[d.weekday()]}）"
    else:
        ref = day or today - timedelta(days=7)
        start = ref - timedelta(days=ref.weekday())
        end = start + timedelta(days=7)
        label = f"{start.isoformat()} 至 {(end - timedelta(days=1)).isoformat()}"

    def utc(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(ZoneInfo("UTC"))

    return Period(kind, utc(start), utc(end), label)


def _change(cur: float, prev: float) -> float | None:
    return None if not prev else round((cur - prev) / prev, 4)


def _events(conn: Connection, brand: str | None, p: Period, n: int) -> list[dict[str, Any]]:
    e = EVENTS.c
    stmt = select(EVENTS).where(e.last_seen_at >= p.start, e.first_seen_at < p.end)
    if brand:
        stmt = stmt.where(e.brand == brand)
    rows = conn.execute(stmt.order_by(e.max_risk.desc(), e.mention_count.desc()).limit(n)).mappings()
    return [{**dict(r), "title": mask_text(r["title"] or "")} for r in rows]


def _hours(trend: list[dict[str, Any]]) -> list[int]:
    """Complaints per local hour of day (0–23) from an hourly trend."""
    out = [0] * 24
    for point in trend:
        out[int(point["t"][11:13])] += point["complaints"]
    return out


def root_causes(
    conn: Connection, f: MentionFilter, *, exclude: set[str], per_category: int = 6
) -> dict[str, list[dict[str, Any]]]:
    """The most frequent words of each category's complaints (a hint at what goes wrong)."""
    out: dict[str, list[dict[str, Any]]] = {}
    skip = exclude | GENERIC_COMPLAINT_WORDS
    for category in CATEGORIES:
        cf = f.model_copy(update={"complaint": True, "categories": [category]})
        words = top_words(conn, cf, limit=per_category, sample=2000, exclude=skip)
        if words:
            out[category] = words
    return out


def build_report(
    conn: Connection,
    cfg: AppConfig,
    kind: Kind,
    *,
    brand: str | None = None,
    day: date | None = None,
    now: datetime | None = None,
) -> ReportData:
    """Every figure of one report."""
    tz = cfg.scheduler.timezone
    now = now or utcnow()
    period = period_for(kind, tz=tz, day=day, now=now)
    f = MentionFilter(brand=brand, since=period.start, until=period.end)
    prev = f.model_copy(update={"since": period.previous.start, "until": period.previous.end})
    n = cfg.reports.top_n
    big_v = cfg.analysis.big_v_followers
    cur, before = summary(conn, f), summary(conn, prev)
    cur["change_total"] = _change(cur["total"], before["total"])
    cur["change_negative_share"] = round(cur["negative_share"] - before["negative_share"], 4)
    cur["change_complaints"] = _change(cur["complaints"], before["complaints"])
    hourly = volume_trend(conn, f, bucket="hour", tz=tz, now=now)
    names = {w for b in cfg.brands for w in (*b.all_names, *b.products)}
    risky, _ = find_mentions(conn, f.model_copy(update={"min_risk": 60}), order="risk", limit=n)
    return ReportData(
        kind=kind,
        brand=brand,
        period=period,
        generated_at=now,
        tz=tz,
        summary=cur,
        previous=before,
        trend=hourly if kind == "daily" else volume_trend(conn, f, bucket="day", tz=tz, now=now),
        by={
            dim: distribution(conn, f, dim, big_v=big_v, limit=12)
            for dim in ("sentiment", "category", "platform", "region", "customer", "urgency")
        },
        hours=_hours(hourly),
        events=_events(conn, brand, period, n),
        risky=risky,
        sla=sla_performance(
            conn,
            since=period.start,
            until=period.end,
            brand=brand,
            registration_minutes=cfg.complaints.registration_minutes,
            now=now,
        ),
        root_causes=root_causes(conn, f, exclude=names),
        dashboard_url=cfg.api.public_url,
        spread=spread_section(conn, brand, period, n) if kind == "weekly" else [],
    )


def spread_section(conn: Connection, brand: str | None, p: Period, n: int) -> list[dict[str, Any]]:
    """传播: the period's biggest events by size, with reposts tracked, top spreaders and hot-list ranks."""

    e = EVENTS.c
    stmt = select(EVENTS).where(e.last_seen_at >= p.start, e.first_seen_at < p.end)
    if brand:
        stmt = stmt.where(e.brand == brand)
    out = []
    for ev in conn.execute(stmt.order_by(e.mention_count.desc(), e.engagement.desc()).limit(n)).mappings():
        sp = event_spread(conn, int(ev["id"]))
        tracked = sp["tracked"]
        top = sorted((s for t in tracked for s in t["spreaders"][:5]), key=lambda s: -s["reach"])[:3]
        hot = sp["hot_topics"]
        if not tracked and not hot:
            continue
        out.append(
            {
                "id": ev["id"],
                "title": mask_text(ev["title"] or ""),
                "mentions": ev["mention_count"],
                "reposts": sum(int(t["reposts"]) for t in tracked),
                "spreaders": top,
                "peak_velocity": max((t["velocity"] for t in tracked), default=0.0),
                "hot": [
                    {
                        "platform": h["platform"],
                        "word": h["word"],
                        "best_rank": h["best_rank"],
                        "labels": h["labels"] or [],
                    }
                    for h in hot
                ],
            }
        )
    return out


def output_dir(cfg: AppConfig) -> Path:
    return Path(cfg.reports.output_dir) if cfg.reports.output_dir else cfg.data_path() / "reports"


def write_report(data: ReportData, formats: list[str], out_dir: Path) -> list[Path]:
    """Write the report in each of ``formats`` (html, pdf, xlsx); return the files."""

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = (
        f"yuqing-{data.kind}-{data.brand or 'all'}-{data.period.start.astimezone(ZoneInfo(data.tz)):%Y%m%d}"
    )
    paths: list[Path] = []
    html = report_render.to_html(data)
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "html":
            path.write_text(html, encoding="utf-8")
        elif fmt == "pdf":
            report_render.to_pdf(html, path)
        elif fmt == "xlsx":
            report_render.to_xlsx(data, path)
        else:
            raise ValueError(f"unknown report format {fmt!r}")
        paths.append(path)
    data.files = paths
    return paths


def send_report(
    conn: Connection, cfg: AppConfig, data: ReportData, channels: list[str] | None = None
) -> int | None:
    """Queue the report's summary to the channels (outbox, kind ``report``); None if already queued."""

    start = data.period.start.astimezone(ZoneInfo(data.tz))
    return enqueue(
        conn,
        cfg,
        kind="report",
        dedup_key=f"report:{data.kind}:{data.brand or 'all'}:{start:%Y%m%d}",
        title=data.title,
        brand=data.brand,
        channels=channels or cfg.reports.channels,
        payload={
            "kind": "report",
            "brand": data.brand,
            "title": data.title,
            "text": to_text(data),
            "links": {"dashboard": data.dashboard_url},
            "reasons": [],
        },
    )


def scheduled_report(
    engine: Engine, cfg: AppConfig, kind: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """``yuqing run``'s job: each configured brand's report in the configured formats, sent if channels are set."""
    if kind not in KIND_NAMES:
        raise ValueError(f"unknown report kind {kind!r}")
    brands = [cfg.brand(b).name for b in cfg.reports.brands] or [b.name for b in cfg.brands]
    done: dict[str, Any] = {"kind": kind, "files": [], "alerts": []}
    for brand in brands:
        with engine.begin() as conn:
            data = build_report(conn, cfg, kind, brand=brand, now=now)  # type: ignore[arg-type]
            files = write_report(data, list(cfg.reports.formats), output_dir(cfg))
            alert_id = send_report(conn, cfg, data) if cfg.reports.channels else None
        done["files"] += [str(p) for p in files]
        done["alerts"].append(alert_id)
        logger.info(
            "{kind} report for {brand}: {files}", kind=kind, brand=brand, files=[p.name for p in files]
        )
    return done
