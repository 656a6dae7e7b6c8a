"""The crawl subprocess: ``python -m crawler.service.crawl_process <platform> -a brand=NAME [-a keyword=K] [-s K=V ...]``
or ``python -m crawler.service.crawl_process --jobs FILE`` (a JSON list of ``{platform, brand, keyword, settings}``
crawled side by side in one reactor).

It is ``scrapy crawl`` with yuqing's logging (loguru; Scrapy installs no root handler),
the project settings found without ``scrapy.cfg``, the brand checked before anything
starts, and an exit status that says how it went: 0 ok or partial, 1 failed, 2 bad
arguments or config.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from crawler.errors import YuqingError
from crawler.logging import setup_logging
from crawler.settings import config_for
from spiders import SPIDERS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {flag} expects NAME=VALUE, got {value!r}")
        out[key] = val
    return out


def _jobs(ns: argparse.Namespace) -> list[dict[str, Any]]:
    if ns.jobs:
        data = json.loads(Path(ns.jobs).read_text(encoding="utf-8"))
        if not isinstance(data, list) or not all(isinstance(j, dict) for j in data):
            raise SystemExit("error: --jobs expects a JSON list of {platform, brand, keyword, settings}")
        return data
    if not ns.platform:
        raise SystemExit("error: give a platform (or --jobs FILE)")
    args = _pairs(ns.args, "-a")
    return [
        {
            "platform": ns.platform,
            "brand": args.pop("brand", None),
            "keyword": args.pop("keyword", None),
            "args": args,
            "settings": {},
        }
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.service.crawl_process", description="Run yuqing crawls."
    )
    parser.add_argument("platform", nargs="?")
    parser.add_argument("-a", dest="args", action="append", default=[], help="spider argument NAME=VALUE")
    parser.add_argument("-s", dest="settings", action="append", default=[], help="setting NAME=VALUE")
    parser.add_argument("--jobs", help="JSON file with several crawls to run side by side")
    ns = parser.parse_args(argv)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict({"LOG_INSTALL_ROOT_HANDLER": False, **_pairs(ns.settings, "-s")}, priority="cmdline")
    jobs = _jobs(ns)
    crawlers: list[Crawler] = []
    try:
        cfg = config_for(settings)
        process = CrawlerProcess(settings)
        # After Scrapy's own logging set-up (its dictConfig resets the levels of existing loggers).
        level = str(settings.get("YUQING_LOG_LEVEL") or cfg.project.log_level).upper()
        setup_logging(level, log_dir=cfg.data_path() / "logs", json=cfg.project.log_json)
        logging.getLogger("scrapy").setLevel(logging.DEBUG if level == "DEBUG" else logging.INFO)
        names = set(process.spider_loader.list())
        for job in jobs:
            platform = job.get("platform")
            if platform not in names:
                raise YuqingError(f"no spider for platform {platform!r} (have: {', '.join(sorted(SPIDERS))})")
            if not job.get("brand"):
                raise YuqingError("missing spider argument: -a brand=NAME")
            cfg.brand(job["brand"])
            job_settings = settings.copy()
            job_settings.setdict(job.get("settings") or {}, priority="cmdline")
            # The first crawler installs the reactor (as CrawlerProcess.create_crawler would).
            crawler = Crawler(process.spider_loader.load(platform), job_settings, init_reactor=not crawlers)
            args = {"brand": job["brand"], **(job.get("args") or {})}
            if job.get("keyword"):
                args["keyword"] = job["keyword"]
            process.crawl(crawler, **args)
            crawlers.append(crawler)
        process.start()
    except YuqingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    statuses = [c.stats.get_value("yuqing/status") if c.stats else None for c in crawlers]
    if any(s is None for s in statuses):  # a spider never opened (bad argument, error inside Scrapy)
        return EXIT_USAGE
    return EXIT_FAILED if any(s == "failed" for s in statuses) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
