"""How long ``yuqing demo`` takes, and its crisis section's simulated clock.

    python bench/demo.py [--platforms weibo,heimao] [--seed 7]

Runs ``yuqing demo --json`` once, in a fresh process with a temp SQLite database and a config
of two brands with fast crawl settings (the end-to-end tests' config), and reads its report:

1. **The whole demo**: wall time of the run, from start to report. The baseline measured in
   the same run is its crawls alone (per platform the longest crawl, crawls of different
   platforms run side by side); the rest is the analysis, complaint records, the crisis
   section and alert delivery. Target: ≤ 120 s.
2. **The crisis section** (hot list → alert, then tracking on a simulated clock): its wall
   time, and how much faster than real time the tracking's simulated clock ran. Target: ≤ 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.spiders.conftest import CONFIG as CRAWL_TEST_CONFIG  # noqa: E402

DEMO_TARGET = 120.0
CRISIS_TARGET = 60.0
CRISIS_SECTION = "热榜与传播追踪"

# The crawl tests' config: two brands, fast crawl settings (one definition for both).
CONFIG = CRAWL_TEST_CONFIG


def run_demo(tmp: Path, platforms: str, seed: int) -> tuple[dict[str, Any], float]:
    """The demo's JSON report and the wall time of its process."""
    db = f"sqlite:///{tmp / 'demo.db'}"
    config = tmp / "yuqing.toml"
    config.write_text(CONFIG.format(data=tmp / "data", db=db), encoding="utf-8")
    argv = [sys.executable, "-m", "crawler.cli.app", "--config", str(config), "demo", "--json"]
    argv += ["--platforms", platforms, "--seed", str(seed), "--database", db]
    start = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=tmp, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"yuqing demo failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platforms", default="weibo,heimao", help="the demo's --platforms")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yuqing-demo-bench-") as tmp:
        report, wall = run_demo(Path(tmp), args.platforms, args.seed)
    seconds = float(report["seconds"])
    crawls = max((float(t["seconds"]) for t in report["platforms"].values()), default=0.0)
    met = seconds <= DEMO_TARGET and all(t["status"] == "ok" for t in report["platforms"].values())
    print(
        f"demo: {seconds:.1f} s ({wall:.1f} s with process start-up; target ≤ {DEMO_TARGET:g} s); "
        f"baseline, its crawls alone: {crawls:.1f} s; demo / crawls {seconds / crawls if crawls else 0:.1f}×  "
        f"met: {'yes' if met else 'NO'}"
    )
    ok = met
    crisis = next((d for title, d in report["sections"].items() if title.startswith(CRISIS_SECTION)), None)
    if crisis is None:
        print(f"crisis: no {CRISIS_SECTION} section (needs weibo among --platforms)")
    else:
        c_seconds, hours = float(crisis["seconds"]), float(crisis["simulated_hours"])
        met = c_seconds <= CRISIS_TARGET and hours > 0
        print(
            f"crisis: {c_seconds:.1f} s (target ≤ {CRISIS_TARGET:g} s) for {hours:.2f} simulated hours of "
            f"tracking: {hours * 3600 / c_seconds if c_seconds else 0:,.0f}× real time over the section  "
            f"met: {'yes' if met else 'NO'}"
        )
        ok &= met
    print("all targets met" if ok else "some targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
