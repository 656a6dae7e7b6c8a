"""Xiaohongshu parsers on the real captures (tests/fixtures/xiaohongshu) and hostile variants."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from crawler.errors import Blocked, ErrorKind, LoginRequired, UnexpectedPayload
from crawler.platform.signing import encode_query
from spiders import _xhs_api as x


def test_search_capture_parses_into_hits(xhs_capture) -> None:
    data = x.check_envelope(200, xhs_capture("xhs_search_notes"), "u")
    page = x.parse_search_page(data, brand="榴莲牌", keyword="榴莲")
    assert page.cursor == 2 and len(page.hits) == 1 and page.items == [page.hits[0].card_item]
    hit = page.hits[0]
    assert hit.note_id == "6825bbe1000000002301e347"
    assert hit.xsec_token == "ABw5rHg9byZVkqAvQhjIbyEBqriqXG1oXbH98KyRC36FA="
    item = hit.card_item
    assert item.title == item.text == "入夏后吃榴莲，把阳气“吃”进肚子里‼️"
    assert (item.likes, item.collects, item.comments, item.shares) == (3496, 2777, 180, 1694)  # shared_count
    assert item.author_id == "6800ee8c000000000a03f6ca" and item.author_name == "雪梨养生日记"
    assert item.ip_region is None  # the search card has no region; its time comes from the ObjectId
    assert item.published_at == datetime.fromtimestamp(0x6825BBE1, UTC)
    assert item.published_at.strftime("%m-%d") == item.extra["publish_hint"] == "05-15"
    assert item.extra["detail"] is False
    assert item.url.startswith("https://www.xiaohongshu.com/explore/6825bbe1000000002301e347?xsec_token=ABw5")
    assert item.url.endswith("&xsec_source=pc_search") and "%3D" in item.url


def test_detail_capture_parses_exact_time_region_and_share_count(xhs_capture) -> None:
    data = x.check_envelope(200, xhs_capture("xhs_feed_note_detail"), "u")
    item = x.parse_note_detail(
        data, brand="b", keyword="k", xsec_token="TOK", web_url="http://sim/xiaohongshu"
    )
    assert item is not None
    assert item.post_id == "68f4e9bf00000000070327cb" and item.kind == "post"
    assert item.published_at == datetime.fromtimestamp(1760881087, UTC)  # epoch milliseconds
    assert item.ip_region == "上海"
    assert (item.likes, item.collects, item.comments, item.shares) == (1, 1, 2, 0)  # share_count
    assert item.author_name == "红薯蜀" and item.text == "" and item.title is None
    assert (
        item.url
        == "http://sim/xiaohongshu/explore/68f4e9bf00000000070327cb?xsec_token=TOK&xsec_source=pc_search"
    )
    assert "video" not in item.raw["note_card"] and item.raw["note_card"]["image_count"] == 1


def test_comment_capture_parses_comments_and_inline_replies(xhs_capture) -> None:
    data = x.check_envelope(200, xhs_capture("xhs_comment_page"), "u")
    page = x.parse_comment_page(data, brand="b", note_id="68f4e9bf00000000070327cb", xsec_token="T")
    assert page.cursor is None  # has_more is false
    assert [i.post_id for i in page.items] == ["68f599c10000000031002403", "68f599d50000000031002503"]
    top, reply = page.items
    assert top.kind == reply.kind == "comment"
    assert top.parent_post_id == reply.parent_post_id == "68f4e9bf00000000070327cb"
    assert top.text == "和顺打铁花" and top.comments == 1 and top.ip_region == "上海"
    assert top.published_at == datetime.fromtimestamp(1760926146, UTC)
    assert reply.extra["reply_to"] == top.post_id and reply.text == "好看"
    assert page.more_replies == []  # sub_comment_has_more is false


def test_sub_comment_capture(xhs_capture) -> None:
    data = x.check_envelope(200, xhs_capture("xhs_comment_sub_page"), "u")
    page = x.parse_sub_comment_page(data, brand="b", note_id="68f4e9bf00000000070327cb")
    assert [(i.post_id, i.extra["reply_to"]) for i in page.items] == [
        ("68f599d50000000031002503", "68f599c10000000031002403")
    ]
    assert page.cursor is None


def test_more_replies_are_reported_with_their_cursor(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_comment_page"))
    payload["data"]["comments"][0]["sub_comment_has_more"] = True
    page = x.parse_comment_page(payload["data"], brand="b", note_id="n")
    assert page.more_replies == [("68f599c10000000031002403", "68f599d50000000031002503")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3496", 3496),
        ("1.2万", 12000),
        ("10万+", 100000),
        (57, 57),
        ("", 0),
        (None, 0),
        ("abc", 0),
        (True, 0),
    ],
)
def test_string_counts(xhs_capture, value, expected) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_search_notes"))
    payload["data"]["items"][0]["note_card"]["interact_info"]["liked_count"] = value
    assert x.parse_search_page(payload["data"], brand="b", keyword="k").hits[0].card_item.likes == expected


def test_topics_are_unwrapped_and_title_joined(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_feed_note_detail"))
    card = payload["data"]["items"][0]["note_card"]
    card.update(title="避雷", desc="喝了拉肚子 #鲜果时光[话题]# <script>alert(1)</script>")
    item = x.parse_note_detail(payload["data"], brand="b", keyword=None, xsec_token="")
    assert item is not None
    assert item.title == "避雷"
    assert item.text == "喝了拉肚子 #鲜果时光# <script>alert(1)</script>"  # verbatim; escaped where shown


def test_rec_query_items_are_skipped_not_parsed(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_search_notes"))
    payload["data"]["items"].append({"model_type": "rec_query", "rec_query": {"queries": []}})
    page = x.parse_search_page(payload["data"], brand="b", keyword="k")
    assert len(page.hits) == 1 and page.skipped == 1


@pytest.mark.parametrize("breakage", ["no_id", "no_card", "items_not_list", "bad_id_type"])
def test_changed_schema_names_the_missing_field(xhs_capture, breakage) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_search_notes"))
    item = payload["data"]["items"][0]
    if breakage == "no_id":
        del item["id"]
    elif breakage == "no_card":
        del item["note_card"]
    elif breakage == "bad_id_type":
        item["id"] = {"oops": 1}
    else:
        payload["data"]["items"] = "nope"
    with pytest.raises(UnexpectedPayload) as err:
        x.parse_search_page(payload["data"], brand="b", keyword="k")
    assert err.value.kind is ErrorKind.BAD_PAYLOAD
    assert {
        "no_id": "items[].id",
        "no_card": "items[].note_card",
        "items_not_list": "data.items",
        "bad_id_type": "bad id",
    }[breakage] in str(err.value)


def test_note_id_time_matches_the_detail_time(xhs_capture) -> None:
    card = xhs_capture("xhs_feed_note_detail")["data"]["items"][0]["note_card"]
    assert x.note_time(card["note_id"]) == datetime.fromtimestamp(card["time"] / 1000, UTC)
    assert x.note_time("not-hex-at-all-000000000") is None and x.note_time("68f4e9bf") is None


def test_one_bad_entry_is_reported_and_the_rest_kept(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_search_notes"))
    payload["data"]["items"].append({"model_type": "note", "xsec_token": "t"})
    page = x.parse_search_page(payload["data"], brand="b", keyword="k")
    assert len(page.hits) == 1 and len(page.bad) == 1 and "items[].id" in page.bad[0]
    comments = copy.deepcopy(xhs_capture("xhs_comment_page"))
    comments["data"]["comments"][0]["sub_comments"].append("garbage")
    cpage = x.parse_comment_page(comments["data"], brand="b", note_id="n")
    assert len(cpage.items) == 2 and len(cpage.bad) == 1


def test_more_comment_pages_give_a_cursor(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_comment_page"))
    payload["data"]["has_more"] = True
    assert x.parse_comment_page(payload["data"], brand="b", note_id="n").cursor == "68f599c10000000031002403"


def test_detail_with_empty_items_returns_none(xhs_capture) -> None:
    assert x.parse_note_detail({"items": []}, brand="b", keyword=None, xsec_token="") is None


def test_bad_times_become_none(xhs_capture) -> None:
    payload = copy.deepcopy(xhs_capture("xhs_comment_page"))
    payload["data"]["comments"][0]["create_time"] = "yesterday"
    payload["data"]["comments"][0]["sub_comments"][0]["create_time"] = -5
    page = x.parse_comment_page(payload["data"], brand="b", note_id="n")
    assert [i.published_at for i in page.items] == [None, None]


def test_huge_search_page_parses(xhs_capture) -> None:
    """Every note of a 5,000-note page, once (the time it takes: bench/huge_inputs.py)."""
    payload = copy.deepcopy(xhs_capture("xhs_search_notes"))
    template = payload["data"]["items"][0]
    payload["data"]["items"] = [dict(copy.deepcopy(template), id=f"{i:024x}") for i in range(5000)]
    page = x.parse_search_page(payload["data"], brand="b", keyword="k")
    assert len(page.hits) == 5000 and len({h.note_id for h in page.hits}) == 5000


@pytest.mark.parametrize(
    ("status", "body", "error", "kind"),
    [
        (461, {}, Blocked, ErrorKind.CAPTCHA),
        (471, {"code": 0}, Blocked, ErrorKind.CAPTCHA),
        (406, {"code": -1, "success": False}, Blocked, ErrorKind.SIGNATURE_REJECTED),
        (200, {"code": -1, "success": False, "msg": ""}, Blocked, ErrorKind.SIGNATURE_REJECTED),
        (
            200,
            {"code": 300012, "success": False, "msg": "网络连接异常，请检查网络设置或重启试试"},
            Blocked,
            ErrorKind.IP_BLOCKED,
        ),
        (200, {"code": -100, "success": False, "msg": "登录已过期"}, LoginRequired, ErrorKind.AUTH_EXPIRED),
        (200, {"code": 300011, "success": False, "msg": "账号异常"}, LoginRequired, ErrorKind.AUTH_EXPIRED),
        (429, {}, Blocked, ErrorKind.RATE_LIMITED),
        (200, {"code": 0, "success": True, "data": None}, UnexpectedPayload, ErrorKind.BAD_PAYLOAD),
        (200, ["not", "an", "object"], UnexpectedPayload, ErrorKind.BAD_PAYLOAD),
        (200, {"code": 12345, "success": False, "msg": "?"}, UnexpectedPayload, ErrorKind.BAD_PAYLOAD),
    ],
)
def test_envelope_error_table(status, body, error, kind) -> None:
    with pytest.raises(error) as err:
        x.check_envelope(status, body, "http://sim/api")
    assert err.value.kind is kind and err.value.platform == "xiaohongshu"


def test_search_id_is_base36_of_time_and_random() -> None:
    sid = x.new_search_id(now_ms=1760931608022, rand=12345)
    assert int(sid, 36) == (1760931608022 << 64) + 12345


def test_query_encoding_matches_what_is_signed() -> None:
    params = x.comment_params("abc", "ABw5+/=", cursor="")
    assert encode_query(params) == (
        "note_id=abc&cursor=&top_comment_id=&image_formats=jpg,webp,avif&xsec_token=ABw5%2B%2F%3D"
    )
