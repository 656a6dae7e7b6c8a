"""crawl_pending: the durable list of work a crawl owes its stored posts; crawl_runs.heartbeat_at

Comments and detail pages of stored posts, written with the posts, so a crawl killed in
the middle (kill -9, a lost machine) leaves its open work for the next crawl to finish.
``crawl_runs.heartbeat_at`` is renewed by a live crawl, so any process can tell a dead
crawl on another machine from a long one.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crawler.storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crawl_pending",
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("post_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "brand", "kind", "post_id"),
    )
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", crawler.storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
    op.drop_table("crawl_pending")
