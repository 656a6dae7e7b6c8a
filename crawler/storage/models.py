"""SQLModel tables: the one place the database schema is defined.

Mentions (posts, comments, Heimao complaints) are unique by ``(platform, post_id)``;
authors by ``(platform, author_id)``. Events cluster mentions; alerts and their
per-channel deliveries form the outbox; complaints carry SLA clocks and a history.
Schema changes go through Alembic (``crawler/storage/migrations``); a test checks that the
migrations and these models agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, LargeBinary, Table, Text, Unicode, UniqueConstraint
from sqlmodel import Field, SQLModel

from crawler.clock import utcnow
from crawler.storage.types import JSONType, UTCDateTime


def _ts(nullable: bool = True, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class Mention(SQLModel, table=True):
    """One post, comment or complaint that mentions a brand."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("platform", "post_id", name="uq_mentions_platform_post"),
        Index("ix_mentions_brand_published", "brand", "published_at"),
        Index("ix_mentions_complaint_risk", "is_complaint", "risk"),
        Index("ix_mentions_author_platform", "author_id", "platform"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    post_id: str = Field(max_length=64)
    kind: str = Field(default="post", max_length=16)  # post | comment | complaint
    parent_post_id: str | None = Field(default=None, max_length=64, index=True)
    brand: str = Field(max_length=64)
    keyword: str | None = Field(default=None, max_length=128)
    url: str | None = Field(default=None, sa_type=Text)
    title: str | None = Field(default=None, sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    author_id: str | None = Field(default=None, max_length=64)
    author_name: str | None = Field(default=None, max_length=128)
    author_followers: int = Field(default=0, sa_type=BigInteger)
    author_verified: bool = False
    published_at: datetime | None = _ts(index=True)
    fetched_at: datetime = _ts(nullable=False)
    first_seen_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    likes: int = Field(default=0, sa_type=BigInteger)
    comments: int = Field(default=0, sa_type=BigInteger)
    shares: int = Field(default=0, sa_type=BigInteger)
    collects: int = Field(default=0, sa_type=BigInteger)
    ip_region: str | None = Field(default=None, max_length=64, index=True)
    extra: dict[str, Any] | None = Field(
        default=None, sa_type=JSONType
    )  # platform specifics (Heimao status, demand, amount)
    raw: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # analysis (filled by sentiment.analyze through the pipeline)
    sentiment: float | None = None
    is_complaint: bool | None = None
    category: str | None = Field(default=None, max_length=16, index=True)
    urgency: str | None = Field(default=None, max_length=8)
    risk: int | None = None
    reasons: list[str] | None = Field(default=None, sa_type=JSONType)
    fingerprint: int | None = Field(default=None, sa_type=BigInteger)
    masked_text: str | None = Field(default=None, sa_type=Text)
    tokens: str | None = Field(default=None, sa_type=Text)  # space-joined jieba tokens for full-text search
    model_version: str | None = Field(default=None, max_length=64)
    analyzed_at: datetime | None = _ts()
    event_id: int | None = Field(default=None, foreign_key="events.id", index=True)


class Author(SQLModel, table=True):
    """A platform account seen as an author, with its complaint history (customer tags)."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("platform", "author_id", name="uq_authors_platform_author"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    author_id: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=128)
    followers: int = Field(default=0, sa_type=BigInteger)
    verified: bool = False
    region: str | None = Field(default=None, max_length=64)
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)
    mention_count: int = 0
    complaint_count: int = 0
    escalation_count: int = 0
    tags: list[str] | None = Field(default=None, sa_type=JSONType)


class CrawlRun(SQLModel, table=True):
    """One crawl of (platform, brand[, keyword]) and how it ended."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_platform_brand_started", "platform", "brand", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    spider: str = Field(max_length=32)
    platform: str = Field(max_length=16)
    brand: str | None = Field(default=None, max_length=64)
    keyword: str | None = Field(default=None, max_length=128)
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime | None = _ts()
    status: str = Field(
        default="running", max_length=16
    )  # running | ok | partial | failed | timeout | killed
    requests: int = 0
    pages: int = 0
    items: int = 0
    new_count: int = 0
    updated_count: int = 0
    duplicate_count: int = 0
    retries: int = 0
    error_kind: str | None = Field(default=None, max_length=32)
    error_message: str | None = Field(default=None, sa_type=Text)
    host: str | None = Field(default=None, max_length=128)
    pid: int | None = None
    heartbeat_at: datetime | None = _ts()  # renewed while the crawl process lives
    stats: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class Watermark(SQLModel, table=True):
    """Incremental-crawl position per (platform, brand, keyword)."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("platform", "brand", "keyword", name="uq_watermarks_key"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    brand: str = Field(max_length=64)
    keyword: str = Field(max_length=128)
    newest_published_at: datetime | None = _ts()
    newest_post_id: str | None = Field(default=None, max_length=64)
    last_run_at: datetime | None = _ts()
    updated_at: datetime = _ts(nullable=False)


class PendingWork(SQLModel, table=True):
    """Work a crawl owes a stored post: its comments or its detail page (full text).

    Written in the same transaction as the batch of mentions that made it due, so a post is
    never stored without its open work, whatever kills the crawl; deleted when a crawl has
    finished the work and stored what it fetched. ``attempts`` counts the crawls that tried;
    work that keeps failing is given up after a few (logged).
    """

    __tablename__ = "crawl_pending"

    platform: str = Field(primary_key=True, max_length=16)
    brand: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)  # comments | details
    post_id: str = Field(primary_key=True, max_length=64)
    keyword: str | None = Field(default=None, max_length=128)
    attempts: int = 0
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class Event(SQLModel, table=True):
    """A cluster of mentions telling one story (near-duplicates, cross-platform)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_brand_last_seen", "brand", "last_seen_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=64)
    title: str = Field(default="", sa_type=Text)
    fingerprint: int | None = Field(default=None, sa_type=BigInteger)
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)
    mention_count: int = 0
    platform_counts: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    engagement: int = Field(default=0, sa_type=BigInteger)
    negative_count: int = 0
    positive_count: int = 0
    complaint_count: int = 0
    max_urgency: str | None = Field(default=None, max_length=8)
    max_risk: int = 0
    max_followers: int = Field(default=0, sa_type=BigInteger)
    alerted_level: str | None = Field(default=None, max_length=32)  # what the last immediate alert covered
    alert_state: dict[str, Any] | None = Field(
        default=None, sa_type=JSONType
    )  # urgency/big-V/surges already alerted
    features: list[str] | None = Field(
        default=None, sa_type=JSONType
    )  # the representative's shingles (story match)
    # the representative's platform and the story's wordings on other platforms (alerts/triage/events.py):
    # {"platform": str, "wordings": [{"platform", "fingerprint", "features": [bigram, ...]}, ...]}
    variants: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    surge_at: datetime | None = _ts()
    status: str = Field(default="open", max_length=16)
    updated_at: datetime = _ts(nullable=False)


