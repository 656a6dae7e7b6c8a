"""The scenario runner of the end-to-end crawl tests: a plan of steps run against the simulator.

A test calls :func:`run_plan`; it writes the plan as JSON and runs this file in a subprocess
(``python tests/scenario.py plan.json``). The subprocess starts the simulator in a thread and
runs the steps in order in ONE Twisted reactor (one process start-up for many crawls):

- ``crawl``: a real spider (``platform``, ``brand``, optional ``keyword``) with the project
  settings, pipelines and crawl_runs recorder, as ``python -m crawler.service.crawl_process``
  does; the step's ``settings`` win over the plan's; ``"cookies": "store"`` makes the spider
  use the stored ``yuqing login`` sessions instead of the simulator's cookie;
- ``fault`` / ``clear``: switch one simulator fault on (``kind``, ``rate``, ``path``,
  ``options``; the previous ones are cleared) / clear every fault;
- ``publish``: ``count`` new posts; ``boost``: more engagement for ``post_id``
  (``recent:<keyword>``: the newest post matching the keyword);
- ``snapshot``: record the ground truth as of now under ``name``;
- ``sessions``: log ``accounts`` in on the simulator and store them as ``yuqing login`` does.

The plan's ``out`` file gets each step's record (``results``), the ground truth per platform
(``truth``), the posts of each ``keywords`` entry (``matching``), the request arrival times
per platform (``arrivals``) and the states of the sessions stored by ``sessions`` steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# --- the test side ------------------------------------------------------------------------------


def run_plan(
    tmp_path: Path,
    config: Path,
    steps: list[dict[str, Any]],
    *,
    sim: dict[str, Any],
    settings: dict[str, Any],
    keywords: dict[str, list[str]],
    timeout: float = 150,
    world_from_config: bool = False,
) -> dict[str, Any]:
    """Run ``steps`` in the scenario subprocess; returns what it wrote (see the module docstring).

    ``sim`` are the simulator's options (the world), ``settings`` Scrapy settings for every crawl,
    ``keywords`` the ``{platform: [keyword, ...]}`` whose matching posts are reported. With
    ``world_from_config`` the simulated brands (and the Heimao secret) come from ``config``,
    else the simulator's default brands are used."""
    out = tmp_path / "runner-out.json"
    plan = {
        "config": str(config),
        "out": str(out),
        "log_level": "WARNING",
        "sim": sim,
        "world_from_config": world_from_config,
        "settings": settings,
        "steps": steps,
        "keywords": keywords,
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), str(plan_file)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired as exc:  # say where it was stuck
        err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise AssertionError(f"runner still running after {timeout:g} s:\n{err[-3000:]}") from exc
    if os.environ.get("SCENARIO_DEBUG"):
        print(proc.stderr[-5000:])
    assert out.exists(), f"runner failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def expected_ids(
    out: dict[str, Any],
    platform: str,
    keywords: list[str],
    brand: str | None = None,
    snapshot: str | None = None,
) -> set[str]:
    """Post ids a crawl of ``keywords`` must find, from the simulator's ground truth (at the end, or
    at a ``snapshot`` step): the matching posts with their comments and replies (and on Heimao, with
    ``brand``, every complaint against the brand's company, which the company list brings)."""
    if snapshot is not None:
        out = next(r for r in out["results"] if r.get("snapshot") == snapshot)
    ids = {pid for kw in keywords for pid in out["matching"][f"{platform}:{kw}"]}
    if brand is not None:
        ids |= {
            r["post_id"]
            for r in out["truth"].get(platform, [])
            if r["kind"] == "complaint" and r["brand"] == brand
        }
    return ids


def stored(db_url: str, platform: str) -> list[dict[str, Any]]:
    """The ``mentions`` rows of ``platform``."""
    from sqlalchemy import select

    from crawler.storage.engine import make_engine
    from crawler.storage.mentions import MENTIONS

    with make_engine(db_url).connect() as conn:
        return [
            dict(r) for r in conn.execute(select(MENTIONS).where(MENTIONS.c.platform == platform)).mappings()
        ]


