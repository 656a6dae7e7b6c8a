"""Storage benchmark: mentions/s of the batched upsert vs a plain executemany insert.

    python bench/storage.py [--rows 100000] [--batch 500] [--pg URL] [--skip-pg]

For SQLite (a temp file) and PostgreSQL (a temp database on the server given by
--pg or YUQING_TEST_PG), in one run: the baseline inserts the rows with a plain
``executemany`` INSERT into an empty table; the upsert path writes the same rows
into another empty database with ``upsert_mentions`` (all new), then upserts them
again with 10% changed engagement (the re-crawl case). Target: the upsert path at
≥ 50% of the baseline's rate on both databases.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.mentions import MENTIONS, upsert_mentions  # noqa: E402

PHRASES = [
    "鲜果时光的芒果冰沙今天喝到了，味道很正",
    "小鹿宝贝奶粉罐子里发现异物，客服一直不回复",
    "外卖送到已经洒了一半，申请退款被拒",
    "活动说满减结果结算时不给用，虚假宣传吧",
    "孩子喝了以后拉肚子，已经打了12315",
    "包装很好看，物流也快，推荐",
    "这次的新品一般般，价格有点贵",
    "说好的七天无理由退货，现在踢皮球",
]


def make_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    t0 = datetime.now(UTC) - timedelta(days=7)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 4)))
        platform = ("weibo", "xiaohongshu", "douyin", "heimao")[i % 4]
        rows.append(
            {
                "platform": platform,
                "post_id": f"{i:012d}",
                "kind": "post",
                "brand": rng.choice(["鲜果时光", "小鹿宝贝"]),
                "keyword": "鲜果时光",
                "url": f"https://m.weibo.cn/detail/{i}",
                "title": None,
                "text": text,
                "author_id": str(rng.randint(1, 50_000)),
                "author_name": f"用户{rng.randint(1, 50_000)}",
                "author_followers": rng.randint(0, 200_000),
                "author_verified": rng.random() < 0.05,
                "published_at": t0 + timedelta(seconds=rng.randint(0, 7 * 86400)),
                "fetched_at": now,
                "first_seen_at": now,
                "updated_at": now,
                "likes": rng.randint(0, 5000),
                "comments": rng.randint(0, 500),
                "shares": rng.randint(0, 300),
                "collects": 0,
                "ip_region": rng.choice(["北京", "上海", "广东", "浙江", None]),
                "raw": {"id": i, "text": text, "user": {"followers_count": "1.2万"}},
                "sentiment": rng.random(),
                "is_complaint": rng.random() < 0.4,
                "risk": rng.randint(0, 100),
                "reasons": ["提及12315"] if rng.random() < 0.1 else [],
            }
        )
    return rows


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def baseline_insert(url: str, rows: list[dict[str, Any]], batch: int) -> None:
    engine = open_database(url)
    for start in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(insert(MENTIONS), rows[start : start + batch])


def run_backend(
    name: str, make_url: Callable[[str], str], rows: list[dict[str, Any]], batch: int
) -> dict[str, float]:
    base_url, up_url = make_url("baseline"), make_url("upsert")
    open_database(base_url)
    open_database(up_url)
    n = len(rows)
    t_base = timed(lambda: baseline_insert(base_url, [dict(r) for r in rows], batch))
    engine = open_database(up_url)
    t_up = timed(lambda: upsert_mentions(engine, [dict(r) for r in rows], batch_size=batch))
    rng = random.Random(2)
    again = [dict(r) for r in rows]
    for r in again:
        if rng.random() < 0.1:
            r["likes"] += 1
    res_holder: list[Any] = []
    t_re = timed(lambda: res_holder.append(upsert_mentions(engine, again, batch_size=batch)))
    res = res_holder[0]
    assert res.new == 0 and res.updated + res.unchanged == n, res
    out = {"baseline": n / t_base, "upsert_new": n / t_up, "upsert_recrawl": n / t_re}
    print(
        f"{name:10s} baseline executemany {out['baseline']:9,.0f}/s | "
        f"upsert (all new) {out['upsert_new']:9,.0f}/s = {out['upsert_new'] / out['baseline']:5.0%} | "
        f"re-crawl upsert ({res.updated:,} updated) {out['upsert_recrawl']:9,.0f}/s = "
        f"{out['upsert_recrawl'] / out['baseline']:5.0%}  [target ≥ 50%: "
        f"{'met' if out['upsert_new'] / out['baseline'] >= 0.5 else 'NOT met'}]"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--pg",
        default=os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    print(f"{args.rows:,} mentions, batches of {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        run_backend("sqlite", lambda tag: f"sqlite:///{Path(tmp) / f'{tag}.db'}", rows, args.batch)
    if args.skip_pg:
        return
    import psycopg

    admin = psycopg.connect(args.pg.replace("+psycopg", ""), autocommit=True)
    names: list[str] = []
    base = args.pg.rsplit("/", 1)[0]

    def pg_url(tag: str) -> str:
        name = f"yuqing_bench_{tag}_{uuid.uuid4().hex[:6]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"{base}/{name}"

    try:
        run_backend("postgresql", pg_url, rows, args.batch)
    finally:
        dispose_engines()
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
