"""Analyst-query benchmark: the common queries on 1,000,000 mentions vs their naive forms, same run.

    python bench/query.py [--rows 1000000] [--repeat 25] [--pg URL] [--skip-pg] [--skip-sqlite] [--keep]

Generates realistic mentions (``simulator.fakedata.mentions``: 4 brands over 180 days, Chinese
texts with their jieba tokens and analysis columns) once, streaming them into a temp
SQLite file (``executemany``, one transaction) and a temp PostgreSQL database
(``COPY``), both migrated to head (FTS5 table + triggers / GIN index). Then it times,
``--repeat`` times each with varying brands and words:

1. keyword search + brand + last 7 days (newest 50)  — naive: a ``text LIKE '%word%'`` scan
   (no index; also shown for information: the same LIKE using the brand/time b-tree index)
2. daily volume / negative trend of one brand over 90 days  — naive: one GROUP BY over the rows, no index
3. complaint-category breakdown of one brand for 30 days   — naive: the same SQL, no index
4. top 20 risky mentions of one brand today                 — naive: the same SQL, no index

and prints p50/p95 per query and database (warm: the same parameter sequence is run once
before it is timed), the naive p50, and the speed-up. Targets:
p95 ≤ 100 ms on PostgreSQL and ≤ 300 ms on SQLite; keyword search ≥ 20× the naive form.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402

from crawler.analytics import search_index
from crawler.analytics.query import MENTIONS, MentionFilter, select_mentions, to_record  # noqa: E402
from crawler.analytics.stats import _grouped_trend, distribution, volume_trend  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from simulator.fakedata.mentions import FakeBrand, FragmentTokens, mention_rows  # noqa: E402

BRANDS = [
    FakeBrand("鲜果时光", ("鲜榨橙汁", "芒果冰沙", "鲜果时光轻食杯")),
    FakeBrand("小鹿宝贝", ("小鹿宝贝奶粉", "小鹿宝贝纸尿裤")),
    FakeBrand("山野茶铺", ("山野柠檬茶", "山野奶茶")),
    FakeBrand("云朵烘焙", ("云朵吐司", "云朵蛋糕")),
]
BRAND_WEIGHTS = (40, 30, 15, 15)
KEYWORDS = ["发霉", "拉肚子", "过敏", "退款", "客服", "快递", "自动续费", "虚假宣传", "鲜榨橙汁", "12315"]
COLUMNS = [c.name for c in MENTIONS.columns if c.name not in ("id", "event_id")]
JSON_COLUMNS = {"reasons", "extra", "raw"}
DAYS = 180


def _naive_dt(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _tuple(row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in COLUMNS:
        v = row[name]
        if isinstance(v, datetime):
            v = _naive_dt(v)
            v = v.isoformat(sep=" ", timespec="microseconds") if sqlite else v
        elif name in JSON_COLUMNS and v is not None:
            v = json.dumps(v, ensure_ascii=False)
        out.append(v)
    return tuple(out)


def _batches(rows: int, now: datetime, size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    tokens = FragmentTokens()
    for row in mention_rows(
        BRANDS, rows, seed=11, days=DAYS, now=now, brand_weights=BRAND_WEIGHTS, tokens=tokens
    ):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(
    rows: int, now: datetime, sqlite_engine: Engine | None, pg_engine: Engine | None
) -> dict[str, float]:
    """Stream generated rows into both databases; return seconds spent per part."""
    spent = {"generate": 0.0, "sqlite": 0.0, "postgresql": 0.0}
    placeholders = ", ".join("?" for _ in COLUMNS)
    sq = sqlite_engine.raw_connection() if sqlite_engine else None
    pg = pg_engine.raw_connection() if pg_engine else None
    if pg is not None:
        pg.cursor().execute(f"DROP INDEX IF EXISTS {search_index.PG_INDEX}")
    t = time.perf_counter()
    for batch in _batches(rows, now):
        spent["generate"] += time.perf_counter() - t
        if sq is not None:
            t = time.perf_counter()
            sq.cursor().executemany(
                f"INSERT INTO mentions ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                [_tuple(r, True) for r in batch],
            )
            spent["sqlite"] += time.perf_counter() - t
        if pg is not None:
            t = time.perf_counter()
            cur = pg.cursor()
            with cur.copy(f"COPY mentions ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for r in batch:
                    copy.write_row(_tuple(r, False))
            spent["postgresql"] += time.perf_counter() - t
        t = time.perf_counter()
    if sq is not None:
        t = time.perf_counter()
        sq.commit()
        sq.cursor().execute("ANALYZE")
        sq.close()
        spent["sqlite"] += time.perf_counter() - t
    if pg is not None:
        t = time.perf_counter()
        cur = pg.cursor()
        cur.execute(f"CREATE INDEX {search_index.PG_INDEX} ON mentions USING gin (mentions_fts_tsv)")
        pg.commit()
        pg.driver_connection.autocommit = True  # type: ignore[union-attr]
        pg.cursor().execute("VACUUM ANALYZE mentions")
        pg.close()
        spent["postgresql"] += time.perf_counter() - t
    return spent


def _no_index_engine(url: str) -> Engine:
    """An engine whose queries cannot use indexes (SQLite ``NOT INDEXED``, PostgreSQL scan settings)."""
    if url.startswith("sqlite"):
        eng = create_engine(url)

        @event.listens_for(eng, "before_cursor_execute", retval=True)
        def _not_indexed(
            conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
        ) -> Any:
            return statement.replace("FROM mentions", "FROM mentions NOT INDEXED"), params

        return eng
    eng = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1) if "+psycopg" not in url else url
    )

    @event.listens_for(eng, "connect")
    def _no_scans(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            cur.execute(f"SET {setting} = off")
        cur.close()
        dbapi_conn.commit()  # SET is transactional: keep it past the pool's reset-on-return

    return eng


# --- the queries -------------------------------------------------------------------


def q_keyword(conn: Connection, rnd: random.Random, now: datetime, like: bool) -> int:
    word = rnd.choice(KEYWORDS)
    f = MentionFilter(
        brand=rnd.choice(BRANDS[:2]).name, since=now - timedelta(days=7), q=None if like else word
    )
    stmt = select_mentions(f, conn.dialect.name)
    if like:
        stmt = stmt.where(search_index.like_clause(word, MENTIONS.c.text))
    return len([to_record(r) for r in conn.execute(stmt.limit(50))])


def q_trend(conn: Connection, rnd: random.Random, now: datetime, like: bool) -> int:
    f = MentionFilter(brand=rnd.choice(BRANDS).name, since=now - timedelta(days=90), until=now)
    if like:  # the naive form: one GROUP BY over the rows (run without indexes)
        return len(_grouped_trend(conn, f, "day", "Asia/Shanghai", now))
    return len(volume_trend(conn, f, bucket="day", now=now))


def q_categories(conn: Connection, rnd: random.Random, now: datetime, like: bool) -> int:
    f = MentionFilter(brand=rnd.choice(BRANDS).name, since=now - timedelta(days=30), until=now)
    return len(distribution(conn, f, "category"))


def q_risky_today(conn: Connection, rnd: random.Random, now: datetime, like: bool) -> int:
    f = MentionFilter(
        brand=rnd.choice(BRANDS).name, since=now - timedelta(hours=now.hour, minutes=now.minute)
    )
    stmt = select_mentions(f, conn.dialect.name, order="risk").limit(20)
    return len(list(conn.execute(stmt)))


QUERIES: list[tuple[str, Callable[..., int]]] = [
    ("keyword + brand + 7 days", q_keyword),
    ("daily trend, 90 days", q_trend),
    ("category breakdown, 30 days", q_categories),
    ("top risky today", q_risky_today),
]


def _time(engine: Engine, fn: Callable[..., int], now: datetime, repeat: int, like: bool) -> list[float]:
    out = []
    with engine.connect() as conn:
        warm = random.Random(5)
        for _ in range(repeat):  # warm cache: every timed query (same parameters, same order) ran once before
            fn(conn, warm, now, like)
        rnd = random.Random(5)
        for _ in range(repeat):
            t = time.perf_counter()
            fn(conn, rnd, now, like)
            out.append((time.perf_counter() - t) * 1000)
    return out


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def run_queries(name: str, url: str, now: datetime, repeat: int, target_ms: float) -> bool:
    fast = open_database(url)
    naive = _no_index_engine(str(fast.url.render_as_string(hide_password=False)))
    ok = True
    print(
        f"\n{name}: query                         p50 ms   p95 ms   naive p50 ms   speed-up   target p95 ≤ {target_ms:.0f}"
    )
    for label, fn in QUERIES:
        times = _time(fast, fn, now, repeat, like=False)
        base = _time(naive, fn, now, max(3, repeat // 5), like=fn in (q_keyword, q_trend))
        # for information: LIKE with the ordinary b-tree indexes on brand and time
        indexed_like = _time(fast, fn, now, max(3, repeat // 5), like=True) if fn is q_keyword else None
        p50, p95, b50 = statistics.median(times), _p95(times), statistics.median(base)
        good = p95 <= target_ms and (fn is not q_keyword or b50 / p50 >= 20)
        ok &= good
        extra = (
            f"   (LIKE using the brand/time index: p50 {statistics.median(indexed_like):.1f} ms)"
            if indexed_like
            else ""
        )
        print(
            f"  {label:<30} {p50:8.1f} {p95:8.1f} {b50:14.1f} {b50 / p50:9.1f}×   {'OK' if good else 'MISS'}{extra}"
        )
    naive.dispose()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument(
        "--pg",
        default=os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the databases (prints where)")
    args = parser.parse_args()

    search_index.add_words([w for b in BRANDS for w in (b.name, *b.products)])
    now = datetime.now(UTC).replace(microsecond=0)
    tmp = None if args.skip_sqlite else tempfile.mkdtemp(prefix="yuqing-qbench-")
    sqlite_url = None if tmp is None else f"sqlite:///{Path(tmp) / 'bench.db'}"
    pg_url, admin = None, None
    if not args.skip_pg:
        import psycopg

        name = f"yuqing_bench_query_{uuid.uuid4().hex[:6]}"
        admin = psycopg.connect(args.pg.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        pg_url = args.pg.rsplit("/", 1)[0] + "/" + name
    try:
        t = time.perf_counter()
        spent = load(
            args.rows,
            now,
            open_database(sqlite_url) if sqlite_url else None,
            open_database(pg_url) if pg_url else None,
        )
        total = time.perf_counter() - t
        print(
            f"generated and loaded {args.rows:,} mentions in {total:.0f} s "
            f"(generate {spent['generate']:.0f} s, SQLite {spent['sqlite']:.0f} s, PostgreSQL {spent['postgresql']:.0f} s)"
        )
        ok = True
        if sqlite_url:
            ok &= run_queries("SQLite", sqlite_url, now, args.repeat, 300)
        if pg_url:
            ok &= run_queries("PostgreSQL", pg_url, now, args.repeat, 100)
        print("\nall targets met" if ok else "\nsome targets missed")
    finally:
        dispose_engines()
        if args.keep:
            print(f"kept: {sqlite_url} {pg_url}")
        else:
            if admin is not None and pg_url:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
            if tmp is not None:
                for f in Path(tmp).glob("*"):
                    f.unlink()
                os.rmdir(tmp)


if __name__ == "__main__":
    main()
