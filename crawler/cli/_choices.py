"""The fixed value sets of CLI options: shown in ``--help``, completed by the shell, and a
wrong value is a usage error (exit 2) before the command runs.

Single values are ``Literal`` types (typer turns them into a choice). Options that take a
comma-separated list as well as repeats (``-p weibo,heimao -p douyin``) use
:func:`comma_choice`, which checks every part and hands the command the cleaned list text.
The value sets here must equal the canonical ones (``crawler.config``, ``alerts.complaints.model``,
``alerts.delivery.outbox``):
``tests/crawler/foundation/test_cli_usage.py`` holds them to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import typer

PLATFORMS: tuple[str, ...] = ("weibo", "xiaohongshu", "douyin", "heimao")
LOGIN_PLATFORMS: tuple[str, ...] = ("weibo", "xiaohongshu", "douyin")
CATEGORIES: tuple[str, ...] = (
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
)
URGENCIES: tuple[str, ...] = ("非常紧急", "紧急", "一般")
KINDS: tuple[str, ...] = ("post", "comment", "complaint")
COMPLAINT_STATUSES: tuple[str, ...] = ("待处理", "处理中", "已升级", "已解决", "已回访", "已关闭")
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "xlsx")

Platform = Literal["weibo", "xiaohongshu", "douyin", "heimao"]
LoginPlatform = Literal["weibo", "xiaohongshu", "douyin"]
Sentiment = Literal["positive", "neutral", "negative"]
Urgency = Literal["非常紧急", "紧急", "一般"]
Category = Literal[
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
]
ComplaintStatus = Literal["待处理", "处理中", "已升级", "已解决", "已回访", "已关闭"]
NewComplaintStatus = Literal["处理中", "已升级", "已解决", "已回访", "已关闭"]
QueryFormat = Literal["table", "json", "csv"]
ExportFormat = Literal["csv", "xlsx"]
ComplaintExportFormat = Literal["csv", "xlsx", "json"]
ReportFormat = Literal["html", "pdf", "xlsx"]
ReportKind = Literal["daily", "weekly"]
Order = Literal["newest", "oldest", "risk", "engagement"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed", "dead"]
AlertKind = Literal[
    "mention",
    "event",
    "surge",
    "digest",
    "backfill",
    "rollup",
    "health",
    "complaint_sla",
    "complaint",
    "report",
    "hot",
    "spread",
]


def split_list(value: str) -> list[str]:
    """The parts of ``a,b``, ``a，b`` (full-width comma) or ``a b``."""
    return [p for p in value.replace("，", ",").replace(" ", ",").split(",") if p.strip()]


def comma_choice(choices: Sequence[str], what: str) -> dict[str, Any]:
    """``typer.Option`` keywords for a repeatable option whose values may also be comma lists of ``choices``."""

    def parse(value: str) -> str:
        parts = [p.strip() for p in split_list(str(value))]
        bad = [p for p in parts if p not in choices]
        if bad or not parts:
            raise typer.BadParameter(
                f"{', '.join(bad) or repr(value)} is not a {what} (choose from {', '.join(choices)})"
            )
        return ",".join(parts)

    def complete(incomplete: str) -> list[str]:
        head, _, last = incomplete.replace("，", ",").rpartition(",")
        prefix = head + "," if head else ""
        return [prefix + c for c in choices if c.startswith(last)]

    metavar = "[" + "|".join(choices) + "],..."
    return {"parser": parse, "autocompletion": complete, "metavar": metavar}


def completer(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Shell completion for a free-text option with known common values."""
    return lambda incomplete: [c for c in choices if c.startswith(incomplete)]
