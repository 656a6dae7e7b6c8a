"""Column types shared by every table: UTC datetimes and portable JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input (a naive time is a bug)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType: Any = JSON().with_variant(JSONB(), "postgresql")


class JSONText(str):
    """A JSON document already serialised: stored as is by :func:`dumps_json`.

    The crawl keeps each mention's raw payload in this form from the first pipeline on: a
    page of decoded platform JSON is several times larger as Python objects than as text,
    and thousands of mentions wait in the analysis and store queues at once.
    """

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> JSONText | None:
        """``value`` serialised (None stays None; JSONText is returned unchanged)."""
        if value is None or isinstance(value, JSONText):
            return value
        return cls(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def dumps_json(value: Any) -> str:
    """The engines' JSON serializer: UTF-8 text (not \\u escapes), JSONText passed through."""
    if isinstance(value, JSONText):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
