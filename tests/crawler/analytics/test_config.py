"""The [api] and [reports] config sections: defaults and the problems they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.config import config_from_dict
from crawler.errors import ConfigError

BRANDS = [{"name": "鲜果时光"}]


def _cfg(**sections: Any) -> Any:
    return config_from_dict({"brands": BRANDS, **sections})


def test_defaults_keep_the_api_closed() -> None:
    cfg = _cfg()
    assert (cfg.api.host, cfg.api.port, cfg.api.tokens, cfg.api.cors_origins) == ("127.0.0.1", 8600, [], [])
    assert (cfg.api.login_max_failures, cfg.api.login_window_seconds) == (5, 300)
    assert cfg.reports.formats == ["html"] and cfg.reports.top_n == 10


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ({"tokens": [{"name": "a", "token": "short"}]}, "at least 16 characters"),
        (
            {"tokens": [{"name": "a", "token": "x" * 20}, {"name": "a", "token": "y" * 20}]},
            "duplicate token name",
        ),
        ({"tokens": [{"name": "a", "token": "x" * 20}, {"name": "b", "token": "x" * 20}]}, "same token"),
        ({"tokens": [{"name": "a", "token": "x" * 20, "role": "admin"}]}, "api.tokens[0].role"),
        ({"tokens": [{"name": "a b", "token": "x" * 20}]}, "api.tokens[0].name"),
        ({"cors_origins": ["*"]}, "scheme://host"),
        ({"cors_origins": ["https://bi.example.com/path"]}, "without a path"),
        ({"public_url": "ftp://x"}, "http(s) URL"),
        ({"login_max_failures": 0}, "login_max_failures"),
        ({"port": 70000}, "api.port"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_api_sections(api: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _cfg(api=api)
    assert message in str(err.value)
    assert "x" * 20 not in str(err.value)  # a token never appears in the message


def test_reports_section() -> None:
    with pytest.raises(ConfigError, match="reports.formats"):
        _cfg(reports={"formats": ["docx"]})
    with pytest.raises(ConfigError, match="unknown channel"):
        _cfg(reports={"channels": ["nowhere"]})
    cfg = _cfg(reports={"formats": ["pdf", "xlsx"], "top_n": 5, "brands": ["鲜果时光"]})
    assert cfg.reports.formats == ["pdf", "xlsx"] and cfg.reports.brands == ["鲜果时光"]
