"""Alert benchmarks. Parts (``--part``, default all):

- ``latency``: alert latency from a mention's arrival at the Store stage of the pipeline to
  the receiver, at a steady rate of risky mentions (default 50/s for 20 s). A producer
  thread stores them the way the crawl pipeline does (``upsert_mentions`` and, in the
  same transaction, ``alerts.triage.run.triage`` — or ``alerts.delivery.outbox.enqueue`` directly when
  triage is missing, which the output says), flushing a batch every ``--batch-ms``; a
  separate ``yuqing alerts dispatch --loop`` process delivers to a signed webhook on the
  loopback receiver. Latency = receiver accept time − the mention's arrival time (so it
  includes the batch wait, the commit, the dispatcher's poll and the HTTP request).
  Baseline, same run: the same message rendered, signed and POSTed directly (no outbox).
  Target: p95 ≤ 2 s.

    python bench/alerts.py [--part latency] [--rate 50] [--seconds 20] [--pg URL]

- ``crisis``: how many alerts a crisis of ``--reposts`` (500) near-identical reposts produces,
  against one alert per repost (see ``bench/alerts_crisis.py``). Target: one immediate alert
  plus escalation updates, not hundreds.

    python bench/alerts.py --part crisis [--reposts 500] [--crisis-batch 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.alerts_crisis import crisis_part, report_crisis  # noqa: E402
from crawler.config import AppConfig, config_from_dict  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.mentions import upsert_mentions  # noqa: E402
from simulator.receiver.server import Receiver  # noqa: E402

PROBLEMS = ["喝完拉肚子要求退款", "杯子里有异物", "包装破损漏液", "客服不回复", "退款被拒", "配送超时两小时"]
PRODUCTS = ["芒果冰沙", "鲜榨橙汁", "轻食杯", "草莓奶昔", "椰子水", "葡萄柚茶"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50) * 1000:.0f} ms, p95 {pct(values, 95) * 1000:.0f} ms, "
        f"p99 {pct(values, 99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms (n={len(values)})"
    )


# Common characters to make each complaint's wording its own (no two share a story, so each is a new event).
FILLER = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定"
    "行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些"
    "然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无"
)


def risky_row(i: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    """A risky complaint worded unlike the others (so triage opens a new event and alerts at once)."""
    words = "".join(rng.choice(FILLER) for _ in range(28))
    text = f"鲜果时光{rng.choice(PRODUCTS)}{rng.choice(PROBLEMS)}：{words}"
    return {
        "platform": "weibo",
        "post_id": f"bench{i:09d}",
        "kind": "post",
        "brand": "鲜果时光",
        "keyword": "鲜果时光",
        "url": f"https://m.weibo.cn/detail/bench{i:09d}",
        "text": text,
        "author_id": f"u{i}",
        "author_name": f"用户{i}",
        "author_followers": rng.randint(100, 5000),
        "published_at": now,
        "fetched_at": now,
        "likes": rng.randint(0, 50),
        "comments": rng.randint(0, 20),
        "shares": rng.randint(0, 10),
        "sentiment": 0.05,
        "is_complaint": True,
        "category": "食用不适",
        "urgency": "紧急",
        "risk": 85,
        "reasons": ["食品安全", "要求退款", "投诉12315"],
        "fingerprint": rng.getrandbits(63) - (1 << 62),
        "masked_text": text,
        "tokens": text,
        "model_version": "bench",
        "analyzed_at": now,
    }


def config_dict(db_url: str, hook_url: str, data_dir: str) -> dict[str, Any]:
    return {
        "project": {"data_dir": data_dir, "log_level": "WARNING"},
        "storage": {"url": db_url},
        "brands": [{"name": "鲜果时光", "aliases": ["鲜果"]}],
        "alerts": {
            # Latency of every alert, so no hourly budget (it would hold all but six of them for one roll-up).
            "max_immediate_per_hour": 0,
            "channels": {
                "bench": {
                    "type": "webhook",
                    "url": hook_url,
                    "secret": "bench-secret",
                    "rate_per_minute": 100_000,
                }
            },
            "rules": [{"name": "risky", "channels": ["bench"], "min_risk": 60, "complaints_only": False}],
        },
    }


def store_batch(engine: Any, cfg: AppConfig, rows: list[dict[str, Any]], use_triage: bool) -> None:
    """What the Store pipeline does: upsert, then triage (or enqueue) in the same transaction."""
    with engine.begin() as conn:
        result = upsert_mentions(conn, rows)
        if use_triage:
            from alerts.triage.run import triage

            triage(conn, cfg, result.rows)
            return
        from alerts.delivery.outbox import enqueue

        for (mention_id, _p, _post_id, _o), row in zip(result.rows, rows, strict=True):
            enqueue(
                conn,
                cfg,
                kind="mention",
                dedup_key=f"mention:{mention_id}",
                title=row["text"][:30],
                payload={
                    "brand": row["brand"],
                    "urgency": row["urgency"],
                    "risk": row["risk"],
                    "reasons": row["reasons"],
                    "mention": {
                        "platform": "weibo",
                        "text": row["text"],
                        "url": row["url"],
                        "author_name": row["author_name"],
                    },
                },
                channels=["bench"],
                brand=row["brand"],
                mention_id=mention_id,
                urgency="紧急",
                risk=row["risk"],
            )


def produce(
    engine: Any,
    cfg: AppConfig,
    *,
    rate: float,
    seconds: float,
    batch_ms: float,
    use_triage: bool,
    arrivals: dict[str, float],
) -> float:
    """Store ``rate`` mentions/s for ``seconds``; returns the worst lag behind schedule (s)."""
    rng = random.Random(7)
    n = int(rate * seconds)
    start = time.time() + 0.5
    lag, i, busy = 0.0, 0, 0.0
    while i < n:
        flush_at = start + (i // max(1, int(rate * batch_ms / 1000)) + 1) * batch_ms / 1000
        batch = []
        while i < n and start + i / rate < flush_at:
            arrivals[f"bench{i:09d}"] = start + i / rate
            batch.append(i)
            i += 1
        wait = flush_at - time.time()
        if wait > 0:
            time.sleep(wait)
        lag = max(lag, -wait)
        now = datetime.now(UTC)
        t0 = time.time()
        store_batch(engine, cfg, [risky_row(j, rng, now) for j in batch], use_triage)
        busy += time.time() - t0
    arrivals["__busy__"] = busy / max(1e-9, time.time() - start)
    return lag


def baseline(rx: Receiver, cfg: AppConfig, n: int = 300) -> list[float]:
    """Latency of rendering, signing and POSTing the same kind of message directly."""
    from alerts.delivery.channels import make_channel

    ch = make_channel("bench", cfg.alerts.channels["bench"])
    rng = random.Random(3)
    out = []
    for i in range(n):
        row = risky_row(10**8 + i, rng, datetime.now(UTC))
        payload = {
            "kind": "mention",
            "brand": row["brand"],
            "urgency": "紧急",
            "risk": 85,
            "reasons": row["reasons"],
            "mention": {"platform": "weibo", "text": row["text"], "url": row["url"]},
        }
        t0 = time.time()
        for part in ch.parts(payload, ref=f"基线 {i}", key=f"base-{i}"):
            ch.send(part, key=f"base-{i}")
        out.append(rx.messages("bench")[-1].at - t0)
    ch.close()
    rx.received.clear()
    return out


def latency_part(args: argparse.Namespace) -> dict[str, Any]:
    use_triage, why = not args.no_triage, "--no-triage"
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-bench-alerts-"))
    db_url, drop = _database(args, tmp)
    with Receiver() as rx:
        hook = rx.webhook("bench", secret="bench-secret")
        raw = config_dict(db_url, hook, str(tmp / "data"))
        cfg = config_from_dict(raw)
        engine = open_database(db_url)
        base = baseline(rx, cfg)
        cfg_file = tmp / "bench.json"
        cfg_file.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        dispatcher = _start_dispatcher(cfg_file, args.interval)
        arrivals: dict[str, float] = {}
        try:
            lag = produce(
                engine,
                cfg,
                rate=args.rate,
                seconds=args.seconds,
                batch_ms=args.batch_ms,
                use_triage=use_triage,
                arrivals=arrivals,
            )
            deadline = time.time() + 60
            while len(rx.visible("bench")) < len(arrivals) - 1 and time.time() < deadline:
                time.sleep(0.2)
        finally:
            dispatcher.terminate()
            dispatcher.wait(20)
        busy = arrivals.pop("__busy__")
        lat = _latencies(rx, arrivals)
    dispose_engines()
    drop()
    return {
        "store_busy": busy,
        "database": "postgresql" if args.pg else "sqlite",
        "mode": "triage" if use_triage else f"outbox.enqueue directly ({why}; no events/rules/complaints)",
        "produced": len(arrivals),
        "delivered": len(lat),
        "producer_lag_s": lag,
        "latency": lat,
        "baseline": base,
    }


def _latencies(rx: Receiver, arrivals: dict[str, float]) -> list[float]:
    out = []
    for msg in rx.visible("bench"):
        url = ((msg.body.get("payload") or {}).get("mention") or {}).get("url") or ""
        post_id = url.rsplit("/", 1)[-1]
        if post_id in arrivals:
            out.append(msg.at - arrivals[post_id])
    return out


def _start_dispatcher(cfg_file: Path, interval: float) -> subprocess.Popen[bytes]:
    code = (
        "import json,sys; from crawler.config import config_from_dict; from crawler.storage.engine import open_database;"
        "from alerts.delivery.dispatch import run_loop; import signal, threading; stop=threading.Event();"
        "signal.signal(signal.SIGTERM, lambda *a: stop.set()); raw=json.load(open(sys.argv[1]));"
        "cfg=config_from_dict(raw); from loguru import logger; logger.remove(); logger.add(sys.stderr, level='WARNING');"
        "engine=open_database(cfg.database_url);"
        "print('ready', flush=True); run_loop(engine, cfg, interval=float(sys.argv[2]), stop=stop)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(cfg_file), str(interval)], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready", "dispatcher did not start"
    return proc


def _database(args: argparse.Namespace, tmp: Path) -> tuple[str, Callable[[], None]]:
    if not args.pg:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    import psycopg

    name = f"yuqing_bench_alerts_{uuid.uuid4().hex[:8]}"
    admin_url = args.pg.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return args.pg.rsplit("/", 1)[0] + f"/{name}", drop


def report_latency(r: dict[str, Any], args: argparse.Namespace) -> bool:
    lat, base, target = r["latency"], r["baseline"], args.target
    print(f"[latency] path: upsert + {r['mode']} → outbox → dispatcher process → signed webhook")
    print(
        f"[latency] produced {r['produced']} risky mentions, delivered {r['delivered']} alerts, "
        f"producer lag max {r['producer_lag_s'] * 1000:.0f} ms, store transactions busy {r['store_busy']:.0%} "
        f"of the time on {r['database']}"
        + (" (one writer: the dispatcher's commits wait for the gaps)" if r["database"] == "sqlite" else "")
    )
    print(f"[latency] baseline (render + sign + POST directly): {summary(base)}")
    if not lat:
        print("[latency] FAIL: no alert arrived")
        return False
    print(f"[latency] outbox path: {summary(lat)}")
    p95 = pct(lat, 95)
    all_in = r["delivered"] == r["produced"]
    print(
        f"[latency] ratio p95 outbox / p95 baseline: {p95 / pct(base, 95):.1f}x; "
        f"p95 vs target {target:g} s: {p95 / target:.2f}; every alert delivered: {'yes' if all_in else 'NO'}"
    )
    met = p95 <= target and all_in
    print(
        f"[latency] target p95 ≤ {target:g} s at {args.rate:g} risky mentions/s on {r['database']}: "
        f"{'met' if met else 'NOT met'}"
    )
    return met


# Each part: (runner, reporter). The crisis-count part lives in bench/alerts_crisis.py (triage's half).
PARTS: dict[
    str,
    tuple[
        Callable[[argparse.Namespace], dict[str, Any]], Callable[[dict[str, Any], argparse.Namespace], bool]
    ],
] = {
    "latency": (latency_part, report_latency),
    "crisis": (crisis_part, report_crisis),
}


def main() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--rate", type=float, default=50.0, help="risky mentions per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-ms", type=float, default=100.0, help="pipeline flush period")
    parser.add_argument("--interval", type=float, default=0.2, help="dispatcher idle poll (s)")
    parser.add_argument("--target", type=float, default=2.0, help="p95 latency target (s)")
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL (a temp database is created); default SQLite"
    )
    parser.add_argument(
        "--no-triage", action="store_true", help="enqueue directly even if alerts.triage.run exists"
    )
    parser.add_argument("--reposts", type=int, default=500, help="crisis: near-identical reposts")
    parser.add_argument("--crisis-batch", type=int, default=50, help="crisis: mentions per pipeline flush")
    args = parser.parse_args()
    ok = True
    for name, (run, report) in PARTS.items():
        if args.part in (name, "all"):
            ok = report(run(args), args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
