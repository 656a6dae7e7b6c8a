"""event wordings: ``events.variants``

Clustering compares a mention with every wording of an event: the mention that opened it
(``fingerprint``, ``features``) and, per other platform, a member that tells the story more
barely, kept in ``variants`` as ``{"platform": <the opening mention's>, "wordings":
[{"platform", "fingerprint", "features"}, ...]}`` with their lookup keys in ``event_keys``.
Existing events have NULL (their platform is taken from ``platform_counts`` when it has one).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "variants",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("variants")
