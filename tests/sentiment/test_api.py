"""The published analysis API (CONTRACTS.md "Analysis"): shapes and column names."""

from __future__ import annotations

import sentiment
from crawler.storage.models import Mention
from sentiment import fingerprint, pii, segment


def test_analyze_returns_every_mentions_column() -> None:
    a = sentiment.analyze("鲜果时光的橙汁喝出异物，要求退款！", platform="weibo", likes=3)
    cols = a.columns()
    assert set(cols) == {
        "sentiment",
        "is_complaint",
        "category",
        "urgency",
        "risk",
        "reasons",
        "fingerprint",
        "masked_text",
        "tokens",
        "model_version",
        "analyzed_at",
    }
    assert set(cols) <= set(Mention.model_fields)
    assert 0.0 <= a.sentiment <= 1.0 and 0 <= a.risk <= 100
    assert a.is_complaint and a.category == "产品质量"
    assert -(2**63) <= a.fingerprint < 2**63


def test_analyze_many_keeps_order_and_reads_record_fields() -> None:
    recs = [
        {"text": "好吃，推荐", "platform": "weibo"},
        {"text": "退款三周没到账，客服不回复，要求立即退款", "platform": "heimao", "author_followers": 0},
    ]
    out = sentiment.analyze_many(recs)
    assert [a.is_complaint for a in out] == [False, True]


def test_helpers_exist() -> None:
    assert segment.tokenize("我今天不高兴")
    assert isinstance(segment.search_tokens("我今天不高兴"), str)
    assert pii.mask("电话13812345678") == "电话138****5678"
    a = fingerprint.simhash(["一", "二"])
    assert fingerprint.hamming(a, a) == 0
