"""Chaos benchmark: crawls killed with SIGKILL at random moments lose nothing and double nothing.

    python bench/chaos.py [--kills 50] [--platforms weibo,heimao,xiaohongshu,douyin] [--seed 1]
                          [--rate 600] [--json]

Everything runs on this machine, on loopback: the simulator in live mode (new posts,
comments and engagement every few seconds) in this process, and real ``yuqing`` processes
against one SQLite database file. Two brands, every chosen platform.

1. **Kills.** ``--kills`` times: start a crawl of a random (platform, brand) and kill it with
   SIGKILL at a random moment, at one of three points:
   - ``child``: the crawl process itself (``python -m crawler.service.crawl_process``, under ``yuqing crawl``);
   - ``parent``: the ``yuqing crawl`` that supervises it;
   - ``service``: ``yuqing run`` (the scheduler, crawling every pair on a short schedule).
   After each kill every process that was part of it must be gone within 15 s (the crawl
   child, its analysis worker, its browser): the ones still alive are counted as left over.
2. **Clean run.** The simulator stops changing; ``yuqing run`` then runs clean until every
   pair has finished a crawl with no open work (``crawl_pending`` empty), and is stopped with
   SIGTERM.
3. **Baseline.** A fresh database gets one clean crawl of every pair of the same, frozen world.

Printed, per kill point and in total: kills, processes left over; then mentions lost and
extra against the clean baseline and against the simulator's ground truth (what matches the
brands' keywords), mentions stored twice, complaint records missing, extra or doubled
against the baseline, ``crawl_runs`` rows left ``running``. Target: all zero.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crawler.storage.engine import dispose_engines, make_engine  # noqa: E402
from crawler.storage.mentions import MENTIONS, PENDING, RUNS, brand_crawl_runs  # noqa: E402
from crawler.storage.models import Complaint  # noqa: E402

COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]
BRANDS = ["鲜果时光", "小鹿宝贝"]
POINTS = ("child", "parent", "service")


def write_config(
    path: Path, sim: Any, *, db_url: str, platforms: list[str], rate: int, schedule: str
) -> Path:
    from simulator.options import WEIBO_TEST_SUB, brand_specs

    lines = [
        f'[project]\ndata_dir = "{path.parent / "data"}"\nlog_level = "INFO"',
        f'[storage]\nurl = "{db_url}"',
    ]
    for spec in brand_specs(BRANDS, None):
        lines.append(f'[[brands]]\nname = "{spec.name}"\nheimao_couid = ["{spec.couid}"]')
    common = (
        f'schedule = "{schedule}"\nrequest_delay = 0\nrate_limit_per_minute = {rate}\nmax_pages = 20\n'
        "max_retries = 2\ntimeout_seconds = 10\nmax_comment_pages = 20"
    )
    cookies = {"weibo": f"SUB={WEIBO_TEST_SUB}"}
    cookies.update({p: sim.cookie_header(p) for p in ("xiaohongshu", "douyin") if p in platforms})
    for platform in ("weibo", "heimao", "xiaohongshu", "douyin"):
        if platform not in platforms:
            lines.append(f"[platforms.{platform}]\nenabled = false")
            continue
        block = f'[platforms.{platform}]\nbase_url = "{sim.base_url(platform)}"\n{common}'
        if platform == "xiaohongshu":
            block += f'\nweb_url = "{sim.base_url(platform)}"'
        if platform in cookies:
            block += f'\naccounts = [{{ name = "main", cookies = "{cookies[platform]}" }}]'
        lines.append(block)
    lines.append(
        "[scheduler]\nlock_lease_seconds = 15\ncrawl_timeout_minutes = 5\nstop_grace_seconds = 5\n"
        'health_seconds = 60\ndispatch_seconds = 5\ndaily_report = "0 9 * * *"\nweekly_report = "0 9 * * 1"'
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spawn(args: list[str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("YUQING_DATABASE_URL", "YUQING_CONFIG")}
    env["PYTHONPATH"] = str(ROOT)
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.app", "--config", str(config), *args],
            cwd=config.parent,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )


def family(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def crawl_child(pid: int, deadline: float) -> psutil.Process | None:
    while time.monotonic() < deadline:
        for p in family(pid)[1:]:
            try:
                if "crawler.service.crawl_process" in " ".join(p.cmdline()):
                    return p
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    return None


def one_kill(point: str, rng: random.Random, config: Path, log: Path, platforms: list[str]) -> dict[str, Any]:
    platform, brand = rng.choice(platforms), rng.choice(BRANDS)
    if point == "service":
        proc = spawn(["run"], config, log)
        time.sleep(rng.uniform(2.0, 14.0))
        victim = proc.pid
    else:
        proc = spawn(["crawl", platform, "--brand", brand, "--json"], config, log)
        child = crawl_child(proc.pid, time.monotonic() + 30)
        if child is None:  # it ended (or was refused) before a crawl started
            proc.wait(60)
            return {"point": point, "platform": platform, "killed": False, "left_over": 0}
        time.sleep(rng.uniform(0.3, 8.0))  # start-up, search pages, comments, store: anywhere
        victim = child.pid if point == "child" else proc.pid
    members = family(proc.pid)
    try:
        os.kill(victim, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 15
    while alive(members) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive(members)
    for p in left:  # count them, then clean up so the next round starts clean
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return {
        "point": point,
        "platform": platform if point != "service" else "all",
        "killed": True,
        "left_over": len(left),
        "left_over_names": [p.name() for p in left if p.is_running()][:3],
    }


def run_clean(config: Path, log: Path, db_url: str, pairs: int, since: Any, timeout: float) -> dict[str, Any]:
    """``yuqing run`` until every pair has finished a crawl after ``since`` and no work is open."""
    proc = spawn(["run"], config, log)
    engine = make_engine(db_url)
    deadline = time.monotonic() + timeout
    done = False
    while time.monotonic() < deadline and not done:
        time.sleep(2.0)
        with engine.connect() as conn:
            finished = conn.execute(
                select(func.count(func.distinct(RUNS.c.platform + ":" + RUNS.c.brand))).where(
                    RUNS.c.started_at >= since, RUNS.c.status.in_(("ok", "partial")), brand_crawl_runs()
                )
            ).scalar_one()
            pending = conn.execute(select(func.count()).select_from(PENDING)).scalar_one()
        done = finished >= pairs and pending == 0
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    return {"finished": done, "pending": pending}


def crawl_all(config: Path, log: Path, platforms: list[str]) -> None:
    for platform in platforms:
        for brand in BRANDS:
            spawn(["crawl", platform, "--brand", brand, "--json"], config, log).wait(600)


def snapshot(db_url: str) -> dict[str, Any]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        mentions = [
            (r.platform, r.kind, r.post_id)
            for r in conn.execute(select(MENTIONS.c.platform, MENTIONS.c.kind, MENTIONS.c.post_id))
        ]
        records = [
            (r.brand, r.platform, r.customer_id)
            for r in conn.execute(select(COMPLAINTS.c.brand, COMPLAINTS.c.platform, COMPLAINTS.c.customer_id))
        ]
        running = conn.execute(
            select(func.count()).select_from(RUNS).where(RUNS.c.status == "running")
        ).scalar_one()
        statuses = Counter(r[0] for r in conn.execute(select(RUNS.c.status)))
    return {"mentions": mentions, "records": records, "running": running, "statuses": dict(statuses)}


def ground_truth(sim: Any, platforms: list[str]) -> set[tuple[str, str]]:
    from simulator.options import brand_specs

    ids: set[tuple[str, str]] = set()
    for platform in platforms:
        for spec in brand_specs(BRANDS, None):
            ids.update((platform, str(t["post_id"])) for t in sim.truth(platform, keyword=spec.name))
            if platform == "heimao":
                ids.update((platform, str(t["post_id"])) for t in sim.truth(platform, brand=spec.name))
    return ids


def compare(chaos: dict[str, Any], clean: dict[str, Any], truth: set[tuple[str, str]]) -> dict[str, Any]:
    have = {(p, i) for p, _, i in chaos["mentions"]}
    base = {(p, i) for p, _, i in clean["mentions"]}
    rec_chaos, rec_clean = Counter(chaos["records"]), Counter(clean["records"])
    return {
        "mentions": len(have),
        "baseline_mentions": len(base),
        "truth": len(truth),
        "lost_vs_baseline": len(base - have),
        "extra_vs_baseline": len(have - base),
        "lost_vs_truth": len(truth - have),
        "duplicated": sum(n - 1 for n in Counter(chaos["mentions"]).values() if n > 1),
        "records": sum(rec_chaos.values()),
        "baseline_records": sum(rec_clean.values()),
        "records_missing": len(set(rec_clean) - set(rec_chaos)),
        "records_extra": len(set(rec_chaos) - set(rec_clean)),
        # A person may have several records in both databases; more than the baseline has is a double.
        "records_doubled": sum(
            max(0, n - rec_clean.get(k, 0)) for k, n in rec_chaos.items() if k in rec_clean
        ),
        "running_rows": chaos["running"],
        "run_statuses": chaos["statuses"],
        "examples_lost": sorted(base - have)[:5],
        "examples_extra": sorted(have - base)[:5],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--platforms", default="weibo,heimao,xiaohongshu,douyin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=int, default=600, help="requests a minute per platform during the kills")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    rng = random.Random(args.seed)

    from simulator import Simulator

    tmp = Path(tempfile.mkdtemp(prefix="yuqing-chaos-"))
    (tmp / "chaos").mkdir()
    (tmp / "clean").mkdir()
    log = tmp / "chaos.log"
    chaos_db = f"sqlite:///{tmp / 'chaos' / 'yuqing.db'}"
    clean_db = f"sqlite:///{tmp / 'clean' / 'yuqing.db'}"
    sim = Simulator(
        seed=args.seed,
        brands=BRANDS,
        days=3,
        live=True,
        live_interval=2.0,
        live_posts=1,
        posts_per_brand=20,
        comments_per_post=(0, 6),
        crisis_size=8,
        platforms=tuple(platforms),
    ).start()
    try:
        config = write_config(
            tmp / "chaos" / "yuqing.toml",
            sim,
            db_url=chaos_db,
            platforms=platforms,
            rate=args.rate,
            schedule="every 20s",
        )
        results: list[dict[str, Any]] = []
        started = time.monotonic()
        for n in range(args.kills):
            point = POINTS[n % len(POINTS)] if n < len(POINTS) else rng.choice(POINTS)
            res = one_kill(point, rng, config, log, platforms)
            results.append(res)
            if not args.json:
                print(
                    f"  kill {n + 1:3d}/{args.kills}: {res['point']:<7} {res['platform']:<11} "
                    f"{'killed' if res['killed'] else 'ended first'}; left over {res['left_over']}",
                    flush=True,
                )
        kill_seconds = time.monotonic() - started

        # The world stops changing; the service runs clean over the same database.
        sim.world.tick = lambda: []  # type: ignore[method-assign]
        from crawler.clock import utcnow

        since = utcnow()
        fast = write_config(
            tmp / "chaos" / "yuqing.toml",
            sim,
            db_url=chaos_db,
            platforms=platforms,
            rate=6000,
            schedule="every 15s",
        )
        clean_run = run_clean(fast, log, chaos_db, len(platforms) * len(BRANDS), since, timeout=600)
        baseline_cfg = write_config(
            tmp / "clean" / "yuqing.toml",
            sim,
            db_url=clean_db,
            platforms=platforms,
            rate=6000,
            schedule="every 15s",
        )
        crawl_all(baseline_cfg, tmp / "clean.log", platforms)
        dispose_engines()
        figures = compare(snapshot(chaos_db), snapshot(clean_db), ground_truth(sim, platforms))
    finally:
        sim.stop()

    per_point: dict[str, dict[str, int]] = defaultdict(lambda: {"kills": 0, "ended_first": 0, "left_over": 0})
    for r in results:
        row = per_point[r["point"]]
        row["kills" if r["killed"] else "ended_first"] += 1
        row["left_over"] += r["left_over"]
    kills = sum(r["killed"] for r in results)
    zero = (
        "lost_vs_baseline",
        "extra_vs_baseline",
        "lost_vs_truth",
        "duplicated",
        "records_missing",
        "records_extra",
        "records_doubled",
        "running_rows",
    )
    left_over = sum(r["left_over"] for r in results)
    met = kills >= 50 and left_over == 0 and all(figures[k] == 0 for k in zero) and clean_run["finished"]
    report = {
        "kills": kills,
        "per_point": dict(per_point),
        "kill_phase_seconds": round(kill_seconds, 1),
        "clean_run": clean_run,
        **figures,
        "left_over_processes": left_over,
        "met": met,
        "platforms": platforms,
        "workdir": str(tmp),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
        return
    print(f"\nchaos: {kills} SIGKILLs over {kill_seconds:.0f} s on {', '.join(platforms)} (workdir {tmp})")
    print(f"{'point':<8} {'kills':>5} {'ended first':>11} {'left over':>9}")
    for point in POINTS:
        row = per_point.get(point, {"kills": 0, "ended_first": 0, "left_over": 0})
        print(f"{point:<8} {row['kills']:>5} {row['ended_first']:>11} {row['left_over']:>9}")
    print(
        f"clean run afterwards: {'finished' if clean_run['finished'] else 'DID NOT FINISH'}, "
        f"open work left {clean_run['pending']}; crawl_runs statuses {figures['run_statuses']}"
    )
    print(
        f"mentions: {figures['mentions']} stored, baseline {figures['baseline_mentions']}, "
        f"ground truth {figures['truth']}"
    )
    for key in zero:
        print(f"  {key:<20} {figures[key]:>6}  {'met' if figures[key] == 0 else 'NOT MET'}")
    print(f"  {'left_over_processes':<20} {left_over:>6}  {'met' if left_over == 0 else 'NOT MET'}")
    print(f"complaint records: {figures['records']} (baseline {figures['baseline_records']})")
    if figures["examples_lost"] or figures["examples_extra"]:
        print(f"examples lost {figures['examples_lost']} extra {figures['examples_extra']}")
    print(f"\ntarget (>= 50 kills, all zero): {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
