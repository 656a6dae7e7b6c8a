"""alert holds (backfill summaries, roll-ups) and the hourly budget's charges

``alert_holds``: what was kept out of immediate alerts (a backfill, or over the hourly budget
of a brand and channel), waiting for its summary. ``alert_charges``: one row per immediate
message charged to a brand and channel's hourly budget.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crawler.storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("exempt", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_charges", schema=None) as batch_op:
        batch_op.create_index("ix_alert_charges_brand_channel_at", ["brand", "channel", "at"], unique=False)

    op.create_table(
        "alert_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("alert_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("risk", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("flushed_at", crawler.storage.types.UTCDateTime(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "channel", "ref", name="uq_alert_holds_kind_channel_ref"),
    )
    with op.batch_alter_table("alert_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_holds_pending", ["flushed_at", "kind", "brand", "channel"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_holds_pending")
    op.drop_table("alert_holds")
    with op.batch_alter_table("alert_charges", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_charges_brand_channel_at")
    op.drop_table("alert_charges")
