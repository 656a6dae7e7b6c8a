"""The four platforms: their names in code, what users read, and the spellings people and files use.

Light on purpose (no third-party imports): the analyser reads it on its first call.
"""

from __future__ import annotations

from typing import Any

PLATFORMS: tuple[str, ...] = ("weibo", "xiaohongshu", "douyin", "heimao")
# What users read for each platform (alerts, dashboard, reports, exports, the CLI).
PLATFORM_NAMES: dict[str, str] = {
    "weibo": "微博",
    "xiaohongshu": "小红书",
    "douyin": "抖音",
    "heimao": "黑猫投诉",
}
# Other spellings met in hand-made and exported files (MediaCrawler's short codes among them).
_ALIASES: dict[str, str] = {
    **{name: code for code, name in PLATFORM_NAMES.items()},
    "wb": "weibo",
    "sina": "weibo",
    "新浪微博": "weibo",
    "xhs": "xiaohongshu",
    "red": "xiaohongshu",
    "dy": "douyin",
    "黑猫": "heimao",
    "黑猫投诉平台": "heimao",
}


def canonical_platform(value: Any) -> str | None:
    """The platform's code for any spelling of it ("Weibo", " xhs ", "小红书" → its code); another
    non-empty name comes back trimmed and lower-cased (a platform yuqing does not crawl); else None."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    return _ALIASES.get(name, name) or None
