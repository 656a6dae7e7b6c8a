"""The fault matrix of both platforms, a session expiring mid-crawl, account rotation, recovery.

One scenario runner (one process, one reactor) runs every crawl against the simulator:
each fault kind, rendered the way the platform really fails, must end its crawl with the
right ``crawl_runs`` record (error kind, retries only for transient kinds); afterwards a
clean crawl brings every post exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.spiders.signed.conftest import live_chromium, run_plan, runs, stored

pytestmark = [pytest.mark.slow, pytest.mark.browser]

API = "/aweme/"  # Douyin faults on its API calls; the page itself still loads
# (platform, fault kind, fault path, crawl settings, expected error kind, transient?)
MATRIX: list[tuple[str, str, str | None, dict[str, Any], str, bool]] = [
    ("xiaohongshu", "captcha", None, {}, "captcha", False),
    ("xiaohongshu", "signature_rejected", None, {}, "signature_rejected", False),
    ("xiaohongshu", "ip_blocked", None, {}, "ip_blocked", False),
    ("xiaohongshu", "auth_expired", None, {}, "auth_expired", False),
    ("xiaohongshu", "rate_limited", None, {}, "rate_limited", True),
    ("xiaohongshu", "server_error", None, {}, "server_error", True),
    ("xiaohongshu", "malformed_json", None, {}, "bad_payload", False),
    ("xiaohongshu", "schema_change", None, {}, "bad_payload", False),
    ("xiaohongshu", "timeout", None, {"DOWNLOAD_TIMEOUT": 0.5}, "timeout", True),
    ("douyin", "captcha", None, {}, "captcha", False),
    ("douyin", "signature_rejected", API, {}, "signature_rejected", False),
    ("douyin", "ip_blocked", API, {}, "ip_blocked", False),
    ("douyin", "auth_expired", API, {}, "auth_expired", False),
    ("douyin", "rate_limited", API, {}, "rate_limited", True),
    ("douyin", "server_error", API, {}, "server_error", True),
    ("douyin", "malformed_json", API, {}, "bad_payload", False),
    ("douyin", "schema_change", API, {}, "bad_payload", False),
    ("douyin", "timeout", API, {"DOWNLOAD_TIMEOUT": 0.5}, "timeout", True),
]


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        # Two logged-in Xiaohongshu accounts; the first one's session dies after the search page.
        {"op": "sessions", "platform": "xiaohongshu", "accounts": ["a", "b"]},
        {"op": "fault", "platform": "xiaohongshu", "kind": "auth_expired", "path": "/api/sns/web/v1/feed"},
        {
            "op": "crawl",
            "platform": "xiaohongshu",
            "brand": "鲜果时光",
            "cookies": "store",
            "label": "xhs:expire",
        },
        {"op": "clear"},
        {
            "op": "crawl",
            "platform": "xiaohongshu",
            "brand": "鲜果时光",
            "cookies": "store",
            "label": "xhs:rotate",
        },
        # Douyin: search works, then the session is refused on the comment calls.
        {"op": "fault", "platform": "douyin", "kind": "auth_expired", "path": "/comment/list"},
        {"op": "crawl", "platform": "douyin", "brand": "鲜果时光", "label": "dy:expire"},
    ]
    for platform, kind, path, settings, _, _ in MATRIX:
        options = {"delay": 1.5} if kind == "timeout" else {}
        steps += [
            {"op": "fault", "platform": platform, "kind": kind, "path": path, "options": options},
            {
                "op": "crawl",
                "platform": platform,
                "brand": "小鹿宝贝",
                "settings": settings,
                "label": f"{platform}:{kind}",
            },
        ]
    steps += [
        {"op": "clear"},
        {"op": "crawl", "platform": "xiaohongshu", "brand": "小鹿宝贝", "label": "xhs:final"},
        {"op": "crawl", "platform": "douyin", "brand": "鲜果时光", "label": "dy:final"},
        {"op": "crawl", "platform": "douyin", "brand": "小鹿宝贝", "label": "dy:final2"},
    ]
    return steps


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("xd-faults")
    out = run_plan(tmp, _steps(), timeout=240)
    return tmp, {**out, "by_label": {r["label"]: r for r in out["results"] if r.get("label")}}


@pytest.mark.parametrize(
    ("platform", "kind", "path", "settings", "error_kind", "transient"),
    MATRIX,
    ids=[f"{m[0]}-{m[1]}" for m in MATRIX],
)
def test_fault_ends_in_the_right_crawl_run(
    matrix: tuple[Path, dict[str, Any]],
    platform: str,
    kind: str,
    path: str | None,
    settings: dict[str, Any],
    error_kind: str,
    transient: bool,
) -> None:
    _, out = matrix
    run = out["by_label"][f"{platform}:{kind}"]
    assert run["error_kind"] == error_kind, run
    assert run["status"] in ("failed", "partial"), run
    assert run["faults"].get(error_kind, 0) >= 1
    if transient:
        assert run["retries"] >= 2, run  # RETRY_TIMES = 2, with backoff
    else:
        assert run["retries"] == 0, run  # never retried: it cannot get better by itself
    if error_kind == "auth_expired":
        assert f"yuqing login {platform}" in run["error_message"]


def test_session_expiring_mid_crawl_ends_with_the_login_command(matrix: tuple[Path, dict[str, Any]]) -> None:
    tmp, out = matrix
    expired = out["by_label"]["xhs:expire"]
    assert expired["status"] == "failed" and expired["error_kind"] == "auth_expired"
    assert "yuqing login xiaohongshu --account a" in expired["error_message"]
    assert out["sessions"]["xiaohongshu"] == {"a": "expired", "b": "ok"}
    dy = out["by_label"]["dy:expire"]
    assert dy["error_kind"] == "auth_expired" and "yuqing login douyin" in dy["error_message"]
    assert dy["new"] > 0  # the posts found before the session died are kept
    rows = {r["error_kind"] for r in runs(tmp) if r["platform"] == "xiaohongshu"}
    assert "auth_expired" in rows


def test_next_run_uses_the_next_account(matrix: tuple[Path, dict[str, Any]]) -> None:
    _, out = matrix
    rotated = out["by_label"]["xhs:rotate"]
    assert rotated["status"] == "ok" and rotated["error_kind"] is None, rotated


def test_after_the_faults_every_post_is_stored_exactly_once(matrix: tuple[Path, dict[str, Any]]) -> None:
    tmp, out = matrix
    for label in ("xhs:final", "dy:final", "dy:final2"):
        assert out["by_label"][label]["status"] == "ok", out["by_label"][label]
    for platform in ("xiaohongshu", "douyin"):
        ids = [r["post_id"] for r in stored(tmp, platform)]
        want = {pid for kw in ("鲜果时光", "小鹿宝贝") for pid in out["matching"][f"{platform}:{kw}"]}
        assert len(ids) == len(set(ids)) and set(ids) == want, platform
    assert live_chromium() == []