class EventKey(SQLModel, table=True):
    """Lookup keys of an event (SimHash bands, MinHash bands): candidate events without a scan."""

    __tablename__ = "event_keys"
    __table_args__ = (Index("ix_event_keys_brand_key", "brand", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    brand: str = Field(max_length=64)
    key: str = Field(max_length=32)


class SurgeMark(SQLModel, table=True):
    """The last surge fired per scope (``brand:<name>`` or ``event:<id>``): the cooldown."""

    __tablename__ = "surge_marks"

    scope: str = Field(primary_key=True, max_length=100)
    brand: str = Field(max_length=64)
    event_id: int | None = Field(default=None, foreign_key="events.id")
    fired_at: datetime = _ts(nullable=False)
    fired_count: int = 0
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class DigestItem(SQLModel, table=True):
    """A mention folded into the next digest (below the immediate threshold, or no escalation)."""

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_pending", "flushed_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", unique=True)
    event_id: int | None = Field(default=None, foreign_key="events.id")
    brand: str = Field(max_length=64)
    channels: list[str] | None = Field(default=None, sa_type=JSONType)
    reason: str | None = Field(default=None, sa_type=Text)
    urgency: str | None = Field(default=None, max_length=8)
    risk: int | None = None
    created_at: datetime = _ts(nullable=False)
    flushed_at: datetime | None = _ts()
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")


class AlertHold(SQLModel, table=True):
    """Something held back from an immediate alert, for a summary per brand and channel.

    ``kind`` backfill: a mention first seen more than ``[alerts].max_age_hours`` after it was
    published (or a complaint record of one), for the backfill summary. ``kind`` rollup: an
    immediate alert over the hourly budget of its brand and channel, for the roll-up.
    ``ref`` names what is held (``m:<mention id>``, ``c:<complaint id>``, ``s:<surge key>``).
    """

    __tablename__ = "alert_holds"
    __table_args__ = (
        UniqueConstraint("kind", "channel", "ref", name="uq_alert_holds_kind_channel_ref"),
        Index("ix_alert_holds_pending", "flushed_at", "kind", "brand", "channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # backfill | rollup | sla (a held SLA notice, alerts/complaints/sla.py)
    brand: str = Field(max_length=64)
    channel: str = Field(max_length=64)
    ref: str = Field(max_length=120)
    alert_kind: str = Field(max_length=16)  # what it would have been: mention | event | surge | complaint
    mention_id: int | None = Field(default=None, foreign_key="mentions.id")
    event_id: int | None = Field(default=None, foreign_key="events.id")
    complaint_id: int | None = Field(default=None, foreign_key="complaints.id")
    urgency: str | None = Field(default=None, max_length=8)
    risk: int | None = None
    note: str | None = Field(default=None, sa_type=Text)  # e.g. a held surge's description
    created_at: datetime = _ts(nullable=False)
    flushed_at: datetime | None = _ts()
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")


class AlertCharge(SQLModel, table=True):
    """One immediate message charged to the hourly budget of a brand and channel (``at``: when it is due)."""

    __tablename__ = "alert_charges"
    __table_args__ = (Index("ix_alert_charges_brand_channel_at", "brand", "channel", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=64)
    channel: str = Field(max_length=64)
    at: datetime = _ts(nullable=False)
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")
    exempt: bool = False  # a new 非常紧急 event: sent even when the budget is spent


class Alert(SQLModel, table=True):
    """Something to tell people (a risky mention, an event escalation, a surge, a digest, crawl health)."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # mention | event | surge | digest | health | complaint
    dedup_key: str = Field(max_length=200, unique=True)
    brand: str | None = Field(default=None, max_length=64, index=True)
    event_id: int | None = Field(default=None, foreign_key="events.id", index=True)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id")
    complaint_id: int | None = Field(default=None, foreign_key="complaints.id")
    urgency: str | None = Field(default=None, max_length=8)
    risk: int | None = None
    title: str = Field(default="", sa_type=Text)
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    status: str = Field(default="open", max_length=16)  # open | acknowledged | closed
    created_at: datetime = _ts(nullable=False, index=True)


class AlertDelivery(SQLModel, table=True):
    """Outbox row: one alert to one channel, delivered at least once, shown once."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", name="uq_deliveries_alert_channel"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id")
    channel: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=200, unique=True)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed | dead
    attempts: int = 0  # tries that ended other than "rate limited"
    next_attempt_at: datetime = _ts(nullable=False)
    claimed_at: datetime | None = _ts()
    claim_token: str | None = Field(default=None, max_length=32)  # which dispatcher holds the lease
    parts_sent: int = 0  # a message split in parts resumes after the last part the channel accepted
    parts_total: int | None = None
    last_attempt_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts(nullable=False)


class AlertSend(SQLModel, table=True):
    """One request made to a channel (a message part); the sliding window of the per-channel rate limit."""

    __tablename__ = "alert_sends"
    __table_args__ = (Index("ix_alert_sends_channel_at", "channel", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=64)
    delivery_id: int | None = Field(default=None, foreign_key="alert_deliveries.id", index=True)
    part: int = 0
    at: datetime = _ts(nullable=False)
    outcome: str | None = Field(default=None, max_length=32)  # ok | rate_limited | retry | permanent


class AlertChannelState(SQLModel, table=True):
    """Per-channel delivery state shared by every dispatcher: a pause after rate limits or outages."""

    __tablename__ = "alert_channels"

    name: str = Field(max_length=64, primary_key=True)
    paused_until: datetime | None = _ts()
    pause_reason: str | None = Field(default=None, sa_type=Text)
    failures: int = 0  # consecutive failed sends; the pause grows with it, a success resets it
    last_ok_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = _ts()
    updated_at: datetime = _ts(nullable=False)


class Complaint(SQLModel, table=True):
    """A pre-registered complaint record with its SLA clocks."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_due", "status", "due_resolve_at"),
        Index("ix_complaints_customer", "customer_platform", "customer_id"),
        Index("ix_complaints_event", "event_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    brand: str = Field(max_length=64, index=True)
    platform: str = Field(max_length=16)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id")
    event_id: int | None = Field(default=None, foreign_key="events.id")
    customer_platform: str | None = Field(default=None, max_length=16)
    customer_id: str | None = Field(default=None, max_length=64)
    customer_name: str | None = Field(default=None, max_length=128)
    customer_tags: list[str] | None = Field(default=None, sa_type=JSONType)
    category: str | None = Field(default=None, max_length=16)
    urgency: str = Field(default="一般", max_length=8)
    risk: int = 0
    reasons: list[str] | None = Field(default=None, sa_type=JSONType)
    tags: list[str] | None = Field(default=None, sa_type=JSONType)  # record tags, e.g. 群体投诉
    summary: str = Field(default="", sa_type=Text)
    assignee: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=64)
    status: str = Field(default="待处理", max_length=8)
    registered_at: datetime = _ts(nullable=False)
    source_fetched_at: datetime | None = _ts()
    registration_latency_s: float | None = None
    due_report_at: datetime | None = _ts()
    due_first_check_at: datetime | None = _ts()
    due_answer_at: datetime | None = _ts()
    due_resolve_at: datetime | None = _ts()
    callback_due_at: datetime | None = _ts()
    reported_at: datetime | None = _ts()
    first_checked_at: datetime | None = _ts()
    answered_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    callback_done_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    escalated_at: datetime | None = _ts()  # escalated by a handler (meets the "resolve or escalate" clock)
    escalation_level: int = 0
    sla_state: dict[str, Any] | None = Field(default=None, sa_type=JSONType)  # warnings sent, breaches marked
    updated_at: datetime = _ts(nullable=False)


class ComplaintCounter(SQLModel, table=True):
    """Per-day sequence behind complaint numbers (TS20261122-0001), incremented atomically."""

    __tablename__ = "complaint_counters"

    day: str = Field(primary_key=True, max_length=16)  # prefix + yyyymmdd
    last: int = 0


class ComplaintMention(SQLModel, table=True):
    """Every mention joined to a complaint record: its source, the customer's repeats, and the reposts,
    near-copies and comments of the same story that joined it (``relation``, with the reason in ``note``)."""

    __tablename__ = "complaint_mentions"

    complaint_id: int = Field(foreign_key="complaints.id", primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", primary_key=True)
    added_at: datetime = _ts(nullable=False)
    relation: str | None = Field(default=None, max_length=16)  # source | repeat | repost | copy | comment
    note: str | None = Field(
        default=None, sa_type=Text
    )  # why it joined (Chinese), e.g. 转发同一事件，并入 TS…


class ComplaintHistory(SQLModel, table=True):
    """Who changed what on a complaint record, and when."""

    __tablename__ = "complaint_history"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaints.id", index=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(default="system", max_length=64)
    action: str = Field(
        max_length=32
    )  # registered | status | assign | note | urgency | sla_warning | breach | escalate
    field: str | None = Field(default=None, max_length=32)
    old: str | None = Field(default=None, sa_type=Text)
    new: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)


class HealthIncident(SQLModel, table=True):
    """A crawl-health problem (session expired, blocked, schema change...), opened and cleared once."""

    __tablename__ = "health_incidents"
    __table_args__ = (Index("ix_health_open", "kind", "platform", "brand", "cleared_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    platform: str | None = Field(default=None, max_length=16)
    brand: str | None = Field(default=None, max_length=64)
    message: str = Field(default="", sa_type=Text)
    opened_at: datetime = _ts(nullable=False)
    cleared_at: datetime | None = _ts()
    last_seen_at: datetime = _ts(nullable=False)
    count: int = 1
    fix: str | None = Field(default=None, sa_type=Text)  # what the operator should do (Chinese)
    detail: str | None = Field(default=None, sa_type=Text)  # the last error message seen


class ServiceLock(SQLModel, table=True):
    """A lease held by one process: the active scheduler, or one running crawl of (platform, brand).

    A lease expires unless its holder renews it, so a holder that died (kill -9, lost machine)
    frees it after ``expires_at``; the scheduler and workers renew theirs while they work.
    """

    __tablename__ = "service_locks"

    name: str = Field(primary_key=True, max_length=191)
    owner: str = Field(max_length=191)
    host: str | None = Field(default=None, max_length=128)
    pid: int | None = None
    acquired_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)
    note: str | None = Field(default=None, sa_type=Text)


class HotSnapshot(SQLModel, table=True):
    """One line of a hot list as fetched (every line, every fetch): the list's history."""

    __tablename__ = "hot_snapshots"
    __table_args__ = (
        Index("ix_hot_snapshots_platform_at", "platform", "fetched_at"),
        Index("ix_hot_snapshots_brand_at", "brand", "fetched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    fetched_at: datetime = _ts(nullable=False)
    word: str = Field(max_length=200)
    rank: int
    heat: int = Field(default=0, sa_type=BigInteger)
    label: str | None = Field(default=None, max_length=16)
    is_ad: bool = False
    brand: str | None = Field(default=None, max_length=64)  # the brand the topic matched, if any
    run_id: int | None = Field(default=None, foreign_key="crawl_runs.id")


class HotTopic(SQLModel, table=True):
    """A brand's topic on a hot list: its path, what was alerted, and the event its posts joined."""

    __tablename__ = "hot_topics"
    __table_args__ = (
        UniqueConstraint("platform", "word", name="uq_hot_topics_platform_word"),
        Index("ix_hot_topics_brand_last", "brand", "last_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    word: str = Field(max_length=200)
    brand: str = Field(max_length=64)
    matched_by: str | None = Field(default=None, max_length=64)  # the brand word found in the topic
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)
    first_rank: int = 0
    best_rank: int = 0
    last_rank: int | None = None  # None: off the list at the last fetch
    last_heat: int = Field(default=0, sa_type=BigInteger)
    peak_heat: int = Field(default=0, sa_type=BigInteger)
    last_label: str | None = Field(default=None, max_length=16)
    labels: list[str] | None = Field(default=None, sa_type=JSONType)  # every label it has shown
    search_url: str | None = Field(default=None, sa_type=Text)
    alert_state: dict[str, Any] | None = Field(default=None, sa_type=JSONType)  # ranks/labels already alerted
    event_id: int | None = Field(default=None, foreign_key="events.id", index=True)
    crawled_at: datetime | None = _ts()
    crawl_status: str | None = Field(default=None, max_length=16)


class TrackedPost(SQLModel, table=True):
    """A risky post on watch: its reposts and comments are fetched on a schedule until ``until``."""

    __tablename__ = "tracked_posts"
    __table_args__ = (
        UniqueConstraint("platform", "post_id", name="uq_tracked_posts_platform_post"),
        Index("ix_tracked_posts_due", "status", "next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    post_id: str = Field(max_length=64)
    brand: str = Field(max_length=64)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id")
    event_id: int | None = Field(default=None, foreign_key="events.id", index=True)
    reason: str = Field(default="", max_length=64)  # 事件首帖 | 非常紧急
    started_at: datetime = _ts(nullable=False)
    until: datetime = _ts(nullable=False)
    next_at: datetime = _ts(nullable=False)
    interval_s: float = 600.0
    last_fetched_at: datetime | None = _ts()
    status: str = Field(default="watching", max_length=16)  # watching | done | failed
    fetches: int = 0
    requests: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    alert_state: dict[str, Any] | None = Field(
        default=None, sa_type=JSONType
    )  # big-Vs and accelerations alerted


class TrackPoint(SQLModel, table=True):
    """One visit to a tracked post: its counts at that time (the growth curve)."""

    __tablename__ = "track_points"
    __table_args__ = (Index("ix_track_points_tracked_at", "tracked_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    tracked_id: int = Field(foreign_key="tracked_posts.id")
    at: datetime = _ts(nullable=False)
    reposts: int = 0
    comments: int = 0
    likes: int = Field(default=0, sa_type=BigInteger)
    requests: int = 0


class Repost(SQLModel, table=True):
    """A repost of a tracked post; ``parent_id`` is the repost it was made from (None: the post itself)."""

    __tablename__ = "reposts"
    __table_args__ = (UniqueConstraint("tracked_id", "repost_id", name="uq_reposts_tracked_repost"),)

    id: int | None = Field(default=None, primary_key=True)
    tracked_id: int = Field(foreign_key="tracked_posts.id", index=True)
    repost_id: str = Field(max_length=64)
    parent_id: str | None = Field(default=None, max_length=64)
    parent_name: str | None = Field(default=None, max_length=128)  # the first //@name of its chain
    author_id: str | None = Field(default=None, max_length=64)
    author_name: str | None = Field(default=None, max_length=128)
    followers: int = Field(default=0, sa_type=BigInteger)
    verified: bool = False
    published_at: datetime | None = _ts()
    text: str = Field(default="", sa_type=Text)
    first_seen_at: datetime = _ts(nullable=False)


class SchedulerJob(SQLModel, table=True):
    """APScheduler's SQLAlchemy job store (the exact columns APScheduler 3.11 creates).

    Declared here so the migrations own the table; APScheduler finds it ready.
    """

    __tablename__ = "apscheduler_jobs"

    id: str = Field(primary_key=True, sa_type=Unicode(191))
    next_run_time: float | None = Field(default=None, sa_type=Float(25), index=True)
    job_state: bytes = Field(sa_type=LargeBinary, nullable=False)


ALL_TABLES: list[type[SQLModel]] = [
    Mention,
    Author,
    CrawlRun,
    Watermark,
    PendingWork,
    Event,
    EventKey,
    SurgeMark,
    DigestItem,
    Alert,
    AlertDelivery,
    AlertSend,
    AlertChannelState,
    AlertHold,
    AlertCharge,
    Complaint,
    ComplaintCounter,
    ComplaintMention,
    ComplaintHistory,
    HealthIncident,
    ServiceLock,
    SchedulerJob,
    HotSnapshot,
    HotTopic,
    TrackedPost,
    TrackPoint,
    Repost,
]


def table_of(model: type[SQLModel]) -> Table:
    """The Core table SQLAlchemy's declarative mapping built for `model`.

    SQLModel does not declare ``__table__`` on its classes, so the type checker cannot see it;
    the ``Table`` constants below are the one place it is read.
    """
    table = vars(model)["__table__"]
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


# Core tables for SQL-expression queries, named after the database tables.
MENTIONS = table_of(Mention)
AUTHORS = table_of(Author)
CRAWL_RUNS = table_of(CrawlRun)
WATERMARKS = table_of(Watermark)
CRAWL_PENDING = table_of(PendingWork)
EVENTS = table_of(Event)
EVENT_KEYS = table_of(EventKey)
SURGE_MARKS = table_of(SurgeMark)
DIGEST_ITEMS = table_of(DigestItem)
ALERT_HOLDS = table_of(AlertHold)
ALERT_CHARGES = table_of(AlertCharge)
ALERTS = table_of(Alert)
ALERT_DELIVERIES = table_of(AlertDelivery)
ALERT_SENDS = table_of(AlertSend)
ALERT_CHANNELS = table_of(AlertChannelState)
COMPLAINTS = table_of(Complaint)
COMPLAINT_COUNTERS = table_of(ComplaintCounter)
COMPLAINT_MENTIONS = table_of(ComplaintMention)
COMPLAINT_HISTORY = table_of(ComplaintHistory)
HEALTH_INCIDENTS = table_of(HealthIncident)
SERVICE_LOCKS = table_of(ServiceLock)
APSCHEDULER_JOBS = table_of(SchedulerJob)
HOT_SNAPSHOTS = table_of(HotSnapshot)
HOT_TOPICS = table_of(HotTopic)
TRACKED_POSTS = table_of(TrackedPost)
TRACK_POINTS = table_of(TrackPoint)
REPOSTS = table_of(Repost)
