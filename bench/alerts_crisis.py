"""Alert benchmark, crisis part (``python bench/alerts.py --part crisis``, or run this file).

A simulated crisis: ``--reposts`` (default 500) near-identical reposts of one story across
Weibo, Douyin and Xiaohongshu within an hour, analysed by the real ``sentiment.analyze``,
stored and triaged in pipeline-sized batches (``--crisis-batch``) on a simulated clock. Midway
some reposters threaten escalation (12315, police, media: 非常紧急) and a big-V joins. The
rules route 紧急+ complaints to the PR channel immediately, so a per-mention alerter would
send one message per repost: that count, measured in the same run, is the baseline. Target:
one immediate alert for the event plus its escalation updates (urgency, big-V, surges), not
hundreds; everything else folds into the digest. The alerts are then delivered to a loopback
receiver to count what people would actually see per channel.

Complaint records, same run: a record is a consumer's complaint, so the reposts join the
story's record and only reposters who add a grievance of their own (``OWN``: their child,
their order, their money) open one, reported together once as a 群体投诉. Baseline: one
record per author (the old rule keyed records by brand, platform and author). Target: records
≤ ``MAX_RECORDS`` (one for the story plus the scenario's first-person complainants).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path[0] != str(ROOT):  # run as a file, bench/ comes first and its alerts.py would shadow the package
    sys.path.insert(0, str(ROOT))

STORY = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"
COMMENTS = [
    "太可怕了",
    "转发",
    "已经不敢喝了",
    "求官方回应",
    "心疼孩子",
    "抵制",
    "真的假的",
    "我也遇到过类似的",
    "必须曝光",
    "支持维权",
    "吓死了",
    "转给家里人看看",
    "这家店还敢开",
    "关注后续",
]
THREATS = ["已经打了12315投诉", "已经报警了", "记者已经联系我们了", "准备找律师起诉"]
# Reposters who add a grievance of their own: each is a consumer who needs an answer (a record of their own).
OWN = ["我儿子喝出玻璃，嘴划破了", "我买的那杯也有玻璃渣", "我女儿喝完嘴里出血了"]
PLATFORMS = ("weibo", "douyin", "xiaohongshu")
MAX_IMMEDIATE = 5  # first alert + urgency + big-V + event surge + brand surge
MAX_RECORDS = 5  # the story's record + the scenario's first-person complainants


def crisis_rows(n: int, start: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` analysed reposts of one story over 60 minutes from ``start``."""
    import sentiment

    rows = []
    own_at = {int(n * f): text for f, text in zip((0.3, 0.5, 0.7), OWN, strict=True)} if n >= 10 else {}
    for i in range(n):
        threat = i > n * 0.4 and rng.random() < 0.3
        comment = rng.choice(THREATS) if threat else rng.choice(COMMENTS)
        comment = own_at.get(i, comment)
        big_v = i == int(n * 0.6)
        platform = PLATFORMS[i % 3]
        text = f"{STORY} //@网友{i}: {comment}"
        followers = 2_500_000 if big_v else rng.randint(10, 3000)
        likes, comments, shares = rng.randint(0, 40), rng.randint(0, 10), rng.randint(0, 20)
        published = start + timedelta(seconds=3600 * i / n)
        a = sentiment.analyze(
            text,
            platform=platform,
            followers=followers,
            likes=likes,
            comments=comments,
            shares=shares,
            brand="鲜果时光",
        )
        rows.append(
            {
                "platform": platform,
                "post_id": f"crisis{i:05d}",
                "kind": "post",
                "brand": "鲜果时光",
                "keyword": "鲜果时光",
                "url": f"https://example.invalid/{platform}/crisis{i:05d}",
                "text": text,
                "author_id": f"c{i}",
                "author_name": "美食大V" if big_v else f"网友{i}",
                "author_followers": followers,
                "author_verified": big_v,
                "published_at": published,
                "fetched_at": published + timedelta(seconds=30),
                "likes": likes,
                "comments": comments,
                "shares": shares,
                **a.columns(),
            }
        )
    return rows


def crisis_config(db_url: str, data_dir: str, pr_url: str, kefu_url: str) -> dict[str, Any]:
    return {
        "project": {"data_dir": data_dir, "log_level": "WARNING"},
        "storage": {"url": db_url},
        "brands": [{"name": "鲜果时光", "aliases": ["鲜果"]}],
        "alerts": {
            "channels": {
                "pr": {"type": "webhook", "url": pr_url, "rate_per_minute": 100_000},
                "kefu": {"type": "webhook", "url": kefu_url, "rate_per_minute": 100_000},
            },
            "rules": [
                {"name": "紧急投诉", "channels": ["pr"], "min_urgency": "紧急", "surge": True},
                {"name": "投诉摘要", "channels": ["kefu"], "min_risk": 30, "mode": "digest"},
            ],
        },
        "complaints": {"report_channels": ["kefu"]},
    }


