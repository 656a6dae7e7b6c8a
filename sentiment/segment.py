"""Word segmentation: jieba's dictionary and max-probability cut (no HMM), brand terms kept whole.

Segmentation is the slowest step of the whole analysis, so the cut runs in jieba-rs
(``rjieba``: jieba's algorithm and dictionary, compiled) when it is installed, about ten
times faster than Python jieba. Without it (or with ``YUQING_SEGMENTER=python``) the same
cut runs here in Python over ``jieba.dt.FREQ``, which Python jieba loads from a cache file
under the project's data directory (never a shared /tmp file). Both give the same words.
Brand names, aliases and product names enter the dictionary with a high frequency; terms
mixing scripts ("XY手机", "栓Q") are protected by one case-insensitive regex before
cutting, so they always stay one token.

``tokenize(text)`` gives the token list; ``search_tokens(text)`` the space-joined form
that is stored in ``mentions.tokens`` and applied to queries, so both sides agree.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from enum import Enum
from math import log
from pathlib import Path
from typing import Final

from loguru import logger

from crawler.paths import data_dir

MAX_CHARS = 20_000  # longer texts are cut here before segmentation (the rest is not tokenised)
_BRAND_FREQ = 50_000  # dictionary frequency given to protected Han-only terms
_PIECE_RE = re.compile(
    r"@[^\s@:：,，。.!！?？/()（）\[\]#]{1,30}"  # @names (one token: "@小王")
    r"|\[[\u4e00-\u9fffA-Za-z]{1,8}\]"  # Weibo emoticons [怒] [允悲]
    r"|[\u3400-\u4dbf\u4e00-\u9fff]+"  # Han runs
    r"|[A-Za-z0-9]+(?:[._+#-][A-Za-z0-9]+)*"  # ASCII words, numbers, v1.2, c++
    r"|[\U0001F000-\U0001FAFF\u2600-\u27BF]"  # emoji (one token each)
    r"|[，,。.！？!?；;…~～]+"  # clause breaks (kept as BREAK by stream())
)
BREAK = "|"
_BREAK_CHARS = frozenset("，,。.！？!?；;…~～")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")

_lock = threading.RLock()
_state: dict[str, object] = {"ready": False, "protected": None, "terms": frozenset(), "engine": None}
ENGINES = ("rust", "python")


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII), traditional characters to simplified,
    control characters to spaces."""
    return _CONTROL_RE.sub(" ", to_simplified(_nfkc(text)))


def _t2s_table() -> dict[int, str]:
    """Traditional → simplified, one character for one (OpenCC's character table, read from the
    installed ``opencc-python-reimplemented`` data without importing it); empty without it."""
    spec = importlib.util.find_spec("opencc")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in lines:
        trad, _, simp = line.partition("\t")
        first = simp.split(" ", 1)[0]
        if (
            len(trad) == 1
            and len(first) == 1
            and first != trad
            and trad not in _T2S_KEEP
            and "\u3400" <= first <= "\u9fff"  # a character the segmenter reads as Han (not 𫚔)
        ):
            table[ord(trad)] = first
    if not table:
        logger.warning(
            "no traditional → simplified table (opencc-python-reimplemented missing): texts are read as written"
        )
    return table


# characters the table would change that simplified texts use as they are (乾隆, 哪吒, 蒜薹, 於 as a
# surname, 昇, 霑, 捱, 剋)
_T2S_KEEP: Final = frozenset("乾吒薹於昇霑捱剋")
_T2S: Final = _t2s_table()


_TRADITIONAL: Final = frozenset(chr(c) for c in _T2S)  # a set test finds them fastest (a C loop)


def to_simplified(text: str) -> str:
    """``text`` with traditional characters written simplified ("外賣送了兩個小時" → "外卖送了两个小时"),
    so that segmentation, word lists, brand names and models read both alike."""
    if _TRADITIONAL.isdisjoint(text):
        return text
    return text.translate(_T2S)


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster for typical Chinese text.

    Most texts are normalised except for full-width punctuation and letters, the ideographic
    space and "…". Replacing those by their compatibility decomposition changes no character's
    full decomposition, so the result has the same NFKC form; when it already is in NFKC
    (checked exactly), it is that form. Otherwise the full normalisation runs.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    quick = text.translate(_COMPAT_TABLE)
    return quick if unicodedata.is_normalized("NFKC", quick) else unicodedata.normalize("NFKC", text)


_COMPAT_TABLE = {
    c: unicodedata.normalize("NFKD", chr(c)) for c in (*range(0xFF01, 0xFF5F), 0x3000, 0x2026, 0xA0)
}


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # one space for each (a scan in C; most texts have none)


def engine() -> str:
    """The segmentation engine in use: "rust" (jieba-rs) or "python" (jieba's dictionary, our cut)."""
    init()
    return str(_state["engine"])


