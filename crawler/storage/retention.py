"""Data retention: drop what is older than the operator wants to keep; keep complaints whole.

- mentions published (or, without a publish time, first seen) more than
  ``[storage].retention_days`` ago are deleted, except those a complaint record points at
  (its first mention or any joined repeat): complaint records and their evidence stay;
- raw platform payloads (``mentions.raw``, the largest column) are dropped after
  ``[scheduler].raw_retention_days``;
- finished crawl runs and cleared health incidents older than ``retention_days`` go too, and
  so do held alerts flushed into a summary that long ago (``alert_holds``, SLA notices
  included), except a mention's hold while the mention is kept;
- the hourly alert budget's charges (``alert_charges``) are read for the last hour only and
  go after ``CHARGES_KEPT`` (a week).

Alerts that pointed at a deleted mention keep their payload (which carries the excerpt)
and lose only the link; so do held alerts (``alert_holds``); its digest items go. Mentions are deleted in batches, each its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from loguru import logger
from sqlalchemy import and_, delete, null, or_, select, update

from crawler.clock import utcnow
from crawler.storage.models import ALERT_CHARGES as CHARGES
from crawler.storage.models import ALERT_HOLDS as HOLDS
from crawler.storage.models import ALERTS as A
from crawler.storage.models import COMPLAINT_MENTIONS as CM
from crawler.storage.models import COMPLAINTS as C
from crawler.storage.models import CRAWL_RUNS as R
from crawler.storage.models import DIGEST_ITEMS as DIGEST
from crawler.storage.models import HEALTH_INCIDENTS as H
from crawler.storage.models import (
    HOT_SNAPSHOTS,
    TRACKED_POSTS,
)
from crawler.storage.models import MENTIONS as M

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

BATCH = 2000
CHARGES_KEPT = timedelta(days=7)  # the budget reads one hour; a week leaves room to look back


@dataclass(slots=True)
class RetentionResult:
    mentions_deleted: int = 0
    raw_dropped: int = 0
    runs_deleted: int = 0
    incidents_deleted: int = 0
    holds_deleted: int = 0
    charges_deleted: int = 0


def purge(engine: Engine, cfg: AppConfig, *, now: datetime | None = None) -> RetentionResult:
    """Apply the retention policy once (the ``retention`` job, daily by default)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=cfg.storage.retention_days)
    result = RetentionResult()
    result.mentions_deleted = _purge_mentions(engine, cutoff)
    if cfg.scheduler.raw_retention_days:
        result.raw_dropped = _drop_raw(engine, now - timedelta(days=cfg.scheduler.raw_retention_days))
    with engine.begin() as conn:
        snaps = HOT_SNAPSHOTS
        conn.execute(delete(snaps).where(snaps.c.fetched_at < cutoff))  # the hot lists' history ages out too
        old_runs = select(R.c.id).where(R.c.started_at < cutoff, R.c.status != "running")
        conn.execute(update(snaps).where(snaps.c.run_id.in_(old_runs)).values(run_id=None))
        result.runs_deleted = (
            conn.execute(delete(R).where(R.c.started_at < cutoff, R.c.status != "running")).rowcount or 0
        )
        result.incidents_deleted = (
            conn.execute(delete(H).where(H.c.cleared_at.is_not(None), H.c.cleared_at < cutoff)).rowcount or 0
        )
        # a mention's hold stays while the mention does: its (kind, channel, ref) row is what keeps a
        # re-crawled mention (a Heimao complaint whose status changed) out of a second summary
        flushed = and_(
            HOLDS.c.flushed_at.is_not(None),
            HOLDS.c.flushed_at < cutoff,
            or_(HOLDS.c.mention_id.is_(None), HOLDS.c.ref.not_like("m:%")),
        )
        result.holds_deleted = conn.execute(delete(HOLDS).where(flushed)).rowcount or 0
        old_charges = CHARGES.c.at < now - CHARGES_KEPT
        result.charges_deleted = conn.execute(delete(CHARGES).where(old_charges)).rowcount or 0
    logger.info(
        "retention: {} mentions deleted, {} raw payloads dropped, {} crawl runs, {} incidents, "
        "{} flushed alert holds and {} budget charges deleted",
        result.mentions_deleted,
        result.raw_dropped,
        result.runs_deleted,
        result.incidents_deleted,
        result.holds_deleted,
        result.charges_deleted,
    )
    return result


def _old_mentions(cutoff: datetime):  # type: ignore[no-untyped-def]
    protected_first = select(C.c.mention_id).where(C.c.mention_id.is_not(None))
    protected_joined = select(CM.c.mention_id)
    old = or_(M.c.published_at < cutoff, and_(M.c.published_at.is_(None), M.c.first_seen_at < cutoff))
    return (
        select(M.c.id)
        .where(old, M.c.id.not_in(protected_first), M.c.id.not_in(protected_joined))
        .order_by(M.c.id)
        .limit(BATCH)
    )


def _purge_mentions(engine: Engine, cutoff: datetime) -> int:
    total = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(_old_mentions(cutoff)).scalars())
            if not ids:
                return total
            conn.execute(update(A).where(A.c.mention_id.in_(ids)).values(mention_id=None))
            conn.execute(update(HOLDS).where(HOLDS.c.mention_id.in_(ids)).values(mention_id=None))
            tracked = TRACKED_POSTS
            conn.execute(update(tracked).where(tracked.c.mention_id.in_(ids)).values(mention_id=None))
            conn.execute(delete(DIGEST).where(DIGEST.c.mention_id.in_(ids)))
            conn.execute(delete(M).where(M.c.id.in_(ids)))
        total += len(ids)


def _drop_raw(engine: Engine, cutoff: datetime) -> int:
    total = 0
    while True:
        with engine.begin() as conn:
            ids = list(
                conn.execute(
                    select(M.c.id)
                    .where(M.c.raw.is_not(None), M.c.first_seen_at < cutoff)
                    .order_by(M.c.id)
                    .limit(BATCH)
                ).scalars()
            )
            if not ids:
                return total
            conn.execute(update(M).where(M.c.id.in_(ids)).values(raw=null()))  # SQL NULL, not JSON null
        total += len(ids)
