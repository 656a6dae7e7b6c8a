"""Near-duplicate fingerprints: a 64-bit SimHash over tokens, stored as a signed int64.

Reposts of one crisis post differ by a prefix ("转发微博", "//@someone:") or a few
words; their fingerprints differ in a few bits. ``hamming(a, b) <= 3`` is the usual
"same text" threshold, ``<= 10`` "same story".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b

import numpy as np

_SIGN_BIT = 1 << 63
_MASK = (1 << 64) - 1


_HASHES: dict[str, int] = {}
_BLAKE2B_8 = blake2b(digest_size=8)
_MAX_CACHED = 300_000


def token_hash(token: str) -> int:
    """A stable 64-bit hash of one token (independent of PYTHONHASHSEED), memoised."""
    h = _HASHES.get(token)
    if h is None:
        state = _BLAKE2B_8.copy()  # copying a fresh state is cheaper than setting one up
        state.update(token.encode("utf-8", "surrogatepass"))
        h = int.from_bytes(state.digest(), "little")
        if len(_HASHES) >= _MAX_CACHED:
            _HASHES.clear()
        _HASHES[token] = h
    return h


def clear_cache() -> None:
    """Forget memoised token hashes (the benchmark measures cold)."""
    _HASHES.clear()


def simhash_many(token_lists: Sequence[Sequence[str]]) -> list[int]:
    """:func:`simhash` of many token lists in one numpy pass."""
    cached = _HASHES.get
    return simhash_hashes([[cached(t) or token_hash(t) for t in tokens] for tokens in token_lists])


def simhash_hashes(hash_lists: Sequence[Sequence[int]]) -> list[int]:
    """:func:`simhash_many` of lists of token hashes (:func:`token_hash`) instead of tokens."""
    lens = [len(h) for h in hash_lists]
    flat = [h for hashes in hash_lists for h in hashes]
    if not flat:
        return [0] * len(hash_lists)
    if len(hash_lists) == 1:
        return [to_signed(_combine(flat))]
    arr = np.array(flat, dtype="<u8")
    # one row per bit (64 × tokens), so each text's votes are a contiguous run of every row
    bits = np.unpackbits(np.ascontiguousarray(arr.view(np.uint8).reshape(-1, 8).T), axis=0, bitorder="little")
    ends = np.cumsum(lens)
    starts = ends - np.asarray(lens)
    nonempty = np.asarray(lens) > 0
    sums = np.add.reduceat(bits, starts[nonempty], axis=1, dtype=np.int32).T
    votes = sums * 2 - np.asarray(lens)[nonempty][:, None]
    packed = np.packbits(votes > 0, axis=1, bitorder="little")
    values = iter(int.from_bytes(row.tobytes(), "little") for row in packed)
    return [to_signed(next(values)) if n else 0 for n in lens]


REPOST_WORDS = frozenset(
    ("转发微博", "转发", "微博", "repost", "rt", "分享", "图片", "视频", "网页链接", "全文")
)


def content_tokens(words: Sequence[str], stopwords: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The words that identify a post's content: stop words, repost boilerplate and @names dropped.

    The segmenter emits "@name" as one token, so a repost chain ("转发微博 //@小王: …")
    differs from its original only in words dropped here. Emoticons and emoji are dropped too.
    """
    return [
        w
        for w in words
        if w and w[0] != "@" and w not in REPOST_WORDS and w not in stopwords and (w[0].isalnum())
    ]


def simhash(tokens: Iterable[str]) -> int:
    """SimHash of ``tokens`` (each occurrence weighs 1), as a signed 64-bit integer; 0 when empty."""
    hashes = [token_hash(t) for t in tokens if t]
    if not hashes:
        return 0
    return to_signed(_combine(hashes))


def _combine(hashes: Sequence[int]) -> int:
    arr = np.array(hashes, dtype="<u8")
    bits = np.unpackbits(arr.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    votes = np.add.reduce(bits, axis=0, dtype=np.int32) * 2 - len(hashes)
    packed = np.packbits(votes > 0, bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed int64 a BIGINT column holds."""
    value &= _MASK
    return value - (1 << 64) if value & _SIGN_BIT else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints (signed or unsigned)."""
    return ((a ^ b) & _MASK).bit_count()
