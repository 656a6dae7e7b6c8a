"""The analysis' fast paths give exactly what the plain computations give.

Each shortcut taken for speed (sorting instead of np.unique, a bucket index instead of a
binary search, regex gates, one token pass for several stages, joint segmentation, blocks
of texts) is checked here against a straightforward reference on varied inputs, so a change
that makes one of them differ fails here, not in the benchmark. (The whole analysis is
compared before and after a change with ``scripts/analysis_snapshot.py``.)
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import sentiment
from sentiment import analyzer, complaint_model, fingerprint, lexicons, ngram, segment
from tests.sentiment.conftest import make_config

CORPUS = Path(__file__).resolve().parents[2] / "sentiment" / "data" / "complaints" / "written.jsonl"


def _corpus_texts(n: int = 400) -> list[str]:
    texts = [
        json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return texts[:n]


def _reference_counts(rows: np.ndarray, keys: np.ndarray) -> ngram.Counts:
    """What count_pairs computed before it was made faster (np.unique twice)."""
    uk, inv = np.unique(keys, return_inverse=True)
    combo, cnt = np.unique((rows << 32) | inv.astype(np.int64), return_counts=True)
    return uk, combo >> 32, combo & 0xFFFFFFFF, cnt


@pytest.mark.parametrize("n_rows", [1, 2, 7, 300])
def test_count_pairs_matches_the_unique_based_reference(n_rows: int) -> None:
    rng = np.random.default_rng(n_rows)
    for _ in range(20):
        n = int(rng.integers(1, 3000))
        rows = np.sort(rng.integers(0, n_rows, n)).astype(np.int64)
        keys = rng.choice(rng.integers(0, 2**32, 500), n).astype(np.int64)  # repeats within and across rows
        got, want = ngram.count_pairs(rows, keys), _reference_counts(rows, keys)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w) and g.dtype == np.int64
    empty = ngram.count_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert all(len(a) == 0 for a in empty)


def test_key_index_and_joint_vocabulary_find_what_binary_search_finds() -> None:
    rng = np.random.default_rng(7)
    a = np.unique(rng.integers(0, 2**32, 50_000)).astype(np.int64)
    b = np.unique(np.concatenate([a[::3], rng.integers(0, 2**32, 20_000)])).astype(np.int64)
    index = ngram.KeyIndex(a)
    joint = ngram.JointVocab(
        [
            ngram.SentimentModel(
                a, np.ones(len(a), np.float32), np.zeros((len(a), 1), np.float32), np.zeros(1), ["general"]
            ),
            ngram.SentimentModel(
                b, np.ones(len(b), np.float32), np.zeros((len(b), 1), np.float32), np.zeros(1), ["general"]
            ),
        ]
    )
    for size in (
        1,
        50,
        ngram.KeyIndex.BATCH - 1,
        ngram.KeyIndex.BATCH,
        20_000,
    ):  # bucket and binary-search paths
        q = np.unique(
            np.concatenate(
                [
                    rng.choice(a, size // 2 + 1),
                    rng.choice(b, size // 2 + 1),
                    rng.integers(0, 2**32, size),
                    [0, 2**32 - 1],
                ]
            )
        ).astype(np.int64)
        pos, found = index.find(q)
        want = np.isin(q, a)
        assert np.array_equal(found, want) and np.array_equal(a[pos[found]], q[found])
        for vocab, (mpos, mfound) in zip((a, b), joint.lookup(q), strict=True):
            assert np.array_equal(mfound, np.isin(q, vocab)) and np.array_equal(
                vocab[mpos[mfound]], q[mfound]
            )


def test_gate_strings_are_a_necessary_condition_of_every_match() -> None:
    assert lexicons.gate_bigrams(re.compile(r"说好的[^，。]{0,8}呢")) == frozenset({"说好"})
    assert lexicons.gate_bigrams(re.compile(r"[\d一二]+(?:天|个月)了")) == frozenset(
        {"天了", "月了"}
    )  # the end
    assert lexicons.gate_bigrams(re.compile(r"我(?!们)")) is None  # a match can be one character
    assert lexicons.gate_bigrams(re.compile(r"\d+变\d+")) is None  # \d is not enumerated
    assert lexicons.gate_bigrams(re.compile(r"(?i)ab")) is None
    lists = lexicons.load_dirs(lexicons.lexicon_dirs(None))
    patterns = [p for secs in lists.values() for wl in secs.values() for p, _ in wl.patterns]
    texts = [t.lower() for t in _corpus_texts(2000)]
    rng = random.Random(3)
    gated = 0
    for pattern in patterns:
        gate = lexicons.gate_bigrams(pattern)
        if not gate:
            continue
        gated += 1
        alphabet = list(
            {*re.sub(r"[\\\[\](){}?*+|^$.:!<=]", "", pattern.pattern), *"，。！？!? 0123456789一我不了"}
        )
        tries = texts + [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 25))) for _ in range(3000)
        ]
        for text in tries:
            if pattern.search(text):
                assert any(g in text for g in gate), (pattern.pattern, text)
    assert gated >= 40  # most shipped patterns are gated


def _reference_hits(matcher: lexicons.Matcher, text: str) -> list[lexicons.Hit]:
    """Every hit the way the matcher found them before the gates: each regex whose first
    character occurs runs (regexes without a known first character always run)."""
    hits = []
    for i in range(len(text) - 1):
        for kind, term, weight in matcher._by2.get(text[i : i + 2], []):
            if text.startswith(term, i):
                hits.append(lexicons.Hit(kind, term, weight, i, i + len(term)))
    present = set(text)
    for ch in matcher._singles.intersection(present):
        i = text.find(ch)
        while i >= 0:
            hits.extend(lexicons.Hit(kind, term, weight, i, i + 1) for kind, term, weight in matcher._by1[ch])
            i = text.find(ch, i + 1)
    for kind, pattern, weight, first in matcher._patterns:
        if first is None or present & first:
            hits.extend(
                lexicons.Hit(kind, m.group(), weight, m.start(), m.end(), True)
                for m in pattern.finditer(text)
            )
    return hits


def test_matcher_with_gates_finds_the_same_hits_in_the_same_order() -> None:
    sentiment.configure(None)
    matcher = analyzer.state().lexicon.matcher
    texts = [segment.normalize(t).lower() for t in _corpus_texts()]
    texts += [
        "等了3天了还没到!!",
        "说好的赠品呢？？？",
        "打12315投诉",
        "满100减20",
        "我们",
        "😡😡气死",
        "",
        "a",
        "第二次了又坏了",
        "太“好”了",
        "٣变٤",
        "x" * 300 + "退款退款说好的呢",
    ]
    batch = matcher.find_many(texts)  # the numpy candidate path
    for text, hits in zip(texts, batch, strict=True):
        want = _reference_hits(matcher, text)
        assert hits == want
        assert matcher.find(text) == want  # the one-text paths (Python scan, or numpy for long texts)


def test_has_words_and_normalize_match_their_definitions() -> None:
    not_words = re.compile(r"(?i)(?:https?://|www\.)\S+|\[[^\[\]\s]{1,8}\]|[^\w]|[\d_]")
    control = dict.fromkeys([*range(0, 32), *range(127, 160)], " ")
    rng = random.Random(11)
    pool = [
        *"[]微笑ab1_ 2，。!😡中Ａ１…\u3000\u00a0\u0301\u3099か\x07賣這",
        "http://t.cn/x",
        "[微笑]",
        "www.x.cn",
        "ﬁ",
        "①",
    ]
    samples = _corpus_texts(300) + [
        "".join(rng.choice(pool) for _ in range(rng.randint(0, 40))) for _ in range(5000)
    ]
    for text in samples:
        assert analyzer.has_words(text) == (len(not_words.sub("", text)) >= 2), text
        simplified = unicodedata.normalize("NFKC", text).translate(segment._T2S)  # traditional → simplified
        assert segment.normalize(text) == simplified.translate(control), text


def test_batch_segmentation_gives_each_text_its_own_words(tmp_path: Path) -> None:
    texts = [segment.normalize(t) for t in _corpus_texts(300)] + [
        "",
        "鲜果时光XGSG真好喝",
        "yyds绝绝子",
        "。。。",
    ]
    for cfg in (None, make_config(tmp_path)):  # with protected (mixed-script) brand terms too
        sentiment.configure(cfg)
        segment.clear_caches()
        alone = [segment.stream_normalized(t) for t in texts]
        segment.clear_caches()
        assert segment.streams_normalized(texts) == alone  # new runs cut together, in one call
        assert segment.streams_normalized(texts) == alone  # and from the memo
    sentiment.configure(None)


def test_simhash_of_hashes_and_of_tokens_agree() -> None:
    lists = [segment.tokenize(t) for t in _corpus_texts(100)] + [[], ["一"]]
    want = [fingerprint.simhash(tokens) for tokens in lists]
    assert fingerprint.simhash_many(lists) == want
    assert [fingerprint.simhash_many([tokens])[0] for tokens in lists] == want


def test_blocks_never_leave_a_text_alone_and_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    assert analyzer._blocks(0) == []
    assert analyzer._blocks(1) == [(0, 1)]
    assert analyzer._blocks(analyzer.BLOCK + 1) == [(0, analyzer.BLOCK + 1)]
    assert all(b - a >= 2 for n in range(2, 3 * analyzer.BLOCK) for a, b in analyzer._blocks(n))
    assert complaint_model._blocks(257)[-1][1] - complaint_model._blocks(257)[-1][0] != 1
    sentiment.configure(None)
    records = [{"text": t, "platform": "weibo", "likes": i % 7} for i, t in enumerate(_corpus_texts(330))]
    monkeypatch.setattr(analyzer, "BLOCK", 64)
    blocked = [a.to_json() for a in sentiment.analyze_many(records)]
    monkeypatch.setattr(analyzer, "BLOCK", 100_000)
    whole = [a.to_json() for a in sentiment.analyze_many(records)]
    for a, b in zip(blocked, whole, strict=True):
        a.pop("analyzed_at"), b.pop("analyzed_at")
        assert a == b


def test_token_pass_matches_the_stages_it_replaces() -> None:
    sentiment.configure(None)
    st = analyzer.state()
    prepared = analyzer.prepare(
        [{"text": t} for t in _corpus_texts(200)] + [{"text": "@小王 转发微博 不是不好吃"}]
    )
    hashes, snows = analyzer._token_pass(prepared, st.cmodel.snow, st.lexicon.stopwords)
    assert hashes == ngram._word_hashes([p.stream for p in prepared])
    for p, snow in zip(prepared, snows, strict=True):
        assert snow == st.cmodel.snow_features(p.stream)
        assert p.content == [
            fingerprint.token_hash(t) for t in fingerprint.content_tokens(p.stream, st.lexicon.stopwords)
        ]
        assert p.words == " ".join(segment.words(p.stream))


def test_packed_float16_table_only_when_exact_and_then_the_same_margins() -> None:
    sentiment.configure(None)
    st = analyzer.state()
    assert st.model.packed is not None and st.cmodel.sparse.packed is not None  # the shipped files: exact
    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(0, 2**32, 2000)).astype(np.int64)
    inexact = ngram.SentimentModel(
        keys,
        np.full(len(keys), 0.1, np.float32),  # 0.1 is no float16 value
        rng.standard_normal((len(keys), 3)).astype(np.float32),
        np.zeros(3),
        ["general", "spec:x", "gate:x"],
    )
    assert inexact.packed is None
    prepared = analyzer.prepare([{"text": t} for t in _corpus_texts(300)])
    texts, streams = [p.norm for p in prepared], [p.stream for p in prepared]
    counts = ngram.count_pairs(*ngram.keys_batch(texts, streams))
    one = ngram.count_pairs(*ngram.keys_batch(texts[:1], streams[:1]))
    for model in (st.model, st.cmodel.sparse):
        with_table = model.head_margins_counts(counts, len(texts)), model.head_margins_counts(one, 1)
        plain = ngram.SentimentModel(
            model.keys, model.idf, model.weights, model.biases, model.heads, model.blend
        )
        plain._packed = np.zeros((0, 0), np.float16)  # force the float32 arrays
        assert plain.packed is None
        assert np.array_equal(with_table[0], plain.head_margins_counts(counts, len(texts)))
        assert np.array_equal(with_table[1], plain.head_margins_counts(one, 1))