def runs(db_url: str) -> list[dict[str, Any]]:
    """The ``crawl_runs`` rows, oldest first."""
    from sqlalchemy import select

    from crawler.storage.engine import make_engine
    from crawler.storage.mentions import RUNS

    with make_engine(db_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(RUNS).order_by(RUNS.c.id)).mappings()]


# --- the subprocess -----------------------------------------------------------------------------


def _truth(sim: Any) -> dict[str, list[dict[str, Any]]]:
    """The simulator's ground truth per platform, as JSON values (times in ISO 8601)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in sim.truth():
        out.setdefault(rec["platform"], []).append(
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rec.items() if k != "label"}
        )
    return out


def main(plan_path: str) -> None:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
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
    base.setdict(
        {"YUQING_CONFIG": plan["config"], "LOG_INSTALL_ROOT_HANDLER": False, **plan.get("settings", {})},
        priority="cmdline",
    )
    sim = Simulator(
        seed=plan.get("seed", 7),
        cfg=cfg if plan.get("world_from_config") else None,
        port=0,
        **plan.get("sim", {}),
    ).start()
    platforms = list(sim.ctx.platforms)
    # A Crawler handed to a runner gets the runner's settings merged over its own at equal priority:
    # keep the runner's empty so each step's settings win.
    runner = CrawlerRunner(Settings())
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-scenario-"))
    results: list[dict[str, Any]] = []
    logged_in: set[str] = set()

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
        args = {"brand": step["brand"], **({"keyword": step["keyword"]} if step.get("keyword") else {})}
        before = len(sim.request_log(platform))
        d = runner.crawl(crawler, **args)

        def done(_: Any) -> None:
            rec = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {}
            log = sim.request_log(platform)
            rec.update(
                step=n,
                label=step.get("label"),
                sim_requests=len(log) - before,  # what the platform saw
                arrivals=sorted(e[0] for e in log[before:]),
            )
            results.append(rec)

        d.addBoth(done)
        return d

    def matching() -> dict[str, list[str]]:
        return {
            f"{p}:{kw}": [r["post_id"] for r in sim.truth(p, keyword=kw)]
            for p, kws in plan.get("keywords", {}).items()
            for kw in kws
        }

    def boost(step: dict[str, Any]) -> str:
        post_id: str = step["post_id"]
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
        return post_id

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
                elif op == "snapshot":
                    results.append(
                        {"step": n, "snapshot": step["name"], "matching": matching(), "truth": _truth(sim)}
                    )
                elif op == "publish":
                    recs = sim.publish(
                        step.get("count", 1), platform=step["platform"], brand=step.get("brand")
                    )
                    results.append({"step": n, "published": [r["post_id"] for r in recs]})
                elif op == "boost":
                    results.append({"step": n, "boosted": boost(step)})
                elif op == "sessions":
                    logged_in.add(step["platform"])
                    for account in step["accounts"]:
                        store.save(Session(step["platform"], account, sim.issue_session(step["platform"])))
                else:
                    raise ValueError(f"unknown step {op!r}")
        finally:
            out = {
                "results": results,
                "truth": _truth(sim),
                "matching": matching(),
                "arrivals": {p: sorted(e[0] for e in sim.request_log(p)) for p in platforms},
                "sessions": {p: {s.account: s.status for s in store.stored(p)} for p in sorted(logged_in)},
            }
            Path(plan["out"]).write_text(json.dumps(out, ensure_ascii=False, default=str), encoding="utf-8")
            reactor.stop()

    reactor.callWhenRunning(run_steps)
    reactor.run()
    sim.stop()


if __name__ == "__main__":
    # Run as a script, this file's directory (tests/, which has a simulator/ of its own) would come
    # first on sys.path: the project root takes its place.
    sys.path[0] = str(ROOT)
    main(sys.argv[1])
