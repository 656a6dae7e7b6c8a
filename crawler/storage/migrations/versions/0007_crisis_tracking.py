"""crisis tracking: hot-list snapshots and brand topics, tracked posts with their counts and reposts

``hot_snapshots`` keeps every line of every hot-list fetch (topic, rank, heat, label, ad flag, time,
the brand it matched); ``hot_topics`` one row per brand topic per list with what was alerted and
the event its posts joined. ``tracked_posts`` are risky posts on watch; ``track_points`` their counts
at each visit (the growth curve); ``reposts`` their reposts with the parent named by the ``//@`` chain.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crawler.storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hot_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fetched_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("word", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("heat", sa.BigInteger(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("is_ad", sa.Boolean(), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hot_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_hot_snapshots_brand_at", ["brand", "fetched_at"], unique=False)
        batch_op.create_index("ix_hot_snapshots_platform_at", ["platform", "fetched_at"], unique=False)
    op.create_table(
        "hot_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("word", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("matched_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("first_seen_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("first_rank", sa.Integer(), nullable=False),
        sa.Column("best_rank", sa.Integer(), nullable=False),
        sa.Column("last_rank", sa.Integer(), nullable=True),
        sa.Column("last_heat", sa.BigInteger(), nullable=False),
        sa.Column("peak_heat", sa.BigInteger(), nullable=False),
        sa.Column("last_label", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("search_url", sa.Text(), nullable=True),
        sa.Column(
            "alert_state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("crawled_at", crawler.storage.types.UTCDateTime(), nullable=True),
        sa.Column("crawl_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "word", name="uq_hot_topics_platform_word"),
    )
    with op.batch_alter_table("hot_topics", schema=None) as batch_op:
        batch_op.create_index("ix_hot_topics_brand_last", ["brand", "last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hot_topics_event_id"), ["event_id"], unique=False)
    op.create_table(
        "tracked_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("post_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("until", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("next_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("last_fetched_at", crawler.storage.types.UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "alert_state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "post_id", name="uq_tracked_posts_platform_post"),
    )
    with op.batch_alter_table("tracked_posts", schema=None) as batch_op:
        batch_op.create_index("ix_tracked_posts_due", ["status", "next_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tracked_posts_event_id"), ["event_id"], unique=False)
    op.create_table(
        "reposts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracked_id", sa.Integer(), nullable=False),
        sa.Column("repost_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("parent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("parent_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("author_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("published_at", crawler.storage.types.UTCDateTime(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen_at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tracked_id"],
            ["tracked_posts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tracked_id", "repost_id", name="uq_reposts_tracked_repost"),
    )
    with op.batch_alter_table("reposts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reposts_tracked_id"), ["tracked_id"], unique=False)
    op.create_table(
        "track_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracked_id", sa.Integer(), nullable=False),
        sa.Column("at", crawler.storage.types.UTCDateTime(), nullable=False),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("likes", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tracked_id"],
            ["tracked_posts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("track_points", schema=None) as batch_op:
        batch_op.create_index("ix_track_points_tracked_at", ["tracked_id", "at"], unique=False)


def downgrade() -> None:
    for table in ("reposts", "track_points", "tracked_posts", "hot_topics", "hot_snapshots"):
        op.drop_table(table)
