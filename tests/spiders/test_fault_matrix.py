"""The fault matrix: every error kind on each platform ends in the right crawl_runs record with the
right retries; a flaky platform is survived by retries; after the faults clear, a re-crawl brings
every post exactly once.

Each platform's matrix is one scenario run in a subprocess (``tests/scenario.py``), with
``RETRY_TIMES = 2`` and fast backoff, so a transient kind costs each first request 1 + 2 tries.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.platform.faults import login_fix
from tests.scenario import expected_ids, runs, stored
from tests.spiders.helpers import run_plan

pytestmark = pytest.mark.slow
BRAND = "鲜果时光"
RETRIES = 2
# kind → (expected error kind, retried?)
KINDS: dict[str, tuple[str, bool]] = {
    "rate_limited": ("rate_limited", True),
    "server_error": ("server_error", True),
    "timeout": ("timeout", True),
    "network": ("network", True),
    "captcha": ("captcha", False),
    "ip_blocked": ("ip_blocked", False),
    "auth_expired": ("auth_expired", False),
    "bad_payload": ("bad_payload", False),
    "malformed_json": ("bad_payload", False),
    "schema_change": ("bad_payload", False),
}
PLATFORM_KINDS = {
    "weibo": dict(KINDS),
    "heimao": {**KINDS, "signature_rejected": ("signature_rejected", False)},
}
FIRST_REQUESTS = {"weibo": 2, "heimao": 2}  # weibo: search types 1 and 61; heimao: search + company list


def _matrix(tmp_path: Path, platform: str) -> tuple[dict, str, list[str]]:
    from tests.spiders.conftest import write_config

    config = write_config(tmp_path)
    steps: list[dict] = [{"op": "snapshot", "name": "start"}]
    labels = []
    for kind in PLATFORM_KINDS[platform]:
        options = {"delay": 5} if kind == "timeout" else {}
        steps += [
            {"op": "fault", "platform": platform, "kind": kind, "options": options},
            {"op": "crawl", "platform": platform, "brand": BRAND, "label": kind},
        ]
        labels.append(kind)
    steps += [
        {"op": "fault", "platform": platform, "kind": "server_error", "rate": 0.3},
        {"op": "crawl", "platform": platform, "brand": BRAND, "label": "flaky"},
        {"op": "clear"},
        {"op": "crawl", "platform": platform, "brand": BRAND, "label": "recovered"},
        {"op": "crawl", "platform": platform, "brand": BRAND, "label": "again"},
    ]
    out = run_plan(tmp_path, config, steps, timeout=150)
    return out, f"sqlite:///{tmp_path / 'yuqing.db'}", labels


def _check_fault(platform: str, kind: str, result: dict, run: dict) -> list[str]:
    want_kind, retried = PLATFORM_KINDS[platform][kind]
    problems = []
    if run["status"] != "failed" or run["error_kind"] != want_kind:
        problems.append(f"{kind}: run {run['status']}/{run['error_kind']}, want failed/{want_kind}")
    want_retries = FIRST_REQUESTS[platform] * RETRIES if retried else 0
    if kind == "rate_limited":  # a spent rate-limit budget stops the crawl: at least one request's retries
        ok = RETRIES <= run["retries"] <= want_retries
    else:
        ok = run["retries"] == want_retries
    if not ok:
        problems.append(f"{kind}: {run['retries']} retries, want {want_retries}")
    if not run["error_message"]:
        problems.append(f"{kind}: no error message")
    if kind == "auth_expired" and login_fix(platform) not in (run["error_message"] or ""):
        problems.append(f"{kind}: message lacks the fix: {run['error_message']}")
    if (
        kind in ("schema_change",)
        and "missing field" not in (run["error_message"] or "")
        and "no " not in (run["error_message"] or "")
    ):
        problems.append(f"{kind}: message does not name the missing field: {run['error_message']}")
    if result.get("new"):
        problems.append(f"{kind}: stored {result['new']} mentions from failed pages")
    return problems


@pytest.mark.parametrize("platform", ["weibo", "heimao"])
def test_fault_matrix(tmp_path: Path, platform: str) -> None:
    out, db, labels = _matrix(tmp_path, platform)
    recorded = {r["id"]: r for r in runs(db)}
    results = {r["label"]: r for r in out["results"] if r.get("label")}
    problems: list[str] = []
    for kind in labels:
        result = results[kind]
        problems += _check_fault(platform, kind, result, recorded[result["run_id"]])
    assert not problems, "\n".join(problems)

    flaky = recorded[results["flaky"]["run_id"]]
    assert flaky["status"] in ("ok", "partial") and flaky["retries"] > 0, flaky

    recovered = recorded[results["recovered"]["run_id"]]
    assert recovered["status"] == "ok" and recovered["error_kind"] is None
    expected = expected_ids(
        out, platform, [BRAND], brand=BRAND if platform == "heimao" else None, snapshot="start"
    )
    ids = [r["post_id"] for r in stored(db, platform)]
    assert len(ids) == len(set(ids)), "a post was stored twice"
    assert expected == set(ids), (sorted(expected - set(ids))[:5], sorted(set(ids) - expected)[:5])
    total_new = sum(r["new_count"] for r in recorded.values())
    assert total_new == len(expected)  # every post counted new exactly once across all runs
    again = recorded[results["again"]["run_id"]]
    assert again["status"] == "ok" and again["new_count"] == 0 and again["requests"] <= 2
