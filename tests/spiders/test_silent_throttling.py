"""Weibo's silent throttling (HTTP 200, ok:1, no cards) after a crawl that found posts is a
rate_limited fault, not a clean run with 0 items; a logged-in empty keyword with no history stays ok."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenario import runs
from tests.spiders.helpers import run_plan

BRAND = "鲜果时光"


@pytest.mark.slow
def test_empty_results_that_contradict_the_last_crawl_are_rate_limited(tmp_path: Path) -> None:
    from tests.spiders.conftest import write_config

    config = write_config(tmp_path)
    steps = [
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "clean"},
        {"op": "fault", "platform": "weibo", "kind": "rate_limited", "options": {"variant": "empty"}},
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "throttled"},
        {"op": "clear"},
        {"op": "crawl", "platform": "weibo", "brand": BRAND, "label": "recovered"},
    ]
    run_plan(tmp_path, config, steps, timeout=150)
    rows = [r for r in runs(f"sqlite:///{tmp_path / 'yuqing.db'}") if r["platform"] == "weibo"]
    assert len(rows) == 3
    clean, throttled, recovered = rows
    assert clean["status"] == "ok" and clean["items"] > 0
    assert throttled["error_kind"] == "rate_limited" and throttled["status"] != "ok"
    assert "silent throttling" in throttled["error_message"]
    assert recovered["status"] == "ok"
