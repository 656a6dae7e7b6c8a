"""Hostile input never raises: empty, None, huge, control characters, mixed scripts, odd types."""

from __future__ import annotations

import pytest

import sentiment
from crawler.config import AppConfig
from sentiment import fingerprint, pii, segment

HOSTILE = [
    "",
    "   \n\t  ",
    "\x00\x01\x02\x1b[31m红色\x1b[0m\x7f\u200b\ufeff",
    "投诉" * 50_000,  # 100 KB
    "😡" * 5_000 + "[怒]" * 1_000,
    "Ünïcödé ру́сский العربية हिन्दी 日本語のテキスト 한국어 鲜果时光 ＡＢＣ１２３",
    "\ud800 lone surrogate",
    "<script>alert('x')</script>&amp;'\"",
    "１３８１２３４５６７８" * 1000,
    "[" * 1000 + "]" * 1000,
    "#" * 500 + "【" * 300,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_analyze_never_raises(nlp_cfg: AppConfig, text: str) -> None:
    a = sentiment.analyze(text, platform="weibo", likes=-5, comments=None, shares="x", followers=10**30)  # type: ignore[arg-type]
    assert 0.0 <= a.sentiment <= 1.0 and 0 <= a.risk <= 100
    assert isinstance(a.masked_text, str) and isinstance(a.tokens, str)
    assert -(2**63) <= a.fingerprint < 2**63


def test_none_and_non_string_inputs(nlp_cfg: AppConfig) -> None:
    assert sentiment.analyze(None).is_complaint is False  # type: ignore[arg-type]
    assert sentiment.analyze(12345).tokens == "12345"  # type: ignore[arg-type]
    assert sentiment.analyze_many([]) == []
    out = sentiment.analyze_many([{"text": None}, {}, {"text": "好", "platform": 3, "author_history": "x"}])
    assert len(out) == 3


def test_helpers_on_hostile_text() -> None:
    for text in HOSTILE:
        segment.tokenize(text)
        segment.search_tokens(text)
        pii.mask(text)
        fingerprint.simhash(segment.tokenize(text[:1000]))


def test_huge_text_is_analysed(nlp_cfg: AppConfig) -> None:
    """220,000 characters go through the whole analysis (its time: bench/huge_inputs.py)."""
    a = sentiment.analyze("这家店的东西真的不行，" * 20_000)
    assert 0.0 <= a.sentiment <= 1.0 and 0 <= a.risk <= 100 and a.tokens
