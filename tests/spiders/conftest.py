"""Fixtures of the crawl tests: a config file pointing at a temp SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIG = """
[project]
data_dir = "{data}"
log_level = "INFO"

[storage]
url = "{db}"

[[brands]]
name = "鲜果时光"
aliases = ["鲜果", "XGSG"]
keywords = ["鲜果时光"]
exclude = ["招聘", "兼职"]
products = ["鲜榨橙汁", "芒果冰沙"]
heimao_couid = ["5650743478"]

[[brands]]
name = "小鹿宝贝"
aliases = ["小鹿"]
keywords = ["小鹿宝贝"]
exclude = ["招聘"]
heimao_couid = ["7123456780"]

[platforms.weibo]
max_pages = 5
request_delay = 0
rate_limit_per_minute = 6000
max_retries = 2
timeout_seconds = 3
max_comment_pages = 2

[platforms.heimao]
max_pages = 5
request_delay = 0
rate_limit_per_minute = 6000
max_retries = 2
timeout_seconds = 3
"""


def write_config(tmp_path: Path, db_url: str | None = None) -> Path:
    db_url = db_url or f"sqlite:///{tmp_path / 'yuqing.db'}"
    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data", db=db_url), encoding="utf-8")
    return path


@pytest.fixture
def crawl_config(tmp_path: Path) -> Path:
    """A config file with two brands, fast crawl settings and a SQLite database in ``tmp_path``."""
    return write_config(tmp_path)
