"""Propagation of a risky post: reposts and comments over time, the repost tree, the key spreaders.

**Start.** Triage puts a Weibo post on watch (``tracked_posts``) when it is the featured post of an
event's first immediate alert or when it is graded 非常紧急 (:func:`start_watch`); it stays on watch
for ``[tracking].hours``. At most ``[tracking].max_posts`` posts are watched at once: the oldest
watch ends when a new one starts.

**Visits** (:func:`run_due`, the scheduler's ``tracking`` job). A due post gets its repost timeline
(newest first, paged until a page holds only reposts already stored) and the first comment page
(its total). Counts go to ``track_points`` (the growth curve), new reposts to ``reposts`` with the
repost they were made from: the first ``//@name:`` of a repost names it (:func:`resolve_parents`,
the latest repost by that account before this one; no chain: made from the post itself).

**Schedule** (:func:`next_interval`): the first visit comes ``first_minutes`` after the start; the
interval halves while reposts accelerate (down to ``min_minutes``), doubles when a visit found
nothing new (up to ``max_minutes``), and never drops below 30 minutes after the first day.

**Spreaders** (:func:`spreaders`): each repost's reach is its author's followers plus the reach of
every repost below it (the audience the cascade reached through it); spreaders rank by that.

**Alerts** (``spread``): an update when a big-V (``[analysis].big_v_followers``) reposts, or when
reposts per hour grow faster than ``[tracking].acceleration_alert`` per hour (again each time the
speed doubles). Like every immediate alert it is charged to the brand's hourly budget; a channel
whose budget is spent gets it in the next roll-up instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from alerts import rules
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue
from alerts.delivery.render import number
from alerts.triage import pacing
from crawler.analytics.spread import rates, resolve_parents, spreaders
from crawler.clock import utcnow
from crawler.platform.normalize import parse_count
from crawler.service.fetch import LightFetcher, recorded_run
from crawler.storage.models import EVENTS, MENTIONS, REPOSTS
from crawler.storage.models import TRACK_POINTS as POINTS
from crawler.storage.models import TRACKED_POSTS as TRACKED
from spiders import _hot_api as api
from spiders import _weibo_api as weibo_api

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from crawler.config import AppConfig

LATE_FLOOR_MINUTES = 30.0


# --- pure parts --------------------------------------------------------------------------------


def next_interval(
    prev_minutes: float, *, new: int, acceleration: float, age_hours: float, lo: float, hi: float
) -> float:
    """Minutes until the next visit: tighter while reposts accelerate, looser once nothing new comes."""
    if new > 0 and acceleration > 0:
        nxt = prev_minutes / 2
    elif new == 0:
        nxt = prev_minutes * 2
    else:
        nxt = prev_minutes
    floor = max(lo, LATE_FLOOR_MINUTES) if age_hours >= 24 else lo
    return max(floor, min(hi, nxt))


# --- visits ------------------------------------------------------------------------------------


@dataclass
class Visit:
    tracked_id: int
    post_id: str
    status: str = "ok"
    new: int = 0
    reposts: int = 0
    comments: int = 0
    requests: int = 0
    velocity: float = 0.0
    acceleration: float = 0.0
    interval_minutes: float = 0.0
    alerts: list[int] = field(default_factory=list)
    error_kind: str | None = None


def _fetch_reposts(
    cfg: AppConfig, fetcher: LightFetcher, post_id: str, known: set[str]
) -> tuple[list[api.RepostRow], int]:
    base = cfg.platforms.weibo.base_url.rstrip("/")
    rows: list[api.RepostRow] = []
    total = 0
    page = 1
    while page <= cfg.tracking.max_pages:
        url = base + api.REPOST_PATH
        got = api.parse_repost_page(
            fetcher.get(
                url, params={"id": post_id, "page": page}, headers={"Referer": weibo_api.detail_url(post_id)}
            ),
            url=url,
        )
        total = max(total, got.total)
        fresh = [r for r in got.rows if r.repost_id not in known]
        rows += fresh
        known.update(r.repost_id for r in fresh)
        if not got.rows or len(fresh) < len(got.rows) or page >= (got.pages or page):
            break
        page += 1
    return rows, total


def _fetch_comments_total(cfg: AppConfig, fetcher: LightFetcher, post_id: str) -> int:
    url = cfg.platforms.weibo.base_url.rstrip("/") + weibo_api.HOTFLOW_PATH
    payload = fetcher.get(
        url, params=weibo_api.comment_params(post_id), headers={"Referer": weibo_api.detail_url(post_id)}
    )
    data = weibo_api.check_envelope(payload, url=url)
    return parse_count(data.get("total_number"))


def visit(
    engine: Engine,
    cfg: AppConfig,
    tracked: dict[str, Any],
    fetcher: LightFetcher,
    now: datetime | None = None,
) -> Visit:
    """One visit to a tracked post: fetch, store, schedule the next, alert."""
    tid, post_id = int(tracked["id"]), str(tracked["post_id"])
    res = Visit(tid, post_id)
    before = fetcher.requests
    with engine.connect() as conn:
        stored = [
            dict(r) for r in conn.execute(select(REPOSTS).where(REPOSTS.c.tracked_id == tid)).mappings()
        ]
    known = {r["repost_id"] for r in stored}
    with recorded_run(engine, fetcher, spider="tracking", brand=tracked["brand"], keyword=post_id) as run:
        rows, total = _fetch_reposts(cfg, fetcher, post_id, known)
        run.pages += 1
        comments = _fetch_comments_total(cfg, fetcher, post_id)
        run.pages += 1
        run.items = len(rows)
        run.new = len(rows)
    res.requests = fetcher.requests - before
    now = now or utcnow()
    if run.error is not None:
        res.status, res.error_kind = "failed", str(run.error.kind)
        with engine.begin() as conn:
            conn.execute(
                update(TRACKED)
                .where(TRACKED.c.id == tid)
                .values(
                    last_error=str(run.error)[:500],
                    requests=TRACKED.c.requests + res.requests,
                    next_at=now + timedelta(minutes=cfg.tracking.min_minutes),
                )
            )
        return res
    with engine.begin() as conn:
        _store_visit(conn, cfg, tracked, rows, stored, total, comments, now, res)
    return res


def _store_visit(
    conn: Connection,
    cfg: AppConfig,
    tracked: dict[str, Any],
    rows: list[api.RepostRow],
    stored: list[dict[str, Any]],
    total: int,
    comments: int,
    now: datetime,
    res: Visit,
) -> None:
    tid = res.tracked_id
    new_rows: list[dict[str, Any]] = [
        {
            "tracked_id": tid,
            "repost_id": r.repost_id,
            "parent_name": r.parent_name,
            "author_id": r.author_id,
            "author_name": r.author_name,
            "followers": r.followers,
            "verified": r.verified,
            "published_at": r.published_at,
            "text": r.text,
            "first_seen_at": now,
            "parent_id": None,
        }
        for r in rows
    ]
    everything = stored + new_rows
    root_author = (
        conn.execute(
            select(MENTIONS.c.author_name).where(MENTIONS.c.id == tracked.get("mention_id"))
        ).scalar()
        if tracked.get("mention_id")
        else None
    )
    parents = resolve_parents(everything, root_author)
    if new_rows:
        for r in new_rows:
            r["parent_id"] = parents.get(r["repost_id"])
        conn.execute(insert(REPOSTS), new_rows)
    fixes = [r for r in stored if parents.get(r["repost_id"]) != r.get("parent_id")]
    for r in fixes:  # a parent seen only now (fetched out of order)
        conn.execute(update(REPOSTS).where(REPOSTS.c.id == r["id"]).values(parent_id=parents[r["repost_id"]]))
    res.new, res.reposts, res.comments = len(new_rows), max(total, len(everything)), comments
    conn.execute(
        insert(POINTS),
        {
            "tracked_id": tid,
            "at": now,
            "reposts": res.reposts,
            "comments": comments,
            "likes": 0,
            "requests": res.requests,
        },
    )
    points = [
        (p.at, p.reposts)
        for p in conn.execute(
            select(POINTS.c.at, POINTS.c.reposts)
            .where(POINTS.c.tracked_id == tid)
            .order_by(POINTS.c.at.desc())
            .limit(3)
        )
    ]
    res.velocity, res.acceleration = rates(points[::-1])
    tc = cfg.tracking
    age_h = (now - tracked["started_at"]).total_seconds() / 3600
    res.interval_minutes = next_interval(
        float(tracked["interval_s"] or tc.first_minutes * 60) / 60,
        new=res.new,
        acceleration=res.acceleration,
        age_hours=age_h,
        lo=tc.min_minutes,
        hi=tc.max_minutes,
    )
    done = now >= tracked["until"]
    state = dict(tracked.get("alert_state") or {})
    res.alerts = _alerts(
        conn,
        cfg,
        tracked,
        [dict(r, parent_id=parents.get(r["repost_id"])) for r in everything],
        new_rows,
        state,
        res,
        now,
    )
    conn.execute(
        update(TRACKED)
        .where(TRACKED.c.id == tid)
        .values(
            last_fetched_at=now,
            fetches=TRACKED.c.fetches + 1,
            requests=TRACKED.c.requests + res.requests,
            interval_s=res.interval_minutes * 60,
            next_at=now + timedelta(minutes=res.interval_minutes),
            status="done" if done else "watching",
            last_error=None,
            alert_state=state,
        )
    )


def _alerts(
    conn: Connection,
    cfg: AppConfig,
    tracked: dict[str, Any],
    everything: list[dict[str, Any]],
    new_rows: list[dict[str, Any]],
    state: dict[str, Any],
    res: Visit,
    now: datetime,
) -> list[int]:
    reasons = []
    told = set(state.get("big_v") or [])
    bigs = [
        r for r in new_rows if r["followers"] >= cfg.analysis.big_v_followers and r["author_id"] not in told
    ]
    for r in sorted(bigs, key=lambda r: -r["followers"])[:3]:
        reasons.append(f"大V转发：{r['author_name'] or '未知'}（粉丝 {payloads_number(r['followers'])}）")
    state["big_v"] = sorted(told | {r["author_id"] for r in bigs if r["author_id"]})
    threshold = cfg.tracking.acceleration_alert
    level = int(state.get("speed_level") or 0)
    if threshold > 0 and res.acceleration >= threshold and res.velocity >= threshold:
        lvl = max(1, int(res.velocity // threshold).bit_length())
        if lvl > level:
            reasons.append(f"转发加速：{res.velocity:.0f} 次/小时（加速度 {res.acceleration:+.0f} 次/小时²）")
            state["speed_level"] = lvl
    if not reasons:
        return []
    event = None
    if tracked.get("event_id"):
        event = conn.execute(select(EVENTS).where(EVENTS.c.id == tracked["event_id"])).mappings().first()
    alert_state: dict[str, Any] = (event["alert_state"] if event is not None else None) or {}
    channels = list(
        dict.fromkeys(
            [
                *alert_state.get("channels", []),
                *rules.surge_channels(cfg, tracked["brand"]),
            ]
        )
    )
    n = int(state.get("alerts") or 0) + 1
    top = spreaders(everything, 3)
    title = f"传播追踪 · 转发 {res.reposts} 次"
    payload = {
        "kind": "spread",
        "title": title,
        "brand": tracked["brand"],
        "reasons": reasons,
        "text": "；".join(reasons),
        "spread": {
            "post_id": tracked["post_id"],
            "reposts": res.reposts,
            "comments": res.comments,
            "velocity": res.velocity,
            "acceleration": res.acceleration,
            "spreaders": top,
        },
        "links": payloads.links(cfg, mention_id=tracked.get("mention_id")),
    }
    send, held = pacing.split(conn, cfg, tracked["brand"], channels, now, exempt=False)
    if held:  # over the brand's hourly budget there: told in the next roll-up, not lost
        pacing.hold(
            conn,
            [
                pacing.Hold(
                    "rollup",
                    tracked["brand"],
                    ch,
                    f"spread:{tracked['id']}:{n}",
                    "spread",
                    mention_id=tracked.get("mention_id"),
                    event_id=tracked.get("event_id"),
                    note=f"传播追踪：{payload['text']}"[:500],
                )
                for ch in held
            ],
            now,
        )
    alert_id = (
        enqueue(
            conn,
            cfg,
            kind="spread",
            dedup_key=f"spread:{tracked['id']}:{n}",
            title=title,
            payload=payload,
            channels=send,
            brand=tracked["brand"],
            event_id=tracked.get("event_id"),
            mention_id=tracked.get("mention_id"),
        )
        if send
        else None
    )
    state["alerts"] = n
    if alert_id is None:
        return []
    pacing.charge(conn, tracked["brand"], send, now, alert_id)
    return [alert_id]


def payloads_number(n: int) -> str:

    return number(n)


def run_due(
    engine: Engine, cfg: AppConfig, *, fetcher: LightFetcher | None = None, now: datetime | None = None
) -> list[Visit]:
    """Visit every watched post that is due (one fetcher, so one rate ceiling, for all of them);
    ``now`` is the clock of the whole visit (tests and the benchmark run it ahead of the wall clock)."""
    now = now or utcnow()
    t = TRACKED.c
    with engine.begin() as conn:
        conn.execute(
            update(TRACKED)
            .where(t.status == "watching", t.until < now - timedelta(hours=1))
            .values(status="done")
        )
        due = [
            dict(r)
            for r in conn.execute(
                select(TRACKED).where(t.status == "watching", t.next_at <= now).order_by(t.next_at)
            ).mappings()
        ]
    if not due:
        return []
    own = fetcher is None
    fetcher = fetcher or LightFetcher.for_platform(cfg, "weibo")
    try:
        return [visit(engine, cfg, tr, fetcher, now=now) for tr in due]
    finally:
        if own:
            fetcher.close()
