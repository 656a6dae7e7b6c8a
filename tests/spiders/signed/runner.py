"""Scenario runner of the Xiaohongshu/Douyin end-to-end tests: ``python tests/spiders/signed/runner.py plan.json``.

Starts the simulator in a thread and runs the plan's steps in ONE Twisted reactor (one
process start-up for many crawls): ``crawl`` runs a real spider with the project settings,
pipelines and crawl_runs recorder, as ``python -m crawler.service.crawl_process`` does; ``fault`` / ``clear``
switch simulator faults; ``sessions`` logs accounts in on the simulator and stores them
like ``yuqing login`` does. Writes every crawl's summary, the ground truth and the stored
sessions' states to the plan's ``out`` file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")


def _jsonable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rec.items() if k != "label"}


def main(plan_path: str) -> None:
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.crawler import Crawler, CrawlerRunner
    from scrapy.settings import Settings
    from scrapy.utils.project import get_project_settings
    from twisted.internet import defer, reactor

    from crawler.config import load_config
    from crawler.logging import setup_logging
    from crawler.platform.sessions import Session, SessionStore
    from simulator import Simulator
    from spiders import spider_class

    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    setup_logging(plan.get("log_level", "WARNING"), log_dir=None)
    cfg = load_config(plan["config"])
    store = SessionStore.from_config(cfg)
    base = get_project_settings()
    base.setdict({"YUQING_CONFIG": plan["config"], **plan.get("settings", {})}, priority="cmdline")
    sim = Simulator(seed=plan.get("seed", 7), cfg=cfg, port=0, **plan.get("sim", {})).start()
    # A Crawler handed to a runner gets the runner's settings merged over its own at equal priority:
    # keep the runner's empty so each step's settings win.
    runner = CrawlerRunner(Settings())
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-xd-runner-"))
    results: list[dict[str, Any]] = []

    def crawl(step: dict[str, Any], n: int) -> Any:
        platform = step["platform"]
        settings = base.copy()
        summary = tmp / f"summary-{n}.json"
        sim_settings = sim.crawl_settings(platform)
        if step.get("cookies") == "store":  # use the stored `yuqing login` sessions, in turn
            sim_settings[f"{platform.upper()}_COOKIES"] = ""
        settings.setdict(
            {**sim_settings, **step.get("settings", {}), "YUQING_SUMMARY_FILE": str(summary)},
            priority="cmdline",
        )
        crawler = Crawler(spider_class(platform), settings)
        before = len(sim.request_log(platform))
        d = runner.crawl(crawler, brand=step["brand"])

        def done(_: Any) -> None:
            rec = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {}
            rec.update(step=n, label=step.get("label"), sim_requests=len(sim.request_log(platform)) - before)
            results.append(rec)

        d.addBoth(done)
        return d

    @defer.inlineCallbacks
    def run_steps() -> Any:
        try:
            for n, step in enumerate(plan["steps"]):
                op = step["op"]
                if op == "crawl":
                    yield crawl(step, n)
                elif op == "fault":
                    sim.clear_faults()
                    sim.set_fault(
                        step["platform"],
                        step["kind"],
                        rate=step.get("rate", 1.0),
                        path=step.get("path"),
                        **step.get("options", {}),
                    )
                elif op == "clear":
                    sim.clear_faults()
                elif op == "sessions":
                    for account in step["accounts"]:
                        store.save(Session(step["platform"], account, sim.issue_session(step["platform"])))
        finally:
            matching = {
                f"{p}:{kw}": [r["post_id"] for r in sim.truth(p, keyword=kw)]
                for p, kws in plan.get("keywords", {}).items()
                for kw in kws
            }
            sessions = {p: {s.account: s.status for s in store.stored(p)} for p in ("xiaohongshu", "douyin")}
            out = {
                "results": results,
                "matching": matching,
                "sessions": sessions,
                "truth": [_jsonable(r) for r in sim.truth() if r["platform"] in ("xiaohongshu", "douyin")],
            }
            Path(plan["out"]).write_text(json.dumps(out, ensure_ascii=False, default=str), encoding="utf-8")
            reactor.stop()

    reactor.callWhenRunning(run_steps)
    reactor.run()
    sim.stop()


if __name__ == "__main__":
    main(sys.argv[1])
