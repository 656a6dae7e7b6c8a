"""What reaches the chat groups on the demo's first run (issue 13, items 1–3), against the simulator's truth.

Runs ``yuqing demo``'s machinery (simulator → spiders in subprocesses → analysis → triage →
summaries → dispatcher → loopback receiver) on the demo's two brands, each time from an
empty SQLite database in a scratch directory, twice in this process:

- **baseline**: the same config with pacing off (``[alerts] max_age_hours = 0``,
  ``max_immediate_per_hour = 0``): backfill alerted story by story, no budget (the rest of
  today's alert logic, e.g. official accounts never alerting, stays on);
- **paced**: the config as given (defaults 24 h and 6 an hour unless it sets them).

For the paced run it prints each figure with its target, as met / not met:

1. immediate alerts per brand (mention, event and surge messages) ≤ the distinct stories the
   simulator marks 非常紧急 that are fresh (published within ``max_age_hours`` of the crawl), and
   at most one backfill summary per brand and channel;
2. per brand and channel in the busiest hour: budgeted immediate messages (everything but a
   new 非常紧急 event, complaint reports included) ≤ ``max_immediate_per_hour``, at most one
   roll-up; messages per channel per hour and per minute against the robot's own limit;
3. every delivered message fits its robot in one part (context included), and comment alerts
   carry their post.

It also prints, for information, how many immediate alerts feature a story the simulator
marks 非常紧急 (the issue's 0.9 target belongs to its 24-hour live run: ``bench/alert_live.py``).

    python bench/alert_quality.py [--config config/yuqing.toml] [--seed 7] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from crawler.config import AppConfig, load_config  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.models import Alert, AlertCharge, AlertDelivery, AlertHold, Mention  # noqa: E402

IMMEDIATE = ("mention", "event", "surge")
BUDGETED = ("mention", "event", "surge", "complaint")
PACED = (
    *BUDGETED,
    "backfill",
    "rollup",
)  # what pacing sends (digests list up to digest_max_items and may split)
PACING_KEYS = ("max_age_hours", "max_immediate_per_hour")


# --- running the demo ---------------------------------------------------------------------------


def _with_pacing(text: str, values: dict[str, Any] | None) -> str:
    """The TOML text with ``[alerts]`` pacing keys set to ``values`` (None: unchanged)."""
    if values is None:
        return text
    for key in PACING_KEYS:
        text = re.sub(rf"(?m)^\s*{key}\s*=.*$\n?", "", text)
    lines = "".join(f"{k} = {v}\n" for k, v in values.items())
    if re.search(r"(?m)^\[alerts\]\s*$", text):
        return re.sub(r"(?m)^\[alerts\]\s*$\n?", lambda m: m.group(0) + lines, text, count=1)
    return text + f"\n[alerts]\n{lines}"


def run_once(
    config: Path, seed: int, pacing: dict[str, Any] | None, keep: Path | None = None
) -> dict[str, Any]:
    """One first run of the demo in a scratch directory (``keep``: this one, left in place afterwards);
    returns what the database and the receiver saw."""
    from simulator.demo.runner import run_demo

    work = keep or Path(tempfile.mkdtemp(prefix="yuqing-alert-quality-"))
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
    cwd = Path.cwd()
    try:
        shutil.copytree(config.parent, work / "config")
        path = work / "config" / config.name
        path.write_text(_with_pacing(config.read_text(encoding="utf-8"), pacing), encoding="utf-8")
        os.chdir(work)
        cfg = load_config(path)
        url = f"sqlite:///{work / 'demo.db'}"
        engine = open_database(url)
        ctx, sections = run_demo(cfg, engine, url, config_path=str(path), seed=seed)
        truth = _truth(ctx.simulator, cfg)
        out = _collect(engine, cfg, truth)
        out["crawls"] = [{k: c.get(k) for k in ("platform", "brand", "status", "new")} for c in ctx.crawls]
        out["demo_alerts"] = next((s.data for s in sections if s.title.startswith("告警")), {})
        dispose_engines()
        return out
    finally:
        os.chdir(cwd)
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


# --- the simulator's truth ---------------------------------------------------------------------------


def _truth(sim: Any, cfg: AppConfig) -> dict[tuple[str, str], dict[str, Any]]:
    """Every record a brand's crawl can find (keyword searches, Heimao company lists), by (platform, post id)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for brand in cfg.brands:
        for platform in ("weibo", "xiaohongshu", "douyin", "heimao"):
            if not cfg.platforms.get(platform).enabled:
                continue
            found = [r for kw in brand.keywords for r in sim.truth(platform, keyword=kw)]
            if platform == "heimao":
                found += sim.truth(platform, brand=brand.name)
            for r in found:
                out[(r["platform"], str(r["post_id"]))] = r
    return out


