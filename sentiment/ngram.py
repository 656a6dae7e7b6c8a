"""The shipped sentiment model: NB-weighted logistic regression over character and word n-grams,
with domain specialists blended in by a domain gate.

Features (:func:`feature_keys`): character 1–3-grams of the compact text (punctuation,
emoji and Weibo emoticons included), word unigrams, word bigrams inside a clause and
negation-scoped words ("不 高兴" also yields a "negated 高兴" feature) until the clause
ends. Each feature gets a deterministic 32-bit key (no ``PYTHONHASHSEED`` dependence;
character n-grams are hashed with numpy in one go). The model keeps a vocabulary of
sorted keys; unknown keys are ignored, exactly as in training.

A text's vector is sublinear tf × idf, L2-normalised. Heads are linear on that vector:
``general`` (all data), one specialist per domain (e.g. Weibo posts, food-delivery
reviews) and a gate per domain (probability that the text is from that domain). The
margin is ``general + Σ blend_d · P(domain d) · (specialist_d − general)``. Scoring needs numpy
only, no scikit-learn; the file stores uint32 keys, uint8-quantised idf, float16 weights
and a JSON model card (version, sources, accuracy).
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import exp
from pathlib import Path
from typing import Any

import numpy as np

from crawler.paths import package_path
from sentiment.fingerprint import _HASHES as _TOKEN_HASHES
from sentiment.fingerprint import token_hash
from sentiment.segment import BREAK

SHIPPED_MODEL = package_path("sentiment", "sentiment_model.npz")
IDF_SCALE = 16.0
DEFAULT_BLEND = 0.5  # idf is stored as round(idf * 16) in a uint8
NEGATORS = frozenset(
    (
        "不",
        "没",
        "没有",
        "别",
        "无",
        "未",
        "非",
        "不是",
        "并非",
        "从未",
        "毫无",
        "不会",
        "不能",
        "没法",
        "绝不",
        "决不",
        "不太",
        "不怎么",
        "不够",
        "一点也不",
        "一点都不",
    )
)
_DROP_RE = re.compile("[ \t\n\r\u3000]+")
_U = np.uint64
_P1, _P2 = _U(0x9E3779B97F4A7C15), _U(0xC2B2AE3D27D4EB4F)
_SALT = {
    "c2": _U(0x2545F4914F6CDD1D),
    "c3": _U(0x5851F42D4C957F2D),
    "w": _U(0x14057B7EF767814F),
    "b": _U(0x9FB21C651E98DF25),
    "n": _U(0xD6E8FEB86659FD93),
}
_MIX = _U(0xBF58476D1CE4E5B9)
_SHIFT29, _SHIFT32 = _U(29), _U(32)


def compact(text: str) -> str:
    """``text`` without spaces, tabs, newlines and ideographic spaces, lower-cased (what the
    character n-grams are taken from); a regex pass, much faster than ``str.translate`` on
    non-ASCII text."""
    return _DROP_RE.sub("", text).lower()


def _codes(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


WordHashes = tuple[list[int], list[int], list[bool], list[int], list[int]]  # what _word_hashes returns


def keys_batch(
    texts: Sequence[str], streams: Sequence[Sequence[str]], word_hashes: WordHashes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Feature keys of many texts at once: (row of each key, 32-bit key), both int64.

    ``texts`` are normalised, ``streams`` their token streams (with BREAK). All character
    n-grams of the batch are hashed in a few numpy operations; n-grams that would cross
    from one text into the next are dropped. ``word_hashes``: :func:`_word_hashes` of the
    streams, when the caller computed them already.
    """
    if len(texts) == 1:
        keys = _keys_one(texts[0], streams[0], word_hashes)
        return np.zeros(len(keys), dtype=np.int64), keys
    compacts = [compact(t) for t in texts]
    lens = np.fromiter((len(x) for x in compacts), dtype=np.int64, count=len(compacts))
    c = _codes("".join(compacts))
    crow = np.repeat(np.arange(len(compacts), dtype=np.int64), lens)
    hashes = [c]
    rows = [crow]
    if len(c) > 1:
        same2 = crow[:-1] == crow[1:]
        c2 = c[:-1] * _P1 + c[1:]
        hashes.append((c2 ^ _SALT["c2"])[same2])
        rows.append(crow[:-1][same2])
        if len(c) > 2:
            same3 = same2[:-1] & same2[1:]
            hashes.append(((c2[:-1] * _P2 + c[2:]) ^ _SALT["c3"])[same3])
            rows.append(crow[:-2][same3])
    words, wrows, starts, negated, nrows = word_hashes or _word_hashes(streams)
    if words:
        w = np.array(words, dtype=np.uint64)
        wr = np.array(wrows, dtype=np.int64)
        hashes.append(w ^ _SALT["w"])
        rows.append(wr)
        if len(w) > 1:
            keep = ~np.array(starts[1:], dtype=bool)
            hashes.append(((w[:-1] * _P2 + w[1:]) ^ _SALT["b"])[keep])
            rows.append(wr[1:][keep])
        if negated:
            hashes.append(np.array(negated, dtype=np.uint64) ^ _SALT["n"])
            rows.append(np.array(nrows, dtype=np.int64))
    h = np.concatenate(hashes)
    h = (h ^ (h >> _SHIFT29)) * _MIX
    return np.concatenate(rows), (h >> _SHIFT32).astype(np.int64)


