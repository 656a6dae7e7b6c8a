"""Crawl benchmark: mentions/s end to end (simulator → spider → pipelines → database).

    python bench/crawl.py [--posts N] [--platform weibo|heimao|xiaohongshu|douyin] [--database URL]
                          [--no-analysis] [--no-triage] [--analysis-workers auto|0|N] [--json]

In one run:
1. the ceiling: the simulator's raw serving rate — the same search pages fetched by a
   plain async HTTP client (8 connections), as posts/s;
2. the crawl: ``python -m crawler.service.crawl_process`` against the same simulator into a fresh
   database (SQLite temp file by default), with the production pipelines (normalise,
   sentiment analysis, batched upsert, triage). Reported: mentions/s over the crawl,
   the time spent parsing, analysing, storing (upsert + triage) and waiting (network,
   the simulator, Scrapy itself), the process start-up, and the crawl process's peak
   RSS sampled every 50 ms.
Targets: ≥ 500 mentions/s and ≤ 400 MB peak RSS.

``--platform xiaohongshu`` / ``douyin`` (the XD section below): Xiaohongshu through the
xhshow-signed API (search pages + every note's detail), Douyin through the real browser
(the page signs and fetches, the spider scrolls). The ceiling is a plain async client in its
own process making the same signed calls; memory is the peak PSS of the crawl process and
its Chromium (shared pages split, not summed). Target for the browser path: ≥ 20 mentions/s
and ≤ 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

BRAND = "鲜果时光"
CONFIG = """
[project]
data_dir = "{data}"
log_level = "WARNING"
[storage]
url = "{db}"
[[brands]]
name = "{brand}"
keywords = ["{brand}"]
"""


def serving_rate(
    sim: Any, platform: str, pages: list[str], cookies: dict[str, str], concurrency: int = 8
) -> float:
    """Pages/s the simulator serves to a plain client (no parsing beyond reading the body)."""
    import httpx

    async def run() -> float:
        queue = list(pages)
        async with httpx.AsyncClient(cookies=cookies, timeout=30) as client:

            async def worker() -> None:
                while queue:
                    url = queue.pop()
                    resp = await client.get(url)
                    resp.raise_for_status()
                    _ = resp.content

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return len(pages) / (time.perf_counter() - started)

    return asyncio.run(run())


def page_urls(sim: Any, platform: str, posts: int) -> tuple[list[str], dict[str, str], int]:
    """The search page URLs that hold the brand's posts, their cookies, and posts per page."""
    from urllib.parse import urlencode

    from spiders import _heimao_api, _weibo_api

    size = sim.ctx.options.page_size
    n = -(-posts // size)
    base = sim.base_url(platform)
    if platform == "weibo":
        from simulator import WEIBO_TEST_SUB

        urls = [
            f"{base}{_weibo_api.SEARCH_PATH}?{urlencode(_weibo_api.search_params(BRAND, p, 61))}"
            for p in range(1, n + 1)
        ]
        return urls, {"SUB": WEIBO_TEST_SUB}, size
    urls = [
        f"{base}{_heimao_api.SEARCH_PATH}?"
        f"{urlencode(_heimao_api.signed_params(_heimao_api.search_params(BRAND, p, size)))}"
        for p in range(1, n + 1)
    ]
    return urls, {}, size


class PeakRss(threading.Thread):
    """Samples the RSS of a process (and its children) until it exits."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
            while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                self.peak = max(self.peak, rss)
                time.sleep(0.05)
        except psutil.Error:
            return


def run_crawl_measured(argv: list[str], log: Path) -> tuple[int, float, int, float]:
    """Exit status, wall seconds, peak RSS and CPU seconds (user + system) of the crawl process."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        sampler = PeakRss(proc.pid)
        sampler.start()
        code = proc.wait()
    sampler.join(1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, time.perf_counter() - started, sampler.peak, cpu


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from crawler.service.crawl_runner import crawl_argv
    from simulator import Simulator

    tmp = Path(tempfile.mkdtemp(prefix="yuqing-bench-"))
    db = args.database or f"sqlite:///{tmp / 'bench.db'}"
    config = tmp / "bench.toml"
    config.write_text(CONFIG.format(data=tmp / "data", db=db, brand=BRAND), encoding="utf-8")
    options = {
        "posts_per_brand": args.posts,
        "comments_per_post": (0, 0),
        "crisis": False,
        "platforms": (args.platform,),
        "days": 6.0,
    }
    with Simulator(seed=3, brands=[BRAND], **options) as sim:
        urls, cookies, size = page_urls(sim, args.platform, args.posts)
        pages_per_s = serving_rate(sim, args.platform, urls, cookies)
        ceiling = pages_per_s * size
        summary_file = tmp / "summary.json"
        overrides = {
            **sim.crawl_settings(args.platform),
            "YUQING_DATABASE_URL": db,
            "YUQING_SUMMARY_FILE": str(summary_file),
            "YUQING_RATE_LIMIT_PER_MINUTE": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "YUQING_MAX_PAGES": len(urls) + 5,
            "YUQING_COMMENTS": False,
            "WEIBO_SEARCH_TYPES": "61",
            "HEIMAO_DETAIL_PAGES": False,
            "YUQING_STORE_BATCH": 500,
            "YUQING_ANALYZE": not args.no_analysis,
            "YUQING_TRIAGE": not args.no_triage,
            "YUQING_PAGE_PREFETCH": 8,
            "YUQING_ANALYZE_WORKERS": args.analysis_workers,
            "YUQING_LOG_LEVEL": "WARNING",
        }
        argv = crawl_argv(args.platform, BRAND, config_path=config, overrides=overrides)
        load = psutil.getloadavg()[0]
        code, wall, peak, cpu = run_crawl_measured(argv, tmp / "crawl.log")
    s = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    if code != 0 or s.get("status") != "ok":
        raise SystemExit(f"the crawl failed ({code}): see {tmp / 'crawl.log'}")
    t = s["timings"]
    crawl_s = s["elapsed"]
    mentions = s["new"] + s["updated"] + s["duplicate"]
    rate = mentions / crawl_s
    return {
        "platform": args.platform,
        "posts": args.posts,
        "mentions": mentions,
        "new": s["new"],
        "requests": s["requests"],
        "crawl_seconds": round(crawl_s, 2),
        "process_seconds": round(wall, 2),
        "startup_seconds": round(wall - crawl_s, 2),
        "mentions_per_s": round(rate, 1),
        "end_to_end_per_s": round(mentions / wall, 1),
        "ceiling_posts_per_s": round(ceiling, 1),
        "ratio_to_ceiling": round(rate / ceiling, 3),
        "seconds": {
            "parse": round(t["parse"], 2),
            "analyze": round(t["analyze"], 2),
            "store": round(t["store"] - t["triage"], 2),
            "triage": round(t["triage"], 2),
            "waiting": round(t["download"], 2),
            "latency_ms": round(1000 * t["download"] / max(s["requests"], 1), 1),
        },
        "analysis_workers": overrides_workers(args),
        "cpu_seconds": round(cpu, 2),
        "mentions_per_cpu_s": round(mentions / cpu, 1) if cpu else None,
        "load_average": round(load, 2),
        "cpus": psutil.cpu_count(),
        "peak_rss_mb": round(peak / 2**20, 1),
        "analysis": not args.no_analysis,
        "triage": not args.no_triage,
        "targets": {"mentions_per_s>=500": rate >= 500, "peak_rss<=400MB": peak <= 400 * 2**20},
    }


# --- Xiaohongshu and Douyin (XD section: signed API and the real browser) ------------------

XD_DEFAULT_POSTS = {"xiaohongshu": 2000, "douyin": 1000}
XD_CONFIG = """
[platforms.xiaohongshu]
max_pages = 200
[platforms.douyin]
max_pages = 200
max_scrolls = 200
"""


def xd_ceiling(sim: Any, platform: str) -> float:
    """Mentions/s a plain async client (in its own process, as the crawl is) gets for the same
    signed calls: every search page, and on Xiaohongshu every note's detail."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    secret = sim.ctx.platforms["douyin"].secret if platform == "douyin" else ""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(
            _ceiling_client, platform, sim.base_url(platform), sim.issue_session(platform), secret
        ).result()


def _ceiling_client(platform: str, base: str, cookies: dict[str, str], secret: str) -> float:
    import httpx

    from crawler.platform.signing import XhshowSigner, json_body
    from spiders import _douyin_api as dy
    from spiders import _xhs_api as xhs

    signer = XhshowSigner()

    async def xhs_post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = await signer.sign("POST", path, cookies=cookies, payload=body)
        resp = await client.post(base + path, content=json_body(body).encode(), headers=headers)
        resp.raise_for_status()
        return resp.json()["data"]  # type: ignore[no-any-return]

    async def xhs_walk(client: httpx.AsyncClient) -> int:
        sid, hits, page = xhs.new_search_id(), [], 1
        while True:
            data = await xhs_post(client, xhs.SEARCH_PATH, xhs.search_body(BRAND, page, sid))
            hits += [i for i in data["items"] if i.get("model_type") == "note"]
            if not data["has_more"]:
                break
            page += 1
        sem = asyncio.Semaphore(16)

        async def detail(item: dict[str, Any]) -> None:
            async with sem:
                await xhs_post(client, xhs.FEED_PATH, xhs.feed_body(item["id"], item["xsec_token"]))

        await asyncio.gather(*(detail(i) for i in hits))
        return len(hits)

    async def douyin_walk(client: httpx.AsyncClient) -> int:
        from urllib.parse import quote, urlencode

        from simulator.signatures import douyin_sign

        offset, found, search_id = 0, 0, ""
        while True:
            query = urlencode(dy.search_params(BRAND, offset, search_id))
            a_bogus = quote(douyin_sign(query, dy.USER_AGENT, secret), safe="")
            payload = (await client.get(f"{base}{dy.SEARCH_PATH}?{query}&a_bogus={a_bogus}")).json()
            found += len(dy.parse_search_page(payload, brand=BRAND, keyword=BRAND).items)
            if not payload.get("has_more"):
                return found
            offset, search_id = payload["cursor"], payload["extra"]["logid"]

    async def run() -> float:
        async with httpx.AsyncClient(
            cookies=cookies, timeout=30, headers={"User-Agent": dy.USER_AGENT}
        ) as client:
            started = time.perf_counter()
            found = await (xhs_walk(client) if platform == "xiaohongshu" else douyin_walk(client))
            return found / (time.perf_counter() - started)

    return asyncio.run(run())


class PeakPss(threading.Thread):
    """Peak total memory of a process tree as PSS (shared pages split between the processes
    that map them, so Chromium's many processes are not counted several times) and as RSS."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_pss, self.peak_rss = pid, 0, 0

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
            while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                pss = rss = 0
                for p in [proc, *proc.children(recursive=True)]:
                    try:
                        info = p.memory_full_info()
                    except psutil.Error:
                        continue
                    pss, rss = pss + info.pss, rss + info.rss
                self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
                time.sleep(0.1)
        except psutil.Error:
            return


def run_xd_measured(argv: list[str], log: Path) -> tuple[int, float, int, int]:
    import subprocess

    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        sampler = PeakPss(proc.pid)
        sampler.start()
        code = proc.wait()
    sampler.join(1)
    return code, time.perf_counter() - started, sampler.peak_pss, sampler.peak_rss


def bench_xd(args: argparse.Namespace) -> dict[str, Any]:
    """Xiaohongshu through the xhshow-signed API, or Douyin through the real browser (default mode)."""
    from crawler.service.crawl_runner import crawl_argv
    from simulator import Simulator

    platform = args.platform
    posts = args.posts or XD_DEFAULT_POSTS[platform]
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-bench-"))
    db = args.database or f"sqlite:///{tmp / 'bench.db'}"
    config = tmp / "bench.toml"
    config.write_text(CONFIG.format(data=tmp / "data", db=db, brand=BRAND) + XD_CONFIG, encoding="utf-8")
    options = {
        "posts_per_brand": posts,
        "comments_per_post": (0, 0),
        "crisis": False,
        "platforms": (platform,),
        "days": 6.0,
    }
    with Simulator(seed=3, brands=[BRAND], **options) as sim:
        ceiling = xd_ceiling(sim, platform)
        summary_file = tmp / "summary.json"
        overrides = {
            **sim.crawl_settings(platform),
            "YUQING_DATABASE_URL": db,
            "YUQING_SUMMARY_FILE": str(summary_file),
            "YUQING_RATE_LIMIT_PER_MINUTE": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "YUQING_MAX_PAGES": 200,
            "YUQING_COMMENTS": False,
            "YUQING_STORE_BATCH": 500,
            "YUQING_ANALYZE": not args.no_analysis,
            "YUQING_TRIAGE": not args.no_triage,
            "YUQING_LOG_LEVEL": "WARNING",
        }
        argv = crawl_argv(platform, BRAND, config_path=config, overrides=overrides)
        code, wall, peak, peak_rss = run_xd_measured(argv, tmp / "crawl.log")
    s = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    if code != 0 or s.get("status") != "ok":
        raise SystemExit(f"the crawl failed ({code}): see {tmp / 'crawl.log'}")
    mentions = s["new"] + s["updated"] + s["duplicate"]
    rate = mentions / s["elapsed"]
    return {
        "platform": platform,
        "path": "xhshow-signed API" if platform == "xiaohongshu" else "real browser",
        "posts": posts,
        "mentions": mentions,
        "requests": s["requests"],
        "crawl_seconds": round(s["elapsed"], 2),
        "process_seconds": round(wall, 2),
        "mentions_per_s": round(rate, 1),
        "ceiling_mentions_per_s": round(ceiling, 1),
        "ratio_to_ceiling": round(rate / ceiling, 3),
        "seconds": {k: round(v, 2) for k, v in s["timings"].items()},
        "peak_pss_mb": round(peak / 2**20, 1),
        "peak_rss_sum_mb": round(peak_rss / 2**20, 1),
        "analysis": not args.no_analysis,
        "triage": not args.no_triage,
        # The issue's target is for the browser path; the signed API path is reported against its ceiling.
        "targets": {"mentions_per_s>=20": rate >= 20, "peak_memory<=1GB": peak <= 2**30}
        if platform == "douyin"
        else {},
    }


def print_xd(r: dict[str, Any]) -> None:
    print(f"{r['platform']} ({r['path']}): {r['mentions']:,} mentions in {r['requests']:,} requests")
    print(
        f"  ceiling: a plain client gets {r['ceiling_mentions_per_s']:,.0f} mentions/s from the same signed calls"
    )
    print(
        f"  crawl:   {r['mentions_per_s']:,.1f} mentions/s over {r['crawl_seconds']}s "
        f"= {r['ratio_to_ceiling']:.0%} of the ceiling ({r['process_seconds']}s with process start-up)"
    )
    print("  time:    " + ", ".join(f"{k} {v}s" for k, v in r["seconds"].items()))
    print(
        f"  memory:  peak {r['peak_pss_mb']} MB PSS of the crawl process (and its Chromium) "
        f"(RSS summed over the processes, shared pages counted repeatedly: {r['peak_rss_sum_mb']} MB)"
    )
    if r["targets"]:
        print(
            "  targets: " + "; ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in r["targets"].items())
        )


def overrides_workers(args: argparse.Namespace) -> int:
    from crawler.scraping.analysis_pool import worker_count

    return 0 if args.no_analysis else worker_count(args.analysis_workers)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--posts", type=int, default=None, help="10,000 (weibo, heimao); 2,000 (xiaohongshu); 1,000 (douyin)"
    )
    parser.add_argument("--platform", choices=("weibo", "heimao", "xiaohongshu", "douyin"), default="weibo")
    parser.add_argument("--database", help="database URL (default: a temp SQLite file)")
    parser.add_argument("--no-analysis", action="store_true", help="skip sentiment analysis in the pipeline")
    parser.add_argument(
        "--no-triage", action="store_true", help="skip alerts.triage.run in the store transaction"
    )
    parser.add_argument(
        "--analysis-workers", default="auto", help="analysis worker processes (auto, 0, 1 ...)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.platform in XD_DEFAULT_POSTS:
        xd = bench_xd(args)
        print(json.dumps(xd, ensure_ascii=False)) if args.json else print_xd(xd)
        return
    args.posts = args.posts or 10_000
    r = bench(args)
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
        return
    sec = r["seconds"]
    print(f"{r['platform']}: {r['mentions']:,} mentions ({r['new']:,} new) in {r['requests']:,} requests")
    print(f"  ceiling: simulator serves {r['ceiling_posts_per_s']:,.0f} posts/s to a plain HTTP client")
    print(
        f"  crawl:   {r['mentions_per_s']:,.0f} mentions/s over {r['crawl_seconds']}s "
        f"= {r['ratio_to_ceiling']:.0%} of the ceiling; {r['end_to_end_per_s']:,.0f}/s including "
        f"{r['startup_seconds']}s process start-up"
    )
    where = (
        f"in {r['analysis_workers']} worker process(es)" if r["analysis_workers"] else "in the crawl process"
    )
    print(
        f"  time:    parse {sec['parse']}s (crawl thread), analyse {sec['analyze']}s ({where}), "
        f"store {sec['store']}s + triage {sec['triage']}s (store thread), waiting on responses "
        f"{sec['waiting']}s summed over concurrent requests ({sec['latency_ms']} ms each); these overlap"
    )
    print(
        f"  cpu:     the crawl process used {r['cpu_seconds']}s of CPU = {r['mentions_per_cpu_s']:,} mentions "
        f"per CPU-second (load average {r['load_average']} on {r['cpus']} CPUs at the start)"
    )
    print(f"  memory:  peak RSS {r['peak_rss_mb']} MB")
    met = r["targets"]
    print(
        f"  targets: ≥ 500 mentions/s {'met' if met['mentions_per_s>=500'] else 'NOT met'}; "
        f"≤ 400 MB {'met' if met['peak_rss<=400MB'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
