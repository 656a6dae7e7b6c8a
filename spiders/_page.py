"""What a pure ``parse_*`` function returns: typed items, the next cursor, and what it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.errors import PlatformError
from crawler.items import MentionItem

# What one malformed entry of a page may raise inside a parser; anything else is a bug.
ITEM_ERRORS: tuple[type[BaseException], ...] = (
    PlatformError,
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
)


@dataclass(slots=True)
class ParsedPage:
    """``items`` parsed from one response, ``cursor`` for the next page (None at the end) and
    ``bad``: one line per entry that could not be parsed (counted and logged, never silent)."""

    items: list[MentionItem] = field(default_factory=list)
    cursor: Any = None
    bad: list[str] = field(default_factory=list)
