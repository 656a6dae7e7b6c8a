"""The mention store on SQLite and PostgreSQL: upsert never duplicates, reports new/updated/unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from crawler.items import MentionItem
from crawler.storage.engine import current_revision, head_revision, upgrade
from crawler.storage.mentions import (
    finish_run,
    get_watermark,
    set_watermark,
    start_run,
    upsert_mentions,
)
from crawler.storage.models import CrawlRun, Mention

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def item(n: int, **kw: object) -> dict[str, object]:
    base = MentionItem(
        platform="weibo",
        post_id=f"49{n:08d}",
        brand="鲜果时光",
        text=f"第{n}条 鲜果时光 好喝",
        published_at=T0 + timedelta(minutes=n),
        likes=n,
        raw={"id": n},
    )
    row = base.to_row()
    row.update(kw)
    return row


def count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Mention.__table__)).scalar_one())


def test_schema_at_head(engine) -> None:  # type: ignore[no-untyped-def]
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()


def test_upsert_new_updated_unchanged(engine) -> None:  # type: ignore[no-untyped-def]
    first = upsert_mentions(engine, [item(i) for i in range(10)], batch_size=4)
    assert (first.new, first.updated, first.unchanged) == (10, 0, 0)
    assert len({r[0] for r in first.rows}) == 10
    rows = [item(i) for i in range(12)]
    rows[3]["likes"] = 999
    rows[5]["extra"] = {"status": "已回复"}
    second = upsert_mentions(engine, rows, batch_size=5)
    assert (second.new, second.updated, second.unchanged) == (2, 2, 8)
    assert count(engine) == 12
    with engine.connect() as conn:
        likes = conn.execute(
            select(Mention.__table__.c.likes).where(Mention.__table__.c.post_id == "4900000003")
        )
        assert likes.scalar_one() == 999
    ids_first = {r[2]: r[0] for r in first.rows}
    ids_second = {r[2]: r[0] for r in second.rows}
    assert all(ids_second[k] == v for k, v in ids_first.items())


def test_duplicates_within_one_batch(engine) -> None:  # type: ignore[no-untyped-def]
    rows = [item(1), item(1, likes=50), item(2)]
    res = upsert_mentions(engine, rows)
    assert count(engine) == 2
    assert res.new == 2 and res.unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(text("select likes from mentions where post_id='4900000001'")).scalar_one() == 50


def test_same_post_id_on_two_platforms_are_two_mentions(engine) -> None:  # type: ignore[no-untyped-def]
    upsert_mentions(engine, [item(1), item(1, platform="douyin")])
    assert count(engine) == 2


def test_first_seen_is_kept_and_times_are_utc(engine) -> None:  # type: ignore[no-untyped-def]
    upsert_mentions(engine, [item(1)], now=T0)
    upsert_mentions(engine, [item(1, likes=7)], now=T0 + timedelta(hours=1))
    with engine.connect() as conn:
        rec = (
            conn.execute(select(Mention.__table__).where(Mention.__table__.c.post_id == "4900000001"))
            .mappings()
            .one()
        )
    assert rec["first_seen_at"] == T0
    assert rec["updated_at"] == T0 + timedelta(hours=1)
    assert rec["published_at"].tzinfo is not None and rec["published_at"] == T0 + timedelta(minutes=1)
    assert rec["raw"] == {"id": 1}


def test_raw_payload_kept_as_compact_text_reads_back_as_json(engine) -> None:  # type: ignore[no-untyped-def]
    from crawler.storage.types import JSONText

    payload = {"text": "鲜果时光<b>变质</b>", "pics": [{"url": "//x"}], "n": 1.5, "ok": True, "none": None}
    compact = JSONText.of(payload)
    assert isinstance(compact, JSONText) and "鲜果时光" in compact and JSONText.of(compact) is compact
    assert JSONText.of(None) is None
    upsert_mentions(engine, [item(1, raw=compact), item(2, raw={"plain": "字典"})])
    with engine.connect() as conn:
        raws = dict(conn.execute(select(Mention.__table__.c.post_id, Mention.__table__.c.raw)).all())
        # stored as UTF-8 JSON, not as a JSON string holding JSON, and queryable as JSON
        stored = conn.execute(text("select raw from mentions where post_id='4900000001'")).scalar_one()
    assert raws == {"4900000001": payload, "4900000002": {"plain": "字典"}}
    assert (stored if isinstance(stored, dict) else json.loads(stored)) == payload


def test_naive_datetime_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="naive datetime"):
        upsert_mentions(engine, [item(1, published_at=datetime(2026, 1, 1))])
    assert count(engine) == 0


def test_unknown_field_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown mention fields"):
        upsert_mentions(engine, [item(1, colour="red")])


def test_concurrent_writer_race_becomes_update(engine) -> None:  # type: ignore[no-untyped-def]
    """A row inserted by another worker between our select and insert is not duplicated."""
    from crawler.storage import mentions as m

    real_existing = m._existing
    calls = {"n": 0}

    def racing_existing(conn, keys, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            found = real_existing(conn, keys, **kw)
            # the other worker commits post 1 now
            conn.execute(m.MENTIONS.insert(), [m._clean(item(1, likes=3), T0)])
            return found
        return real_existing(conn, keys, **kw)

    m._existing = racing_existing
    try:
        res = upsert_mentions(engine, [item(1, likes=4), item(2)])
    finally:
        m._existing = real_existing
    assert count(engine) == 2
    assert res.new == 1 and res.updated == 1


def test_crawl_run_and_watermark(engine) -> None:  # type: ignore[no-untyped-def]
    run_id = start_run(engine, spider="weibo", platform="weibo", brand="鲜果时光", keyword="鲜果时光")
    finish_run(
        engine,
        run_id,
        status="failed",
        error_kind="auth_expired",
        error_message="login:false",
        new_count=3,
        pages=2,
    )
    with engine.connect() as conn:
        run = (
            conn.execute(select(CrawlRun.__table__).where(CrawlRun.__table__.c.id == run_id)).mappings().one()
        )
    assert (
        run["status"] == "failed" and run["error_kind"] == "auth_expired" and run["finished_at"] is not None
    )
    assert get_watermark(engine, "weibo", "鲜果时光", "鲜果时光") is None
    set_watermark(engine, "weibo", "鲜果时光", "鲜果时光", newest_published_at=T0, newest_post_id="1")
    set_watermark(engine, "weibo", "鲜果时光", "鲜果时光", newest_published_at=T0 - timedelta(days=1))
    wm = get_watermark(engine, "weibo", "鲜果时光", "鲜果时光")
    assert wm is not None and wm["newest_published_at"] == T0 and wm["newest_post_id"] == "1"


def test_migrations_match_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations create exactly what the models define."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    from crawler.storage.engine import include_object, make_engine

    with make_engine(db_url).connect() as conn:
        # the full-text objects (raw DDL of migration 0002) are not in the metadata
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []
