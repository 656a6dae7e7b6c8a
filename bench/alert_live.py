"""A day of live mode in minutes: what reaches the chat groups (issue 13's 24-hour proof).

The demo's brands are monitored for ``--hours`` (24) simulated hours. The product and the
simulator share a **shifted clock** (``crawler/clock.py``): between two scheduled jobs the clock
jumps to the next one, so a day passes in about a quarter of an hour of wall time, and
everything the product times (first seen, pacing windows, delivery times, SLA clocks) sees the
simulated day. What runs is what ``yuqing run`` runs, in the same order:

- **the world** (the simulator, in this process) publishes each brand's posts at the demo's
  weekly volume spread over the day (``--rate`` scales it), comments and engagement grow every
  10 minutes, and **one crisis burst per brand** (the rubric's 食用不适 story: an original post,
  then reposts on every platform over 90 minutes) starts at ``--crisis-hours``;
- **crawls** run on each platform's configured schedule (``[platforms.X].schedule``), one real
  Scrapy process per platform and due time (its brands side by side), analysis and triage in
  the crawl as in production;
- **after each crawl tick** the dispatcher delivers the outbox to a loopback receiver standing
  in for every configured channel, the digest flush and the SLA sweeper run (the service does
  this every few seconds; here the clock is frozen between ticks, so once is the same).

The first crawl (a 7-day backfill) is the first run ``bench/alert_quality.py`` measures; this bench
counts what comes after it and prints each figure with its target:

1. immediate messages per brand and channel outside the crisis (mention, event and surge
   alerts, and roll-ups) ≤ 6 a day;
2. each crisis alerted within one schedule interval (of the platform its first post is on)
   + 60 s of its first post;
3. at most one update per escalation step (a higher urgency, a big-V author): every update of
   an event is a step above the one before;
4. share of immediate alerts whose story the simulator marks 非常紧急 ≥ 0.9.

    python bench/alert_live.py [--config config/yuqing.toml] [--seed 7] [--hours 24] [--rate 1.0]
                               [--crisis-hours 9.5,16.25] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path[0] != str(ROOT):  # run as a file, bench/ comes first and its alerts.py would shadow the package
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from crawler import clock  # noqa: E402
from crawler.config import AppConfig, load_config, parse_schedule  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.models import Alert, AlertDelivery, Mention  # noqa: E402

IMMEDIATE = ("mention", "event", "surge")
OUTSIDE = (*IMMEDIATE, "rollup")  # what a group reads at once, outside the crisis
TICK = timedelta(minutes=10)  # the world's engagement and comments move, the sweeper runs


def _quality() -> Any:
    """bench/alert_quality.py (the truth helpers), loaded by path: bench/ is not a package."""
    spec = importlib.util.spec_from_file_location("alert_quality", ROOT / "bench" / "alert_quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the simulated day ------------------------------------------------------------------------------


class Day:
    """The timeline: (time, order, action) in a heap; :meth:`run` jumps the clock from one to the next."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._n = 0

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, self._n, action))
        self._n += 1

    def run(self, until: datetime, on_step: Callable[[datetime], None] | None = None) -> None:
        while self._heap and self._heap[0][0] <= until:
            when, _, action = heapq.heappop(self._heap)
            if when > clock.utcnow():  # a crawl that ran long has already moved past it: no jump back
                clock.advance_to(when)
            action()
            if on_step is not None:
                on_step(when)