def init(cache_dir: str | Path | None = None) -> None:
    """Load the dictionary once: jieba-rs, or Python jieba from a cache file in ``cache_dir``.

    ``cache_dir`` defaults to the project's data directory. ``YUQING_SEGMENTER`` = ``rust``
    or ``python`` picks the engine; by default jieba-rs when it is installed.
    """
    with _lock:
        if _state["ready"]:
            return
        wanted = os.environ.get("YUQING_SEGMENTER", "").strip().lower() or None
        if wanted not in (None, *ENGINES):
            raise ValueError(f"YUQING_SEGMENTER must be one of {ENGINES}, not {wanted!r}")
        if wanted != "python":
            try:
                import rjieba  # optional: the compiled engine (jieba-rs)

                _state["rust"] = rjieba.Jieba()
                _state["engine"] = "rust"
            except ImportError:
                if wanted == "rust":
                    raise
        if _state["engine"] is None:
            _init_python(cache_dir)
            _state["engine"] = "python"
        _state["ready"] = True


def _init_python(cache_dir: str | Path | None) -> None:
    import jieba  # only the Python engine needs it (20 MB)

    if cache_dir is None:
        cache_dir = data_dir()
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    jieba.setLogLevel(60)
    jieba.dt.tmp_dir = str(cache_dir)
    jieba.dt.cache_file = "jieba.cache"
    jieba.dt.initialize()
    _logtotal[0] = log(jieba.dt.total)


def add_terms(terms: Iterable[str]) -> None:
    """Protect terms (brands, aliases, products, lexicon phrases): always one token.

    Han-only terms also enter jieba's dictionary with a high frequency, so they win
    over a longer built-in word; the others (mixed ASCII, e.g. "XY手机") are matched
    by the protected-term regex before cutting. Idempotent; terms accumulate.
    """
    init()
    clean = {to_simplified(t.strip()) for t in terms if t and t.strip() and len(t.strip()) <= 40}
    with _lock:
        known: frozenset[str] = _state["terms"]  # type: ignore[assignment]
        new = clean - known
        if not new:
            return
        for term in new:
            if _is_plain_han(term) and len(term) > 1:
                _add_word(term)
        if _state["engine"] == "python":
            import jieba

            _logtotal[0] = log(jieba.dt.total)
            _logp.clear()
        allterms = known | new
        multi = sorted((t for t in allterms if not _is_plain_han(t)), key=len, reverse=True)
        _state["terms"] = frozenset(allterms)
        _state["protected"] = (
            re.compile("|".join(re.escape(t) for t in multi), re.IGNORECASE) if multi else None
        )
        clear_caches()


def clear_caches() -> None:
    """Forget memoised cuts (after the dictionary changed; the benchmark measures cold)."""
    _cuts.clear()
    _logp.clear()


def _add_word(term: str) -> None:
    if _state["engine"] == "rust":
        _state["rust"].add_word(term, _BRAND_FREQ, None)  # type: ignore[attr-defined]
        return
    import jieba

    jieba.dt.add_word(term, max(_BRAND_FREQ, jieba.dt.FREQ.get(term) or 0))


def _is_plain_han(term: str) -> bool:
    return all(_HAN_RE.match(c) for c in term)


def tokenize(text: str) -> list[str]:
    """Tokens of ``text``: Han words, lower-cased ASCII words, emoticons like [怒], emoji."""
    return [t for t in stream(text) if t != BREAK]


def stream(text: str) -> list[str]:
    """Like :func:`tokenize`, with :data:`BREAK` where a clause ends (，。！？…)."""
    if not text:
        return []
    return stream_normalized(normalize(text[:MAX_CHARS]))


def stream_normalized(text: str) -> list[str]:
    """:func:`stream` of a text already passed through :func:`normalize` (and cut to MAX_CHARS)."""
    if not text:
        return []
    init()
    protected: re.Pattern[str] | None = _state["protected"]  # type: ignore[assignment]
    if protected is None:
        return _tokens_of(text)
    out: list[str] = []
    pos = 0
    for m in protected.finditer(text):
        if m.start() > pos:
            out.extend(_tokens_of(text[pos : m.start()]))
        out.append(m.group().lower())
        pos = m.end()
    if pos < len(text):
        out.extend(_tokens_of(text[pos:]))
    return out


def search_tokens(text: str) -> str:
    """The space-joined word tokens stored for full-text search (and applied to queries).

    Emoticons and emoji are left out; Han words and lower-cased ASCII words stay;
    "@小王" is indexed as "小王".
    """
    return " ".join(words(tokenize(text)))


def words(tokens: list[str]) -> list[str]:
    """The searchable words among ``tokens`` or a stream (what :func:`search_tokens` joins)."""
    return [t[1:] if t[0] == "@" else t for t in tokens if t[0].isalnum() or (t[0] == "@" and len(t) > 1)]


