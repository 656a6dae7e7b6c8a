"""Hot-list and repost-timeline parsers on recorded bodies (ads, labels, chains) and hostile input."""

from __future__ import annotations

import pytest

from crawler.errors import ErrorKind, PlatformError
from spiders import _hot_api as api
from tests.crawler.service.crisis.conftest import fixture


def test_weibo_hot_search_lines_ads_and_labels() -> None:
    page = api.parse_weibo_hot(fixture("weibo_hot_search.json"))
    assert not page.bad and len(page.items) == 20
    assert [i.rank for i in page.items] == list(range(1, 21))
    ads = [i for i in page.items if i.is_ad]
    assert [a.word for a in ads] == ["某品牌手机新品首发", "鲜果时光夏日新品上市"] and {
        a.rank for a in ads
    } == {3, 14}
    topic = next(i for i in page.items if i.word == "鲜果时光门店被曝使用过期水果")
    assert (topic.rank, topic.label, topic.heat) == (5, "沸", 3505112)
    assert (
        topic.search_url
        == "https://s.weibo.com/weibo?q=%23%E9%B2%9C%E6%9E%9C%E6%97%B6%E5%85%89%E9%97%A8%E5%BA%97"
        "%E8%A2%AB%E6%9B%9D%E4%BD%BF%E7%94%A8%E8%BF%87%E6%9C%9F%E6%B0%B4%E6%9E%9C%23"
    )
    assert {i.label for i in page.items} >= {"新", "热", "沸", "商", ""} - {""} and any(
        i.label is None for i in page.items
    )


def test_douyin_hot_list_positions_and_labels() -> None:
    page = api.parse_douyin_hot(fixture("douyin_hot_list.json"))
    assert [i.rank for i in page.items] == list(range(1, 21))
    topic = next(i for i in page.items if i.word == "鲜果时光过期水果事件")
    assert topic.rank == 6 and topic.label == "热" and topic.heat == 2761423
    assert {i.label for i in page.items} == {None, "新", "热"}
    assert topic.search_url.startswith("https://www.douyin.com/search/")


def test_tolerant_of_odd_lines_and_hostile_words() -> None:
    body = {
        "ok": 1,
        "data": {
            "realtime": [
                {
                    "word": "<b>鲜果时光</b>#翻车#",
                    "num": "12.5万",
                    "label_name": "爆",
                },  # no realpos, heat as text
                {"note": "只有 note 字段", "rank": 4},
                {"num": 5},  # no word
                "garbage",
            ]
        },
    }
    page = api.parse_weibo_hot(body)
    assert [(i.word, i.rank, i.heat, i.label) for i in page.items] == [
        ("鲜果时光#翻车", 1, 125000, "爆"),
        ("只有 note 字段", 5, 0, None),
    ]
    assert len(page.bad) == 2


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"ok": 0, "msg": "请求过于频繁，请稍后再试"}, ErrorKind.RATE_LIMITED),
        ({"ok": 1, "data": {"band_list": []}}, ErrorKind.BAD_PAYLOAD),  # schema change
        ({"ok": -100, "msg": "请先登录"}, ErrorKind.AUTH_EXPIRED),
    ],
)
def test_weibo_hot_search_errors(body: dict, kind: ErrorKind) -> None:
    with pytest.raises(PlatformError) as err:
        api.parse_weibo_hot(body)
    assert err.value.kind is kind


def test_douyin_errors() -> None:
    with pytest.raises(PlatformError) as err:
        api.parse_douyin_hot({"status_code": 0, "data": {"wordList": []}})
    assert err.value.kind is ErrorKind.BAD_PAYLOAD
    with pytest.raises(PlatformError) as err:
        api.parse_douyin_hot({"status_code": 8, "status_msg": "用户未登录"})
    assert err.value.kind is ErrorKind.AUTH_EXPIRED


def test_repost_page_chains() -> None:
    page = api.parse_repost_page(fixture("weibo_repost_timeline.json"))
    assert page.total == 74 and page.pages == 8 and len(page.rows) == 10 and not page.bad
    for row in page.rows:
        if "//@" in row.text:
            assert row.parent_name and row.text.split("//@", 1)[1].startswith(row.parent_name + ":")
        else:
            assert row.parent_name is None
    assert all(r.author_name and r.published_at for r in page.rows)


def test_chain_parent_from_html_and_mentions_that_are_not_chains() -> None:
    html_only = {
        "id": "1",
        "text": "说得对 @路人 //<a href='/n/张三'>@张三</a>:转发微博//<a href='/n/李四'>@李四</a>:哈",
        "user": {"id": 9, "screen_name": "王五", "followers_count": "1.2万"},
    }
    page = api.parse_repost_page({"ok": 1, "data": {"data": [html_only], "total_number": 1, "max": 1}})
    row = page.rows[0]
    assert row.parent_name == "张三" and row.followers == 12000
    assert api.chain_parent("回复 @某人: 不是转发链") is None
    assert api.chain_parent("好//@A-b_c：全角冒号") == "A-b_c"
    assert api.parse_repost_page({"ok": 0, "msg": "还没有人转发过"}).rows == []
