"""Items the spiders yield: one typed record per post, comment or complaint.

Scrapy handles dataclass items through ``ItemAdapter``; the store pipeline turns
them into ``mentions`` rows (see :func:`crawler.storage.mentions.upsert_mentions`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class MentionItem:
    """A post (kind ``post``), a comment (``comment``, with ``parent_post_id``) or a Heimao complaint."""

    platform: str
    post_id: str
    brand: str
    text: str
    kind: str = "post"
    parent_post_id: str | None = None
    keyword: str | None = None
    url: str | None = None
    title: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_followers: int = 0
    author_verified: bool = False
    published_at: datetime | None = None  # aware, UTC
    likes: int = 0
    comments: int = 0
    shares: int = 0
    collects: int = 0
    ip_region: str | None = None
    extra: dict[str, Any] | None = None
    # the platform payload; from the first pipeline on its JSON text (crawler.storage.types.JSONText)
    raw: dict[str, Any] | str | None = None
    # analysis fields, filled by the analyze pipeline before storing
    analysis: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """Column values for the ``mentions`` table."""
        row = asdict(self)
        analysis = row.pop("analysis") or {}
        row.update(analysis)
        return row
