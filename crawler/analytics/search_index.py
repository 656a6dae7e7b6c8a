"""Full-text search over ``mentions.tokens`` (space-joined jieba tokens), one syntax on both databases.

SQLite uses an FTS5 external-content table ``mentions_fts`` kept in step by triggers;
PostgreSQL a GIN index on ``to_tsvector('simple', coalesce(tokens, ''))``. Both are
created by migration ``0002_fulltext`` as raw DDL and are not part of the SQLModel
metadata (:func:`crawler.storage.engine.include_object` keeps them out of autogenerate comparisons).

Query syntax (see docs/analysts.md): words are ANDed; ``a OR b``; ``-word`` excludes;
``"a phrase"`` matches adjacent words; ``word*`` is a prefix. Every word is
segmented with the same jieba dictionary as the index, so ``鲜果时光`` is one word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

import sentiment
from crawler.errors import YuqingError
from crawler.storage.models import MENTIONS
from sentiment.segment import add_terms, search_tokens, to_simplified

FTS_TABLE = "mentions_fts"
PG_INDEX = "mentions_fts_gin"
PG_VECTOR = "mentions.mentions_fts_tsv"  # stored to_tsvector('simple', coalesce(tokens, ''))
MAX_QUERY_CHARS = 200
MAX_TERMS = 12

_TOKEN_RE = re.compile(r'"([^"]*)"?|(\S+)')
_PREFIX_RE = re.compile(r"^\w{1,32}$")


class SearchSyntaxError(YuqingError):
    """A full-text query that cannot be understood (empty, too long, bad prefix)."""


# --- tokenising ---------------------------------------------------------------


def _default_tokenizer(text_: str) -> str:
    return str(search_tokens(text_))


_tokenizer: Callable[[str], str] = _default_tokenizer


def configure(cfg: Any) -> None:
    """Load the segmenter's dictionary as the pipeline does (``sentiment.configure``: brands, slang).

    Queries must be cut exactly like the stored ``tokens``. If the analyser cannot load
    (a broken model file), the brand terms are still added so brand names stay whole.
    """
    add_words([w for brand in cfg.brands for w in (*brand.all_names, *brand.products)])
    try:
        sentiment.configure(cfg)
    except (ValueError, OSError) as exc:
        logger.warning("sentiment.configure failed ({exc}); searching with brand terms only", exc=exc)


def add_words(words: list[str]) -> None:
    """Keep ``words`` whole when segmenting (brand and product names)."""
    add_terms(words)


def set_tokenizer(fn: Callable[[str], str] | None) -> None:
    """Replace the segmenter used for queries (tests, benchmarks); ``None`` restores the default."""
    global _tokenizer
    _tokenizer = fn or _default_tokenizer


def tokenize(text_: str) -> str:
    """Space-joined search tokens of ``text_``: the same segmentation as ``mentions.tokens``."""
    return _tokenizer(text_)


def _words(text_: str) -> list[str]:
    """Search tokens of ``text_`` that hold a letter or digit (punctuation never matches)."""
    return [w for w in _tokenizer(text_).split() if any(ch.isalnum() for ch in w)]


# --- parsing ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """``words`` all present (``phrase``: adjacent, in order), or ``prefix`` as a word start."""

    words: tuple[str, ...] = ()
    phrase: bool = False
    prefix: str | None = None


@dataclass(slots=True)
class SearchQuery:
    """``required`` groups (each: any of its terms) and ``excluded`` terms."""

    required: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    def terms(self) -> list[Term]:
        return [t for group in self.required for t in group] + self.excluded


def _term(raw: str, quoted: bool) -> Term | None:
    if not quoted and raw.endswith("*"):
        stem = to_simplified(raw.rstrip("*"))  # the stored tokens are simplified
        if not _PREFIX_RE.match(stem):
            raise SearchSyntaxError(f"前缀查询只能由文字或数字组成: {raw!r}")
        return Term(prefix=stem)
    words = tuple(_words(raw))
    if not words:
        return None
    return Term(words=words, phrase=quoted and len(words) > 1)


def parse(query: str) -> SearchQuery:
    """Parse the search syntax; raise :class:`SearchSyntaxError` when nothing searchable is left."""
    q = query.strip()
    if not q:
        raise SearchSyntaxError("搜索词为空")
    if len(q) > MAX_QUERY_CHARS:
        raise SearchSyntaxError(f"搜索词过长 (最多 {MAX_QUERY_CHARS} 字)")
    out = SearchQuery()
    join_next = False
    for m in _TOKEN_RE.finditer(q):
        quoted = m.group(1) is not None
        raw = m.group(1) if quoted else m.group(2)
        if not quoted and raw == "OR":
            join_next = bool(out.required)
            continue
        negate = not quoted and raw.startswith("-") and len(raw) > 1
        term = _term(raw[1:] if negate else raw, quoted)
        if term is None:
            join_next = False
            continue
        if negate:
            out.excluded.append(term)
        elif join_next:
            out.required[-1].append(term)
        else:
            out.required.append([term])
        join_next = False
    if not out.required and not out.excluded:
        raise SearchSyntaxError(f"搜索词中没有可搜索的词: {query!r}")
    if len(out.terms()) > MAX_TERMS:
        raise SearchSyntaxError(f"搜索词过多 (最多 {MAX_TERMS} 个)")
    return out


# --- compiling ----------------------------------------------------------------


def _fts5_quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _fts5_term(t: Term) -> str:
    if t.prefix is not None:
        return _fts5_quote(t.prefix) + " *"
    if t.phrase:
        return _fts5_quote(" ".join(t.words))
    return "(" + " AND ".join(_fts5_quote(w) for w in t.words) + ")"


def fts5_expression(group_terms: list[list[Term]]) -> str:
    """An FTS5 MATCH string: groups ANDed, terms within a group ORed, every word quoted."""
    return " AND ".join("(" + " OR ".join(_fts5_term(t) for t in group) + ")" for group in group_terms)


_FTS = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))


def _sqlite_in(expr: str, n: int, bounds: list[ColumnElement[bool]] | None = None) -> ColumnElement[bool]:

    ids = MENTIONS.c.id
    rowid = _FTS.c.rowid
    sub = select(rowid).where(_FTS.c[FTS_TABLE].op("MATCH")(bindparam(f"fts_{n}", expr)))
    if bounds:
        # The id range of the rows the other conditions allow, pushed into FTS5 (it seeks
        # its doclists by rowid): exact, and it turns "all posts with 退款" into "this week's".
        # ``id + 0`` keeps SQLite from answering min/max by walking the whole rowid order.
        lo = select(func.min(ids + 0)).where(*bounds).correlate(None).scalar_subquery()
        hi = select(func.max(ids + 0)).where(*bounds).correlate(None).scalar_subquery()
        sub = sub.where(rowid >= lo, rowid <= hi)
    return ids.in_(sub)


def _sqlite_clause(q: SearchQuery, bounds: list[ColumnElement[bool]] | None) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if q.required:
        parts.append(_sqlite_in(fts5_expression(q.required), 0, bounds))
    for i, term in enumerate(q.excluded, start=1):
        parts.append(not_(_sqlite_in(fts5_expression([[term]]), i, bounds)))
    return and_(*parts)


def _pg_tsquery(t: Term) -> Any:
    if t.prefix is not None:
        return func.to_tsquery(literal_column("'simple'"), "'" + t.prefix + "':*")
    if t.phrase:
        return func.phraseto_tsquery(literal_column("'simple'"), " ".join(t.words))
    return func.plainto_tsquery(literal_column("'simple'"), " ".join(t.words))


def _pg_match(terms: list[Term]) -> ColumnElement[bool]:
    vector: ColumnClause[Any] = literal_column(PG_VECTOR)
    query = _pg_tsquery(terms[0])
    for t in terms[1:]:
        query = query.op("||")(_pg_tsquery(t))
    return vector.op("@@")(query)


def _pg_clause(q: SearchQuery) -> ColumnElement[bool]:
    parts = [_pg_match(group) for group in q.required]
    parts += [not_(_pg_match([t])) for t in q.excluded]
    return and_(*parts)


def search_clause(
    query: str | SearchQuery, dialect: str, bounds: list[ColumnElement[bool]] | None = None
) -> ColumnElement[bool]:
    """A WHERE clause on ``mentions`` for the full-text ``query`` on ``dialect``.

    ``bounds``: indexed conditions the statement also applies (brand, time range); SQLite
    uses them to limit the full-text scan to the id range those rows occupy.
    """
    q = parse(query) if isinstance(query, str) else query
    if dialect == "sqlite":
        return _sqlite_clause(q, bounds)
    if dialect == "postgresql":
        return _pg_clause(q)
    raise SearchSyntaxError(f"full-text search is not available on {dialect!r}")


def like_clause(query: str | SearchQuery, column: Any) -> ColumnElement[bool]:
    """The naive equivalent (``LIKE '%word%'`` on the raw text), for benchmarks and comparison."""
    q = parse(query) if isinstance(query, str) else query

    def term(t: Term) -> ColumnElement[bool]:
        words = [t.prefix] if t.prefix is not None else ([" ".join(t.words)] if t.phrase else list(t.words))
        return and_(*[column.like(f"%{w.replace(' ', '')}%") for w in words if w])

    parts = [or_(*[term(t) for t in group]) for group in q.required]
    parts += [not_(term(t)) for t in q.excluded]
    return and_(*parts)


# --- maintenance ----------------------------------------------------------------


def rebuild(conn: Connection) -> None:
    """Re-index every mention (after bulk loads that bypassed the triggers)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"REINDEX INDEX {PG_INDEX}")


def integrity_ok(conn: Connection) -> bool:
    """SQLite: FTS5's own integrity check against the mentions table; PostgreSQL: always true."""
    if conn.dialect.name != "sqlite":
        return True

    try:
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
    except DatabaseError:
        return False
    return True
