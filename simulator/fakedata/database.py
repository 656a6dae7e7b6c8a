"""Fill a database with a realistic fake fortnight: mentions, a crisis event with a surge, alerts,
complaint records in every workflow state (some overdue), crawl runs and a health incident.

Used by the analyst tests, the dashboard screenshot and demos; mentions go through the
real ``upsert_mentions`` (so the full-text triggers index them). ``hostile=True`` adds
posts whose text and author names are XSS / formula payloads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from alerts.complaints.records import next_numbers
from crawler.clock import utcnow
from crawler.config import AppConfig
from crawler.storage.mentions import upsert_mentions
from crawler.storage.models import (
    ALERT_DELIVERIES,
    ALERTS,
    COMPLAINT_HISTORY,
    COMPLAINT_MENTIONS,
    COMPLAINTS,
    CRAWL_RUNS,
    EVENTS,
    HEALTH_INCIDENTS,
    MENTIONS,
)
from simulator.fakedata.mentions import FragmentTokens, brands_from_config, mention_rows

HOSTILE_TEXTS = (
    "<img src=x onerror=alert(1)>",
    "<script>alert('xss')</script>鲜果时光",
    '"><svg onload=alert(2)>',
    '=HYPERLINK("http://evil.example/","点我")',
)
CRISIS_TEXT = "鲜果时光门店的鲜榨橙汁喝出玻璃碴，孩子嘴巴划伤了，已经报警并联系媒体，大家千万别买！"


@dataclass
class Seeded:
    mention_ids: list[int] = field(default_factory=list)
    hostile_ids: list[int] = field(default_factory=list)
    event_id: int | None = None
    complaint_ids: list[int] = field(default_factory=list)
    overdue_ids: list[int] = field(default_factory=list)


def _crisis(brand: str, now: datetime, n: int, tok: FragmentTokens) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        at = now - timedelta(hours=5) + timedelta(minutes=9 * i)
        rows.append(
            {
                "platform": ("weibo", "douyin", "xiaohongshu")[i % 3],
                "post_id": f"crisis{i:04d}",
                "brand": brand,
                "kind": "post",
                "text": CRISIS_TEXT + ("转发扩散" * (i % 2)),
                "url": f"https://m.weibo.cn/detail/crisis{i}",
                "author_id": f"c{i}",
                "author_name": f"热心网友{i}",
                "author_followers": 500 + 3000 * i,
                "published_at": at,
                "fetched_at": at + timedelta(minutes=2),
                "first_seen_at": at + timedelta(minutes=2),
                "likes": 200 * i,
                "comments": 40 * i,
                "shares": 90 * i,
                "ip_region": "上海",
                "sentiment": 0.03,
                "is_complaint": True,
                "category": "食用不适",
                "urgency": "非常紧急",
                "risk": 95,
                "reasons": ["健康安全风险", "威胁外部升级投诉", "传播量大"],
                "tokens": tok(CRISIS_TEXT),
                "masked_text": CRISIS_TEXT,
                "model_version": "fakedata-1",
                "analyzed_at": at + timedelta(minutes=2),
            }
        )
    return rows


def _hostile(brand: str, now: datetime, tok: FragmentTokens) -> list[dict[str, Any]]:
    rows = []
    for i, text in enumerate(HOSTILE_TEXTS):
        at = now - timedelta(minutes=30 + i)
        rows.append(
            {
                "platform": "weibo",
                "post_id": f"hostile{i}",
                "brand": brand,
                "kind": "post",
                "text": text,
                "title": text,
                "url": "javascript:alert(3)" if i == 0 else f"https://m.weibo.cn/detail/h{i}",
                "author_id": f"h{i}",
                "author_name": text[:60],
                "published_at": at,
                "fetched_at": at,
                "first_seen_at": at,
                "ip_region": "<b>北京</b>",
                "sentiment": 0.05,
                "is_complaint": True,
                "category": "产品质量",
                "urgency": "非常紧急",
                "risk": 99,
                "reasons": [text],
                "tokens": tok(text),
                "masked_text": text,
                "model_version": "fakedata-1",
                "analyzed_at": at,
            }
        )
    return rows


def _sla_times(cfg: AppConfig, urgency: str, registered: datetime) -> dict[str, datetime | None]:
    t = cfg.complaints.sla[urgency]  # type: ignore[index]
    return {
        "due_report_at": registered + timedelta(minutes=t.report_minutes) if t.report_minutes else None,
        "due_first_check_at": registered + timedelta(minutes=t.first_check_minutes),
        "due_answer_at": registered + timedelta(minutes=t.answer_minutes),
        "due_resolve_at": registered + timedelta(minutes=t.resolve_minutes),
    }


_STATES = ("待处理", "待处理", "处理中", "已升级", "已解决", "已回访", "已关闭", "处理中")


def _complaint_values(
    cfg: AppConfig, m: dict[str, Any], i: int, number: str, now: datetime, rnd: random.Random
) -> dict[str, Any]:
    published = m["published_at"]
    registered = published + timedelta(minutes=rnd.choice((2, 4, 6, 8, 15)))
    if registered > now:
        registered = now
    urgency = m["urgency"] or "一般"
    status = _STATES[i % len(_STATES)]
    due = _sla_times(cfg, urgency, registered)
    v: dict[str, Any] = {
        "number": number,
        "brand": m["brand"],
        "platform": m["platform"],
        "mention_id": m["id"],
        "customer_platform": m["platform"],
        "customer_id": m["author_id"],
        "customer_name": m["author_name"],
        "customer_tags": ["多次投诉"] if i % 5 == 0 else [],
        "category": m["category"],
        "urgency": urgency,
        "risk": m["risk"] or 0,
        "reasons": m["reasons"],
        "summary": (m["masked_text"] or m["text"])[:120],
        "assignee": ("张敏", "李强", "王芳", None)[i % 4],
        "team": cfg.complaints.default_team,
        "status": status,
        "registered_at": registered,
        "source_fetched_at": published + timedelta(minutes=1),
        "registration_latency_s": (registered - published).total_seconds(),
        "updated_at": now,
        **due,
        "reported_at": registered + timedelta(minutes=1) if due["due_report_at"] else None,
    }
    if status != "待处理":
        v["first_checked_at"] = registered + timedelta(minutes=rnd.choice((10, 20, 45)))
    if status in ("已解决", "已回访", "已关闭"):
        v["answered_at"] = registered + timedelta(minutes=rnd.choice((50, 100, 200)))
        v["resolved_at"] = registered + timedelta(minutes=rnd.choice((120, 230, 300)))
        v["callback_due_at"] = v["resolved_at"] + timedelta(days=cfg.complaints.callback_days)
    if status in ("已回访", "已关闭"):
        v["callback_done_at"] = v["resolved_at"] + timedelta(days=1)
    if status == "已关闭":
        v["closed_at"] = v["resolved_at"] + timedelta(days=2)
    if status == "已升级":
        v["escalated_at"] = registered + timedelta(minutes=40)
    return v


def _complaints(
    conn: Any, cfg: AppConfig, mentions: list[dict[str, Any]], now: datetime, out: Seeded
) -> None:

    rnd = random.Random(3)
    numbers = next_numbers(conn, cfg, now, len(mentions)) if mentions else []
    for i, (m, number) in enumerate(zip(mentions, numbers, strict=True)):
        values = _complaint_values(cfg, m, i, number, now, rnd)
        if "escalated_at" not in COMPLAINTS.c:
            values.pop("escalated_at", None)
        cid = int(
            conn.execute(
                insert(COMPLAINTS).returning(COMPLAINTS.c.id),
                values,
            ).scalar_one()
        )
        conn.execute(
            insert(COMPLAINT_MENTIONS),
            {
                "complaint_id": cid,
                "mention_id": m["id"],
                "added_at": values["registered_at"],
            },
        )
        conn.execute(
            insert(COMPLAINT_HISTORY),
            {
                "complaint_id": cid,
                "at": values["registered_at"],
                "actor": "system",
                "action": "registered",
                "field": "status",
                "new": "待处理",
                "note": None,
            },
        )
        out.complaint_ids.append(cid)
        due = [values.get(k) for k in ("due_first_check_at", "due_answer_at", "due_resolve_at")]
        if values["status"] in ("待处理", "处理中") and any(d is not None and d < now for d in due):
            out.overdue_ids.append(cid)


def seed_database(
    engine: Engine,
    cfg: AppConfig,
    *,
    mentions: int = 600,
    days: float = 14,
    seed: int = 7,
    hostile: bool = False,
    now: datetime | None = None,
    complaints: int = 24,
) -> Seeded:
    """Insert a realistic data set; return the ids tests need."""
    now = now or utcnow()
    tok = FragmentTokens()
    brand = cfg.brands[0].name
    rows = list(mention_rows(brands_from_config(cfg), mentions, seed=seed, days=days, now=now, tokens=tok))
    rows += _crisis(brand, now, 24, tok)
    extra = _hostile(brand, now, tok) if hostile else []
    out = Seeded()
    with engine.begin() as conn:
        res = upsert_mentions(conn, rows + extra)
        ids = {(p, pid): mid for mid, p, pid, _ in res.rows}
        out.mention_ids = [ids[(r["platform"], r["post_id"])] for r in rows]
        out.hostile_ids = [ids[(r["platform"], r["post_id"])] for r in extra]
        out.event_id = _event(
            conn,
            brand,
            now,
            [ids[(r["platform"], r["post_id"])] for r in rows if r["post_id"].startswith("crisis")],
        )
        picked = _pick_for_complaints(conn, now, complaints)
        _complaints(conn, cfg, picked, now, out)
        _alerts_and_runs(conn, cfg, now, out, extra_ids=out.hostile_ids)
    return out


def _pick_for_complaints(conn: Any, now: datetime, n: int) -> list[dict[str, Any]]:
    """Complaint mentions of the last three days (two from the crisis), newest first."""
    base = select(MENTIONS).where(
        MENTIONS.c.is_complaint.is_(True), MENTIONS.c.published_at >= now - timedelta(days=3)
    )
    crisis = (
        conn.execute(
            base.where(MENTIONS.c.post_id.like("crisis%")).order_by(MENTIONS.c.published_at.desc()).limit(2)
        )
        .mappings()
        .all()
    )
    other = (
        conn.execute(
            base.where(MENTIONS.c.post_id.not_like("crisis%"), MENTIONS.c.post_id.not_like("hostile%"))
            .order_by(MENTIONS.c.published_at.desc())
            .limit(max(0, n - len(crisis)))
        )
        .mappings()
        .all()
    )
    return sorted([dict(m) for m in [*crisis, *other]], key=lambda m: m["published_at"], reverse=True)


def _event(conn: Any, brand: str, now: datetime, mention_ids: list[int]) -> int:
    ev = EVENTS
    eid = int(
        conn.execute(
            insert(ev).returning(ev.c.id),
            {
                "brand": brand,
                "title": CRISIS_TEXT[:40],
                "first_seen_at": now - timedelta(hours=5),
                "last_seen_at": now - timedelta(minutes=20),
                "mention_count": len(mention_ids),
                "platform_counts": {"weibo": 8, "douyin": 8, "xiaohongshu": 8},
                "engagement": 250_000,
                "negative_count": len(mention_ids),
                "complaint_count": len(mention_ids),
                "max_urgency": "非常紧急",
                "max_risk": 95,
                "max_followers": 72_000,
                "surge_at": now - timedelta(hours=3),
                "status": "open",
                "updated_at": now,
            },
        ).scalar_one()
    )
    conn.execute(update(MENTIONS).where(MENTIONS.c.id.in_(mention_ids)).values(event_id=eid))
    return eid


def _alerts_and_runs(conn: Any, cfg: AppConfig, now: datetime, out: Seeded, extra_ids: list[int]) -> None:
    al, dl = ALERTS, ALERT_DELIVERIES
    brand = cfg.brands[0].name
    specs: list[tuple[str, str, int | None, int | None]] = [
        ("surge", f"{brand} 声量突增：3 小时内 24 条负面", out.event_id, None),
        ("event", f"{brand} 危机事件：鲜榨橙汁喝出玻璃碴", out.event_id, None),
    ]
    specs += [("mention", "高风险提及", None, mid) for mid in extra_ids[:2]]
    for i, (kind, title, event_id, mention_id) in enumerate(specs):
        aid = int(
            conn.execute(
                insert(al).returning(al.c.id),
                {
                    "kind": kind,
                    "dedup_key": f"seed-{kind}-{i}",
                    "brand": brand,
                    "event_id": event_id,
                    "mention_id": mention_id,
                    "urgency": "非常紧急",
                    "risk": 95,
                    "title": title,
                    "payload": {"reasons": ["健康安全风险", "传播量大"]},
                    "status": "open",
                    "created_at": now - timedelta(hours=3 - i * 0.5),
                },
            ).scalar_one()
        )
        conn.execute(
            insert(dl),
            {
                "alert_id": aid,
                "channel": "ops",
                "idempotency_key": f"seed-{aid}",
                "status": "sent" if i else "failed",
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    run = CRAWL_RUNS
    for j, platform in enumerate(("weibo", "xiaohongshu", "douyin", "heimao")):
        for b in cfg.brands:
            failed = platform == "douyin" and b.name == brand
            conn.execute(
                insert(run),
                {
                    "spider": platform,
                    "platform": platform,
                    "brand": b.name,
                    "keyword": b.name,
                    "started_at": now - timedelta(minutes=10 + j),
                    "finished_at": now - timedelta(minutes=8 + j),
                    "status": "failed" if failed else "ok",
                    "items": 0 if failed else 40 + j,
                    "new_count": 5 + j,
                    "error_kind": "captcha" if failed else None,
                    "error_message": "出现验证码，需要人工登录" if failed else None,
                },
            )
    # the light jobs share the table: a tracking poll of a brand's post, newer than its crawls
    conn.execute(
        insert(run),
        {
            "spider": "tracking",
            "platform": "weibo",
            "brand": brand,
            "keyword": "4900000000000001",
            "started_at": now - timedelta(minutes=2),
            "finished_at": now - timedelta(minutes=2),
            "status": "ok",
            "items": 0,
            "new_count": 0,
        },
    )
    conn.execute(
        insert(HEALTH_INCIDENTS),
        {
            "kind": "captcha",
            "platform": "douyin",
            "brand": brand,
            "message": "抖音出现验证码，采集暂停",
            "opened_at": now - timedelta(minutes=40),
            "last_seen_at": now - timedelta(minutes=8),
            "count": 3,
            "fix": "运行 yuqing login douyin 重新登录",
        },
    )
