"""Writing mentions: the batched upsert, crawl-run records and incremental watermarks.

``upsert_mentions`` inserts new mentions, updates those whose engagement, text or
platform status changed, and leaves the rest untouched, reporting each outcome.
It is keyed by ``(platform, post_id)`` and safe against a concurrent writer
(another worker inserting the same post): the loser's insert becomes an update.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from crawler.clock import utcnow
from crawler.storage.models import CRAWL_PENDING as PENDING
from crawler.storage.models import CRAWL_RUNS as RUNS
from crawler.storage.models import MENTIONS, WATERMARKS

# A change in any of these makes an existing mention "updated".
TRACKED_FIELDS: tuple[str, ...] = (
    "likes",
    "comments",
    "shares",
    "collects",
    "author_followers",
    "author_verified",
    "text",
    "title",
    "ip_region",
    "extra",
    "author_name",
    "url",
    "published_at",
)
# Never overwritten by a re-crawl.
_FROZEN = frozenset({"id", "platform", "post_id", "first_seen_at", "event_id"})
_COLUMNS = frozenset(c.name for c in MENTIONS.columns)

NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"


@dataclass(slots=True)
class UpsertResult:
    """Counts per outcome, and ``(id, platform, post_id, outcome)`` for every input row."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, other: UpsertResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rows.extend(other.rows)

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


def _clean(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    unknown = set(row) - _COLUMNS
    if unknown:
        raise ValueError(f"unknown mention fields: {sorted(unknown)}")
    if not row.get("platform") or not row.get("post_id"):
        raise ValueError("a mention needs platform and post_id")
    out = {c: row[c] for c in row if c != "id"}
    out["post_id"] = str(out["post_id"])
    out.setdefault("fetched_at", now)
    out["updated_at"] = now
    return out


def _changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return any(f in new and new[f] != old.get(f) for f in TRACKED_FIELDS)


def _insert_stmt(conn: Connection) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(MENTIONS).on_conflict_do_nothing(index_elements=["platform", "post_id"])
    if name == "sqlite":
        return sqlite.insert(MENTIONS).on_conflict_do_nothing(index_elements=["platform", "post_id"])
    return insert(MENTIONS)


def _existing(
    conn: Connection, keys: Iterable[tuple[str, str]], fields: Sequence[str] = TRACKED_FIELDS
) -> dict[tuple[str, str], dict[str, Any]]:
    """Current values of ``fields`` for the mentions among ``keys`` that exist."""
    keys = list(keys)
    if not keys:
        return {}
    cols = [MENTIONS.c.id, MENTIONS.c.platform, MENTIONS.c.post_id, *(MENTIONS.c[f] for f in fields)]
    if conn.dialect.name == "postgresql":
        # One statement with two array parameters instead of hundreds of IN placeholders.
        pairs = select(
            func.unnest(bindparam("ps", [k[0] for k in keys], type_=ARRAY(String))).label("p"),
            func.unnest(bindparam("ids", [k[1] for k in keys], type_=ARRAY(String))).label("i"),
        ).subquery()
        stmts = [
            select(*cols).join(pairs, (MENTIONS.c.platform == pairs.c.p) & (MENTIONS.c.post_id == pairs.c.i))
        ]
    else:
        by_platform: dict[str, list[str]] = {}
        for platform, post_id in keys:
            by_platform.setdefault(platform, []).append(post_id)
        stmts = [
            select(*cols).where(MENTIONS.c.platform == platform, MENTIONS.c.post_id.in_(ids))
            for platform, ids in by_platform.items()
        ]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for stmt in stmts:
        for rec in conn.execute(stmt).mappings():
            found[(rec["platform"], rec["post_id"])] = dict(rec)
    return found


def _upsert_batch(conn: Connection, batch: list[dict[str, Any]], now: datetime) -> UpsertResult:
    result = UpsertResult()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    duplicates_in_batch = 0
    for row in batch:
        key = (row["platform"], row["post_id"])
        if key in latest:
            duplicates_in_batch += 1
        latest[key] = row
    existing = _existing(conn, latest)
    to_insert = [r for k, r in latest.items() if k not in existing]
    outcome: dict[tuple[str, str], tuple[int, str]] = {}
    if to_insert:
        # Group by column set so executemany gets uniform parameter sets. No RETURNING: a
        # plain executemany is several times faster on PostgreSQL; ids are read back below.
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for r in to_insert:
            r["first_seen_at"] = now
            groups.setdefault(frozenset(r), []).append(r)
        for rows in groups.values():
            conn.execute(_insert_stmt(conn), rows)
        keys = [(r["platform"], r["post_id"]) for r in to_insert]
        for key, rec in _existing(conn, keys, fields=("first_seen_at",)).items():
            if rec["first_seen_at"] == now:
                outcome[key] = (rec["id"], NEW)
        raced = [k for k in keys if k not in outcome]
        if raced:  # inserted by a concurrent writer between our select and insert
            existing.update(_existing(conn, raced))
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    for key, row in latest.items():
        if key in outcome:
            continue
        old = existing[key]
        if _changed(old, row):
            values = {k: v for k, v in row.items() if k not in _FROZEN}
            values["_id"] = old["id"]
            updates.setdefault(frozenset(values), []).append(values)
            outcome[key] = (old["id"], UPDATED)
        else:
            outcome[key] = (old["id"], UNCHANGED)
    for cols, rows in updates.items():
        stmt = (
            update(MENTIONS)
            .where(MENTIONS.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in cols if c != "_id"})
        )
        conn.execute(stmt, rows)
    for key, (mid, status) in outcome.items():
        result.rows.append((mid, key[0], key[1], status))
        setattr(result, status, getattr(result, status) + 1)
    result.unchanged += duplicates_in_batch
    return result


