"""Distributed-mode benchmark: crawl throughput with 1, 2, 4 workers, and end-to-end latency.

    python bench/distributed.py [--workers 1,2,4] [--brands 8] [--minutes 6] [--pg URL]
                                [--redis URL] [--skip-throughput] [--skip-latency] [--json]

Everything runs on this machine: the simulator (in this process), PostgreSQL (a temp
database on the server given by --pg or YUQING_TEST_PG), Redis, and real ``yuqing worker``
/ ``yuqing run`` processes.

1. **Throughput.** For each worker count N: a fresh database, the same simulated world
   (``--brands`` brands on Weibo and Heimao, so 2 × brands crawl tasks), all tasks queued
   at once, N worker processes with one crawl slot each; mentions stored per second from
   the workers' start until the queue is empty. The 1-worker run is the baseline; the
   other rows show their ratio to it.
2. **Latency.** The simulator in live mode publishes posts over ``--minutes`` minutes; one
   ``yuqing run`` (schedules ``every 1m``) and two workers crawl them; a loopback webhook
   receiver gets the alerts. For each post published in the measured window: seconds from
   its publication to its mention row, to its complaint record (complaints) and to the
   first alert about it (created, and delivered to the webhook). Target: p95 within the
   schedule interval + 60 s, i.e. under 120 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from crawler.clock import utcnow  # noqa: E402
from crawler.service.distributed import TaskQueue  # noqa: E402
from crawler.service.worker import wait_idle  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.models import Alert, AlertDelivery, ComplaintMention, DigestItem, Mention  # noqa: E402
from crawler.storage.redis_conn import connect  # noqa: E402

M, A, D, CM, DI = (t.__table__ for t in (Mention, Alert, AlertDelivery, ComplaintMention, DigestItem))  # type: ignore[attr-defined]
BRAND_NAMES = [
    "鲜果时光",
    "小鹿宝贝",
    "山野咖啡",
    "云朵面包",
    "青禾乳业",
    "星河宠物",
    "暖阳母婴",
    "橙光饮品",
    "白鹭日化",
    "松果零食",
    "蓝海家电",
    "竹语茶饮",
]
WEBHOOK_SECRET = "bench-webhook-secret"


@contextmanager
def temp_database(admin_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    name = f"yuqing_bench_{uuid.uuid4().hex[:8]}"
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    try:
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(
    path: Path,
    sim: Any,
    *,
    db_url: str,
    redis_url: str,
    prefix: str,
    brands: list[str],
    schedule: str,
    slots: int,
    webhook: str | None = None,
) -> Path:
    from simulator.options import WEIBO_TEST_SUB, brand_specs

    lines = [
        f'[project]\ndata_dir = "{path.parent / "data"}"\nlog_level = "INFO"',
        f'[storage]\nurl = "{db_url}"',
    ]
    for spec in brand_specs(brands, None):
        lines.append(f'[[brands]]\nname = "{spec.name}"\nheimao_couid = ["{spec.couid}"]')
    common = (
        f'schedule = "{schedule}"\nrequest_delay = 0\nrate_limit_per_minute = 6000\nmax_pages = 10\n'
        "max_retries = 1\ntimeout_seconds = 10\nmax_comment_pages = 1"
    )
    # Weibo searches both 综合 (1) and 实时 (61, newest first), the default.
    lines.append(
        f'[platforms.weibo]\nbase_url = "{sim.base_url("weibo")}"\n{common}\nsearch_types = [1, 61]\n'
        f'accounts = [{{ name = "main", cookies = "SUB={WEIBO_TEST_SUB}" }}]'
    )
    lines.append(f'[platforms.heimao]\nbase_url = "{sim.base_url("heimao")}"\n{common}')
    lines.append("[platforms.xiaohongshu]\nenabled = false\n[platforms.douyin]\nenabled = false")
    if webhook:
        lines.append(
            f'[alerts]\nhealth_channels = ["ops"]\n[alerts.channels.ops]\ntype = "webhook"\n'
            f'url = "{webhook}"\nsecret = "{WEBHOOK_SECRET}"\n'
            '[[alerts.rules]]\nname = "complaints"\nchannels = ["ops"]\ncomplaints_only = true'
        )
    lines.append(
        "[scheduler]\nlock_lease_seconds = 15\nhealth_seconds = 15\ndispatch_seconds = 2\n"
        'daily_report = "0 9 * * *"\nweekly_report = "0 9 * * 1"'
    )
    lines.append(
        f'[distributed]\nenabled = true\nredis_url = "{redis_url}"\nkey_prefix = "{prefix}"\n'
        f"worker_concurrency = {slots}\ntask_lease_seconds = 15\npoll_seconds = 0.3"
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spawn(args: list[str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "YUQING_DATABASE_URL")}
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.app", "--config", str(config), *args],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()


def clear_prefix(redis_url: str, prefix: str) -> None:
    r = connect(redis_url)
    keys = list(r.scan_iter(f"{prefix}:*"))
    if keys:
        r.delete(*keys)


# --- 1. throughput ------------------------------------------------------------------------


def throughput(
    n_workers: int, *, admin_url: str, redis_url: str, brands: list[str], tmp: Path
) -> dict[str, Any]:
    from simulator import Simulator

    prefix = f"yqbench{uuid.uuid4().hex[:6]}"
    work = tmp / f"throughput-{n_workers}"
    work.mkdir()
    with (
        temp_database(admin_url) as db_url,
        Simulator(
            seed=3,
            brands=brands,
            days=3,
            posts_per_brand={"weibo": 40, "heimao": 30},
            platforms=("weibo", "heimao"),
        ) as sim,
    ):
        config = write_config(
            work / "yuqing.toml",
            sim,
            db_url=db_url,
            redis_url=redis_url,
            prefix=prefix,
            brands=brands,
            schedule="every 10m",
            slots=1,
        )
        engine = open_database(db_url)
        from crawler.config import load_config

        queue = TaskQueue.from_config(load_config(config))
        for platform in ("weibo", "heimao"):
            for brand in brands:
                queue.enqueue(platform, brand)
        started = time.monotonic()
        procs = [spawn(["worker"], config, work / f"worker{i}.log") for i in range(n_workers)]
        try:
            if not wait_idle(queue, 1800):
                raise SystemExit(f"{n_workers} worker(s): the queue did not drain within 30 minutes")
            seconds = time.monotonic() - started
        finally:
            stop_all(procs)
            clear_prefix(redis_url, prefix)
        with engine.connect() as conn:
            mentions = conn.execute(select(func.count()).select_from(M)).scalar_one()
        expected = sum(1 for p in ("weibo", "heimao") for t in sim.truth(p) if t["brand"] in brands)
    return {
        "workers": n_workers,
        "tasks": 2 * len(brands),
        "mentions": mentions,
        "published": expected,
        "seconds": round(seconds, 1),
        "mentions_per_s": round(mentions / seconds, 1),
    }


# --- 2. latency ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": pct(values, 0.5),
        "p95": pct(values, 0.95),
        "max": pct(values, 1.0),
        "mean": round(statistics.fmean(values), 1) if values else None,
    }


def latency(minutes: float, *, admin_url: str, redis_url: str, tmp: Path) -> dict[str, Any]:
    from simulator import Simulator
    from simulator.receiver.server import Receiver

    prefix = f"yqbench{uuid.uuid4().hex[:6]}"
    work = tmp / "latency"
    work.mkdir()
    brands = BRAND_NAMES[:2]
    with (
        temp_database(admin_url) as db_url,
        Receiver() as rcv,
        Simulator(
            seed=9,
            brands=brands,
            days=2,
            live=True,
            live_interval=4.0,
            posts_per_brand={"weibo": 20, "heimao": 15},
            platforms=("weibo", "heimao"),
        ) as sim,
    ):
        hook = rcv.webhook("ops", secret=WEBHOOK_SECRET)
        config = write_config(
            work / "yuqing.toml",
            sim,
            db_url=db_url,
            redis_url=redis_url,
            prefix=prefix,
            brands=brands,
            schedule="every 1m",
            slots=2,
            webhook=hook,
        )
        engine = open_database(db_url)
        window_start = utcnow() + timedelta(seconds=30)  # after the first full crawl is under way
        procs = [
            spawn(["run"], config, work / "run.log"),
            spawn(["worker"], config, work / "worker1.log"),
            spawn(["worker"], config, work / "worker2.log"),
        ]
        try:
            time.sleep(minutes * 60)
        finally:
            stop_all(procs)
            clear_prefix(redis_url, prefix)
        window_end = utcnow() - timedelta(seconds=120)  # posts later than this had no fair chance yet
        posts = [
            t
            for p in ("weibo", "heimao")
            for t in sim.truth(p)
            if t["kind"] in ("post", "complaint") and window_start <= t["published_at"] <= window_end
        ]
        return measure(engine, posts)


def measure(engine: Any, posts: list[dict[str, Any]]) -> dict[str, Any]:
    """Per post: to its mention row, to its complaint record, to the immediate alert about it.

    Triage sends ONE immediate alert per event (its top mention) and folds the rest into the
    digest; so a complaint is either alerted immediately (the alert's mention), folded into
    a digest (``[alerts].digest_minutes`` later by design), or joined an event that was
    already alerted before it appeared. Only immediate alerts have a latency worth a target.
    """
    found, complaint, alerted, delivered, missing = [], [], [], [], 0
    folded = covered = 0
    instant = A.c.kind.in_(("mention", "event", "surge", "complaint"))
    with engine.connect() as conn:
        for t in posts:
            m = conn.execute(
                select(M.c.id, M.c.first_seen_at, M.c.event_id).where(
                    M.c.platform == t["platform"], M.c.post_id == str(t["post_id"])
                )
            ).first()
            if m is None:
                missing += 1
                continue
            pub = t["published_at"]
            found.append((m.first_seen_at - pub).total_seconds())
            added = conn.execute(select(func.min(CM.c.added_at)).where(CM.c.mention_id == m.id)).scalar()
            if added is None:
                continue
            complaint.append((added - pub).total_seconds())
            first = conn.execute(
                select(A.c.id, A.c.created_at)
                .where(A.c.mention_id == m.id, instant)
                .order_by(A.c.created_at)
                .limit(1)
            ).first()
            if first is not None:
                alerted.append((first.created_at - pub).total_seconds())
                sent = conn.execute(select(func.min(D.c.sent_at)).where(D.c.alert_id == first.id)).scalar()
                if sent is not None:
                    delivered.append((sent - pub).total_seconds())
            elif conn.execute(
                select(func.count()).select_from(DI).where(DI.c.mention_id == m.id)
            ).scalar_one():
                folded += 1
            elif m.event_id is not None:
                covered += 1
    return {
        "posts": len(posts),
        "missing": missing,
        "to_mention": summary(found),
        "to_complaint": summary(complaint),
        "to_alert": summary(alerted),
        "to_delivery": summary(delivered),
        "complaints_folded_into_digest": folded,
        "complaints_in_already_alerted_event": covered,
    }


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--brands", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument(
        "--pg",
        default=os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--redis", default=os.environ.get("YUQING_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from crawler.logging import setup_logging

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        setup_logging("WARNING", log_dir=Path(tmp) / "logs")
        if not args.skip_throughput:
            rows = [
                throughput(
                    int(n),
                    admin_url=args.pg,
                    redis_url=args.redis,
                    brands=BRAND_NAMES[: args.brands],
                    tmp=Path(tmp),
                )
                for n in args.workers.split(",")
            ]
            base = rows[0]["mentions_per_s"]
            for row in rows:
                row["ratio_vs_1"] = round(row["mentions_per_s"] / base, 2)
            result["throughput"] = rows
            if not args.json:
                print(f"throughput ({rows[0]['tasks']} crawl tasks, {os.cpu_count()} CPU cores):")
                for row in rows:
                    print(
                        f"  {row['workers']} worker(s): {row['mentions']} mentions "
                        f"(published {row['published']}) in {row['seconds']} s = {row['mentions_per_s']} "
                        f"mentions/s, x{row['ratio_vs_1']} vs 1 worker"
                    )
        if not args.skip_latency:
            lat = latency(args.minutes, admin_url=args.pg, redis_url=args.redis, tmp=Path(tmp))
            lat["target_p95_s"] = 120
            result["latency"] = lat
            if not args.json:
                print(
                    f"latency (schedule every 1m, {lat['posts']} posts published in the window, "
                    f"{lat['missing']} not stored):"
                )
                for key in ("to_mention", "to_complaint", "to_alert", "to_delivery"):
                    s = lat[key]
                    print(f"  {key:13} n={s['n']:3}  p50={s['p50']} s  p95={s['p95']} s  max={s['max']} s")
                print(
                    f"  complaints without their own immediate alert: {lat['complaints_folded_into_digest']} folded "
                    f"into the digest, {lat['complaints_in_already_alerted_event']} joined an already alerted event"
                )
                p95 = lat["to_complaint"]["p95"]
                verdict = "MET" if p95 is not None and p95 <= 120 else "NOT MET"
                print(f"  target: complaint record p95 <= 120 s (interval 60 s + 60 s): {verdict}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
