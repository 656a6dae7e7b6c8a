"""The simulator's platform-neutral records: brands, authors, labels and posts.

Platform modules render these into each site's JSON or HTML; ``Post.truth()`` is
the ground-truth record the tests compare a crawl against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class BrandSpec:
    """A brand the world writes about: its names, products and Heimao company id."""

    name: str
    aliases: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    couid: str = ""

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(slots=True)
class Author:
    """A platform account; ``followers`` is the exact count (sites may display it rounded)."""

    id: str
    name: str
    followers: int
    verified: bool = False
    verified_type: int = -1  # Weibo: -1 none, 0 yellow V (person), 1-7 blue V (organisations)
    verified_reason: str = ""
    gender: str = "f"
    description: str = ""
    statuses: int = 0
    region: str = ""


@dataclass(slots=True)
class Label:
    """What the post is under RUBRIC.md: its type, complaint flag, category, urgency, signals."""

    type: str
    is_complaint: bool = False
    category: str | None = None
    urgency: str | None = None
    signals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "is_complaint": self.is_complaint,
            "category": self.category,
            "urgency": self.urgency,
            "signals": list(self.signals),
        }


VIRAL_ENGAGEMENT = 1000
BIG_V_FOLLOWERS = 100_000


@dataclass(slots=True)
class Post:
    """A post, comment or complaint as the simulator published it."""

    platform: str
    post_id: str
    kind: str  # post | comment | complaint
    brand: str
    text: str  # plain text: what stripping the served HTML gives back
    author: Author
    published_at: datetime  # aware UTC, whole seconds
    label: Label
    parent_post_id: str | None = None
    title: str | None = None
    likes: int = 0
    comments: int = 0
    shares: int = 0
    collects: int = 0
    ip_region: str = ""
    crisis: bool = False
    seq: int = 0
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    replies: list[Post] = field(default_factory=list)

    @property
    def engagement(self) -> int:
        return self.likes + self.comments + self.shares

    @property
    def search_text(self) -> str:
        return f"{self.title or ''}\n{self.text}".casefold()

    def relabel_virality(self) -> None:
        """Keep the label true to RUBRIC.md after engagement changed: a viral complaint is 非常紧急."""
        lab = self.label
        if not lab.is_complaint or lab.urgency == "非常紧急":
            return
        if self.engagement >= VIRAL_ENGAGEMENT:
            lab.urgency = "非常紧急"
            lab.signals.append("viral")
        elif self.author.followers >= BIG_V_FOLLOWERS:
            lab.urgency = "非常紧急"
            lab.signals.append("big_v")

    def truth(self) -> dict[str, Any]:
        """The ground-truth record (``published_at`` stays an aware UTC datetime)."""
        return {
            "platform": self.platform,
            "post_id": self.post_id,
            "kind": self.kind,
            "parent_post_id": self.parent_post_id,
            "brand": self.brand,
            "title": self.title,
            "text": self.text,
            "url": self.url,
            "published_at": self.published_at,
            "author_id": self.author.id,
            "author_name": self.author.name,
            "author_followers": self.author.followers,
            "author_verified": self.author.verified,
            "likes": self.likes,
            "comments": self.comments,
            "shares": self.shares,
            "collects": self.collects,
            "ip_region": self.ip_region,
            "crisis": self.crisis,
            "seq": self.seq,
            "label": self.label.as_dict(),
            "extra": dict(self.extra),
        }
