"""full-text search on mentions.tokens and the analytics index (hand-written, dialect-specific DDL)

SQLite: an FTS5 external-content table ``mentions_fts`` over ``mentions.tokens`` with
triggers that keep it in step. PostgreSQL: a stored generated column
``mentions_fts_tsv = to_tsvector('simple', coalesce(tokens, ''))`` with a GIN index (a
stored vector makes re-checks cheap). Both: ``mentions_stats_brand_time``, a covering
index for the trend and breakdown queries (brand, published_at, sentiment,
is_complaint, category). None of these is in the SQLModel metadata;
``crawler.storage.engine.include_object`` keeps autogenerate away from them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COVER = (
    "CREATE INDEX IF NOT EXISTS mentions_stats_brand_time ON mentions "
    "(brand, published_at, sentiment, is_complaint, category)"
)
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS mentions_fts USING fts5("
    "tokens, content='mentions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS mentions_fts_ai AFTER INSERT ON mentions BEGIN "
    "INSERT INTO mentions_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER IF NOT EXISTS mentions_fts_ad AFTER DELETE ON mentions BEGIN "
    "INSERT INTO mentions_fts(mentions_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    "CREATE TRIGGER IF NOT EXISTS mentions_fts_au AFTER UPDATE OF tokens ON mentions BEGIN "
    "INSERT INTO mentions_fts(mentions_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
    "INSERT INTO mentions_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "INSERT INTO mentions_fts(mentions_fts) VALUES ('rebuild')",
    _COVER,
]
_SQLITE_DOWN = [
    "DROP INDEX IF EXISTS mentions_stats_brand_time",
    "DROP TRIGGER IF EXISTS mentions_fts_au",
    "DROP TRIGGER IF EXISTS mentions_fts_ad",
    "DROP TRIGGER IF EXISTS mentions_fts_ai",
    "DROP TABLE IF EXISTS mentions_fts",
]
_PG_UP = [
    "ALTER TABLE mentions ADD COLUMN IF NOT EXISTS mentions_fts_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', coalesce(tokens, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS mentions_fts_gin ON mentions USING gin (mentions_fts_tsv)",
    _COVER,
]
_PG_DOWN = [
    "DROP INDEX IF EXISTS mentions_stats_brand_time",
    "DROP INDEX IF EXISTS mentions_fts_gin",
    "ALTER TABLE mentions DROP COLUMN IF EXISTS mentions_fts_tsv",
]


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sql)


def upgrade() -> None:
    name = op.get_bind().dialect.name
    if name == "sqlite":
        _run(_SQLITE_UP)
    elif name == "postgresql":
        _run(_PG_UP)


def downgrade() -> None:
    name = op.get_bind().dialect.name
    if name == "sqlite":
        _run(_SQLITE_DOWN)
    elif name == "postgresql":
        _run(_PG_DOWN)
