"""Test helpers for the crawl tests: fixtures, the repaired real Weibo capture, fake responses,
the world and settings of the Weibo/Heimao scenarios."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request, TextResponse

from tests import scenario
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


# The world and settings of the Weibo/Heimao scenarios (tests/scenario.py runs them).
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
    """Run a Weibo/Heimao scenario (:func:`tests.scenario.run_plan` with this suite's world,
    settings and keywords); returns its results and the ground truth."""
    return scenario.run_plan(
        tmp_path,
        config,
        steps,
        sim=sim or SMALL_WORLD,
        settings={**FAST, **(settings or {})},
        keywords=keywords or {"weibo": ["鲜果时光"], "heimao": ["鲜果时光"]},
        timeout=timeout,
    )
