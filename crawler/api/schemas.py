"""Response and request bodies of the REST API (documented in the OpenAPI spec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    token: str = Field(min_length=1, max_length=512)


class Me(BaseModel):
    name: str
    role: str


class MentionOut(BaseModel):
    id: int
    platform: str
    brand: str
    kind: str
    published_at: datetime | None
    author_id: str | None
    author_name: str | None
    author_followers: int
    author_verified: bool
    title: str | None
    text: str = Field(description="PII-masked unless unmasked=true (handler only)")
    sentiment: float | None
    sentiment_label: str
    is_complaint: bool | None
    category: str | None
    urgency: str | None
    risk: int | None
    reasons: list[str] | None
    likes: int
    comments: int
    shares: int
    collects: int
    ip_region: str | None
    url: str | None
    event_id: int | None
    post_id: str


class MentionPage(BaseModel):
    items: list[MentionOut]
    limit: int
    offset: int
    has_more: bool


class TrendPoint(BaseModel):
    t: str
    total: int
    negative: int
    complaints: int
    negative_share: float


class Slice(BaseModel):
    key: str | None
    label: str | None
    count: int
    negative: int
    complaints: int
    share: float


class WordCount(BaseModel):
    word: str
    count: int


class SurgeMark(BaseModel):
    at: datetime
    title: str
    event_id: int | None
    source: str
    brand: str | None


class Summary(BaseModel):
    total: int
    negative: int
    complaints: int
    very_urgent: int
    authors: int
    negative_share: float
    avg_sentiment: float | None
    max_risk: int | None
    engagement: int


class Overview(BaseModel):
    summary: Summary
    trend: list[TrendPoint]
    surges: list[SurgeMark]
    sentiment: list[Slice]
    category: list[Slice]
    platform: list[Slice]
    region: list[Slice]
    customer: list[Slice]
    words: list[WordCount]


class StatusIn(BaseModel):
    status: str = Field(min_length=1, max_length=8, description="待处理 处理中 已升级 已解决 已回访 已关闭")
    note: str | None = Field(default=None, max_length=2000)


class ThreadComplaint(BaseModel):
    id: int
    number: str
    status: str
    urgency: str | None = None
    category: str | None = None


class MentionThread(BaseModel):
    mention: MentionOut
    post: MentionOut | None = Field(
        default=None, description="the post (the mention itself, or a comment's post)"
    )
    comments: list[MentionOut] = Field(default_factory=list, description="stored comments of the post")
    complaints: list[ThreadComplaint] = Field(
        default_factory=list, description="records the mention is linked to"
    )


class VerdictIn(BaseModel):
    not_complaint: bool = Field(
        default=False, description="误报: the mentions are not a complaint (closes an open record)"
    )
    category: str | None = Field(default=None, max_length=8, description="The corrected category")
    urgency: str | None = Field(
        default=None,
        max_length=8,
        description="The corrected urgency (非常紧急, 紧急, 一般); the SLA deadlines follow it",
    )
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)
    answer: bool = Field(default=False, description="The note is the answer given to the customer")


class AssignIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class Milestone(BaseModel):
    key: str
    name: str
    due_at: datetime | None
    done_at: datetime | None
    state: str = Field(
        description="done | late (met after its deadline, or left unmet past it) | pending | overdue"
    )


class SpreadOut(BaseModel):
    mentions: int = Field(description="mentions on the record, its source included")
    relations: dict[str, int] = Field(description="source | repeat | repost | copy | comment → count")
    platforms: dict[str, int]
    engagement: int = Field(description="likes + comments + shares of all its mentions")
    followers: int = Field(description="followers of their authors, summed (potential reach)")
    max_followers: int


class GroupRecordOut(BaseModel):
    id: int
    number: str
    status: str
    urgency: str
    tags: list[str] | None = None


class GroupOut(BaseModel):
    event_id: int
    size: int = Field(description="records of the event, any status")
    tagged: bool = Field(description="tagged 群体投诉 (enough consumers with their own grievance)")
    records: list[GroupRecordOut]


class LinkOut(BaseModel):
    mention_id: int
    relation: str = Field(description="source | repeat | repost | copy | comment")
    relation_name: str
    note: str | None = Field(description="why it joined the record (Chinese)")
    added_at: datetime


class ComplaintOut(BaseModel):
    id: int
    number: str
    brand: str
    platform: str
    category: str | None
    urgency: str
    risk: int
    status: str
    assignee: str | None
    team: str | None
    summary: str
    customer_name: str | None
    customer_tags: list[str] | None
    reasons: list[str] | None
    registered_at: datetime
    registration_latency_s: float | None
    next_due_at: datetime | None
    overdue: bool
    milestones: list[Milestone]
    mention_id: int | None
    event_id: int | None
    url: str | None = None
    tags: list[str] = Field(default_factory=list, description="record tags, e.g. 群体投诉")
    linked_count: int = Field(default=0, description="mentions joined to the record besides its source")
    spread: SpreadOut | None = None
    group: GroupOut | None = Field(
        default=None, description="the other records of its event, when it has any"
    )


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    limit: int
    offset: int
    has_more: bool
    statuses: list[str]


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    field: str | None
    old: str | None
    new: str | None
    note: str | None


class ComplaintDetail(ComplaintOut):
    history: list[HistoryOut]
    mentions: list[MentionOut] = Field(
        description="its mentions: the source first, then the most engaging (at most 200)"
    )
    links: list[LinkOut] = Field(
        default_factory=list, description="how and why each mention is on the record"
    )
    allowed_statuses: list[str]


class EventOut(BaseModel):
    id: int
    brand: str
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    mention_count: int
    platform_counts: dict[str, Any] | None
    engagement: int
    negative_count: int
    complaint_count: int
    max_urgency: str | None
    max_risk: int
    surge_at: datetime | None
    status: str


class EventDetail(EventOut):
    timeline: list[TrendPoint]
    mentions: list[MentionOut]
    complaints: list[GroupRecordOut] = Field(
        default_factory=list, description="the event's complaint records"
    )


class AlertOut(BaseModel):
    id: int
    kind: str
    brand: str | None
    title: str
    urgency: str | None
    risk: int | None
    status: str
    created_at: datetime
    event_id: int | None
    mention_id: int | None
    complaint_id: int | None
    reasons: list[str] = Field(default_factory=list)
    deliveries: dict[str, int] = Field(default_factory=dict, description="delivery status → count")


class CrawlRunOut(BaseModel):
    id: int
    spider: str  # the platform's name for a brand crawl; hotlist or tracking for the light jobs
    platform: str
    brand: str | None
    keyword: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    items: int
    new_count: int
    error_kind: str | None
    error_message: str | None


class IncidentOut(BaseModel):
    id: int
    kind: str
    platform: str | None
    brand: str | None
    message: str
    fix: str | None
    opened_at: datetime
    last_seen_at: datetime
    count: int


class HealthOut(BaseModel):
    latest: list[CrawlRunOut]
    incidents: list[IncidentOut]
    database: str


class Meta(BaseModel):
    brands: list[str]
    platforms: dict[str, str]
    categories: list[str]
    urgencies: list[str]
    statuses: list[str]
    transitions: dict[str, list[str]]
    timezone: str
    user: Me
