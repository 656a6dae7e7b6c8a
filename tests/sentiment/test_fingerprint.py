"""SimHash fingerprints: near-duplicates are close, different texts far, values fit a BIGINT."""

from __future__ import annotations

import sentiment
from sentiment import fingerprint


def test_reposts_are_near_duplicates_and_other_texts_are_not() -> None:
    base = "鲜果时光的芒果冰沙里喝出一根头发，客服一直不回复，大家千万别买了，太恶心了"
    a = sentiment.analyze(base).fingerprint
    b = sentiment.analyze("转发微博 //@小王: " + base).fingerprint
    c = sentiment.analyze("星耀手机的夜景模式拍演唱会真的很稳，第一排的感觉，推荐大家入手").fingerprint
    assert fingerprint.hamming(a, b) <= 10
    assert fingerprint.hamming(a, c) > fingerprint.hamming(a, b) + 8


def test_signed_int64_and_deterministic() -> None:
    values = [fingerprint.simhash([f"词{i}", "品牌", "投诉"]) for i in range(50)]
    assert all(-(2**63) <= v < 2**63 for v in values)
    assert any(v < 0 for v in values)
    assert values == [fingerprint.simhash([f"词{i}", "品牌", "投诉"]) for i in range(50)]
    assert fingerprint.simhash([]) == 0
    assert fingerprint.hamming(-1, 0) == 64