def streams_normalized(texts: Sequence[str]) -> list[list[str]]:
    """:func:`stream_normalized` of many texts, with the Han runs none of them had cut before cut
    in one call of jieba-rs (:func:`_cut_together`): the same words, the call overhead paid once."""
    init()
    if _state["engine"] != "rust":
        return [stream_normalized(t) for t in texts]
    protected: re.Pattern[str] | None = _state["protected"]  # type: ignore[assignment]
    # a text without a protected term is its pieces' tokens (what stream_normalized gives it)
    pieces = [None if protected is not None and protected.search(t) else _PIECE_RE.findall(t) for t in texts]
    cuts = _cuts
    todo = dict.fromkeys(
        p
        for ps in pieces
        if ps is not None
        for p in ps
        if len(p) > 1 and "\u3400" <= p[0] <= "\u9fff" and p not in cuts
    )
    for t, ps in zip(texts, pieces, strict=True):
        if ps is None:
            todo.update(dict.fromkeys(r for r in _HAN_RUN_RE.findall(t) if len(r) > 1 and r not in cuts))
    if todo:
        _cut_together(list(todo))
    return [
        stream_normalized(t) if ps is None else _tokens_from(ps) for t, ps in zip(texts, pieces, strict=True)
    ]


def _cut_together(runs: list[str]) -> None:
    """Cut Han runs with one jieba-rs call and memoise each run's words.

    Each run is cut on its own either way (a newline between runs is a boundary jieba never
    crosses), so the words are the same; the call overhead is paid once instead of once per run.
    """
    runs = runs[:_CUTS_MAX]
    words = _state["rust"].cut("\n".join(runs), False)  # type: ignore[attr-defined]
    # split the word list at the newlines with string operations (no Python loop per word):
    # runs are Han only, so neither separator can occur inside a word
    groups = [tuple(g.split("\x01")) for g in "\x01".join(words).split("\x01\n\x01")]
    if len(groups) != len(runs) or sum(map(len, groups)) + len(runs) - 1 != len(words):
        return  # never expected; the runs are then cut one by one when met
    if len(_cuts) + len(runs) > _CUTS_MAX:
        _cuts.clear()
    _cuts.update(zip(runs, groups, strict=True))


def _tokens_of(text: str) -> list[str]:
    return _tokens_from(_PIECE_RE.findall(text))


def _tokens_from(pieces: list[str]) -> list[str]:
    out: list[str] = []
    cached, extend, append = _cuts.get, out.extend, out.append
    for piece in pieces:
        ch = piece[0]
        if "\u3400" <= ch <= "\u9fff" and len(piece) > 1:
            extend(cached(piece) or _cut_han(piece))
        elif ch.isascii() and ch.isalnum():
            append(piece.lower())
        elif ch == "@":
            append(piece.lower())
        elif ch in _BREAK_CHARS:
            append(BREAK)
        else:
            append(piece)
    return out


_PREFIX_ONLY = 1.0  # marks a dictionary prefix that is no word (a real log-probability is < 0)
_LOGP_MAX = 400_000
_logp: dict[str, float | None] = {}


_CUTS_MAX = 65_536
_cuts: dict[
    str, tuple[str, ...]
] = {}  # run → its words: clauses repeat (Heimao templates, reposts, stock phrases)


def _cut_han(block: str) -> tuple[str, ...]:
    """The words of one run of Han characters (memoised)."""
    words = _cuts.get(block)
    if words is None:
        if _state["engine"] == "rust":
            words = tuple(_state["rust"].cut(block, False))  # type: ignore[attr-defined]
        else:
            words = _py_cut(block)
        if len(_cuts) >= _CUTS_MAX:
            _cuts.clear()
        _cuts[block] = words
    return words


def _lookup(piece: str) -> float | None:
    """Log-probability of ``piece`` as a word, ``_PREFIX_ONLY``, or None when no word starts so.

    A small, hot dict in front of jieba's 600k-entry one: most look-ups hit it, which is
    what makes the cut below fast (fewer cache misses, no log() calls).
    """
    import jieba

    f = jieba.dt.FREQ.get(piece)
    value = None if f is None else (_PREFIX_ONLY if f == 0 else log(f) - _logtotal[0])
    if len(_logp) >= _LOGP_MAX:
        _logp.clear()
    _logp[piece] = value
    return value


_logtotal = [0.0]


class _Missing(Enum):
    """The type of :data:`_MISSING`: a piece not looked up yet (``None`` in the cache: not a word)."""

    TOKEN = 0


_MISSING: Final = _Missing.TOKEN


def _py_cut(block: str) -> tuple[str, ...]:
    """Max-probability path over jieba's dictionary (no HMM), one pass from the right."""
    cache = _logp
    n = len(block)
    best = [0.0] * (n + 1)
    nxt = [0] * (n + 1)
    single_floor = -_logtotal[0]  # an unknown character counts as frequency 1
    for i in range(n - 1, -1, -1):
        ch = block[i]
        lp = cache.get(ch, _MISSING)
        if lp is _MISSING:
            lp = _lookup(ch)
        top = (lp if lp is not None and lp < 0 else single_floor) + best[i + 1]
        end = i + 1
        j = i + 2
        while j <= n:
            piece = block[i:j]
            lp = cache.get(piece, _MISSING)
            if lp is _MISSING:
                lp = _lookup(piece)
            if lp is None:
                break
            if lp < 0:
                score = lp + best[j]
                if score > top:
                    top, end = score, j
            j += 1
        best[i] = top
        nxt[i] = end
    words = []
    i = 0
    while i < n:
        words.append(block[i : nxt[i]])
        i = nxt[i]
    return tuple(words)
