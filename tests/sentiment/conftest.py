"""Fixtures for the analysis tests: a config with test brands, the analyser configured for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import AppConfig, config_from_dict

BRANDS = [
    {"name": "鲜果时光", "aliases": ["鲜果", "XGSG"], "products": ["鲜榨橙汁", "芒果冰沙"]},
    {"name": "星耀手机", "aliases": ["星耀", "XY手机"], "products": ["星耀X7"]},
    {"name": "云途快递", "aliases": ["云途", "YT快递"]},
]


def make_config(tmp: Path, **analysis: object) -> AppConfig:
    return config_from_dict(
        {"project": {"data_dir": str(tmp / "data")}, "brands": BRANDS, "analysis": dict(analysis)}
    )


@pytest.fixture()
def nlp_cfg(tmp_path: Path) -> AppConfig:
    """The analyser configured with the test brands (and default thresholds)."""
    import sentiment

    cfg = make_config(tmp_path)
    sentiment.configure(cfg)
    return cfg