def story_of(rec: dict[str, Any], truth: dict[tuple[str, str], dict[str, Any]]) -> str:
    """The story a record belongs to: the crisis (original and reposts, every platform), else its root post."""
    if rec.get("parent_post_id"):
        parent = truth.get((rec["platform"], str(rec["parent_post_id"])))
        if parent is not None:
            return story_of(parent, truth)
        return f"{rec['platform']}:{rec['parent_post_id']}"
    if rec.get("crisis") or (rec.get("extra") or {}).get("repost_of"):
        return f"crisis:{rec['brand']}"
    return f"{rec['platform']}:{rec['post_id']}"


def very_urgent(rec: dict[str, Any]) -> bool:
    return (rec.get("label") or {}).get("urgency") == "非常紧急"


# --- what the database and the receiver saw ------------------------------------------------------------


def _busiest(times: list[datetime], span: timedelta) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _collect(engine: Any, cfg: AppConfig, truth: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    with engine.connect() as conn:
        crawl_at = conn.execute(
            select(Mention.first_seen_at).order_by(Mention.first_seen_at).limit(1)
        ).scalar()
        alerts = [
            dict(r)
            for r in conn.execute(
                select(Alert.id, Alert.kind, Alert.brand, Alert.mention_id, Alert.urgency, Alert.payload)
            ).mappings()
        ]
        sent = [
            dict(r)
            for r in conn.execute(
                select(
                    AlertDelivery.alert_id,
                    AlertDelivery.channel,
                    AlertDelivery.sent_at,
                    AlertDelivery.parts_total,
                    AlertDelivery.status,
                )
            ).mappings()
        ]
        charges = [
            dict(r)
            for r in conn.execute(
                select(AlertCharge.brand, AlertCharge.channel, AlertCharge.at, AlertCharge.exempt)
            ).mappings()
        ]
        held = Counter(
            (r.kind, r.brand)
            for r in conn.execute(select(AlertHold.kind, AlertHold.brand, AlertHold.ref).distinct())
        )
        featured = {
            r.id: (r.platform, r.post_id)
            for r in conn.execute(
                select(Mention.id, Mention.platform, Mention.post_id).where(
                    Mention.id.in_([a["mention_id"] for a in alerts if a["mention_id"]])
                )
            )
        }
    hours = cfg.alerts.max_age_hours or 24.0
    fresh_vu: dict[str, set[str]] = defaultdict(set)
    vu_stories: set[str] = set()
    for rec in truth.values():
        if very_urgent(rec):
            vu_stories.add(story_of(rec, truth))
            if crawl_at is not None and crawl_at - rec["published_at"] <= timedelta(hours=hours):
                fresh_vu[rec["brand"]].add(story_of(rec, truth))
    kind_of = {a["id"]: a for a in alerts}
    per_brand: dict[str, Counter[str]] = defaultdict(Counter)
    for a in alerts:
        per_brand[a["brand"] or "(all brands)"][a["kind"]] += 1
    hits = [a for a in alerts if a["kind"] in ("mention", "event") and a["mention_id"] in featured]
    true_vu = sum(
        1
        for a in hits
        if story_of(truth.get(featured[a["mention_id"]], {"platform": "?", "post_id": "?"}), truth)
        in vu_stories
    )
    channels: dict[str, dict[str, Any]] = {}
    for name, ch in cfg.alerts.channels.items():
        mine = [
            d for d in sent if d["channel"] == name and d["status"] == "sent" and d["sent_at"] is not None
        ]
        channels[name] = {
            "type": ch.type,
            "messages": len(mine),
            "busiest_hour": _busiest([d["sent_at"] for d in mine], timedelta(hours=1)),
            "busiest_minute": _busiest([d["sent_at"] for d in mine], timedelta(minutes=1)),
            "robot_per_minute": ch.limits[0],
            "split": sum(
                1 for d in mine if (d["parts_total"] or 1) > 1 and kind_of[d["alert_id"]]["kind"] in PACED
            ),
            "by_kind": dict(Counter(kind_of[d["alert_id"]]["kind"] for d in mine)),
        }
    budget: dict[str, dict[str, Any]] = {}
    for brand in sorted({c["brand"] for c in charges}):
        for name in sorted({c["channel"] for c in charges if c["brand"] == brand}):
            mine = [c for c in charges if c["brand"] == brand and c["channel"] == name]
            budget[f"{brand} → {name}"] = {
                "budgeted_busiest_hour": _busiest(
                    [c["at"] for c in mine if not c["exempt"]], timedelta(hours=1)
                ),
                "exempt": sum(1 for c in mine if c["exempt"]),
            }
    summaries: dict[str, Counter[str]] = defaultdict(Counter)
    for d in sent:
        a = kind_of[d["alert_id"]]
        if a["kind"] in ("backfill", "rollup"):
            summaries[f"{a['brand']} → {d['channel']}"][a["kind"]] += 1
    comments = [
        a
        for a in alerts
        if a["kind"] in IMMEDIATE and ((a["payload"] or {}).get("mention") or {}).get("kind") == "comment"
    ]
    return {
        "crawl_at": crawl_at.isoformat() if crawl_at else None,
        "brands": {
            b: {
                "immediate": sum(per_brand[b][k] for k in IMMEDIATE),
                "complaint_reports": per_brand[b]["complaint"],
                "fresh_very_urgent_stories": len(fresh_vu.get(b, set())),
                "held_backfill": held[("backfill", b)],
                "held_rollup": held[("rollup", b)],
                "by_kind": dict(per_brand[b]),
            }
            for b in [x.name for x in cfg.brands]
        },
        "channels": channels,
        "budget": budget,
        "summaries": {k: dict(v) for k, v in summaries.items()},
        "featured_very_urgent": [true_vu, len(hits)],
        "comment_alerts": [sum(1 for a in comments if (a["payload"] or {}).get("post")), len(comments)],
    }


# --- report ----------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(cfg: AppConfig, paced: dict[str, Any], baseline: dict[str, Any] | None) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok_all = True

    def check(label: str, value: Any, target: str, ok: bool) -> None:
        nonlocal ok_all
        ok_all &= ok
        lines.append(f"  {label:<58} {value!s:>8}   target {target:<28} {_mark(ok)}")

    budget = cfg.alerts.max_immediate_per_hour
    lines.append(
        f"Alert quality on the demo's first run (max_age_hours = {cfg.alerts.max_age_hours:g}, "
        f"max_immediate_per_hour = {budget}; crawl at {paced['crawl_at']})"
    )
    lines.append("1. No backfill floods")
    for brand, b in paced["brands"].items():
        before = f" (pacing off: {baseline['brands'][brand]['immediate']})" if baseline else ""
        check(
            f"immediate alerts, {brand}{before}",
            b["immediate"],
            f"≤ {b['fresh_very_urgent_stories']} fresh 非常紧急 stories",
            b["immediate"] <= b["fresh_very_urgent_stories"],
        )
    for key, s in sorted(paced["summaries"].items()):
        check(f"backfill summaries, {key}", s.get("backfill", 0), "≤ 1", s.get("backfill", 0) <= 1)
    lines.append("2. A budget per brand and channel")
    for key, b in paced["budget"].items():
        check(
            f"budgeted immediate messages in the busiest hour, {key}",
            b["budgeted_busiest_hour"],
            f"≤ {budget} (+{b['exempt']} new 非常紧急)",
            budget == 0 or b["budgeted_busiest_hour"] <= budget,
        )
    for key, s in sorted(paced["summaries"].items()):
        check(f"roll-ups, {key}", s.get("rollup", 0), "≤ 1", s.get("rollup", 0) <= 1)
    for name, c in paced["channels"].items():
        before = f" (pacing off: {baseline['channels'][name]['busiest_hour']})" if baseline else ""
        lines.append(
            f"  messages to {name} ({c['type']}) in the busiest hour{before}: {c['busiest_hour']} "
            f"{dict(sorted(c['by_kind'].items()))}"
        )
        check(
            f"messages to {name} in the busiest minute",
            c["busiest_minute"],
            f"≤ {c['robot_per_minute']} (robot limit)",
            c["busiest_minute"] <= c["robot_per_minute"],
        )
    lines.append("3. Context in the message")
    for name, c in paced["channels"].items():
        check(
            f"alerts and summaries to {name} that needed splitting",
            c["split"],
            "0 (fits the robot)",
            c["split"] == 0,
        )
    with_post, comments = paced["comment_alerts"]
    check("comment alerts shown under their post", f"{with_post}/{comments}", "all", with_post == comments)
    hit, total = paced["featured_very_urgent"]
    lines.append(
        f"  (info) immediate alerts featuring a story the simulator marks 非常紧急: {hit}/{total}"
        + (f" = {hit / total:.2f}" if total else "")
    )
    if baseline:
        lines.append("Pacing off → on (immediate alerts per brand; messages per channel):")
        for brand in paced["brands"]:
            lines.append(
                f"  {brand}: {baseline['brands'][brand]['immediate']} → {paced['brands'][brand]['immediate']}"
            )
        for name in paced["channels"]:
            lines.append(
                f"  {name}: {baseline['channels'][name]['messages']} → {paced['channels'][name]['messages']}"
            )
    return lines, ok_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "yuqing.toml"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run with pacing off")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--keep", metavar="DIR", help="run the paced demo in DIR and leave its database there"
    )
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.pop("YUQING_DATABASE_URL", None)
    config = Path(args.config).resolve()
    cfg = load_config(config)
    baseline = (
        None
        if args.no_baseline
        else run_once(config, args.seed, {"max_age_hours": 0, "max_immediate_per_hour": 0})
    )
    paced = run_once(config, args.seed, None, Path(args.keep).resolve() if args.keep else None)
    lines, ok = report(cfg, paced, baseline)
    if args.json:
        print(
            json.dumps(
                {"paced": paced, "baseline": baseline, "met": ok}, ensure_ascii=False, default=str, indent=1
            )
        )
    print("\n".join(lines))
    print("all targets met" if ok else "some targets NOT met")


if __name__ == "__main__":
    main()
