"""The shared normalisers: HTML, times, counts, regions, URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.platform.normalize import (
    absolute_url,
    epoch_to_utc,
    parse_count,
    parse_region,
    parse_time,
    strip_html,
)

NOW = datetime(2024, 6, 3, 4, 0, 0, tzinfo=UTC)  # 12:00 in Beijing


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('好<span class="url-icon"><img alt="[怒]" src="//x.png" /></span>气', "好[怒]气"),
        ("第一行<br />第二行", "第一行\n第二行"),
        ('<a href="/n/x">@x</a>:回复', "@x:回复"),
        ("a<script>alert('x')</script>b<style>p{}</style>c", "abc"),
        ("&lt;b&gt; &amp; &#x4E2D;", "<b> & 中"),
        ("  many   spaces\u3000here ", "many spaces here"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("unclosed <a href='x", "unclosed"),
        (None, ""),
        (123, "123"),
        ({"a": 1}, ""),
    ],
)
def test_strip_html(html: object, text: str) -> None:
    assert strip_html(html) == text


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (3496, 3496),
        ("3496", 3496),
        ("1,234", 1234),
        ("105.9万", 1_059_000),
        ("100万+", 1_000_000),
        ("1.2w", 12_000),
        ("3亿", 300_000_000),
        ("10万+", 100_000),
        (" 7 ", 7),
        (2.9, 2),
        (None, 0),
        ("", 0),
        ("赞", 0),
        (True, 0),
        (-5, 0),
        ([1], 0),
        (float("nan"), 0),
    ],
)
def test_parse_count(value: object, count: int) -> None:
    assert parse_count(value) == count


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("发布于 北京", "北京"),
        ("来自北京", "北京"),
        ("IP属地：广东", "广东"),
        ("上海", "上海"),
        ("", None),
        (None, None),
        (42, None),
        ("发布于 ", None),
    ],
)
def test_parse_region(value: object, region: str | None) -> None:
    assert parse_region(value) == region


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sat Jan 14 18:39:37 +0800 2023", datetime(2023, 1, 14, 10, 39, 37, tzinfo=UTC)),
        ("Wed Oct 19 23:44:36 +0800 2022", datetime(2022, 10, 19, 15, 44, 36, tzinfo=UTC)),
        ("刚刚", NOW),
        ("30秒前", NOW - timedelta(seconds=30)),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("3小时前", NOW - timedelta(hours=3)),
        ("2天前", NOW - timedelta(days=2)),
        ("今天 09:30", datetime(2024, 6, 3, 1, 30, tzinfo=UTC)),
        ("昨天 23:10", datetime(2024, 6, 2, 15, 10, tzinfo=UTC)),
        ("06-01", datetime(2024, 5, 31, 16, 0, tzinfo=UTC)),
        ("12-30", datetime(2023, 12, 29, 16, 0, tzinfo=UTC)),  # in the future this year → last year
        ("2024-05-20", datetime(2024, 5, 19, 16, 0, tzinfo=UTC)),
        ("2024-05-20 08:15:30", datetime(2024, 5, 20, 0, 15, 30, tzinfo=UTC)),
        ("2024年5月20日 08:15", datetime(2024, 5, 20, 0, 15, tzinfo=UTC)),
        ("1717300000", datetime(2024, 6, 2, 3, 46, 40, tzinfo=UTC)),
        (1717300000, datetime(2024, 6, 2, 3, 46, 40, tzinfo=UTC)),
        ("1760881087000", datetime(2025, 10, 19, 13, 38, 7, tzinfo=UTC)),
        ("2024-06-01T10:00:00Z", datetime(2024, 6, 1, 10, 0, tzinfo=UTC)),
        ("yesterday-ish", None),
        ("", None),
        (None, None),
        (True, None),
        ("99-99", None),
        ("5", None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    got = parse_time(value, now=NOW)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_naive_datetime_is_beijing_time() -> None:
    assert parse_time(datetime(2024, 1, 1, 8, 0)) == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


def test_epoch_units() -> None:
    assert epoch_to_utc("1760881087000", unit="ms") == epoch_to_utc(1760881087)
    assert epoch_to_utc("abc") is None
    assert epoch_to_utc(10) is None  # 1970: not a post time


@pytest.mark.parametrize(
    ("value", "base", "url"),
    [
        ("//tousu.sina.com.cn/complaint/view/1/", None, "https://tousu.sina.com.cn/complaint/view/1/"),
        ("http://x.cn/a", None, "http://x.cn/a"),
        ("/status/1", "https://m.weibo.cn", "https://m.weibo.cn/status/1"),
        ("/status/1", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_absolute_url(value: object, base: str | None, url: str | None) -> None:
    assert absolute_url(value, base) == url
