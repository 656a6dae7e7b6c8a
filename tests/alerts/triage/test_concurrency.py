"""Two workers triaging the same story at the same time: one event, one first alert, one record for the story
(every repost linked to it exactly once)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from alerts.triage.run import triage
from crawler.storage.mentions import upsert_mentions
from crawler.storage.models import Alert, Complaint, ComplaintMention, Event
from tests.alerts.conftest import make_cfg, mention

STORY = "鲜果时光奶茶里吃出一只虫子，门店说不可能，要求赔偿并道歉"


def test_concurrent_workers_share_events_and_records(engine) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg()
    overlap = engine.dialect.name == "postgresql"  # SQLite has one writer: transactions cannot overlap
    own = [[mention(f"{STORY} //@{'甲乙'[w]}{i}:") for i in range(6)] for w in range(2)]
    errors: list[BaseException] = []
    both_stored = threading.Barrier(2)

    def store(rows: list[dict[str, Any]]) -> None:
        with engine.begin() as conn:
            result = upsert_mentions(conn, rows)
            if overlap:
                both_stored.wait(timeout=20)  # both transactions hold uncommitted mentions now
            with conn.begin_nested():
                triage(conn, cfg, result.rows)

    def worker(w: int) -> None:
        try:
            for k in range(3):
                store(own[w][k * 2 : k * 2 + 2])
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Event)).scalar() == 1
        assert conn.execute(select(Event.mention_count)).scalar() == 12
        firsts = conn.execute(select(func.count()).select_from(Alert).where(Alert.kind == "mention")).scalar()
        numbers = conn.execute(select(Complaint.number)).scalars().all()
        links = conn.execute(select(ComplaintMention.mention_id)).scalars().all()
    assert firsts == 1
    assert len(numbers) == 1 and len(links) == len(set(links)) == 12  # reposts join the story's record