_since_analyze: dict[str, int] = {}


def _maybe_analyze(conn: Connection, inserted: int) -> None:
    """Refresh PostgreSQL's statistics during bulk growth.

    A table that grew from empty keeps its "tiny table" statistics until autovacuum
    runs, and the planner then scans by platform alone instead of using the unique
    (platform, post_id) index, making each lookup O(table). Analyzing once the table
    has doubled keeps the lookups indexed.
    """
    if conn.dialect.name != "postgresql" or inserted == 0:
        return
    key = str(conn.engine.url)
    _since_analyze[key] = _since_analyze.get(key, 0) + inserted
    estimate = (
        conn.execute(
            select(func.greatest(func.max(text("reltuples")), 0))
            .select_from(text("pg_class"))
            .where(text("relname = 'mentions'"))
        ).scalar()
        or 0
    )
    if _since_analyze[key] >= max(2_000, float(estimate)):
        conn.execute(text("ANALYZE mentions"))
        _since_analyze[key] = 0


def upsert_mentions(
    bind: Engine | Connection,
    rows: Sequence[dict[str, Any]],
    *,
    batch_size: int = 500,
    now: datetime | None = None,
) -> UpsertResult:
    """Insert or update ``rows`` (column dicts) in batches; each batch is one transaction."""
    now = now or utcnow()
    cleaned = [_clean(r, now) for r in rows]
    total = UpsertResult()
    for start in range(0, len(cleaned), batch_size):
        batch = cleaned[start : start + batch_size]
        if isinstance(bind, Connection):
            result = _upsert_batch(bind, batch, now)
            _maybe_analyze(bind, result.new)
        else:
            with bind.begin() as conn:
                result = _upsert_batch(conn, batch, now)
                _maybe_analyze(conn, result.new)
        total.add(result)
    return total


# --- crawl runs -------------------------------------------------------------


def brand_crawl_runs() -> ColumnElement[bool]:
    """The ``crawl_runs`` rows of brand crawls (a spider, named after its platform).

    The light jobs share the table (``hotlist``, and ``tracking`` with the tracked post's brand):
    per-brand judgements (health's zero results, the last run's status, a crawl job's outcome,
    leftover pending work) must read only the crawls, or a tracking poll with no new reposts
    reads as a crawl that found nothing.
    """
    return RUNS.c.spider == RUNS.c.platform


def start_run(
    engine: Engine, *, spider: str, platform: str, brand: str | None, keyword: str | None = None
) -> int:
    """Open a ``crawl_runs`` record (status ``running``) and return its id."""
    with engine.begin() as conn:
        rec = conn.execute(
            insert(RUNS).returning(RUNS.c.id),
            {
                "spider": spider,
                "platform": platform,
                "brand": brand,
                "keyword": keyword,
                "started_at": utcnow(),
                "status": "running",
                "host": socket.gethostname()[:128],
                "pid": os.getpid(),
            },
        ).one()
    return int(rec.id)


def finish_run(engine: Engine, run_id: int, *, status: str, **fields: Any) -> None:
    """Close a crawl run with its status, counts and error kind/message."""
    allowed = {c.name for c in RUNS.columns} - {"id", "started_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown crawl_runs fields: {sorted(unknown)}")
    values = {"status": status, "finished_at": utcnow(), **fields}
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(values))


# --- watermarks -------------------------------------------------------------


def get_watermark(
    bind: Engine | Connection, platform: str, brand: str, keyword: str
) -> dict[str, Any] | None:
    stmt = select(WATERMARKS).where(
        WATERMARKS.c.platform == platform, WATERMARKS.c.brand == brand, WATERMARKS.c.keyword == keyword
    )
    if isinstance(bind, Connection):
        rec = bind.execute(stmt).mappings().first()
    else:
        with bind.connect() as conn:
            rec = conn.execute(stmt).mappings().first()
    return dict(rec) if rec else None


