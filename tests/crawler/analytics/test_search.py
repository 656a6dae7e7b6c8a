"""Full-text search: the query syntax, both databases giving the same answers, the index following writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from crawler.analytics import search_index
from crawler.analytics.query import MENTIONS, MentionFilter, conditions
from crawler.analytics.search_index import SearchSyntaxError, Term, fts5_expression, parse
from crawler.clock import utcnow
from crawler.storage.mentions import upsert_mentions


def test_parse_and_or_not_phrase_prefix() -> None:
    q = parse('鲜果时光 退款 OR 投诉 -广告 "发霉 了" 鲜榨*')
    assert q.required[0] == [Term(words=("鲜果时光",))]
    assert [t.words for t in q.required[1]] == [("退款",), ("投诉",)]
    assert q.required[2][0].phrase and q.required[2][0].words == ("发霉", "了")
    assert q.required[3][0].prefix == "鲜榨"
    assert q.excluded == [Term(words=("广告",))]


@pytest.mark.parametrize(
    "bad", ["", "   ", "，。！", "x" * 201, "bad-prefix*", " ".join(f"词{i}" for i in range(13))]
)
def test_parse_rejects_unsearchable_queries(bad: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse(bad)


def test_fts5_expression_quotes_every_word() -> None:
    # a user's quote characters and FTS5 operators stay literal words
    expr = fts5_expression(parse('NEAR(a b) abc" OR "x').required)
    assert "NEAR(" not in expr.replace('"near', "")
    assert expr.count('"') % 2 == 0


def _row(i: int, text: str, brand: str = "鲜果时光", hours_ago: float = 1) -> dict:
    at = utcnow() - timedelta(hours=hours_ago)
    return {
        "platform": "weibo",
        "post_id": f"s{i}",
        "brand": brand,
        "text": text,
        "published_at": at,
        "tokens": search_index.tokenize(text),
        "sentiment": 0.2,
        "is_complaint": True,
        "risk": 50,
    }


TEXTS = [
    "鲜果时光的鲜榨橙汁发霉了，要求退款",  # 1
    "小鹿宝贝奶粉喝了拉肚子，必须投诉",  # 2
    "鲜果时光新品广告：转发抽奖，退款无忧",  # 3
    "这家店的橙汁发霉，已经投诉到12315",  # 4
    "路过鲜果时光门店，排队的人好多",  # 5
]


def _search(engine, q: str, **filters) -> set[str]:  # type: ignore[no-untyped-def]
    f = MentionFilter(q=q, **filters)
    with engine.connect() as conn:
        rows = conn.execute(select(MENTIONS.c.post_id).where(*conditions(f, conn.dialect.name)))
        return {r[0] for r in rows}


def test_same_answers_on_both_databases(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        upsert_mentions(conn, [_row(i, t, hours_ago=i * 30) for i, t in enumerate(TEXTS, start=1)])
    assert _search(engine, "鲜果时光") == {"s1", "s3", "s5"}  # the brand is one word
    assert _search(engine, "鲜果时光 退款") == {"s1", "s3"}
    assert _search(engine, "鲜果时光 退款 -广告") == {"s1"}
    assert _search(engine, "拉肚子 OR 12315") == {"s2", "s4"}
    assert _search(engine, '"橙汁 发霉"') == {"s4"}  # adjacent words only
    assert _search(engine, "发霉") == {"s1", "s4"}
    assert _search(engine, "鲜榨*") == {"s1"}
    assert _search(engine, "-投诉") == {"s1", "s3", "s5"}
    # the id-range narrowing (SQLite) keeps the answer exact
    assert _search(engine, "发霉", since=utcnow() - timedelta(hours=40)) == {"s1"}
    assert _search(
        engine, "发霉", since=utcnow() - timedelta(hours=200), until=utcnow() - timedelta(hours=100)
    ) == {"s4"}
    assert _search(engine, "鲜果时光", brand="小鹿宝贝") == set()


def test_index_follows_updates_and_deletes(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        upsert_mentions(conn, [_row(1, TEXTS[0])])
    assert _search(engine, "发霉") == {"s1"}
    edited = _row(1, "鲜果时光的芒果冰沙化了")
    with engine.begin() as conn:
        upsert_mentions(conn, [edited])  # a re-crawl with new text and tokens
        conn.execute(MENTIONS.update().where(MENTIONS.c.post_id == "s1").values(tokens=edited["tokens"]))
    assert _search(engine, "发霉") == set()
    assert _search(engine, "芒果冰沙") == {"s1"}
    with engine.begin() as conn:
        assert search_index.integrity_ok(conn)
        conn.execute(delete(MENTIONS).where(MENTIONS.c.post_id == "s1"))
    assert _search(engine, "芒果冰沙") == set()
    with engine.begin() as conn:
        assert search_index.integrity_ok(conn)
