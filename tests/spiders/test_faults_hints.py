"""Every remediation hint names a command that exists."""

from __future__ import annotations

import pytest

from crawler.platform.faults import auth_error
from crawler.service.login import LOGIN_PLATFORMS


@pytest.mark.parametrize("platform", ["weibo", "xiaohongshu", "douyin", "heimao"])
def test_auth_expired_hints_name_a_real_command(platform: str) -> None:
    msg = str(auth_error(platform, "cookie expired"))
    if platform in LOGIN_PLATFORMS:
        assert f"yuqing login {platform}" in msg
    else:  # Heimao has no QR login: the hint says where its cookies go, and a command that exists
        assert "yuqing login heimao" not in msg
        assert "HEIMAO_COOKIES" in msg and "yuqing crawl heimao" in msg


def test_health_incident_fix_for_heimao_names_no_missing_command() -> None:
    from crawler.service.health_text import _fix

    assert "yuqing login heimao" not in _fix("session_expired", "heimao")
    assert "yuqing login weibo" in _fix("session_expired", "weibo")


@pytest.mark.parametrize("kind", ["session_expired", "blocked", "zero_results"])
def test_no_heimao_fix_mentions_a_login_command_that_does_not_exist(kind: str) -> None:
    from crawler.service.health_text import _fix

    assert "yuqing login heimao" not in _fix(kind, "heimao")
