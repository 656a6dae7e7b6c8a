"""scheduled jobs: module paths changed (``crawler.jobs`` → ``crawler.service.jobs``)

The job store (``apscheduler_jobs``, APScheduler's own table in the same database) keeps each
job as a pickled ``module:function`` reference. The re-layered code moved the job functions, so
the stored references no longer resolve. Every job is rebuilt from the config when
``yuqing run`` starts (``crawler.service.scheduler.sync_jobs``), so the stored jobs are
dropped here: the service recreates them on its next start, with fresh next-run times,
instead of logging a traceback per job as it discards them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("apscheduler_jobs"):
        op.execute("DELETE FROM apscheduler_jobs")


def downgrade() -> None:
    # The older code rebuilds its jobs from the config the same way.
    if sa.inspect(op.get_bind()).has_table("apscheduler_jobs"):
        op.execute("DELETE FROM apscheduler_jobs")
