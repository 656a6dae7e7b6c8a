"""Crisis-tracking tests: a config with a crisis channel, a database, recorded bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.config import AppConfig, config_from_dict

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def crisis_config(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": {"data_dir": str(tmp_path / "data")},
        "storage": {"url": f"sqlite:///{tmp_path / 'yuqing.db'}"},
        "brands": [
            {
                "name": "鲜果时光",
                "aliases": ["鲜果", "XGSG"],
                "keywords": ["鲜果时光"],
                "exclude": ["招聘", "兼职"],
                "products": ["鲜榨橙汁", "芒果冰沙"],
            },
            {"name": "小鹿宝贝", "aliases": ["小鹿"], "keywords": ["小鹿宝贝"], "exclude": ["招聘"]},
        ],
        "platforms": {
            "weibo": {
                "request_delay": 0,
                "rate_limit_per_minute": 6000,
                "max_retries": 2,
                "timeout_seconds": 3,
                "max_pages": 5,
            },
            "douyin": {"rate_limit_per_minute": 6000, "max_retries": 1, "timeout_seconds": 3},
            "xiaohongshu": {"enabled": False},
            "heimao": {"enabled": False},
        },
        "alerts": {
            "channels": {
                "pr": {"type": "webhook", "url": "http://127.0.0.1:9/pr"},
                "ops": {"type": "webhook", "url": "http://127.0.0.1:9/ops"},
            },
            "rules": [
                {"name": "危机", "channels": ["pr"], "min_urgency": "非常紧急", "surge": True},
                {"name": "摘要", "channels": ["ops"], "min_risk": 30, "mode": "digest"},
            ],
        },
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


@pytest.fixture
def cfg(tmp_path: Path) -> AppConfig:
    return config_from_dict(crisis_config(tmp_path))