def run_day(args: argparse.Namespace, config: Path) -> dict[str, Any]:
    from alerts.complaints.sla import sweep
    from alerts.delivery.dispatch import dispatch_once
    from alerts.triage.run import flush_digest
    from crawler.service.crawl_runner import CrawlJob, run_crawls
    from simulator import Simulator
    from simulator.demo.alerts import demo_config
    from simulator.demo.runner import _overrides, crawl_jobs, demo_platforms, unavailable
    from simulator.receiver.server import Receiver

    aq = _quality()
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="yuqing-alert-live-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    cwd = Path.cwd()
    clock.set_offset(0)
    try:
        shutil.copytree(config.parent, work / "config")
        path = work / "config" / config.name
        os.chdir(work)
        cfg = load_config(path)
        url = f"sqlite:///{work / 'live.db'}"
        engine = open_database(url)
        platforms = demo_platforms(cfg, None)
        platforms = [p for p in platforms if p not in unavailable(cfg, platforms)]
        every: dict[str, timedelta] = {}
        for p in platforms:
            kind, value = parse_schedule(cfg.platforms.get(p).schedule)
            if kind != "interval":
                raise SystemExit(f"{p}: the live bench needs an interval schedule, not {value!r}")
            every[p] = timedelta(seconds=float(value))
        jobs = crawl_jobs(cfg, platforms)
        brands = [b.name for b in cfg.brands]
        crisis_hours = [float(h) for h in args.crisis_hours.split(",") if h.strip()]
        if len(crisis_hours) < len(brands):
            raise SystemExit(f"--crisis-hours needs one hour per brand ({len(brands)})")
        rng = random.Random(args.seed)
        started = time.monotonic()
        wall: Counter[str] = Counter()
        with (
            Simulator(seed=args.seed, cfg=cfg, port=0, crisis=False, hot_enter_after=365 * 86_400) as sim,
            # The robots' stand-in keeps the simulated time too (DingTalk and Feishu check signed timestamps).
            Receiver(enforce_limits=False, clock=lambda: clock.utcnow().timestamp()) as receiver,
        ):
            live_cfg = demo_config(cfg, receiver)
            world = sim.world
            t0 = world.t0
            end = t0 + timedelta(hours=args.hours)

            def crawl(due: list[str]) -> None:
                t = time.monotonic()
                batches = [
                    [CrawlJob(p, b, settings=_overrides(sim, p, url)) for p2, b in jobs if p2 == p]
                    for p in due
                ]

                def one(batch: list[Any]) -> list[Any]:
                    return list(run_crawls(batch, config_path=str(path), timeout=180.0))

                with ThreadPoolExecutor(max_workers=2) as pool:
                    for outcomes in pool.map(one, batches):
                        for o in outcomes:
                            wall[f"crawl {o.status}"] += 1
                wall["crawl seconds"] += time.monotonic() - t
                deliver()

            def deliver() -> None:
                t = time.monotonic()
                flush_digest(engine, live_cfg)
                dispatch_once(engine, live_cfg)
                wall["deliver seconds"] += time.monotonic() - t

            def housekeeping() -> None:
                with world.lock:
                    saved = world.opts.live_posts
                    world.opts.live_posts = 0  # new posts come from the day's own timeline
                    try:
                        world.tick()
                    finally:
                        world.opts.live_posts = saved
                sweep(engine, live_cfg)
                deliver()

            day = Day()
            # The first run: every platform at t0 (the backfill); then each on its own interval.
            day.at(t0, lambda: crawl(platforms))
            first_done: list[datetime] = []
            day.at(t0, lambda: first_done.append(clock.utcnow()))
            t = t0 + TICK
            while t <= end:
                day.at(t, housekeeping)
                t += TICK
            for p in platforms:
                t = t0 + every[p]
                while t <= end:
                    day.at(t, lambda p=p: crawl([p]))
                    t += every[p]
            # Each brand's everyday volume: the demo world's week, per day (x --rate), as Poisson arrivals.
            for p in platforms:
                plat = sim.ctx.platforms[p]
                per_day = world.opts.posts_for(p, plat.default_posts) / world.opts.days * args.rate
                for brand in brands:
                    t = t0
                    while True:
                        t += timedelta(seconds=rng.expovariate(per_day / 86_400))
                        if t > end:
                            break
                        day.at(t, lambda p=p, brand=brand: world.publish(1, p, brand) and None)
            # One crisis burst per brand: the original on Weibo (or the first platform), reposts everywhere.
            crises: dict[str, dict[str, Any]] = {}
            for brand, hour in zip(brands, crisis_hours, strict=False):
                start = t0 + timedelta(hours=hour)
                if start >= end:
                    continue
                first = "weibo" if "weibo" in platforms else platforms[0]
                crises[brand] = {"start": start, "platform": first}
                for p in platforms:
                    share = sim.ctx.platforms[p].crisis_share
                    n = round(world.opts.crisis_size * share)
                    if not n:
                        continue
                    drafts = world.publish_burst(brand, p, n)
                    root: dict[str, str] = {}
                    for i, draft in enumerate(drafts):
                        lead = p == first and i == 0
                        when = (
                            start
                            if lead
                            else start
                            + timedelta(seconds=rng.uniform(60, world.opts.crisis_window_minutes * 60))
                        )

                        def publish(
                            p: str = p,
                            brand: str = brand,
                            draft: Any = draft,
                            i: int = i,
                            root: dict[str, str] = root,
                        ) -> None:
                            post = world.publish_draft(
                                p, brand, draft, crisis=True, repost_of=root.get("id") if i else None
                            )
                            root.setdefault("id", post.post_id)

                        day.at(when, publish)

            def progress(when: datetime) -> None:
                if args.verbose:
                    print(f"  {when:%m-%d %H:%M} … {time.monotonic() - started:.0f} s", file=sys.stderr)

            day.run(end, progress)
            # What is still queued at the end of the day goes out as it would a few seconds later.
            deliver()
            truth = aq._truth(sim, cfg)
            live_from = first_done[0] if first_done else t0
            if args.keep:  # what --report needs to measure this run again
                (work / "day.json").write_text(
                    json.dumps(
                        {
                            "config": str(path),
                            "truth": list(truth.values()),
                            "crises": crises,
                            "every": {p: d.total_seconds() for p, d in every.items()},
                            "live_from": live_from,
                            "end": end,
                        },
                        ensure_ascii=False,
                        default=str,
                    ),
                    encoding="utf-8",
                )
            out = collect(engine, cfg, truth, crises, every, live_from, end, aq)
            out["wall"] = {
                "seconds": round(time.monotonic() - started, 1),
                **{k: round(v, 1) if isinstance(v, float) else v for k, v in wall.items()},
            }
            out["hours"] = args.hours
            out["rate"] = args.rate
            out["received"] = len(receiver.visible())
        dispose_engines()
        return out
    finally:
        clock.set_offset(0)
        os.chdir(cwd)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# --- the figures ------------------------------------------------------------------------------------


