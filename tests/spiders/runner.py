"""Scenario runner for the end-to-end crawl tests, run as a subprocess:
``python tests/spiders/runner.py plan.json``.

It starts the simulator in a background thread, then runs the plan's steps in order in
ONE Twisted reactor: ``crawl`` steps run the real spiders with the project's settings,
pipelines and crawl_runs recorder (exactly as ``python -m crawler.service.crawl_process`` does, without a
process start-up per crawl); ``fault`` / ``clear`` / ``publish`` / ``boost`` steps change
the simulator between crawls. Results (each crawl's summary and the simulator's ground
truth) are written to the plan's ``out`` file as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")


def _truth(sim: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in sim.truth():
        out.setdefault(rec["platform"], []).append(
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in rec.items()
                if k
                in (
                    "platform",
                    "post_id",
                    "kind",
                    "parent_post_id",
                    "brand",
                    "text",
                    "published_at",
                    "likes",
                    "comments",
                    "shares",
                    "title",
                )
            }
        )
    return out


def main(plan_path: str) -> None:
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.crawler import Crawler, CrawlerRunner
    from scrapy.utils.project import get_project_settings
    from twisted.internet import defer, reactor

    from crawler.logging import setup_logging
    from simulator import Simulator
    from spiders import spider_class

    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    setup_logging(plan.get("log_level", "WARNING"), log_dir=None)
    base = get_project_settings()
    base.setdict(
        {"YUQING_CONFIG": plan["config"], "LOG_INSTALL_ROOT_HANDLER": False, **plan.get("settings", {})},
        priority="cmdline",
    )
    results: list[dict[str, Any]] = []
    sim = Simulator(
        seed=plan.get("seed", 7), brands=plan.get("brands"), port=0, **plan.get("sim", {})
    ).start()
    runner = CrawlerRunner(base)
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-runner-"))

    def crawl(step: dict[str, Any], n: int) -> Any:
        platform = step["platform"]
        settings = base.copy()
        summary = tmp / f"summary-{n}.json"
        settings.setdict(
            {
                **sim.crawl_settings(platform),
                **step.get("settings", {}),
                "YUQING_SUMMARY_FILE": str(summary),
            },
            priority="cmdline",
        )
        crawler = Crawler(spider_class(platform), settings)
        args = {"brand": step["brand"], **({"keyword": step["keyword"]} if step.get("keyword") else {})}
        before = len(sim.request_log(platform))
        d = runner.crawl(crawler, **args)

        def done(_: Any) -> None:
            rec = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {}
            rec["step"] = n
            rec["label"] = step.get("label")
            log = sim.request_log(platform)
            rec["sim_requests"] = len(log) - before  # what the platform saw
            rec["arrivals"] = sorted(e[0] for e in log[before:])
            results.append(rec)

        d.addBoth(done)
        return d

    def matching() -> dict[str, list[str]]:
        return {
            f"{p}:{kw}": [r["post_id"] for r in sim.truth(p, keyword=kw)]
            for p, kws in plan.get("keywords", {}).items()
            for kw in kws
        }

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
                        step["platform"], step["kind"], rate=step.get("rate", 1.0), **step.get("options", {})
                    )
                elif op == "snapshot":  # the ground truth as of now
                    results.append(
                        {"step": n, "snapshot": step["name"], "matching": matching(), "truth": _truth(sim)}
                    )
                elif op == "clear":
                    sim.clear_faults()
                elif op == "publish":
                    recs = sim.publish(
                        step.get("count", 1), platform=step["platform"], brand=step.get("brand")
                    )
                    results.append({"step": n, "published": [r["post_id"] for r in recs]})
                elif op == "boost":  # post_id "recent:<keyword>": the newest post matching the keyword
                    post_id = step["post_id"]
                    if post_id.startswith("recent:"):
                        hits = sim.truth(step["platform"], kind="post", keyword=post_id[7:])
                        post_id = max(hits, key=lambda r: r["published_at"])["post_id"]
                    sim.boost(
                        step["platform"],
                        post_id,
                        likes=step.get("likes", 0),
                        comments=step.get("comments", 0),
                        shares=step.get("shares", 0),
                    )
                    results.append({"step": n, "boosted": post_id})
        finally:
            arrivals = {p: sorted(e[0] for e in sim.request_log(p)) for p in ("weibo", "heimao")}
            out = {"results": results, "truth": _truth(sim), "matching": matching(), "arrivals": arrivals}
            Path(plan["out"]).write_text(json.dumps(out, ensure_ascii=False, default=str), encoding="utf-8")
            reactor.stop()

    reactor.callWhenRunning(run_steps)
    reactor.run()
    sim.stop()


if __name__ == "__main__":
    main(sys.argv[1])
