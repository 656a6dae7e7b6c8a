"""Pipelines: normalising, exclusion words, analysis guarded, batched store with triage in a SAVEPOINT."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import insert, select

from crawler.items import MentionItem
from crawler.scraping import pipelines
from crawler.storage.mentions import MENTIONS, WATERMARKS
from spiders.weibo import WeiboSpider


def _crawler(crawl_config: Path) -> Any:
    crawler = get_crawler(
        WeiboSpider,
        {
            "YUQING_CONFIG": str(crawl_config),
            "YUQING_STORE_FLUSH_SECONDS": 0,
            "YUQING_STORE_THREAD": False,
            "YUQING_ANALYZE_WORKERS": 0,
        },
    )
    crawler.spider = WeiboSpider.from_crawler(crawler, brand="鲜果时光")
    return crawler


def _item(n: int, text: str = "鲜果时光的橙汁不错") -> MentionItem:
    return MentionItem(
        platform="weibo",
        post_id=str(1000 + n),
        brand="鲜果时光",
        text=text,
        published_at=datetime(2024, 6, 1, tzinfo=UTC),
        likes=n,
    )


def test_normalize_trims_and_drops(crawl_config: Path) -> None:
    crawler = _crawler(crawl_config)
    pipe = pipelines.NormalizePipeline.from_crawler(crawler)
    item = _item(1, "  a\x00b  \n\n\n\nc ")
    item.author_name = "名" * 300
    item.likes = -3
    out = pipe.process_item(item)
    assert out.text == "ab\n\nc" and len(out.author_name) == 128 and out.likes == 0
    with pytest.raises(DropItem):
        pipe.process_item(_item(2, "鲜果时光招聘兼职店员"))  # the brand's exclusion words
    with pytest.raises(DropItem):
        pipe.process_item(MentionItem(platform="weibo", post_id="", brand="b", text="x"))
    with pytest.raises(DropItem):
        pipe.process_item(MentionItem(platform="weibo", post_id="9", brand="b", text="x", kind="comment"))
    stats = crawler.stats
    assert stats.get_value("yuqing/excluded") == 1 and stats.get_value("yuqing/bad_items") == 2
    assert stats.get_value("yuqing/items") == 4


def test_analysis_failure_keeps_the_mention(crawl_config: Path) -> None:
    crawler = _crawler(crawl_config)
    pipe = pipelines.AnalyzePipeline.from_crawler(crawler)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("model missing")

    pipe.analyze = broken
    item = asyncio.run(pipe.process_item(_item(1)))
    assert item.analysis == {} and crawler.stats.get_value("yuqing/analyze_errors") == 1


def test_analysis_that_cannot_start_is_skipped(crawl_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sentiment

    def broken(cfg: Any = None) -> None:
        raise ValueError("not a yuqing sentiment model")

    monkeypatch.setattr(sentiment, "configure", broken)
    crawler = _crawler(crawl_config)
    pipe = pipelines.AnalyzePipeline.from_crawler(crawler)
    pipe.open_spider()
    assert pipe.analyze is None and asyncio.run(pipe.process_item(_item(1))).analysis == {}


def test_analysis_fills_columns(crawl_config: Path) -> None:
    crawler = _crawler(crawl_config)
    pipe = pipelines.AnalyzePipeline.from_crawler(crawler)
    pipe.open_spider()
    if pipe.analyze is None:
        pytest.fail("sentiment.analyze is not available")
    item = asyncio.run(pipe.process_item(_item(1, "鲜果时光的橙汁喝出了虫子，要求退款，客服不理人")))
    assert set(item.analysis) >= {"sentiment", "is_complaint", "risk", "analyzed_at"}
    assert set(item.analysis) <= {c.name for c in MENTIONS.columns}


def test_analysis_weighs_the_authors_complaint_history(crawl_config: Path) -> None:
    from crawler.scraping.extensions import crawl_engine
    from crawler.storage.models import Author

    now = datetime.now(UTC)
    with crawl_engine(_crawler(crawl_config).settings).begin() as conn:
        conn.execute(
            insert(Author.__table__),
            [  # type: ignore[attr-defined]
                {
                    "platform": "weibo",
                    "author_id": "repeat",
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "complaint_count": 4,
                    "escalation_count": 0,
                },
                {
                    "platform": "douyin",
                    "author_id": "other",
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "complaint_count": 9,
                    "escalation_count": 2,
                },
            ],
        )
    crawler = _crawler(crawl_config)
    pipe = pipelines.AnalyzePipeline.from_crawler(crawler)
    pipe.open_spider()
    assert pipe.history == {"repeat": {"complaint_count": 4, "escalation_count": 0}}  # this platform's only
    text = "鲜果时光的芒果冰沙甜度不对，跟以前不一样了，有点失望"
    known, first = _item(1, text), _item(2, text)
    known.author_id, first.author_id = "repeat", "newcomer"
    known, first = asyncio.run(pipe.process_item(known)), asyncio.run(pipe.process_item(first))
    assert known.analysis["is_complaint"] and first.analysis["is_complaint"]
    assert "作者历史投诉 4 次" in known.analysis["reasons"] and known.analysis["urgency"] == "紧急"
    assert not any("历史" in r for r in first.analysis["reasons"]) and first.analysis["urgency"] == "一般"
    assert crawler.stats.get_value("yuqing/author_history") == 1


def test_analysis_worker_process(crawl_config: Path) -> None:
    from crawler.scraping.analysis_pool import AnalysisPool, worker_count

    assert worker_count("0") == 0 and worker_count(2) == 2 and worker_count("auto") in (0, 1)
    batches: list[tuple[int, float, int]] = []
    pool = AnalysisPool(str(crawl_config), 1, batch=2, on_batch=lambda *a: batches.append(a))
    texts = ["鲜果时光的橙汁喝出了虫子，要求退款", "芒果冰沙好喝，推荐", "客服态度很差，已经投诉到12315"]

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(pool.analyze({"text": t, "platform": "weibo", "brand": "鲜果时光"}) for t in texts)
        )

    try:
        results = asyncio.run(run())
    finally:
        pool.close()
    assert all(r and "sentiment" in r and "risk" in r for r in results)
    assert results[0]["is_complaint"] is True and results[1]["sentiment"] > results[0]["sentiment"]
    assert [b[0] for b in batches] == [2, 1] and not pool.broken  # a full batch, then the 50 ms linger


def _store(crawler: Any, triage: Any, batch: int = 3) -> pipelines.StorePipeline:
    pipe = pipelines.StorePipeline.from_crawler(crawler)
    pipe.open_spider()
    pipe.triage = triage
    pipe.batch = batch
    return pipe


def test_store_batches_and_triage_in_the_same_transaction(crawl_config: Path) -> None:
    crawler = _crawler(crawl_config)
    seen: list[list[tuple[int, str, str, str]]] = []

    def triage(conn: Any, cfg: Any, rows: list[tuple[int, str, str, str]]) -> None:
        assert conn.execute(select(MENTIONS.c.id).where(MENTIONS.c.id == rows[0][0])).first() is not None
        seen.append(rows)

    pipe = _store(crawler, triage)
    for n in range(4):
        asyncio.run(pipe.process_item(_item(n)))
    assert len(seen) == 1 and [r[3] for r in seen[0]] == ["new"] * 3  # flushed at the batch size
    asyncio.run(pipe.process_item(_item(0)))  # the same post again, unchanged
    asyncio.run(pipe.close_spider())
    assert [r[3] for r in seen[1]] == ["new", "unchanged"]
    assert crawler.stats.get_value("yuqing/new") == 4 and crawler.stats.get_value("yuqing/unchanged") == 1
    with pipe.engine.connect() as conn:
        assert len(conn.execute(select(MENTIONS.c.post_id)).all()) == 4


def test_triage_failure_rolls_back_only_triage(crawl_config: Path) -> None:
    crawler = _crawler(crawl_config)

    def failing(conn: Any, cfg: Any, rows: Any) -> None:
        conn.execute(
            insert(WATERMARKS),
            {
                "platform": "weibo",
                "brand": "x",
                "keyword": "triage-wrote-this",
                "updated_at": datetime.now(UTC),
            },
        )
        raise RuntimeError("triage bug")

    pipe = _store(crawler, failing)
    for n in range(3):
        asyncio.run(pipe.process_item(_item(n)))
    asyncio.run(pipe.close_spider())
    assert crawler.stats.get_value("yuqing/triage_errors") == 1
    with pipe.engine.connect() as conn:
        assert len(conn.execute(select(MENTIONS.c.post_id)).all()) == 3  # the mentions committed
        assert conn.execute(select(WATERMARKS)).first() is None  # the triage's own writes did not


def test_store_keeps_the_batch_when_the_database_fails(
    crawl_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    crawler = _crawler(crawl_config)
    pipe = _store(crawler, None, batch=100)
    asyncio.run(pipe.process_item(_item(1)))
    real = pipe._write
    calls = {"n": 0}

    def flaky(rows: Any, tasks: Any = None) -> Any:  # the first transaction fails, the next succeeds
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(rows, tasks)

    monkeypatch.setattr(pipe, "_write", flaky)
    assert pipe.flush() is False and len(pipe.buffer) == 1
    assert pipe.flush() is True and pipe.buffer == []
    assert crawler.stats.get_value("yuqing/store_errors") == 1 and crawler.stats.get_value("yuqing/new") == 1
