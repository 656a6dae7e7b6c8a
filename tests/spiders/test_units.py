"""Incremental paging decisions, the rate limiter, cookies, the settings bridge and the crawl command line."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scrapy.settings import Settings

from crawler.items import MentionItem
from crawler.platform.cookies import load_cookies, parse_cookie_text
from crawler.platform.incremental import CHANGED, NEW, SEEN, CrawlMemory, page_verdict
from crawler.scraping.extensions import IntervalLimiter
from crawler.service.crawl_runner import crawl_argv
from crawler.settings import bridge_config

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
WM = NOW - timedelta(hours=2)


def _verdict(pairs: list[tuple[str, datetime | None]], watermark: datetime | None = WM) -> tuple[bool, str]:
    v = page_verdict(
        pairs,
        watermark=watermark,
        window_start=NOW - timedelta(days=7),
        refresh_start=NOW - timedelta(hours=24),
    )
    return v.follow, v.reason


def test_page_verdicts() -> None:
    h = timedelta(hours=1)
    assert _verdict([]) == (False, "empty")
    assert _verdict([(SEEN, NOW - 8 * 24 * h)]) == (False, "window")  # reached posts older than the window
    assert _verdict([(NEW, NOW), (NEW, NOW - h)]) == (True, "more")  # still above the watermark
    assert _verdict([(SEEN, NOW - h), (SEEN, NOW - 3 * h)]) == (False, "covered")  # unchanged platform: stop
    assert _verdict([(NEW, NOW), (SEEN, NOW - 3 * h)]) == (False, "covered")  # new posts all above the mark
    assert _verdict([(NEW, NOW - 3 * h), (SEEN, NOW - 4 * h)]) == (True, "changes")  # a missed older post
    assert _verdict([(CHANGED, NOW - 5 * h)]) == (True, "changes")  # a recent post spreading
    assert _verdict([(CHANGED, NOW - 48 * h)]) == (False, "covered")  # old posts' counts do not keep paging
    assert _verdict([(SEEN, NOW - 3 * h)], watermark=None) == (True, "more")  # never completed: keep going


def test_memory_classifies_and_pins_times() -> None:
    mem = CrawlMemory(platform="weibo", now=NOW)
    item = MentionItem(
        platform="weibo", post_id="1", brand="b", text="t", likes=1, published_at=NOW - timedelta(hours=1)
    )
    assert mem.classify(item) == NEW
    assert mem.classify(item) == SEEN
    item.likes = 50
    assert mem.classify(item) == CHANGED
    mem.pin_time(item)
    later = MentionItem(platform="weibo", post_id="1", brand="b", text="t", published_at=NOW)  # "刚刚" again
    mem.pin_time(later)
    assert later.published_at == NOW - timedelta(hours=1)
    assert mem.first_time_in_run("1") and not mem.first_time_in_run("1")
    mem.note_published("kw", item)
    mem.note_published("kw", MentionItem(platform="weibo", post_id="2", brand="b", text="", published_at=NOW))
    assert mem.newest["kw"] == (NOW, "2")


def test_interval_limiter_spaces_requests() -> None:
    limiter = IntervalLimiter("heimao", 600)  # one request per 0.1 s
    waits = [limiter.reserve() for _ in range(5)]
    assert waits[0] == 0 and all(abs(w - 0.1 * i) < 0.02 for i, w in enumerate(waits))
    limiter.pause(2.0)
    assert limiter.reserve() >= 1.9
    unlimited = IntervalLimiter("weibo", 0)
    assert [unlimited.reserve() for _ in range(3)] == [0, 0, 0]
    fast = IntervalLimiter("weibo", 1200)

    async def five() -> None:
        await asyncio.gather(*(fast.acquire() for _ in range(5)))

    started = time.monotonic()
    asyncio.run(five())
    assert time.monotonic() - started >= 0.18


def test_cookie_formats(tmp_path: Path) -> None:
    assert parse_cookie_text("SUB=abc; SUBP=x=y;  _T_WM=1") == {"SUB": "abc", "SUBP": "x=y", "_T_WM": "1"}
    assert parse_cookie_text('{"SUB": "abc"}') == {"SUB": "abc"}
    assert parse_cookie_text('[{"name": "SUB", "value": "abc", "domain": ".weibo.cn"}]') == {"SUB": "abc"}
    assert parse_cookie_text('{"cookies": [{"name": "a1", "value": "z"}], "origins": []}') == {"a1": "z"}
    assert parse_cookie_text("") == {}


def test_cookie_sources(tmp_path: Path, crawl_config: Path) -> None:
    from crawler.config import load_config

    cfg = load_config(crawl_config)
    assert load_cookies("weibo", cfg, Settings({"WEIBO_COOKIES": "SUB=1"})) == {"SUB": "1"}
    file = tmp_path / "c.txt"
    file.write_text("SUB=2", encoding="utf-8")
    assert load_cookies("weibo", cfg, Settings({"WEIBO_COOKIE_FILE": str(file)})) == {"SUB": "2"}
    assert load_cookies("weibo", cfg, Settings()) == {}
    session = tmp_path / "data" / "sessions" / "weibo"
    session.mkdir(parents=True, exist_ok=True)
    (session / "cookies.txt").write_text("SUB=3; _T_WM=9", encoding="utf-8")
    assert load_cookies("weibo", cfg, Settings()) == {"SUB": "3", "_T_WM": "9"}


def test_bridge_config_and_cmdline_priority(crawl_config: Path) -> None:
    from crawler.config import load_config

    cfg = load_config(crawl_config)
    settings = Settings()
    settings.set("HEIMAO_BASE_URL", "http://127.0.0.1:9/heimao", priority="cmdline")
    bridge_config(settings, cfg, "heimao")
    assert settings.get("HEIMAO_BASE_URL") == "http://127.0.0.1:9/heimao"  # -s wins over the config
    assert settings.getint("YUQING_RATE_LIMIT_PER_MINUTE") == 6000
    assert settings.getint("RETRY_TIMES") == 2 and settings.getfloat("DOWNLOAD_TIMEOUT") == 3
    assert settings.get("YUQING_DATABASE_URL") == cfg.database_url
    weibo = Settings()
    bridge_config(weibo, cfg, "weibo")
    assert weibo.get("WEIBO_BASE_URL") == "https://m.weibo.cn" and weibo.getlist("WEIBO_SEARCH_TYPES") == [
        1,
        61,
    ]


def test_crawl_argv(tmp_path: Path) -> None:
    argv = crawl_argv(
        "heimao",
        "鲜果时光",
        keyword="鲜果",
        config_path=tmp_path / "c.toml",
        overrides={"HEIMAO_BASE_URL": "http://127.0.0.1:1/heimao", "WEIBO_SEARCH_TYPES": [1, 61]},
    )
    assert argv[1:4] == ["-m", "crawler.service.crawl_process", "heimao"]
    assert argv[4:8] == ["-a", "brand=鲜果时光", "-a", "keyword=鲜果"]
    assert f"YUQING_CONFIG={(tmp_path / 'c.toml').resolve()}" in argv
    assert "HEIMAO_BASE_URL=http://127.0.0.1:1/heimao" in argv and "WEIBO_SEARCH_TYPES=1,61" in argv
