"""Raw serving rate of a running simulator: the ceiling a crawl benchmark is measured against.

``serving_rate(base_url, platform="weibo", keyword="鲜果时光", seconds=3)`` pages through the
platform's keyword search with ``concurrency`` keep-alive connections (no parsing beyond counting
the posts in each body) and returns requests/s and mentions/s. Run the simulator in another
process (``yuqing simulate``) so the client does not share its interpreter.
``python -m simulator.loadtest http://127.0.0.1:PORT [platform] [keyword]`` prints the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sys
import time
from typing import Any

import aiohttp

from simulator.options import HEIMAO_SECRET, WEIBO_TEST_SUB


def _weibo_url(base: str, keyword: str, page: int) -> tuple[str, dict[str, str]]:
    return f"{base}/weibo/api/container/getIndex", {
        "containerid": f"100103type=61&q={keyword}",
        "page_type": "searchall",
        "page": str(page),
    }


def _heimao_url(base: str, keyword: str, page: int, secret: str) -> tuple[str, dict[str, str]]:
    ts, rs = str(int(time.time() * 1000)), "0123456789abcdef"
    params = {"keywords": keyword, "page_size": "10", "page": str(page)}
    sig = hashlib.sha256("".join(sorted([ts, rs, secret, *params.values()])).encode()).hexdigest()
    return f"{base}/heimao/api/index/s", {"ts": ts, "rs": rs, "signature": sig, **params}


async def _run(
    base: str, platform: str, keyword: str, seconds: float, concurrency: int, secret: str
) -> dict[str, Any]:
    marker = '"card_type":9' if platform == "weibo" else '"main":'
    pages = itertools.cycle(range(1, 1000))
    last_page = [10**9]
    counts = {"requests": 0, "mentions": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            page = next(pages)
            if page > last_page[0]:
                page = 1 + page % last_page[0]
            url, params = (
                _weibo_url(base, keyword, page)
                if platform == "weibo"
                else _heimao_url(base, keyword, page, secret)
            )
            async with session.get(url, params=params) as resp:
                body = await resp.text()
            counts["requests"] += 1
            found = body.count(marker)
            if resp.status != 200:
                counts["errors"] += 1
            elif found == 0:
                last_page[0] = max(1, min(last_page[0], page - 1))
            counts["mentions"] += found

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, cookies={"SUB": WEIBO_TEST_SUB}) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {
        **counts,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(counts["requests"] / elapsed, 1),
        "mentions_per_s": round(counts["mentions"] / elapsed, 1),
    }


def serving_rate(
    base_url: str,
    *,
    platform: str = "weibo",
    keyword: str = "鲜果时光",
    seconds: float = 3.0,
    concurrency: int = 8,
    secret: str = HEIMAO_SECRET,
) -> dict[str, Any]:
    """Hammer one platform's search for ``seconds``; returns requests/s and mentions/s served."""
    if platform not in ("weibo", "heimao"):
        raise ValueError(f"serving_rate measures weibo or heimao, not {platform!r}")
    return asyncio.run(_run(base_url.rstrip("/"), platform, keyword, seconds, concurrency, secret))


if __name__ == "__main__":  # pragma: no cover - manual tool
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python -m simulator.loadtest URL [weibo|heimao] [keyword]")
    result = serving_rate(
        args[0],
        platform=args[1] if len(args) > 1 else "weibo",
        keyword=args[2] if len(args) > 2 else "鲜果时光",
    )
    print(json.dumps(result, ensure_ascii=False))
