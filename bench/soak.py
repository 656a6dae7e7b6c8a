"""Soak run: ``yuqing run`` against the live simulator for a long time, with faults switched on and off.

    python bench/soak.py [--minutes 60] [--pg URL] [--fault-every 4] [--fault-seconds 50]
                         [--workers 0] [--redis URL] [--json]

The service crawls Weibo and Heimao for two brands every minute while the simulator
publishes new posts; every ``--fault-every`` minutes one platform fails in one way
(expired login, captcha, IP block, rate limit, 5xx, changed schema, malformed JSON) for
``--fault-seconds``. With ``--workers N`` the crawls run on N ``yuqing worker`` processes
(distributed mode) instead of inside ``yuqing run``.

At the end (after a last clean round of crawls) it checks what the issue's "done" asks:
every post the simulator published (inside the crawl window) is in the database exactly
once, and every fault that broke crawls was reported — a health incident that opened
during the fault and cleared after it — or was survived by the spiders' retries (no
failed crawl). It prints one line per fault and a verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from distributed import BRAND_NAMES, clear_prefix, spawn, stop_all, temp_database, write_config  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crawler.clock import utcnow  # noqa: E402
from crawler.storage.engine import open_database  # noqa: E402
from crawler.storage.mentions import MENTIONS, RUNS, brand_crawl_runs  # noqa: E402
from crawler.storage.models import HealthIncident  # noqa: E402

INCIDENTS = HealthIncident.__table__  # type: ignore[attr-defined]
FAULTS: list[tuple[str, str]] = [
    ("weibo", "auth_expired"),
    ("heimao", "rate_limited"),
    ("weibo", "captcha"),
    ("heimao", "server_error"),
    ("weibo", "schema_change"),
    ("heimao", "ip_blocked"),
    ("weibo", "malformed_json"),
    ("heimao", "bad_payload"),
]
PLATFORMS = ("weibo", "heimao")
TRANSIENT = ("server_error", "network", "timeout", "slow")  # health reports them only when they persist
FAILED_RUNS = 3  # [scheduler].failed_runs default


def _local_config(config: Path, workers: int) -> None:
    """Local mode: drop the [distributed] section the shared writer adds."""
    if workers:
        return
    text = config.read_text(encoding="utf-8")
    config.write_text(text.split("[distributed]")[0], encoding="utf-8")


def run_soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from simulator import Simulator

    prefix = f"yqsoak{uuid.uuid4().hex[:6]}"
    brands = BRAND_NAMES[:2]
    faults: list[dict[str, Any]] = []
    with (
        temp_database(args.pg) as db_url,
        Simulator(
            seed=13,
            brands=brands,
            days=2,
            live=True,
            live_interval=6.0,
            posts_per_brand={"weibo": 25, "heimao": 15},
            platforms=PLATFORMS,
        ) as sim,
    ):
        config = write_config(
            tmp / "yuqing.toml",
            sim,
            db_url=db_url,
            redis_url=args.redis,
            prefix=prefix,
            brands=brands,
            schedule="every 1m",
            slots=2,
        )
        _local_config(config, args.workers)
        engine = open_database(db_url)
        procs = [spawn(["run"], config, tmp / "run.log")]
        procs += [spawn(["worker"], config, tmp / f"worker{i}.log") for i in range(args.workers)]
        started = time.monotonic()
        end = started + args.minutes * 60
        next_fault, i = started + 120, 0
        try:
            while time.monotonic() < end:
                if time.monotonic() >= next_fault and time.monotonic() + args.fault_seconds + 150 < end:
                    platform, kind = FAULTS[i % len(FAULTS)]
                    sim.set_fault(platform, kind, duration=args.fault_seconds)
                    faults.append(
                        {
                            "platform": platform,
                            "kind": kind,
                            "start": utcnow(),
                            "end": utcnow() + timedelta(seconds=args.fault_seconds),
                        }
                    )
                    print(
                        f"[{(time.monotonic() - started) / 60:5.1f} min] fault on: {platform} {kind}",
                        flush=True,
                    )
                    i += 1
                    next_fault += args.fault_every * 60
                time.sleep(1)
            mark = utcnow()
            snapshot = _posts(sim)
            _wait_round(engine, mark, [(p, b) for p in PLATFORMS for b in brands], timeout=240)
        finally:
            stop_all(procs)
            if args.workers:
                clear_prefix(args.redis, prefix)
        return verify(engine, sim, snapshot, faults)


def _posts(sim: Any) -> set[tuple[str, str]]:
    window = utcnow() - timedelta(days=6)
    return {
        (t["platform"], str(t["post_id"]))
        for p in PLATFORMS
        for t in sim.truth(p)
        if t["kind"] in ("post", "complaint") and t["published_at"] >= window
    }


def _wait_round(engine: Any, mark: datetime, pairs: list[tuple[str, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = {
                (r.platform, r.brand)
                for r in conn.execute(
                    select(RUNS.c.platform, RUNS.c.brand).where(
                        RUNS.c.started_at > mark, RUNS.c.status == "ok", brand_crawl_runs()
                    )
                )
            }
        if all(p in done for p in pairs):
            return
        time.sleep(2)
    print("warning: no clean final round of crawls within the timeout", flush=True)


def verify(
    engine: Any, sim: Any, snapshot: set[tuple[str, str]], faults: list[dict[str, Any]]
) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(MENTIONS.c.platform, MENTIONS.c.post_id, func.count())
            .where(MENTIONS.c.kind.in_(("post", "complaint")))
            .group_by(MENTIONS.c.platform, MENTIONS.c.post_id)
        ).all()
        incidents = [dict(r) for r in conn.execute(select(INCIDENTS)).mappings()]
        runs = [
            dict(r)
            for r in conn.execute(
                select(RUNS.c.platform, RUNS.c.status, RUNS.c.started_at, RUNS.c.error_kind).where(
                    brand_crawl_runs()  # the crawls, not hot-list polls
                )
            ).mappings()
        ]
    stored = {(r[0], r[1]): r[2] for r in rows}
    truth_all = {(t["platform"], str(t["post_id"])) for p in PLATFORMS for t in sim.truth(p)}
    by_key = {(t["platform"], str(t["post_id"])): t for p in PLATFORMS for t in sim.truth(p)}
    missing = sorted(snapshot - set(stored), key=lambda k: by_key[k]["published_at"])
    report = {
        "posts_expected": len(snapshot),
        "missing": [
            {
                "platform": k[0],
                "post_id": k[1],
                "brand": by_key[k]["brand"],
                "published_at": by_key[k]["published_at"].isoformat(timespec="seconds"),
                "kind": by_key[k]["kind"],
            }
            for k in missing[:30]
        ],
        "missing_count": len(snapshot - set(stored)),
        "duplicates": sum(1 for n in stored.values() if n > 1),
        "invented": len(set(stored) - truth_all),
        "runs": len(runs),
        "failed_runs": sum(1 for r in runs if r["status"] in ("failed", "timeout")),
        "faults": [],
    }
    for f in faults:
        hit = [
            r
            for r in runs
            if r["platform"] == f["platform"]
            and f["start"] <= r["started_at"] <= f["end"]
            and r["status"] in ("failed", "timeout", "partial")
            and r["error_kind"]
        ]
        recovered = any(
            r["platform"] == f["platform"] and r["status"] == "ok" and r["started_at"] > f["end"]
            for r in runs
        )
        seen = [
            i
            for i in incidents
            if i["platform"] in (f["platform"], None)
            and f["start"] - timedelta(seconds=5) <= i["opened_at"] <= f["end"] + timedelta(seconds=150)
        ]
        cleared = all(i["cleared_at"] is not None for i in seen)
        if not hit:
            outcome = "survived (no crawl failed)"
        elif seen and cleared:
            outcome = f"reported: {', '.join(sorted({i['kind'] for i in seen}))} opened and cleared"
        elif seen:
            outcome = "reported, NOT cleared"
        elif all(r["status"] == "partial" for r in hit):
            outcome = f"partial crawls ({', '.join(sorted({str(r['error_kind']) for r in hit}))}), retried; no incident"
        elif f["kind"] in TRANSIENT and recovered:
            outcome = (
                f"transient: {len(hit)} crawl(s) failed, the next ones recovered "
                f"(crawl_failed opens only after {FAILED_RUNS} failures in a row)"
            )
        else:
            outcome = "NOT REPORTED"
        report["faults"].append(
            {"platform": f["platform"], "kind": f["kind"], "crawls_hit": len(hit), "outcome": outcome}
        )
    report["ok"] = (
        report["missing_count"] == 0
        and report["duplicates"] == 0
        and report["invented"] == 0
        and not any(x["outcome"].startswith(("NOT", "reported, NOT")) for x in report["faults"])
    )
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--fault-every", type=float, default=4.0)
    ap.add_argument("--fault-seconds", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=0, help="0: local mode; N: distributed with N workers")
    ap.add_argument(
        "--pg",
        default=os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--redis", default=os.environ.get("YUQING_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from crawler.logging import setup_logging

    with tempfile.TemporaryDirectory(prefix="yuqing-soak-") as tmp:
        setup_logging("WARNING", log_dir=Path(tmp) / "logs")
        report = run_soak(args, Path(tmp))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    print(
        f"{args.minutes:g} min, {report['runs']} crawls ({report['failed_runs']} failed or timed out); "
        f"{report['posts_expected']} posts published: {report['missing_count']} missing, "
        f"{report['duplicates']} stored twice, {report['invented']} not in the simulator's truth"
    )
    for f in report["faults"]:
        print(f"  {f['platform']:7} {f['kind']:15} crawls hit {f['crawls_hit']:2}: {f['outcome']}")
    for m in report["missing"]:
        print(
            f"  missing: {m['platform']} {m['kind']} {m['post_id']} ({m['brand']}, published {m['published_at']})"
        )
    print("verdict:", "OK" if report["ok"] else "PROBLEMS (see above)")


if __name__ == "__main__":
    main()
