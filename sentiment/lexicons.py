"""Word lists (built in: ``sentiment/wordlists/*.txt``; an operator's additions in
``[analysis].lexicon_dir``) and a fast multi-term matcher.

File format, one entry a line: ``term`` or ``term<TAB or spaces>weight``; ``#`` starts a
comment; ``re:PATTERN [weight]`` is a regular expression; ``-term`` removes a built-in
term. A file may hold sections ``[name]`` (``categories.txt``: one section per category);
so a Weibo emoticon entry such as ``[怒] -2`` must carry its weight.

The built-in lists ship in the package (``sentiment/wordlists``, so a wheel install has
them); the configured ``[analysis].lexicon_dir`` is read on top of them when it is another
directory, so an operator keeps only their additions there. Missing built-in lists are an
error, never a silent analysis without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as sre  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import numpy as np

from crawler.paths import package_path
from sentiment.segment import to_simplified

BUILTIN_DIR = package_path("sentiment", "wordlists")
DEFAULT_SECTION = ""


@dataclass
class WordList:
    """Terms with weights plus regular expressions, for one list (or one section of a file)."""

    terms: dict[str, float] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern[str], float]] = field(default_factory=list)

    def __contains__(self, term: str) -> bool:
        return term in self.terms


def parse(text: str, source: str = "<text>") -> dict[str, WordList]:
    """Parse one lexicon file's text into sections (the unnamed section is ``""``)."""
    sections: dict[str, WordList] = {DEFAULT_SECTION: WordList()}
    current = sections[DEFAULT_SECTION]
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]") and len(line) > 2 and not line.startswith("[re:"):
            name = line[1:-1].strip()
            current = sections.setdefault(name, WordList())
            continue
        term, weight = _split_weight(line)
        if term.startswith("re:"):
            try:
                current.patterns.append((re.compile(term[3:]), weight))
            except re.error as exc:
                raise ValueError(f"{source}:{lineno}: bad regular expression {term[3:]!r}: {exc}") from exc
        elif term.startswith("-") and len(term) > 1:
            current.terms.pop(to_simplified(term[1:].lower()), None)
        else:
            current.terms[to_simplified(term.lower())] = weight  # texts are read simplified
    return sections


def _split_weight(line: str) -> tuple[str, float]:
    parts = line.rsplit(None, 1)
    if len(parts) == 2:
        try:
            return parts[0].strip(), float(parts[1])
        except ValueError:
            pass
    return line, 1.0


def load_dirs(dirs: Iterable[Path]) -> dict[str, dict[str, WordList]]:
    """All ``*.txt`` lists from ``dirs`` in order; later directories extend earlier ones."""
    merged: dict[str, dict[str, WordList]] = {}
    dirs = list(dirs)
    if BUILTIN_DIR in dirs and not any(BUILTIN_DIR.glob("*.txt")):
        raise FileNotFoundError(f"the built-in word lists are missing from {BUILTIN_DIR}: reinstall yuqing")
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.txt")):
            sections = parse(path.read_text(encoding="utf-8"), str(path))
            target = merged.setdefault(path.stem, {})
            for name, wl in sections.items():
                into = target.setdefault(name, WordList())
                into.terms.update(wl.terms)
                into.patterns.extend(wl.patterns)
                for removed in _removals(path, name):
                    into.terms.pop(removed, None)
    return merged


def _removals(path: Path, section: str) -> list[str]:
    out: list[str] = []
    current = DEFAULT_SECTION
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]") and not line.startswith("[re:"):
            current = line[1:-1].strip()
        elif current == section and line.startswith("-") and len(line) > 1:
            out.append(to_simplified(_split_weight(line[1:])[0].lower()))
    return out


def lexicon_dirs(configured: str | Path | None) -> list[Path]:
    """The built-in directory, then the configured one when it is another directory."""
    dirs = [BUILTIN_DIR]
    if configured:
        p = Path(configured).expanduser()
        if p.is_dir() and p.resolve() != BUILTIN_DIR:
            dirs.append(p)
    return dirs


class Hit(NamedTuple):
    """One matched term: which list, the term, its weight and where it is in the text."""

    kind: str
    term: str
    weight: float
    start: int
    end: int
    regex: bool = False


def first_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Characters one of which must start any match of ``pattern``; None when unknown.

    Lets :class:`Matcher` skip a regular expression whose first characters do not occur
    in the text at all (most of them, for most texts).
    """

    def seq_first(items: list[Any], i: int = 0) -> set[str] | None:
        while i < len(items):
            op, av = items[i]
            if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
                i += 1
                continue
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                lo, _hi, sub = av
                head = seq_first(list(sub))
                if head is None:
                    return None
                if lo >= 1:
                    return head
                rest = seq_first(items, i + 1)
                return None if rest is None else head | rest
            return item_first(op, av, items, i)
        return None  # the pattern can match empty: unknown

    def item_first(op: Any, av: Any, items: list[Any], i: int) -> set[str] | None:
        if op == c.LITERAL:
            return {chr(av)}
        if op == c.IN:
            out: set[str] = set()
            for kind, val in av:
                if kind == c.LITERAL:
                    out.add(chr(val))
                elif kind == c.RANGE and val[1] - val[0] < 256:
                    out.update(chr(x) for x in range(val[0], val[1] + 1))
                elif kind == c.CATEGORY and val == c.CATEGORY_DIGIT:
                    out.update("0123456789")  # texts are NFKC-normalised: ASCII digits
                else:
                    return None
            return out
        if op == c.BRANCH:
            acc: set[str] = set()
            for branch in av[1]:
                got = seq_first(list(branch))
                if got is None:
                    return None
                acc |= got
            return acc
        if op == c.SUBPATTERN:
            sub = seq_first(list(av[-1]))
            return sub
        return None

    try:
        got = seq_first(list(sre.parse(pattern.pattern, pattern.flags)))
    except (TypeError, ValueError, IndexError):
        return None
    return frozenset(got) if got else None


_GATE_CAP = 256  # at most this many strings per pattern end (else unknown)
_ZERO_WIDTH = object()


def match_ends(pattern: re.Pattern[str], k: int, last: bool = False) -> set[str] | None:
    """The first (``last``: final) ``k`` characters of every string ``pattern`` can match, as a set
    (a string shorter than ``k`` where a whole match can be that short); None when that cannot be
    told exactly: a class too wide or a category such as ``\\d`` (its full Unicode meaning is not
    enumerated), case-insensitive matching, back-references, more than a few hundred strings."""

    def join(acc: set[str], part: set[str]) -> set[str] | None:
        out = set()
        for a in acc:
            if len(a) >= k:
                out.add(a)
                continue
            for b in part:
                out.add((b + a)[-k:] if last else (a + b)[:k])
        return out if len(out) <= _GATE_CAP else None

    def ends(items: list[Any]) -> set[str] | None:
        acc: set[str] | None = {""}
        for op, av in reversed(items) if last else items:
            if acc is None or all(len(a) >= k for a in acc):
                break
            part = item(op, av)
            if part is None:
                return None
            if part is not _ZERO_WIDTH:
                acc = join(acc, part)
        return acc

    def item(op: Any, av: Any) -> Any:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return _ZERO_WIDTH
        if op == c.LITERAL:
            return {chr(av)}
        if op == c.IN:
            chars: set[str] = set()
            for kind, val in av:
                if kind == c.LITERAL:
                    chars.add(chr(val))
                elif kind == c.RANGE and val[1] - val[0] < 64:
                    chars.update(chr(x) for x in range(val[0], val[1] + 1))
                else:
                    return None
            return chars
        if op == c.SUBPATTERN:
            return None if av[1] & re.IGNORECASE else ends(list(av[-1]))
        if op == c.ATOMIC_GROUP:
            return ends(list(av))
        if op == c.BRANCH:
            out: set[str] = set()
            for branch in av[1]:
                got = ends(list(branch))
                if got is None:
                    return None
                out |= got
            return out
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            one = ends(list(sub))
            if one is None:
                return None
            out = {""} if lo == 0 else set()
            acc: set[str] | None = {""}
            r = 0
            while r < hi and r < lo + k:  # k more repeats than the minimum decide k characters
                acc = join(acc, one)  # type: ignore[arg-type]
                if acc is None:
                    return None
                r += 1
                if r >= lo:
                    out |= acc
            return out
        return None

    if pattern.flags & re.IGNORECASE:
        return None
    try:
        items = list(sre.parse(pattern.pattern, pattern.flags))
    except (TypeError, ValueError, IndexError, re.error):
        return None
    return ends(items)


def gate_bigrams(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Two-character strings one of which every match of ``pattern`` contains: the possible first two
    characters of a match, or the possible last two, whichever set is smaller (:func:`match_ends`).
    None when that cannot be told, or a match may be shorter than two characters.

    Lets :class:`Matcher` skip a regular expression when none of these strings occurs in the text:
    a necessary condition, so the hits are the same, only found with fewer regex runs.
    """
    best: set[str] | None = None
    for last in (False, True):
        got = match_ends(pattern, 2, last)
        if (
            got
            and all(len(x) == 2 and "\x00" not in x for x in got)
            and (best is None or len(got) < len(best))
        ):
            best = got
    return frozenset(best) if best else None


def _char_class(chars: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any one of ``chars`` (None for none)."""
    chars = sorted(set(chars))
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]") if chars else None


def _pair_code(two: str) -> int:
    return (ord(two[0]) << 21) | ord(two[1])


class Matcher:
    """Finds every term of many lists in a text with one left-to-right scan.

    Terms are indexed by their first two characters (single-character terms by one),
    so each position costs one or two dict look-ups; regex entries run separately.
    """

    SHORT = 256  # one text up to this long is scanned in Python; longer ones and batches with numpy

    def __init__(self, lists: dict[str, WordList]) -> None:
        self._by2: dict[str, list[tuple[str, str, float]]] = {}
        self._by1: dict[str, list[tuple[str, str, float]]] = {}
        self._patterns: list[tuple[str, re.Pattern[str], float, frozenset[str] | None]] = []
        for kind, wl in lists.items():
            for term, weight in wl.terms.items():
                if not term:
                    continue
                index = self._by1 if len(term) == 1 else self._by2
                index.setdefault(term[:2], []).append((kind, term, weight))
            for pattern, weight in wl.patterns:
                self._patterns.append((kind, pattern, weight, first_chars(pattern)))
        for bucket in (*self._by2.values(), *self._by1.values()):
            bucket.sort(key=lambda e: -len(e[1]))
        self._singles = frozenset(self._by1)
        self._single_re = _char_class(self._singles)
        # Regular expressions. Each has a bit; per text the runs are a few integer operations:
        # - gated (gate_bigrams) with an exact first-character set: run when a gate string occurs
        #   (a match needs one, and starts with one of those characters anyway);
        # - gated, first characters approximate (a \\d counts as 0-9 there): gate and first character;
        # - not gated: when one of their first characters occurs; patterns without a first-character
        #   set always.
        self._always = 0
        self._gated = 0
        self._exact = 0
        self._first_mask: dict[str, int] = {}
        gates: dict[str, int] = {}
        for n, (_kind, pattern, _weight, first) in enumerate(self._patterns):
            bit = 1 << n
            if first is None:
                self._always |= bit
                continue
            gate = gate_bigrams(pattern)
            exact = match_ends(pattern, 1)
            if gate:
                self._gated |= bit
                for two in gate:
                    gates[two] = gates.get(two, 0) | bit
                if exact is not None and exact == set(first):
                    self._exact |= bit
                    continue
            for ch in first:
                self._first_mask[ch] = self._first_mask.get(ch, 0) | bit
        self._first_re = _char_class(self._first_mask)
        # what two characters start (terms) or open the gate of (regexes): one look-up per position
        self._scan: dict[str, tuple[list[tuple[str, str, float]], int]] = {
            two: (self._by2.get(two, []), gates.get(two, 0)) for two in sorted({*self._by2, *gates})
        }
        self._pairs = np.array(sorted(_pair_code(k) for k in self._scan), dtype=np.int64)

    def find(self, text: str) -> list[Hit]:
        """Every hit in ``text`` (lower-cased by the caller), overlapping hits included."""
        return self.find_many([text])[0]

    def find_many(self, texts: list[str]) -> list[list[Hit]]:
        """:meth:`find` for many texts: candidate positions (two characters that start some
        term) of the whole batch are found with numpy in one pass; only those are checked
        in Python.
        """
        if (
            len(texts) == 1 and len(texts[0]) <= self.SHORT
        ):  # one short text: a Python scan beats numpy's set-up
            return [self._hits(texts[0], None)]
        cands: list[list[int]] = [[] for _ in texts]
        if len(texts) == 1 and len(texts[0]) > 1 and len(self._pairs):  # one text: no offsets needed
            c = np.frombuffer(texts[0].encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
            pairs = (c[:-1] << 21) | c[1:]
            at = np.minimum(np.searchsorted(self._pairs, pairs), len(self._pairs) - 1)
            return [self._hits(texts[0], np.flatnonzero(self._pairs[at] == pairs).tolist())]
        if len(self._pairs) and texts:
            joined = "\x00".join(texts)
            c = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
            if len(c) > 1:
                pairs = (c[:-1] << 21) | c[1:]
                at = np.searchsorted(self._pairs, pairs)
                at[at >= len(self._pairs)] = 0
                where = np.flatnonzero(self._pairs[at] == pairs)
                if len(where):
                    offsets = np.cumsum([0] + [len(t) + 1 for t in texts])
                    rows = np.searchsorted(offsets, where, side="right") - 1
                    for row, i in zip(rows.tolist(), (where - offsets[rows]).tolist(), strict=True):
                        cands[row].append(i)
        return [self._hits(text, cand) for text, cand in zip(texts, cands, strict=True)]

    def _hits(self, text: str, candidates: list[int] | None) -> list[Hit]:
        """Hits in ``text``; ``candidates``: the positions whose two characters start some term or
        open some regex's gate (None: find them here, position by position)."""
        hits: list[Hit] = []
        scan = self._scan
        opened = 0
        if candidates is None:
            get = scan.get
            for i in range(len(text) - 1):
                entry = get(text[i : i + 2])
                if entry is not None:
                    opened |= entry[1]
                    for kind, term, weight in entry[0]:
                        if text.startswith(term, i):
                            hits.append(Hit(kind, term, weight, i, i + len(term)))
        else:
            for i in candidates:
                terms, gate = scan[text[i : i + 2]]
                opened |= gate
                for kind, term, weight in terms:
                    if text.startswith(term, i):
                        hits.append(Hit(kind, term, weight, i, i + len(term)))
        if self._single_re is not None and self._single_re.search(text):
            present = set(text)
            for ch in self._singles.intersection(present):
                i = text.find(ch)
                while i >= 0:
                    for kind, term, weight in self._by1[ch]:
                        hits.append(Hit(kind, term, weight, i, i + 1))
                    i = text.find(ch, i + 1)
        chosen = self._always | (opened & self._exact)
        if self._first_re is not None:
            first = 0
            masks = self._first_mask
            for ch in set(self._first_re.findall(text)):
                first |= masks[ch]
            chosen |= first & (~self._gated | opened)
        while chosen:  # in list order, as ever
            low = chosen & -chosen
            chosen ^= low
            kind, pattern, weight, _first = self._patterns[low.bit_length() - 1]
            for m in pattern.finditer(text):
                hits.append(Hit(kind, m.group(), weight, m.start(), m.end(), True))
        return hits
