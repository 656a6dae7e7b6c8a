"""A stand-in crawl process for the scheduler tests: records a crawl run like a spider does.

Usage: ``python standin_crawl.py PLATFORM BRAND CONFIG``. Its behaviour per platform comes
from the JSON file ``$STANDIN_CONTROL`` (re-read each run, so tests can switch it):
``{"weibo": {"mode": "ok|hang|stubborn|fail", "seconds": 1.0, "items": 5, "error_kind": null}}``.
``hang`` sleeps until signalled, ``stubborn`` also ignores SIGTERM. Every start and end is
appended to ``$STANDIN_LOG`` as ``start|end PLATFORM BRAND PID MONOTONIC``, to detect overlaps.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def _log(event: str, platform: str, brand: str) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{event} {platform} {brand} {os.getpid()} {time.time():.3f}\n")


def main() -> int:
    platform, brand, config = sys.argv[1:4]
    from crawler.config import load_config
    from crawler.storage.engine import open_database
    from crawler.storage.mentions import finish_run, start_run

    cfg = load_config(config)
    control = {}
    if os.environ.get("STANDIN_CONTROL") and os.path.exists(os.environ["STANDIN_CONTROL"]):
        with open(os.environ["STANDIN_CONTROL"], encoding="utf-8") as fh:
            control = json.load(fh).get(platform, {})
    mode = control.get("mode", "ok")
    engine = open_database(cfg.database_url)
    run_id = start_run(engine, spider=platform, platform=platform, brand=brand)
    _log("start", platform, brand)
    stopped = []
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
    deadline = time.monotonic() + (
        1e9 if mode in ("hang", "stubborn") else float(control.get("seconds", 0.2))
    )
    while time.monotonic() < deadline and not stopped:
        time.sleep(0.05)
    if stopped:
        finish_run(engine, run_id, status="partial", error_message="stopped by SIGTERM")
        _log("end", platform, brand)
        return 0
    items = int(control.get("items", 5))
    status = "failed" if mode == "fail" else "ok"
    finish_run(
        engine, run_id, status=status, items=items, new_count=items, error_kind=control.get("error_kind")
    )
    _log("end", platform, brand)
    return 1 if mode == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
