"""``/api/events`` (with timelines), ``/api/alerts``, ``/api/health`` and ``/api/crawl-runs``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import func, select

from crawler.analytics import spread
from crawler.analytics.complaints import event_records
from crawler.analytics.query import MentionFilter, QueryError, find_mentions, mask_text, parse_time
from crawler.analytics.stats import volume_trend
from crawler.api.auth import current_user
from crawler.api.deps import Cfg, Conn, bad_request, resolve_brand
from crawler.api.routes_mentions import mention_out
from crawler.api.schemas import AlertOut, CrawlRunOut, EventDetail, EventOut, HealthOut
from crawler.storage.engine import safe_url
from crawler.storage.mentions import brand_crawl_runs
from crawler.storage.models import ALERT_DELIVERIES as DELIVERIES
from crawler.storage.models import ALERTS, EVENTS
from crawler.storage.models import CRAWL_RUNS as RUNS
from crawler.storage.models import HEALTH_INCIDENTS as INCIDENTS

router = APIRouter(prefix="/api", tags=["events, alerts, health"], dependencies=[Depends(current_user)])
Limit = Annotated[int, Query(ge=1, le=200)]
Since = Annotated[str | None, Query(max_length=40, description="24h、7d、2026-11-01 或 ISO 时间")]


def _since(cfg: Any, value: str | None) -> Any:
    if not value:
        return None
    try:
        return parse_time(value, tz=cfg.scheduler.timezone)
    except QueryError as exc:
        raise bad_request(str(exc)) from exc


def _event(row: Any) -> dict[str, Any]:
    rec = dict(row._mapping)
    rec["title"] = mask_text(rec.get("title") or "")
    return rec


@router.get("/events", response_model=list[EventOut], summary="事件（聚类）列表")
def events(
    conn: Conn,
    cfg: Cfg,
    brand: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = None,
    limit: Limit = 30,
    order: Annotated[str, Query(pattern="^(recent|size|risk)$")] = "recent",
) -> list[dict[str, Any]]:
    e = EVENTS.c
    stmt = select(EVENTS)
    if b := resolve_brand(cfg, brand):
        stmt = stmt.where(e.brand == b)
    if s := _since(cfg, since):
        stmt = stmt.where(e.last_seen_at >= s)
    ordering = {
        "recent": [e.last_seen_at.desc()],
        "size": [e.mention_count.desc()],
        "risk": [e.max_risk.desc(), e.mention_count.desc()],
    }[order]
    return [_event(r) for r in conn.execute(stmt.order_by(*ordering, e.id.desc()).limit(limit))]


@router.get("/events/{event_id}", response_model=EventDetail, summary="事件详情与时间线")
def event_detail(event_id: Annotated[int, Path(ge=1, le=2**62)], conn: Conn, cfg: Cfg) -> dict[str, Any]:
    row = conn.execute(select(EVENTS).where(EVENTS.c.id == event_id)).first()
    if row is None:
        raise HTTPException(404, detail=f"事件 {event_id} 不存在")
    ev = _event(row)
    span = ev["last_seen_at"] - ev["first_seen_at"]
    f = MentionFilter(
        event_id=event_id,
        since=ev["first_seen_at"] - timedelta(hours=1),
        until=ev["last_seen_at"] + timedelta(hours=1),
    )
    timeline = volume_trend(
        conn, f, bucket="hour" if span <= timedelta(days=3) else "day", tz=cfg.scheduler.timezone
    )
    items, _ = find_mentions(conn, MentionFilter(event_id=event_id), order="engagement", limit=20)
    records = event_records(conn, [event_id]).get(event_id, [])
    return {**ev, "timeline": timeline, "mentions": [mention_out(m) for m in items], "complaints": records}


@router.get("/events/{event_id}/spread", summary="事件传播：增长曲线、转发树、关键传播者、热榜记录")
def event_spread(event_id: Annotated[int, Path(ge=1, le=2**62)], conn: Conn, cfg: Cfg) -> dict[str, Any]:

    if conn.execute(select(EVENTS.c.id).where(EVENTS.c.id == event_id)).first() is None:
        raise HTTPException(404, detail=f"事件 {event_id} 不存在")
    return spread.event_spread(conn, event_id)


@router.get("/hot-topics", summary="品牌话题上热榜的记录")
def hot_topics(
    conn: Conn,
    cfg: Cfg,
    brand: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:

    return spread.hot_topics(conn, brand=resolve_brand(cfg, brand), since=_since(cfg, since), limit=limit)


@router.get("/alerts", response_model=list[AlertOut], summary="告警记录")
def alerts(
    conn: Conn,
    cfg: Cfg,
    brand: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None,
    since: Since = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    a = ALERTS.c
    stmt = select(
        a.id,
        a.kind,
        a.brand,
        a.title,
        a.urgency,
        a.risk,
        a.status,
        a.created_at,
        a.event_id,
        a.mention_id,
        a.complaint_id,
        a.payload,
    )
    if b := resolve_brand(cfg, brand):
        stmt = stmt.where(a.brand == b)
    if kind:
        stmt = stmt.where(a.kind == kind)
    if s := _since(cfg, since):
        stmt = stmt.where(a.created_at >= s)
    rows = [
        dict(r._mapping) for r in conn.execute(stmt.order_by(a.created_at.desc(), a.id.desc()).limit(limit))
    ]
    counts: dict[int, dict[str, int]] = {}
    if rows:
        d = DELIVERIES.c
        for alert_id, st, n in conn.execute(
            select(d.alert_id, d.status, func.count())
            .where(d.alert_id.in_([r["id"] for r in rows]))
            .group_by(d.alert_id, d.status)
        ):
            counts.setdefault(alert_id, {})[st] = int(n)
    for r in rows:
        payload = r.pop("payload") or {}
        reasons = payload.get("reasons") if isinstance(payload, dict) else None
        r["reasons"] = [str(x) for x in reasons] if isinstance(reasons, list) else []
        r["title"] = mask_text(r["title"] or "")
        r["deliveries"] = counts.get(r["id"], {})
    return rows


@router.get("/crawl-runs", response_model=list[CrawlRunOut], summary="最近的采集任务")
def crawl_runs(
    conn: Conn, cfg: Cfg, platform: Annotated[str | None, Query(max_length=16)] = None, limit: Limit = 50
) -> list[dict[str, Any]]:
    stmt = select(RUNS)
    if platform:
        stmt = stmt.where(RUNS.c.platform == platform)
    return [dict(r._mapping) for r in conn.execute(stmt.order_by(RUNS.c.started_at.desc()).limit(limit))]


@router.get("/health", response_model=HealthOut, summary="采集健康：每个平台×品牌最近一次采集、未解决的故障")
def health(conn: Conn, cfg: Cfg) -> dict[str, Any]:
    r = RUNS.c
    newest = (
        select(r.platform, r.brand, func.max(r.id).label("id"))
        .where(brand_crawl_runs())  # the brand crawls, not hot-list or tracking polls
        .group_by(r.platform, r.brand)
    ).subquery()
    latest = conn.execute(select(RUNS).join(newest, RUNS.c.id == newest.c.id).order_by(r.platform, r.brand))
    incidents = conn.execute(
        select(INCIDENTS)
        .where(INCIDENTS.c.cleared_at.is_(None))
        .order_by(INCIDENTS.c.opened_at.desc())
        .limit(100)
    )
    return {
        "latest": [dict(x._mapping) for x in latest],
        "incidents": [dict(x._mapping) for x in incidents],
        "database": safe_url(str(conn.engine.url)),
    }
