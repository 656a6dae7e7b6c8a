"""/api/config: a session that is logged out is auth_expired; a changed schema is bad_payload."""

from __future__ import annotations

import pytest

from crawler.errors import ErrorKind, PlatformError
from spiders import _weibo_api as api


def test_login_field_decides_the_session() -> None:
    assert api.check_login({"ok": 1, "data": {"login": True, "uid": "1"}}) is True
    assert api.check_login({"ok": 1, "data": {"login": False}}) is False


@pytest.mark.parametrize("data", [{"islogin": 1}, {"login": "yes"}, {"login": None}, {}])
def test_a_changed_config_schema_is_bad_payload_not_an_expired_session(data: dict) -> None:
    with pytest.raises(PlatformError) as info:
        api.check_login({"ok": 1, "data": data})
    assert info.value.kind == ErrorKind.BAD_PAYLOAD
    assert "yuqing login" not in str(info.value)