def _keys_one(text: str, stream: Sequence[str], word_hashes: WordHashes | None = None) -> np.ndarray:
    """:func:`keys_batch` of one text (the same keys in the same order, fewer numpy calls)."""
    c = _codes(compact(text))
    hashes = [c]
    if len(c) > 1:
        c2 = c[:-1] * _P1 + c[1:]
        hashes.append(c2 ^ _SALT["c2"])
        if len(c) > 2:
            hashes.append((c2[:-1] * _P2 + c[2:]) ^ _SALT["c3"])
    words, _, starts, negated, _ = word_hashes or _word_hashes((stream,))
    if words:
        w = np.array(words, dtype=np.uint64)
        hashes.append(w ^ _SALT["w"])
        if len(w) > 1:
            if any(starts[1:]):
                hashes.append(((w[:-1] * _P2 + w[1:]) ^ _SALT["b"])[~np.array(starts[1:], dtype=bool)])
            else:
                hashes.append((w[:-1] * _P2 + w[1:]) ^ _SALT["b"])
        if negated:
            hashes.append(np.array(negated, dtype=np.uint64) ^ _SALT["n"])
    h = np.concatenate(hashes)
    h ^= h >> _SHIFT29
    h *= _MIX
    h >>= _SHIFT32
    return h.astype(np.int64)


def _word_hashes(streams: Sequence[Sequence[str]], first_row: int = 0) -> WordHashes:
    """Token hashes with their rows (numbered from ``first_row``), clause-start flags, and the
    negation-scoped ones (with their rows)."""
    words: list[int] = []
    wrows: list[int] = []
    starts: list[bool] = []  # True where a token begins a clause (no bigram with the previous one)
    negated: list[int] = []
    nrows: list[int] = []
    cached = _TOKEN_HASHES.get
    for row, tokens in enumerate(streams, first_row):
        neg = False
        new_clause = True
        for tok in tokens:
            if tok == BREAK:
                neg = False
                new_clause = True
                continue
            h = cached(tok) or token_hash(tok)
            words.append(h)
            starts.append(new_clause)
            new_clause = False
            if neg:
                negated.append(h)
                nrows.append(row)
            elif tok in NEGATORS:
                neg = True
        wrows.extend([row] * (len(words) - len(wrows)))
    return words, wrows, starts, negated, nrows


def feature_keys(text: str, tokens: Sequence[str]) -> np.ndarray:
    """32-bit key of every feature occurrence of one text (``text`` normalised, ``tokens`` a stream)."""
    return keys_batch([text], [tokens])[1]


Counts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Hits = tuple[
    np.ndarray, np.ndarray, np.ndarray
]  # (row, vocabulary position, count) of the pairs a model knows
_LOW32 = np.uint64(0xFFFFFFFF)