def measure_again(work: Path) -> dict[str, Any]:
    """The figures of a day kept with ``--keep``, from its database and ``day.json``."""
    saved = json.loads((work / "day.json").read_text(encoding="utf-8"))
    when = datetime.fromisoformat
    truth = {}
    for rec in saved["truth"]:
        rec["published_at"] = when(rec["published_at"])
        truth[(rec["platform"], str(rec["post_id"]))] = rec
    crises = {b: {**c, "start": when(c["start"])} for b, c in saved["crises"].items()}
    every = {p: timedelta(seconds=v) for p, v in saved["every"].items()}
    cfg = load_config(saved["config"])
    engine = open_database(f"sqlite:///{work / 'live.db'}")
    out = collect(engine, cfg, truth, crises, every, when(saved["live_from"]), when(saved["end"]), _quality())
    hours = (when(saved["end"]) - when(saved["live_from"])).total_seconds() / 3600
    out.update(wall={"seconds": 0.0}, hours=round(hours), rate=float("nan"), received=None)
    dispose_engines()
    return out


def collect(
    engine: Any,
    cfg: AppConfig,
    truth: dict[tuple[str, str], dict[str, Any]],
    crises: dict[str, dict[str, Any]],
    every: dict[str, timedelta],
    live_from: datetime,
    end: datetime,
    aq: Any,
) -> dict[str, Any]:
    def aware(t: datetime) -> datetime:
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t

    with engine.connect() as conn:
        alerts = {
            r.id: dict(r._mapping)
            for r in conn.execute(
                select(
                    Alert.id,
                    Alert.kind,
                    Alert.brand,
                    Alert.event_id,
                    Alert.mention_id,
                    Alert.dedup_key,
                    Alert.created_at,
                )
            )
        }
        sent = [
            dict(r._mapping)
            for r in conn.execute(
                select(AlertDelivery.alert_id, AlertDelivery.channel, AlertDelivery.sent_at).where(
                    AlertDelivery.status == "sent", AlertDelivery.sent_at.is_not(None)
                )
            )
        ]
        undelivered = dict(
            conn.execute(
                select(AlertDelivery.status, func.count())
                .where(AlertDelivery.status != "sent")
                .group_by(AlertDelivery.status)
            ).all()
        )
        rows = conn.execute(
            select(Mention.platform, Mention.post_id, Mention.brand, Mention.event_id, Mention.first_seen_at)
        ).all()
        by_event: dict[int, list[tuple[str, str]]] = defaultdict(list)
        seen_at: list[tuple[tuple[str, str], str, datetime]] = []
        for r in rows:
            if r.event_id is not None:
                by_event[r.event_id].append((r.platform, r.post_id))
            seen_at.append(((r.platform, r.post_id), r.brand, aware(r.first_seen_at)))
        featured = {
            r.id: (r.platform, r.post_id)
            for r in conn.execute(
                select(Mention.id, Mention.platform, Mention.post_id).where(
                    Mention.id.in_([a["mention_id"] for a in alerts.values() if a["mention_id"]])
                )
            )
        }

    def story_of_key(key: tuple[str, str] | None) -> str | None:
        rec = truth.get(key) if key else None
        return aq.story_of(rec, truth) if rec is not None else None

    def story(alert: dict[str, Any]) -> str | None:
        """The story an alert is about: its featured mention's; else (a surge) the story most of its
        event's mentions, or of the brand's mentions first seen in the hour before it, belong to."""
        if alert["mention_id"]:
            return story_of_key(featured.get(alert["mention_id"]))
        if alert["event_id"]:
            pool = [story_of_key(k) for k in by_event.get(alert["event_id"], [])]
        else:
            at = aware(alert["created_at"])
            pool = [
                story_of_key(k)
                for k, b, seen in seen_at
                if b == alert["brand"] and at - timedelta(hours=1) < seen <= at
            ]
        counted = Counter(x for x in pool if x is not None).most_common(1)
        return counted[0][0] if counted and counted[0][1] * 2 > len(pool) else None

    vu_stories = {aq.story_of(r, truth) for r in truth.values() if aq.very_urgent(r)}
    live = [d for d in sent if aware(d["sent_at"]) > live_from]
    first_run = [d for d in sent if aware(d["sent_at"]) <= live_from]
    days = max((end - live_from).total_seconds() / 86_400, 1e-9)
    brands = [b.name for b in cfg.brands]

    outside: dict[str, Counter[str]] = defaultdict(Counter)  # "brand → channel" → kind
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for d in live:
        a = alerts[d["alert_id"]]
        by_kind[f"{a['brand'] or '(all brands)'} → {d['channel']}"][a["kind"]] += 1
        if a["kind"] in OUTSIDE and story(a) != f"crisis:{a['brand']}":
            outside[f"{a['brand']} → {d['channel']}"][a["kind"]] += 1
    immediate = list({a["id"]: a for d in live if (a := alerts[d["alert_id"]])["kind"] in IMMEDIATE}.values())
    vu_hits = sum(1 for a in immediate if story(a) in vu_stories)

    crisis_out: dict[str, dict[str, Any]] = {}
    for brand, c in crises.items():
        name = f"crisis:{brand}"
        firsts = [
            r["published_at"] for r in truth.values() if aq.story_of(r, truth) == name and r["brand"] == brand
        ]
        began = min(firsts) if firsts else c["start"]
        mine = [a for a in alerts.values() if a["kind"] in IMMEDIATE and story(a) == name]
        times = sorted(aware(d["sent_at"]) for d in sent if d["alert_id"] in {a["id"] for a in mine})
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for a in sorted(mine, key=lambda a: a["id"]):
            events[a["event_id"] or 0].append(a)
        repeats = 0
        for alist in events.values():
            steps = []
            for a in alist:
                parts = str(a["dedup_key"]).split(":")
                if a["kind"] == "event" and len(parts) >= 5 and parts[2] == "esc":
                    steps.append((int(parts[3]), int(parts[4])))
            repeats += sum(1 for x, y in zip(steps, steps[1:], strict=False) if not (y > x))
            repeats += len(steps) - len(set(steps))
        budget = every[c["platform"]] + timedelta(seconds=60)
        delay = (times[0] - began) if times else None
        crisis_out[brand] = {
            "first_post": began.isoformat(),
            "first_alert": times[0].isoformat() if times else None,
            "delay_s": round(delay.total_seconds(), 1) if delay is not None else None,
            "limit_s": budget.total_seconds(),
            "events": len([e for e in events if e]),
            "alerts": len(mine),
            "updates": sum(1 for a in mine if a["kind"] == "event"),
            "surges": sum(1 for a in mine if a["kind"] == "surge"),
            "repeated_steps": repeats,
        }
    return {
        "live_from": live_from.isoformat(),
        "end": end.isoformat(),
        "first_run_messages": len(first_run),
        "live_messages": len(live),
        "outside_per_day": {
            f"{b} → {ch}": round(sum(outside[f"{b} → {ch}"].values()) / days, 2)
            for b in brands
            for ch in cfg.alerts.channels
            if cfg.alerts.channels[ch].enabled
        },
        "outside_kinds": {k: dict(v) for k, v in sorted(outside.items())},
        "reports_per_day": {
            k: round(v.get("complaint", 0) / days, 2)
            for k, v in sorted(by_kind.items())
            if v.get("complaint")
        },
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "crises": crisis_out,
        "very_urgent_share": [vu_hits, len(immediate)],
        "undelivered": {str(k): int(v) for k, v in undelivered.items()},
    }


