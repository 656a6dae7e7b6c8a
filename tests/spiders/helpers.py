"""Test helpers for the crawl tests: fixtures, the repaired real Weibo capture, fake responses."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request, TextResponse

from tests.conftest import real_capture

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture(platform: str, name: str) -> str:
    return (FIXTURES / platform / name).read_text(encoding="utf-8")


def load_json(platform: str, name: str) -> Any:
    return json.loads(load_fixture(platform, name))


def _repair_text_value(m: re.Match[str]) -> str:
    body = m.group(2)
    body = re.sub(r"\s*\n\s*", "", body).replace("https: //", "https://")
    return m.group(1) + body.replace('"', '\\"') + m.group(3)


def real_weibo_cards() -> list[dict[str, Any]]:
    """The real m.weibo.cn capture (a Python literal whose README formatting broke the ``text``
    HTML across lines and dropped its escapes) repaired and evaluated into ``data.cards``."""
    raw = real_capture("weibo", "m_weibo_cn_getIndex_cards_excerpt.pyliteral.txt").read_text("utf-8")
    # Each "text" value runs from `"text": "` to the `",` that precedes the next `"source":` key.
    fixed = re.sub(
        r'("text":\s*")(.*?)(",\s*\n\s*"(?:source|textLength)")', _repair_text_value, raw, flags=re.S
    )
    return ast.literal_eval(fixed)  # type: ignore[no-any-return]


def json_response(
    url: str, body: Any, *, status: int = 200, meta: dict[str, Any] | None = None
) -> TextResponse:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    request = Request(url, meta=meta or {})
    return TextResponse(url, body=text.encode("utf-8"), encoding="utf-8", status=status, request=request)


def html_response(
    url: str, body: str, *, status: int = 200, meta: dict[str, Any] | None = None
) -> HtmlResponse:
    request = Request(url, meta=meta or {})
    return HtmlResponse(url, body=body.encode("utf-8"), encoding="utf-8", status=status, request=request)


RUNNER = Path(__file__).resolve().parent / "runner.py"
SMALL_WORLD = {
    "posts_per_brand": 12,
    "comments_per_post": [0, 4],
    "crisis_size": 6,
    "platforms": ["weibo", "heimao"],
}
FAST = {
    "YUQING_BACKOFF_BASE": 0.05,
    "YUQING_BACKOFF_MAX": 0.2,
    "DOWNLOAD_TIMEOUT": 1,
    "RETRY_TIMES": 2,
    "YUQING_MAX_PAGES": 30,
    "YUQING_STORE_FLUSH_SECONDS": 0,
    "YUQING_ANALYZE_WORKERS": 0,
}


def run_plan(
    tmp_path: Path,
    config: Path,
    steps: list[dict[str, Any]],
    *,
    timeout: float = 120,
    settings: dict[str, Any] | None = None,
    sim: dict[str, Any] | None = None,
    keywords: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Run ``steps`` in the scenario runner subprocess; returns its results and the ground truth."""
    import subprocess
    import sys

    out = tmp_path / "runner-out.json"
    plan = {
        "config": str(config),
        "out": str(out),
        "log_level": "WARNING",
        "sim": sim or SMALL_WORLD,
        "settings": {**FAST, **(settings or {})},
        "steps": steps,
        "keywords": keywords or {"weibo": ["鲜果时光"], "heimao": ["鲜果时光"]},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(plan_file)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    assert out.exists(), f"runner failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def expected_ids(
    out: dict[str, Any],
    platform: str,
    keywords: list[str],
    brand: str | None = None,
    snapshot: str | None = None,
) -> set[str]:
    """Post ids a crawl of ``keywords`` must find, from the simulator's ground truth (at the end, or
    at a ``snapshot`` step): the matching posts with their comments and replies (and on Heimao, with
    ``brand``, every complaint against the brand's company, which the company list brings)."""
    if snapshot is not None:
        out = next(r for r in out["results"] if r.get("snapshot") == snapshot)
    ids = {pid for kw in keywords for pid in out["matching"][f"{platform}:{kw}"]}
    if brand is not None:
        ids |= {
            r["post_id"]
            for r in out["truth"].get(platform, [])
            if r["kind"] == "complaint" and r["brand"] == brand
        }
    return ids


def stored(db_url: str, platform: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from crawler.storage.engine import make_engine
    from crawler.storage.mentions import MENTIONS

    with make_engine(db_url).connect() as conn:
        return [
            dict(r) for r in conn.execute(select(MENTIONS).where(MENTIONS.c.platform == platform)).mappings()
        ]


def runs(db_url: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from crawler.storage.engine import make_engine
    from crawler.storage.mentions import RUNS

    with make_engine(db_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(RUNS).order_by(RUNS.c.id)).mappings()]
