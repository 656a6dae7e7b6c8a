"""scrapy-redis in a real crawl process: search pages pass the dupe filter, a killed crawl resumes
losslessly, the rate limit holds across processes, and the task queue is reliable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import redis

from crawler.scraping.redis_scrapy import ADDON_PATH
from crawler.service.distributed import TaskQueue, task_keys
from tests.conftest import REDIS_TEST

REDIS_URL = REDIS_TEST
SPIDER = Path(__file__).resolve().parent / "redis_spider.py"
ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.redis


class Site:
    """A loopback site: search pages list 4 post ids each; post pages answer after ``delay``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.hits: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                with site.lock:
                    site.hits.append((self.path, time.time()))
                if url.path == "/api/container/getIndex":
                    page = int(parse_qs(url.query)["page"][0])
                    body = {"ids": [f"p{page}-{i}" for i in range(4)]}
                else:
                    time.sleep(site.delay)
                    body = {"id": url.path.rsplit("/", 1)[-1]}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self, prefix: str) -> list[str]:
        with self.lock:
            return [p for p, _ in self.hits if p.startswith(prefix)]


@pytest.fixture
def prefix():
    name = f"yqtest{uuid.uuid4().hex[:8]}"
    yield name
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(f"{name}:*"))
    if keys:
        r.delete(*keys)


def crawl(
    tmp_path: Path,
    site: Site,
    prefix: str,
    task_id: str,
    *,
    rate: int = 6000,
    pages: int = 3,
    out: str = "out.jsonl",
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "scrapy",
        "runspider",
        str(SPIDER),
        "-a",
        f"base={site.url}",
        "-a",
        f"pages={pages}",
        "-s",
        f"ADDONS={json.dumps({ADDON_PATH: 0})}",
        "-s",
        f"YUQING_TASK_ID={task_id}",
        "-s",
        f"YUQING_KEY_PREFIX={prefix}",
        "-s",
        f"YUQING_RATE_LIMITS={json.dumps({'testplat': rate})}",
    ]
    env = {
        **os.environ,
        "YUQING_REDIS_URL": REDIS_URL,
        "SPIDER_OUT": str(tmp_path / out),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    log = open(tmp_path / f"{task_id}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)


def ids(tmp_path: Path, out: str = "out.jsonl") -> list[str]:
    path = tmp_path / out
    return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_search_pages_bypass_the_dupe_filter_and_state_is_cleared(tmp_path, prefix) -> None:
    site = Site()
    proc = crawl(tmp_path, site, prefix, "t1")
    assert proc.wait(60) == 0, (tmp_path / "t1.log").read_text()[-3000:]
    assert len(site.paths("/api/container/getIndex")) == 6  # 3 pages, each fetched twice on purpose
    details = site.paths("/detail/")
    assert sorted(details) == sorted(set(details)) and len(details) == 12  # repeats dropped by the filter
    assert sorted(ids(tmp_path)) == sorted(f"p{p}-{i}" for p in (1, 2, 3) for i in range(4))
    r = redis.Redis.from_url(REDIS_URL)
    assert not any(r.exists(k) for k in task_keys(prefix, "t1").values())  # finished: nothing left to resume


def test_a_killed_crawl_resumes_its_queue_and_in_flight_requests(tmp_path, prefix) -> None:
    site = Site(delay=0.6)
    proc = crawl(tmp_path, site, prefix, "t2", pages=4)
    deadline = time.monotonic() + 30
    while len(ids(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    got_first = set(ids(tmp_path))
    assert 0 < len(got_first) < 16
    r = redis.Redis.from_url(REDIS_URL)
    keys = task_keys(prefix, "t2")
    assert r.hlen(keys["processing"]) > 0  # in flight when killed: kept for the next run
    proc = crawl(tmp_path, site, prefix, "t2", pages=4)
    assert proc.wait(90) == 0
    assert "in-flight request(s) of an interrupted run requeued" in (tmp_path / "t2.log").read_text()
    assert set(ids(tmp_path)) == {f"p{p}-{i}" for p in (1, 2, 3, 4) for i in range(4)}  # nothing lost


def test_the_rate_limit_holds_across_crawl_processes(tmp_path, prefix) -> None:
    site = Site()
    rate = 300  # one request every 0.2 s, for both processes together
    procs = [crawl(tmp_path, site, prefix, f"r{i}", rate=rate, pages=1, out=f"o{i}.jsonl") for i in range(2)]
    for p in procs:
        assert p.wait(90) == 0
    times = sorted(t for _, t in site.hits)
    assert len(times) == 2 * (2 + 4)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert sum(gaps) / len(gaps) >= 0.17
    window = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert window <= 6  # 5 per second plus one for network jitter


def test_task_queue_is_reliable(prefix) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    q = TaskQueue(client, prefix, lease_seconds=1)
    assert q.enqueue("weibo", "鲜果时光") and not q.enqueue("weibo", "鲜果时光")  # one per pair
    assert q.enqueue("heimao", "鲜果时光")
    first = q.claim()
    assert (first.platform, first.brand) == ("weibo", "鲜果时光")
    assert not q.enqueue("weibo", "鲜果时光")  # still running
    second = q.claim()
    q.complete(second)
    assert q.claim() is None and q.stats()["inflight"] == 1
    time.sleep(2.1)  # the worker holding `first` died: its lease runs out
    assert q.requeue_expired() == 1
    again = q.claim()
    assert again.id == first.id and q.renew(again)
    q.release(again)  # graceful stop: back to the front of the queue
    assert q.claim().id == first.id
    q.complete(first)
    assert q.stats() == {"pending": 0, "inflight": 0, "workers": 0, "oldest_wait_s": 0.0}
    assert q.enqueue("weibo", "鲜果时光")
    time.sleep(0.3)
    stats = q.stats()
    assert stats["pending"] == 1 and stats["workers"] == 0 and stats["oldest_wait_s"] >= 0.2
    q.heartbeat_worker("w1", {"host": "h"})
    assert q.stats()["workers"] == 1
