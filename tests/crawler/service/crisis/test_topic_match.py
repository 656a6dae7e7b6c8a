"""Topic-to-brand matching and the hot-list alert decisions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.triage.hotlist import after_alert, match_topic, updates
from crawler.config import AppConfig


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("鲜果时光门店被曝使用过期水果", ("鲜果时光", "鲜果时光")),
        ("鲜果门店被曝使用过期水果", ("鲜果时光", "鲜果")),  # short alias at the start of the topic
        ("喝了一杯鲜榨橙汁后腹泻", ("鲜果时光", "鲜榨橙汁")),  # a product
        ("XGSG回应", ("鲜果时光", "XGSG")),
        ("小鹿宝贝奶粉抽检不合格", ("小鹿宝贝", "小鹿宝贝")),
        ("新鲜果汁夏日特饮", None),  # the alias glued inside another word
        ("鲜果时光校园招聘", None),  # the brand's exclusion word
        ("小鹿宝贝兼职招聘", None),
        ("台风路径最新消息", None),
    ],
)
def test_match_topic(cfg: AppConfig, word: str, expected: tuple[str, str] | None) -> None:
    assert match_topic(cfg, word) == expected


def test_alert_thread_enter_top10_labels_jumps() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    state: dict | None = None
    steps = [
        (38, "新"),
        (30, "新"),
        (22, None),
        (8, "热"),
        (7, None),
        (4, "沸"),
        (2, "爆"),
        (1, "爆"),
        (12, None),
        (2, "爆"),
    ]
    fired = []
    for rank, label in steps:
        reasons = updates(state, rank, label, top=10, jump=10)
        if reasons:
            fired.append((rank, reasons))
            state = after_alert(state, rank, label, now)
    assert fired == [
        (38, ["登榜"]),
        (22, ["排名上升 38 → 22"]),
        (8, ["进入前10"]),
        (4, ["获得「沸」标签"]),
        (2, ["获得「爆」标签"]),
    ]
    assert state is not None and state["alerts"] == 5 and state["labels"] == ["沸", "爆"]
