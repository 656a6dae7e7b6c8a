"""Validation of the [platforms.xiaohongshu] / [platforms.douyin] config sections."""

from __future__ import annotations

import pytest

from crawler.config import config_from_dict
from crawler.errors import ConfigError


def _cfg(platforms: dict) -> object:
    return config_from_dict({"brands": [{"name": "鲜果时光"}], "platforms": platforms})


def test_defaults_point_at_the_real_hosts() -> None:
    cfg = _cfg({})
    assert cfg.platforms.xiaohongshu.base_url == "https://edith.xiaohongshu.com"
    assert cfg.platforms.xiaohongshu.web_url == "https://www.xiaohongshu.com"
    assert cfg.platforms.xiaohongshu.signer == "xhshow"
    assert cfg.platforms.douyin.mode == "browser" and cfg.platforms.douyin.signer == "browser"


def test_custom_signer_path_is_accepted() -> None:
    cfg = _cfg({"xiaohongshu": {"signer": "mysigners.xhs:make"}, "douyin": {"signer": "mysigners.dy:make"}})
    assert cfg.platforms.xiaohongshu.signer == "mysigners.xhs:make"


@pytest.mark.parametrize(
    ("platforms", "message"),
    [
        ({"xiaohongshu": {"signer": "magic"}}, "platforms.xiaohongshu.signer: unknown signer 'magic'"),
        ({"douyin": {"signer": "command"}}, "signer = 'command' needs sign_command"),
        ({"douyin": {"mode": "spider"}}, "platforms.douyin.mode"),
        (
            {"xiaohongshu": {"web_url": "www.xiaohongshu.com"}},
            "platforms.xiaohongshu.web_url: not an http(s) URL",
        ),
        ({"xiaohongshu": {"note_type": 5}}, "platforms.xiaohongshu.note_type"),
        ({"douyin": {"max_scrolls": 0}}, "platforms.douyin.max_scrolls"),
    ],
)
def test_bad_values_name_the_key(platforms, message) -> None:
    with pytest.raises(ConfigError) as err:
        _cfg(platforms)
    assert message in str(err.value)