def report(out: dict[str, Any], per_day: float) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok_all = True

    def check(label: str, value: Any, target: str, ok: bool) -> None:
        nonlocal ok_all
        ok_all &= ok
        lines.append(f"  {label:<60} {value!s:>9}   target {target:<26} {'met' if ok else 'NOT MET'}")

    lines.append(
        f"Live mode, {out['hours']:g} simulated hours (volume x{out['rate']:g}) in {out['wall']['seconds']:.0f} s "
        f"of wall time; first run {out['first_run_messages']} messages, then {out['live_messages']}"
    )
    lines.append("1. Immediate messages outside the crisis, per brand and channel (per simulated day)")
    for key, n in out["outside_per_day"].items():
        check(key, n, f"≤ {per_day:g} a day", n <= per_day)
    for key, kinds in out["outside_kinds"].items():
        lines.append(f"     {key}: {kinds}")
    lines.append(
        "   (info) complaint-record reports (新客诉单, batched, within the hourly budget) per day: "
        + ", ".join(f"{k} {v}" for k, v in out["reports_per_day"].items())
    )
    lines.append("2. The crisis alerted within one schedule interval + 60 s of its first post")
    for brand, c in out["crises"].items():
        check(
            f"{brand}: first crisis alert after",
            f"{c['delay_s']} s" if c["delay_s"] is not None else "never",
            f"≤ {c['limit_s']:.0f} s",
            c["delay_s"] is not None and c["delay_s"] <= c["limit_s"],
        )
    lines.append("3. At most one update per escalation step")
    for brand, c in out["crises"].items():
        check(
            f"{brand}: updates not a step up ({c['updates']} updates, {c['surges']} surges, {c['events']} events)",
            c["repeated_steps"],
            "0",
            c["repeated_steps"] == 0,
        )
    lines.append("4. Immediate alerts about a story the simulator marks 非常紧急")
    hit, total = out["very_urgent_share"]
    share = hit / total if total else 1.0
    check(f"share ({hit}/{total})", f"{share:.2f}", "≥ 0.9", share >= 0.9)
    lines.append("Wall time: " + ", ".join(f"{k} {v}" for k, v in out["wall"].items() if k != "seconds"))
    lost = sum(out["undelivered"].values())
    check(f"messages not delivered at the end of the day {out['undelivered'] or ''}", lost, "0", lost == 0)
    lines.append("Everything delivered after the first run, per brand and channel:")
    for key, kinds in out["by_kind"].items():
        lines.append(f"     {key}: {dict(sorted(kinds.items()))}")
    return lines, ok_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "yuqing.toml"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=1.0, help="the everyday volume, x the demo world's")
    parser.add_argument("--crisis-hours", default="9.5,16.25", help="when each brand's crisis starts")
    parser.add_argument(
        "--per-day", type=float, default=6.0, help="target: messages a day outside the crisis"
    )
    parser.add_argument("--keep", metavar="DIR", help="run in DIR and leave its database there")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each simulated step")
    parser.add_argument("--report", metavar="DIR", help="measure again a day run with --keep DIR (no crawl)")
    args = parser.parse_args()
    if args.hours <= 0 or args.rate < 0:
        parser.error("--hours must be positive and --rate not negative")
    try:
        [float(h) for h in args.crisis_hours.split(",") if h.strip()]
    except ValueError:
        parser.error(
            f"--crisis-hours takes hours after the start, comma-separated (e.g. 9.5,16.25), not {args.crisis_hours!r}"
        )
    if args.report:
        if not (Path(args.report) / "day.json").is_file():
            parser.error(f"--report {args.report}: no day.json there (keep a day with --keep DIR first)")
        out = measure_again(Path(args.report).resolve())
        lines, ok = report(out, args.per_day)
        print("\n".join(lines))
        print("all targets met" if ok else "some targets NOT met")
        return
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.pop("YUQING_DATABASE_URL", None)
    out = run_day(args, Path(args.config).resolve())
    lines, ok = report(out, args.per_day)
    if args.json:
        print(json.dumps({**out, "met": ok}, ensure_ascii=False, default=str, indent=1))
    print("\n".join(lines))
    print("all targets met" if ok else "some targets NOT met")


if __name__ == "__main__":
    main()
