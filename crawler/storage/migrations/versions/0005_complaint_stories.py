"""complaint records by story: record tags, why each mention joined a record, records by event

``complaints.tags`` holds record tags (``群体投诉`` when several consumers' records share one
event). ``complaint_mentions.relation`` says how a mention belongs to its record (source,
repeat, repost, copy, comment) and ``note`` why (Chinese, shown on the record page).
``ix_complaints_event`` finds the open records of an event when a repost or comment arrives.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "tags",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index("ix_complaints_event", ["event_id", "status"], unique=False)
    with op.batch_alter_table("complaint_mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relation", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
    # existing links: the record's own mention is its source, the others were the customer's repeats
    op.execute(
        "UPDATE complaint_mentions SET relation = CASE WHEN EXISTS (SELECT 1 FROM complaints c "
        "WHERE c.id = complaint_mentions.complaint_id AND c.mention_id = complaint_mentions.mention_id) "
        "THEN 'source' ELSE 'repeat' END"
    )


def downgrade() -> None:
    with op.batch_alter_table("complaint_mentions", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("relation")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_event")
        batch_op.drop_column("tags")
