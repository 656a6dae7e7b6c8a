"""Session storage (0600 files, rotation, expiry) and cookie-file parsing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crawler.config import config_from_dict
from crawler.errors import ErrorKind, LoginRequired
from crawler.platform.sessions import (
    CookieFileError,
    Session,
    SessionStore,
    parse_cookie_text,
    read_cookie_file,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_session_is_private(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    path = store.save(Session("xiaohongshu", "main", {"a1": "A", "web_session": "W"}))
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    loaded = store.load("xiaohongshu", "main")
    assert loaded is not None and loaded.cookies == {"a1": "A", "web_session": "W"} and loaded.saved_at
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    "content", ['["a1", "A"]', '"cookies"', '{"cookies": ["a1"]}', '{"saved_at": "yesterday"}', "{"]
)
def test_malformed_session_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    store = SessionStore(tmp_path / "sessions")
    path = store.save(Session("xiaohongshu", "main", {"a1": "A"}))
    path.write_text(content, encoding="utf-8")
    from crawler.errors import YuqingError

    with pytest.raises(YuqingError, match=r"session file .*main\.json.*yuqing login xiaohongshu"):
        store.load("xiaohongshu", "main")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a1=AAA; web_session=WWW", {"a1": "AAA", "web_session": "WWW"}),
        ('[{"name": "sessionid", "value": "S", "domain": ".douyin.com"}]', {"sessionid": "S"}),
        ('{"cookies": {"SUB": "x"}}', {"SUB": "x"}),
        (".douyin.com\tTRUE\t/\tTRUE\t0\tsessionid\tS1\n# comment\n", {"sessionid": "S1"}),
        ("\ufeffa=1;;b=2\n", {"a": "1", "b": "2"}),
    ],
)
def test_cookie_formats(text: str, expected: dict) -> None:
    assert parse_cookie_text(text) == expected


def test_cookie_file_errors(tmp_path: Path) -> None:
    with pytest.raises(CookieFileError, match="cannot read"):
        read_cookie_file(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("no cookies here")
    with pytest.raises(CookieFileError, match="no cookie"):
        read_cookie_file(tmp_path / "empty.txt")
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(CookieFileError, match="JSON"):
        read_cookie_file(tmp_path / "bad.json")


def test_accounts_are_used_in_turn_and_expired_ones_skipped(tmp_path: Path) -> None:
    cookie_file = tmp_path / "b.txt"
    cookie_file.write_text("a1=B; web_session=WB")
    cfg = config_from_dict(
        {
            "brands": [{"name": "x"}],
            "project": {"data_dir": str(tmp_path / "data")},
            "platforms": {
                "xiaohongshu": {
                    "accounts": [
                        {"name": "a", "cookies": "a1=A; web_session=WA"},
                        {"name": "b", "cookies_file": str(cookie_file)},
                    ]
                }
            },
        }
    )
    store = SessionStore.from_config(cfg)
    store.save(Session("xiaohongshu", "c", {"a1": "C", "web_session": "WC"}))
    picks = [store.next_session("xiaohongshu", cfg).account for _ in range(6)]
    assert picks == ["a", "b", "c", "a", "b", "c"]
    store.mark("xiaohongshu", "b", "expired", "登录已过期")
    assert {store.next_session("xiaohongshu", cfg).account for _ in range(4)} == {"a", "c"}
    store.mark("xiaohongshu", "a", "expired")
    store.mark("xiaohongshu", "c", "expired")
    with pytest.raises(LoginRequired) as err:
        store.next_session("xiaohongshu", cfg)
    assert err.value.kind is ErrorKind.AUTH_EXPIRED and "yuqing login xiaohongshu --account a" in str(
        err.value
    )


def test_no_session_names_the_login_command(tmp_path: Path) -> None:
    with pytest.raises(LoginRequired, match=r"no login session: run `yuqing login douyin`"):
        SessionStore(tmp_path).next_session("douyin")


def test_corrupt_session_file_is_a_clear_error(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.path("douyin", "main").write_text("{not json")
    with pytest.raises(Exception, match="yuqing login douyin --account main"):
        store.load("douyin", "main")


def test_bad_account_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="bad account name"):
        SessionStore(tmp_path).path("douyin", "../../etc/passwd")


def test_session_json_never_holds_more_than_the_cookies(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.save(Session("douyin", "main", {"sessionid": "S"}, user_agent="UA"))
    data = json.loads(path.read_text())
    assert set(data) == {
        "platform",
        "account",
        "cookies",
        "source",
        "saved_at",
        "status",
        "status_reason",
        "user_agent",
        "expires_at",
    }