def crisis_part(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from alerts.complaints.registration import eligible
    from alerts.delivery.dispatch import dispatch_once
    from alerts.rules import route
    from alerts.triage.run import flush_digest, triage
    from crawler.config import config_from_dict
    from crawler.storage.engine import dispose_engines, open_database
    from crawler.storage.mentions import upsert_mentions
    from crawler.storage.models import Alert, Complaint, ComplaintMention, Event
    from simulator.receiver.server import Receiver

    n, size = int(getattr(args, "reposts", 500)), int(getattr(args, "crisis_batch", 50))
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-bench-crisis-"))
    db_url = f"sqlite:///{tmp / 'crisis.db'}"
    start = datetime.now(UTC) - timedelta(hours=2)
    rows = crisis_rows(n, start, random.Random(11))
    with Receiver(enforce_limits=False) as rx:
        cfg = config_from_dict(crisis_config(db_url, str(tmp / "data"), rx.webhook("pr"), rx.webhook("kefu")))
        engine = open_database(db_url)
        naive = sum(
            bool(route(cfg, r).immediate) for r in rows
        )  # the baseline: one alert per matching repost
        per_author = len({(r["brand"], r["platform"], r["author_id"]) for r in rows if eligible(cfg, r)})
        for i in range(0, n, size):
            batch = rows[i : i + size]
            now = batch[-1]["fetched_at"]
            with engine.begin() as conn:
                result = upsert_mentions(conn, batch)
                with conn.begin_nested():
                    triage(conn, cfg, result.rows, now=now)
        flush_digest(engine, cfg, now=rows[-1]["fetched_at"] + timedelta(minutes=1), force=True)
        for _ in range(20):
            if not dispatch_once(engine, cfg).claimed:
                break
        seen = Counter(m.robot for m in rx.visible())
        with engine.connect() as conn:
            kinds = Counter(dict(conn.execute(select(Alert.kind, func.count()).group_by(Alert.kind)).all()))
            keys = [
                k
                for (k,) in conn.execute(
                    select(Alert.dedup_key).where(Alert.kind != "digest").order_by(Alert.id)
                )
            ]
            events = int(conn.execute(select(func.count()).select_from(Event)).scalar_one())
            records = int(conn.execute(select(func.count()).select_from(Complaint)).scalar_one())
            linked = int(conn.execute(select(func.count()).select_from(ComplaintMention)).scalar_one())
            tagged = sum("群体投诉" in (t or []) for t in conn.execute(select(Complaint.tags)).scalars())
        dispose_engines()
    immediate = sum(v for k, v in kinds.items() if k not in ("digest", "complaint"))
    return {
        "reposts": n,
        "naive": naive,
        "kinds": dict(kinds),
        "immediate": immediate,
        "keys": keys,
        "events": events,
        "records": records,
        "delivered": dict(seen),
        "per_author": per_author,
        "eligible": sum(eligible(cfg, r) for r in rows),
        "linked": linked,
        "group_tagged": tagged,
        "own": len(OWN) if n >= 10 else 0,
        "urgencies": Counter(r["urgency"] for r in rows),
    }


def report_crisis(r: dict[str, Any], args: argparse.Namespace) -> bool:
    print(
        f"[crisis] {r['reposts']} near-identical reposts (analysed: {dict(r['urgencies'])}) → "
        f"{r['events']} event(s), {r['records']} complaint record(s)"
    )
    print(f"[crisis] baseline (one alert per repost matching an immediate rule): {r['naive']} alerts")
    print(
        f"[crisis] triage: {r['immediate']} immediate alert(s) + {r['kinds'].get('digest', 0)} digest(s): "
        f"{', '.join(r['keys'])}"
    )
    print(f"[crisis] delivered per channel (loopback receiver): {r['delivered']}")
    ratio = r["immediate"] / r["naive"] if r["naive"] else 0.0
    ok = 1 <= r["immediate"] <= MAX_IMMEDIATE and r["events"] == 1
    print(
        f"[crisis] ratio immediate / baseline: {ratio:.3f} ({r['naive']} → {r['immediate']}); target one alert "
        f"plus escalations (≤ {MAX_IMMEDIATE}) in one event → {'OK' if ok else 'MISSED'}"
    )
    reports = r["kinds"].get("complaint", 0)
    print(
        f"[crisis] complaint records: {r['records']} for {r['eligible']} complaint mentions "
        f"({r['linked']} linked, {r['group_tagged']} tagged 群体投诉, {reports} report(s) to the complaint channel); "
        f"baseline one record per author: {r['per_author']}"
    )
    met = 1 <= r["records"] <= MAX_RECORDS and r["records"] >= 1 + r["own"] and r["linked"] == r["eligible"]
    print(
        f"[crisis] records: {r['per_author']} → {r['records']} (target ≤ {MAX_RECORDS}: the story's record plus "
        f"{r['own']} first-person complainant(s), every complaint mention linked) → {'met' if met else 'not met'}"
    )
    return ok and met


def main() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    parser = argparse.ArgumentParser(
        description="crisis: how many alerts a burst of near-identical reposts makes"
    )
    parser.add_argument("--reposts", type=int, default=500)
    parser.add_argument("--crisis-batch", type=int, default=50, help="mentions per pipeline flush")
    args = parser.parse_args()
    sys.exit(0 if report_crisis(crisis_part(args), args) else 1)


if __name__ == "__main__":
    main()