def _runs(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every run of equal values of the sorted, non-empty array ``s``."""
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    starts = new.nonzero()[0]
    length = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=length[:-1])
    length[-1] = len(s) - starts[-1]
    return starts, length


def count_pairs(rows: np.ndarray, keys: np.ndarray) -> Counts:
    """Distinct keys and, per (row, distinct key) pair, its count: (keys, pair rows, pair key index, counts).

    Pairs are sorted by row, then key. Computed once per batch, it serves every model scoring that batch.
    Two plain sorts of packed 64-bit values do it (no argsort): the first, key-major, finds the
    distinct pairs and keys; the second puts the pairs in row order.
    """
    if not len(keys):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    if rows[0] == rows[-1] and not (rows != rows[0]).any():  # one text: one sort is enough
        s = np.sort(keys)
        starts, cnt = _runs(s)
        return (
            s.take(starts),
            np.full(len(starts), rows[0], dtype=np.int64),
            np.arange(len(starts), dtype=np.int64),
            cnt,
        )
    s = np.sort(
        (keys.astype(np.uint64) << _SHIFT32) | rows.astype(np.uint64)
    )  # keys are 32-bit, rows < 2**31
    starts, cnt = _runs(s)
    pairs = s.take(starts)
    pkey = (pairs >> _SHIFT32).astype(np.int64)
    kstart = np.empty(len(pkey), dtype=bool)
    kstart[0] = True
    np.not_equal(pkey[1:], pkey[:-1], out=kstart[1:])
    ui = kstart.cumsum() - 1
    # row order: within a row, the key-major pair index rises with the key
    order = np.sort(((pairs & _LOW32).astype(np.int64) << 32) | np.arange(len(pairs), dtype=np.int64))
    perm = order & 0xFFFFFFFF
    return pkey.take(kstart.nonzero()[0]), order >> 32, ui.take(perm), cnt.take(perm)


class KeyIndex:
    """Where each key of a short list sits in a model's sorted vocabulary, in one memory access per key.

    Binary search (``np.searchsorted``) touches some twenty cache lines per key, which is what
    one text at a time pays. Keys are 32-bit hash values, so their top ``bits`` spread them
    evenly over ``2**bits`` buckets, and a bucket's keys are contiguous in the sorted vocabulary.
    Each bucket is copied into one row of :data:`WIDTH` slots (64 bytes); a look-up reads the
    key's row, compares, and adds the bucket's start. Free slots hold a value from another
    bucket, which no key of this bucket can equal. Long, sorted key lists (a batch) are faster
    with binary search, whose successive keys share cache lines.
    """

    WIDTH = 16
    BATCH = 2_048  # at least this many keys: binary search

    def __init__(self, vocab: np.ndarray) -> None:
        self.vocab = vocab
        n = len(vocab)
        bits = max(1, (max(n, 1) // 4).bit_length())
        while True:
            self.shift = 32 - bits
            bucket = vocab >> self.shift
            sizes = np.bincount(bucket, minlength=1 << bits)
            if not n or sizes.max() <= self.WIDTH:
                break
            bits += 1
        self.starts = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.starts[1:])
        other = ((np.arange(1 << bits, dtype=np.int64) + 1) << self.shift) & 0xFFFFFFFF
        self.table = np.repeat(other.astype(np.uint32)[:, None], self.WIDTH, axis=1)
        self.table[bucket, np.arange(n) - self.starts[bucket]] = vocab.astype(np.uint32)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position, found) of each key; the position of a key not found is meaningless."""
        if len(keys) >= self.BATCH:
            pos = np.searchsorted(self.vocab, keys)
            pos[pos >= len(self.vocab)] = 0
            return pos, self.vocab.take(pos) == keys
        bucket = keys >> self.shift
        eq = self.table.take(bucket, axis=0) == keys.astype(np.uint32)[:, None]
        slot = eq.argmax(1)
        return self.starts.take(bucket) + slot, eq.ravel().take(slot + np.arange(0, eq.size, self.WIDTH))


class JointVocab:
    """The vocabularies of several models as one sorted key array, so that one look-up of a batch's
    distinct keys serves every model (the sentiment and the complaint model read the same keys)."""

    def __init__(self, models: Sequence[SentimentModel]) -> None:
        self.models = list(models)
        keys = (
            np.sort(np.concatenate([m.keys for m in self.models])) if self.models else np.zeros(0, np.int64)
        )
        if len(keys):
            keys = keys[_runs(keys)[0]]  # distinct (np.unique is much slower here)
        self.index = KeyIndex(keys)
        self.positions = []
        for m in self.models:
            pos = np.full(len(keys), -1, dtype=np.int64)
            pos[np.searchsorted(keys, m.keys)] = np.arange(len(m.keys))
            self.positions.append(pos)

    def serves(self, *models: SentimentModel) -> bool:
        return len(models) == len(self.models) and all(
            a is b for a, b in zip(models, self.models, strict=True)
        )

    def lookup(self, uk: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per model, (position, found) of each sorted distinct key ``uk`` (for :meth:`SentimentModel.hits`)."""
        if not len(uk) or not len(self.index.vocab):
            return [(np.zeros(len(uk), np.int64), np.zeros(len(uk), bool)) for _ in self.models]
        upos, found = self.index.find(uk)
        np.minimum(upos, len(self.index.vocab) - 1, out=upos)
        out = []
        for pos in self.positions:
            mpos = pos.take(upos)
            out.append((mpos, found & (mpos >= 0)))
        return out


def rows_below(counts: Counts, n: int) -> Counts:
    """The pairs of rows < ``n`` (pairs are sorted by row)."""
    uk, r, ui, cnt = counts
    end = int(np.searchsorted(r, n))
    return uk, r[:end], ui[:end], cnt[:end]


@dataclass
class SentimentModel:
    """Vocabulary keys, idf, head weights (columns = ``heads``), biases, blend, model card."""

    keys: np.ndarray  # sorted int64 (32-bit values)
    idf: np.ndarray  # float32, one per key
    weights: np.ndarray  # float32 (n_keys, n_heads)
    biases: np.ndarray  # float64 (n_heads,)
    heads: list[str]
    blend: dict[str, float] = field(default_factory=dict)  # per domain; missing: DEFAULT_BLEND
    meta: dict[str, Any] = field(default_factory=dict)
    _gating: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _index: KeyIndex | None = field(default=None, init=False, repr=False, compare=False)
    _packed: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    @property
    def domains(self) -> list[str]:
        return [h.split(":", 1)[1] for h in self.heads if h.startswith("spec:")]

    def _combine(self, m: np.ndarray) -> np.ndarray:
        """Final margins from head margins (rows = texts); every domain's gate in one numpy pass."""
        out = m[:, 0].copy()
        if self._gating is None:
            doms = self.domains
            self._gating = (
                np.array([self.heads.index("spec:" + d) for d in doms], dtype=np.int64),
                np.array([self.heads.index("gate:" + d) for d in doms], dtype=np.int64),
                np.array([self.blend.get(d, DEFAULT_BLEND) for d in doms], dtype=np.float64),
            )
        spec, gate, blend = self._gating
        if len(m) == 1 and len(spec):  # one text: the same IEEE operations on plain floats, one np.exp
            row = m[0].tolist()
            e = np.exp([-min(max(row[g], -30.0), 30.0) for g in gate.tolist()]).tolist()
            total = row[0]
            for j, b, ej in zip(spec.tolist(), blend.tolist(), e, strict=True):
                total += b * (1.0 / (1.0 + ej)) * (row[j] - row[0])
            out[0] = total
            return out
        if len(spec):
            p = 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(m[:, gate], -30), 30)))  # = np.clip, cheaper
            terms = blend * p * (m[:, spec] - m[:, :1])
            for j in range(len(spec)):  # added one domain after the other, as ever
                out += terms[:, j]
        return out

    def head_margins(self, key_lists: Sequence[np.ndarray]) -> np.ndarray:
        """Margins of every head for many texts (one array of keys per text)."""
        n = len(key_lists)
        lens = np.fromiter((len(a) for a in key_lists), dtype=np.int64, count=n)
        rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        keys = np.concatenate(key_lists) if n else np.zeros(0, np.int64)
        return self.head_margins_flat(rows, keys, n)

    def head_margins_flat(self, rows: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
        """Margins of every head for ``n`` texts given (row, key) of every feature occurrence."""
        out = np.tile(self.biases, (n, 1))
        if n == 0 or len(keys) == 0 or len(self.keys) == 0:
            return out
        if n == 1:  # one text (analyze() one at a time): fewer numpy calls
            uk, cnt = np.unique(keys, return_counts=True)
            pos = np.minimum(np.searchsorted(self.keys, uk), len(self.keys) - 1)
            hit = self.keys[pos] == uk
            pos = pos[hit]
            v = (1.0 + np.log(cnt[hit])) * self.idf[pos]
            sq = float(v @ v)
            if sq > 0:
                out[0] += (v @ self.weights[pos]) / sq**0.5
            return out
        return self.head_margins_counts(count_pairs(rows, keys), n)

    def hits(self, counts: Counts, found_keys: tuple[np.ndarray, np.ndarray] | None = None) -> Hits:
        """The pairs of :func:`count_pairs` whose key the model knows: (row, vocabulary position, count).

        Each distinct key is looked up once, in sorted order (cache-friendly), then mapped back;
        the pairs keep their order (by row, then key). One look-up serves every use of a batch
        (the margins and, for the complaint model, the reasons); ``found_keys``: (position, found)
        of the distinct keys, when already looked up (:class:`JointVocab`).
        """
        uk, r, ui, cnt = counts
        if len(uk) == 0 or len(self.keys) == 0 or len(r) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        upos, found = self.index.find(uk) if found_keys is None else found_keys
        if len(r) == len(uk) and r[0] == r[-1]:  # one text: its pairs are the distinct keys, in order
            idx = found.nonzero()[0]
            return r.take(idx), upos.take(idx), cnt.take(idx)
        # (index arrays and take(): several times faster than boolean masks and fancy indexing here)
        idx = found.take(ui).nonzero()[0]
        return r.take(idx), upos.take(ui.take(idx)), cnt.take(idx)

    @property
    def packed(self) -> np.ndarray | None:
        """Each key's idf and head weights in one float16 row: one gather per hit instead of two,
        from a table a third the size of the float32 arrays (a batch's look-ups miss the cache
        less). Only when float16 holds the values exactly, as for a model read from its file (idf
        stored in sixteenths, weights in float16); None for a model trained in this process."""
        if self._packed is None:
            table = np.empty((len(self.keys), 1 + self.weights.shape[1]), dtype=np.float16)
            with np.errstate(over="ignore", invalid="ignore"):
                table[:, 0] = self.idf
                table[:, 1:] = self.weights
            exact = np.array_equal(table[:, 0].astype(np.float32), self.idf) and np.array_equal(
                table[:, 1:].astype(np.float32), self.weights
            )
            self._packed = table if exact else np.zeros((0, 0), dtype=np.float16)
        return self._packed if self._packed.size else None

    @property
    def index(self) -> KeyIndex:
        """The :class:`KeyIndex` of the vocabulary (built on first use)."""
        if self._index is None:
            self._index = KeyIndex(self.keys)
        return self._index

    def head_margins_counts(self, counts: Counts, n: int, hits: Hits | None = None) -> np.ndarray:
        """Margins of every head for ``n`` texts from :func:`count_pairs` (shareable between models);
        ``hits``: :meth:`hits` of ``counts``, when already known."""
        out = np.empty((n, len(self.biases)), dtype=self.biases.dtype)
        out[:] = self.biases
        if n == 0 or len(counts[0]) == 0 or len(self.keys) == 0:
            return out
        r, col, c = self.hits(counts) if hits is None else hits
        packed = self.packed
        if packed is not None:  # each hit's idf and weights in one gather from the compact table
            g = packed.take(col, axis=0)
            v = (1.0 + np.log(c)) * g[:, 0]
            weights = g[:, 1:].astype(np.float64)
        else:
            v = (1.0 + np.log(c)) * self.idf.take(col)
            weights = self.weights.take(col, axis=0).astype(np.float64)
        if n == 1:  # one text (analyze() one at a time): fewer numpy calls
            sq = float(v @ v)
            if sq > 0:
                out[0] += (v @ weights) / sq**0.5
            return out
        # pairs are sorted by row, so each row's features are one contiguous run: sum runs with reduceat
        everyone = np.arange(n, dtype=np.int64)
        starts = np.searchsorted(r, everyone)
        has = starts < len(r)
        has[has] &= r[starts[has]] == everyone[has]
        first = starts[has]
        if len(first):
            sqs = np.add.reduceat(v * v, first)
            weights *= v[:, None]  # float64 already: multiplied in place, no mixed-type buffering
            raw = np.add.reduceat(weights, first, axis=0)
            if len(first) == n:  # every text has a known feature (the usual case): no masked update
                out += raw / np.sqrt(sqs)[:, None]
            else:
                out[has] += raw / np.sqrt(sqs)[:, None]
        return out

    def margins(self, key_lists: Sequence[np.ndarray]) -> np.ndarray:
        """Final log-odds of positive for many texts."""
        return self._combine(self.head_margins(key_lists))

    def margins_flat(self, rows: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
        """Final log-odds of positive for ``n`` texts from :func:`keys_batch` output."""
        return self._combine(self.head_margins_flat(rows, keys, n))

    def margin(self, keys: np.ndarray) -> float:
        """Final log-odds of positive for one text."""
        return float(self.margins([keys])[0])

    def score(self, text: str, tokens: Sequence[str]) -> float:
        """Probability that ``text`` (normalised) is positive; 0.5 for empty text."""
        if not text.strip():
            return 0.5
        z = max(-30.0, min(30.0, self.margin(feature_keys(text, tokens))))
        return 1.0 / (1.0 + exp(-z))


def quantize_idf(idf: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(idf * IDF_SCALE), 1, 255).astype(np.uint8)


def save(path: str | Path, model: SentimentModel) -> None:
    """Write the model reproducibly (fixed zip timestamps: same weights → same bytes)."""
    meta = dict(model.meta, heads=model.heads, blend=model.blend)
    arrays = {
        "keys": np.asarray(model.keys, dtype=np.uint32),
        "idf": quantize_idf(model.idf),
        "weights": np.asarray(model.weights, dtype=np.float16),
        "biases": np.asarray(model.biases, dtype=np.float64),
        "meta": np.frombuffer(
            json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"), dtype=np.uint8
        ),
    }
    write_arrays(path, arrays)


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an ``.npz`` with fixed zip timestamps (same arrays → same bytes), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)


def load(path: str | Path | None = None) -> SentimentModel:
    """Load a model file (the shipped one by default); a broken file raises ValueError."""
    path = Path(path) if path else SHIPPED_MODEL
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"].astype(np.int64)
            idf = data["idf"].astype(np.float32) / IDF_SCALE
            weights = data["weights"].astype(np.float32)
            biases = data["biases"].astype(np.float64)
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a yuqing sentiment model ({exc})") from exc
    heads = list(meta.get("heads") or ["general"])
    if (
        weights.ndim != 2
        or weights.shape != (len(keys), len(heads))
        or len(idf) != len(keys)
        or len(biases) != len(heads)
        or np.any(np.diff(keys) <= 0)
    ):
        raise ValueError(f"{path}: inconsistent model arrays")
    blend = meta.get("blend", DEFAULT_BLEND)
    blends = (
        {str(k): float(v) for k, v in blend.items()}
        if isinstance(blend, dict)
        else dict.fromkeys((h.split(":", 1)[1] for h in heads if h.startswith("spec:")), float(blend))
    )
    return SentimentModel(keys, idf, weights, biases, heads, blends, meta)


_lock = threading.Lock()
_cache: dict[str, SentimentModel] = {}


def get_model(path: str | Path | None = None) -> SentimentModel:
    """The loaded model for ``path`` (shipped by default), loaded once per process."""
    key = str(Path(path).resolve()) if path else ""
    with _lock:
        if key not in _cache:
            _cache[key] = load(path)
        return _cache[key]