def set_watermark(
    engine: Engine,
    platform: str,
    brand: str,
    keyword: str,
    *,
    newest_published_at: datetime | None,
    newest_post_id: str | None = None,
) -> None:
    """Move the watermark forward (never backwards) and stamp the run time."""
    now = utcnow()
    with engine.begin() as conn:
        current = get_watermark(conn, platform, brand, keyword)
        if current is None:
            conn.execute(
                insert(WATERMARKS),
                {
                    "platform": platform,
                    "brand": brand,
                    "keyword": keyword,
                    "newest_published_at": newest_published_at,
                    "newest_post_id": newest_post_id,
                    "last_run_at": now,
                    "updated_at": now,
                },
            )
            return
        values: dict[str, Any] = {"last_run_at": now, "updated_at": now}
        old = current["newest_published_at"]
        if newest_published_at is not None and (old is None or newest_published_at > old):
            values.update(newest_published_at=newest_published_at, newest_post_id=newest_post_id)
        conn.execute(update(WATERMARKS).where(WATERMARKS.c.id == current["id"]).values(values))


def heartbeat_run(engine: Engine, run_id: int) -> None:
    """Stamp a running crawl as alive (see :func:`crawler.service.crawl_job.mark_stale_runs`)."""
    with engine.begin() as conn:
        conn.execute(
            update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "running").values(heartbeat_at=utcnow())
        )


# --- pending work (comments, details) -----------------------------------------

Task = tuple[str, str]  # (kind, post_id)


def record_pending(conn: Connection, platform: str, brand: str, tasks: Iterable[Task]) -> int:
    """Make sure each task has a ``crawl_pending`` row (existing rows keep their attempts)."""
    now = utcnow()
    rows = [
        {
            "platform": platform,
            "brand": brand[:64],
            "kind": kind,
            "post_id": str(post_id)[:64],
            "keyword": None,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for kind, post_id in dict.fromkeys(tasks)
    ]
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(PENDING).on_conflict_do_nothing(
        index_elements=["platform", "brand", "kind", "post_id"]
    )
    for start in range(0, len(rows), 500):
        conn.execute(stmt, rows[start : start + 500])
    return len(rows)


def load_pending(
    bind: Engine | Connection, platform: str, brand: str, kinds: Sequence[str]
) -> dict[str, set[str]]:
    """The open tasks of (platform, brand), by kind."""
    out: dict[str, set[str]] = {k: set() for k in kinds}
    stmt = select(PENDING.c.kind, PENDING.c.post_id).where(
        PENDING.c.platform == platform, PENDING.c.brand == brand
    )
    if isinstance(bind, Connection):
        rows = bind.execute(stmt).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(stmt).all()
    for kind, post_id in rows:
        if kind in out:
            out[kind].add(post_id)
    return out


def settle_pending(
    engine: Engine,
    platform: str,
    brand: str,
    *,
    done: Iterable[Task],
    still_open: Iterable[Task],
    count_attempt: bool,
    max_attempts: int = 5,
) -> list[Task]:
    """End of a crawl: delete the tasks it finished; record the ones left open, and with
    ``count_attempt`` (the crawl ran to its end) count one more attempt for them. Tasks that
    reach ``max_attempts`` are given up and returned (the caller logs them)."""
    done = list(dict.fromkeys(done))
    still = list(dict.fromkeys(still_open))
    given_up: list[Task] = []
    with engine.begin() as conn:
        key = (PENDING.c.platform == platform) & (PENDING.c.brand == brand[:64])
        for kind in {k for k, _ in done}:
            ids = [p for k, p in done if k == kind]
            for start in range(0, len(ids), 500):
                conn.execute(
                    PENDING.delete().where(
                        key, PENDING.c.kind == kind, PENDING.c.post_id.in_(ids[start : start + 500])
                    )
                )
        record_pending(conn, platform, brand, still)
        if not count_attempt or not still:
            return given_up
        now = utcnow()
        for kind in {k for k, _ in still}:
            ids = [p for k, p in still if k == kind]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                where = (key, PENDING.c.kind == kind, PENDING.c.post_id.in_(chunk))
                conn.execute(
                    update(PENDING).where(*where).values(attempts=PENDING.c.attempts + 1, updated_at=now)
                )
                gone = conn.execute(
                    select(PENDING.c.post_id).where(*where, PENDING.c.attempts >= max_attempts)
                ).all()
                if gone:
                    given_up += [(kind, r[0]) for r in gone]
                    conn.execute(PENDING.delete().where(*where, PENDING.c.attempts >= max_attempts))
    return given_up
