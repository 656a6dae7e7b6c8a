"""Weibo parsers on the real capture and on hostile variants."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.errors import ErrorKind, PlatformError
from spiders import _weibo_api as api
from tests.spiders.helpers import load_fixture, load_json, real_weibo_cards


def test_real_capture_parses() -> None:
    cards = real_weibo_cards()
    page = api.parse_search_page({"ok": 1, "data": {"cards": cards}}, brand="B", keyword="k", page=1)
    assert page.bad == [] and len(page.items) == 1 and page.cursor == 2
    post = page.items[0]
    assert post.post_id == "4857881961438732"
    assert post.published_at == datetime(2023, 1, 14, 10, 39, 37, tzinfo=UTC)
    assert post.ip_region == "北京"
    assert (post.likes, post.comments, post.shares) == (0, 0, 0)
    assert post.url == "https://m.weibo.cn/detail/4857881961438732"
    assert (
        post.extra is not None
        and post.extra["bid"] == "MohM062hm"
        and post.extra["source"] == "iPhone 14 Pro"
    )
    assert (
        post.text == cards[0]["mblog"]["raw_text"]
    )  # the HTML, stripped, is exactly the platform's raw_text
    retweeted = post.extra["retweeted"]
    assert retweeted["id"] == "4857828294527603" and retweeted["author"] == "JoannaBlue"
    assert retweeted["text"].startswith("#凡尔赛宫轶事# 路易十四和菲利普最严重的一次公开吵架")
    assert "<" not in post.text and "全文" not in post.text


def test_real_capture_retweet_fields() -> None:
    retweet = real_weibo_cards()[0]["mblog"]["retweeted_status"]
    item = api.parse_mblog(retweet, brand="B", keyword=None)
    assert item.author_name == "JoannaBlue" and item.author_id == "1813359803"
    assert item.author_followers == 1_059_000 and item.author_verified is True
    assert (item.likes, item.comments, item.shares) == (277, 13, 40)
    assert item.ip_region == "浙江"
    assert item.extra and item.extra["truncated"] is True and item.extra["pics"] == 1
    assert item.text.endswith("维莱科特") and "\n\n" in item.text  # <br /><br /> kept as a paragraph break


def test_search_page_cards_and_groups() -> None:
    page = api.parse_search_page(
        load_json("weibo", "search_page.json"), brand="鲜果时光", keyword="鲜果时光", page=1
    )
    assert [i.post_id for i in page.items] == ["5012345678901234", "5012345678901235"]
    assert len(page.bad) == 1 and "mblog.id" in page.bad[0]  # counted, not silently dropped
    first, second = page.items
    assert first.text == "@鲜果时光官方 买的鲜榨橙汁喝出了异物[怒]\n客服一直不回复！"
    assert (first.likes, first.comments, first.shares) == (12_000, 3, 12)
    assert first.author_followers == 1_059_000 and first.ip_region == "上海"
    assert second.shares == 1_000_000 and second.extra and second.extra["truncated"]
    assert second.text.endswith("推荐大家去试试")
    assert page.cursor == 2


def test_empty_and_error_envelopes() -> None:
    empty = api.parse_search_page(
        {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}, brand="b", keyword="k", page=3
    )
    assert empty.items == [] and empty.cursor is None
    cases = [
        ({"ok": 0, "msg": "请求过于频繁，请稍后再试"}, ErrorKind.RATE_LIMITED),
        ({"ok": -100, "url": "https://passport.weibo.cn/signin/welcome"}, ErrorKind.AUTH_EXPIRED),
        ({"ok": 0, "msg": "请先登录"}, ErrorKind.AUTH_EXPIRED),
        ({"ok": 1}, ErrorKind.BAD_PAYLOAD),
        ({"ok": 1, "data": []}, ErrorKind.BAD_PAYLOAD),
        ({"ok": 1, "data": {"cardlistInfo": {}}}, ErrorKind.BAD_PAYLOAD),  # schema change: no cards
        ({"data": {}}, ErrorKind.BAD_PAYLOAD),
        ([1, 2], ErrorKind.BAD_PAYLOAD),
        ({"ok": 0, "msg": "系统繁忙"}, ErrorKind.BAD_PAYLOAD),
    ]
    for payload, kind in cases:
        with pytest.raises(PlatformError) as info:
            api.parse_search_page(payload, brand="b", keyword="k", page=1)
        assert info.value.kind is kind, payload
    with pytest.raises(PlatformError, match="yuqing login weibo"):
        api.check_envelope({"ok": -100})
    with pytest.raises(PlatformError, match="missing field data.cards"):
        api.parse_search_page({"ok": 1, "data": {"cardlistInfo": {}}}, brand="b", keyword="k", page=1)


def test_hostile_mblogs() -> None:
    cards = [
        {
            "card_type": 9,
            "mblog": {
                "id": "1",
                "text": "<script>alert('x')</script>鲜果<img src=x onerror=alert(1)>",
                "created_at": 12345,
                "attitudes_count": {"x": 1},
                "user": "not a dict",
                "region_name": ["x"],
            },
        },
        {"card_type": 9, "mblog": "a string"},
        {"card_type": 9, "mblog": None},
        "not a card",
        {"card_type": 11, "card_group": "oops"},
        {"card_type": 9, "mblog": {"id": "2", "text": None, "raw_text": "纯文本"}},
    ]
    page = api.parse_search_page({"ok": 1, "data": {"cards": cards}}, brand="b", keyword="k", page=1)
    assert [i.post_id for i in page.items] == ["1", "2"]
    assert len(page.bad) == 2
    assert page.items[0].text == "鲜果" and page.items[0].likes == 0 and page.items[0].author_id is None
    assert page.items[0].published_at is None and page.items[0].ip_region is None
    assert page.items[1].text == "纯文本"


def test_huge_page() -> None:
    mblog = {"id": "0", "text": "鲜果时光" * 50, "created_at": "Mon Jun 03 10:15:00 +0800 2024"}
    cards = [{"card_type": 9, "mblog": {**mblog, "id": str(10**15 + i)}} for i in range(5000)]
    body = json.dumps({"ok": 1, "data": {"cards": cards}})
    page = api.parse_search_page(json.loads(body), brand="b", keyword="k", page=1)
    assert len(page.items) == 5000 and len({i.post_id for i in page.items}) == 5000


def test_comment_page() -> None:
    page = api.parse_comment_page(
        load_json("weibo", "comments_page.json"), post_id="P1", brand="b", keyword="k"
    )
    assert [c.post_id for c in page.items] == ["5012345678990001", "5012345678990002", "5012345678990003"]
    assert all(c.kind == "comment" and c.parent_post_id == "P1" for c in page.items)
    first, reply, third = page.items
    assert first.text == "同款也喝出过东西[衰]" and first.ip_region == "北京" and first.likes == 5
    assert reply.text == "回复@路人甲:真的吗" and reply.extra == {"reply_to": "5012345678990001"}
    assert third.ip_region == "上海" and third.likes == 2
    assert page.cursor == (139234567890, 0)
    end = api.parse_comment_page({"ok": 1, "data": {"data": [], "max_id": 0}}, post_id="P1", brand="b")
    assert end.items == [] and end.cursor is None
    assert api.parse_comment_page({"ok": 0}, post_id="P1", brand="b").items == []  # hotflow: no comments


def test_detail_page_and_long_text() -> None:
    status = api.parse_detail_page(load_fixture("weibo", "detail_page.html"))
    assert api.full_text_from_status(status).endswith("希望多开几家店。")
    with pytest.raises(PlatformError) as info:
        api.parse_detail_page("<html><body>nothing</body></html>")
    assert info.value.kind is ErrorKind.BAD_PAYLOAD
    with pytest.raises(PlatformError) as info:
        api.parse_detail_page("<html>请登录 passport.weibo.cn</html>")
    assert info.value.kind is ErrorKind.AUTH_EXPIRED
    assert api.parse_long_text({"ok": 1, "data": {"longTextContent": "全文<br/>内容"}}) == "全文\n内容"


def test_search_params() -> None:
    assert api.search_params("鲜果", 1, 61) == {
        "containerid": "100103type=61&q=鲜果",
        "page_type": "searchall",
    }
    assert api.search_params("鲜果", 3)["page"] == "3"
    assert api.comment_params("9", 77, 1) == {"id": "9", "mid": "9", "max_id_type": "1", "max_id": "77"}
