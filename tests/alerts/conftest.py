"""Helpers for triage tests: a config with channels and rules, mentions written through the real upsert."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crawler.config import AppConfig, config_from_dict

_ids = itertools.count(1)

BASE: dict[str, Any] = {
    "brands": [
        {"name": "鲜果时光", "aliases": ["鲜果"], "keywords": ["鲜果时光"]},
        {"name": "小鹿宝贝", "keywords": ["小鹿宝贝"]},
    ],
    "alerts": {
        "channels": {
            "pr": {"type": "webhook", "url": "http://127.0.0.1:9/pr"},
            "ops": {"type": "webhook", "url": "http://127.0.0.1:9/ops"},
            "legal": {"type": "webhook", "url": "http://127.0.0.1:9/legal"},
        },
        "rules": [
            {"name": "危机", "channels": ["pr"], "min_urgency": "紧急", "surge": True},
            {"name": "一般投诉", "channels": ["ops"], "min_risk": 30, "mode": "digest"},
        ],
    },
}


def make_cfg(**overrides: Any) -> AppConfig:
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return config_from_dict(data)


@pytest.fixture
def cfg() -> AppConfig:
    return make_cfg()


NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


def mention(text: str = "鲜果时光的橙汁喝出异物，要求退款！", **kw: Any) -> dict[str, Any]:
    """A mention row as the pipeline stores it (analysis columns included)."""
    n = next(_ids)
    row: dict[str, Any] = {
        "platform": "weibo",
        "post_id": f"p{n}",
        "brand": "鲜果时光",
        "kind": "post",
        "text": text,
        "masked_text": text,
        "author_id": f"u{n}",
        "author_name": f"用户{n}",
        "author_followers": 100,
        "published_at": kw.pop("published_at", None) or datetime.now(UTC) - timedelta(minutes=5),
        "likes": 1,
        "comments": 0,
        "shares": 0,
        "url": f"https://m.weibo.cn/detail/{n}",
        "sentiment": 0.1,
        "is_complaint": True,
        "category": "产品质量",
        "urgency": "紧急",
        "risk": 70,
        "reasons": ["要求退款"],
        "fingerprint": None,
    }
    row.update(kw)
    return row


def store(engine: Any, cfg: AppConfig, rows: list[dict[str, Any]], **kw: Any) -> dict[str, int]:
    """Upsert ``rows`` and triage them in one transaction, like the Store pipeline."""
    from alerts.triage.run import triage
    from crawler.storage.mentions import upsert_mentions

    with engine.begin() as conn:
        result = upsert_mentions(conn, rows)
        with conn.begin_nested():
            return triage(conn, cfg, result.rows, **kw)


def seen_when_published(engine: Any) -> None:
    """Make every stored mention look first seen when it was published: a brand watched for hours,
    not one whose history a first crawl just brought in (see ``alerts.triage.pacing``)."""
    from sqlalchemy import update

    from crawler.storage.models import Mention

    with engine.begin() as conn:
        conn.execute(
            update(Mention)
            .where(Mention.published_at.is_not(None))
            .values(first_seen_at=Mention.published_at)
        )


def watched_for(engine: Any, cfg: AppConfig, brand: str = "鲜果时光", hours: float = 3) -> None:
    """A brand watched for ``hours``: one calm mention of it, first seen (and published) that long ago.

    A surge in a brand's first hour of watching is news about its first crawl, not an alert."""
    from sqlalchemy import update

    from crawler.storage.models import Mention

    then = datetime.now(UTC) - timedelta(hours=hours)
    row = mention(
        f"{brand}的门店今天人不多",
        brand=brand,
        is_complaint=False,
        urgency=None,
        risk=0,
        sentiment=0.6,
        published_at=then,
    )
    store(engine, cfg, [row])
    with engine.begin() as conn:
        conn.execute(update(Mention).where(Mention.post_id == row["post_id"]).values(first_seen_at=then))
