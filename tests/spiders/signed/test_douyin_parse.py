"""Douyin parsers and the response check (fixtures built from PLATFORMS.md §3.2 field tables)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from crawler.errors import Blocked, ErrorKind, LoginRequired, ServerError, UnexpectedPayload
from spiders import _douyin_api as d
from tests.spiders.signed.conftest import douyin_fixture


def test_search_page_takes_aweme_info_and_every_mix_item() -> None:
    page = d.parse_search_page(douyin_fixture("douyin_search"), brand="鲜果时光", keyword="鲜果时光")
    assert [i.post_id for i in page.items] == [
        "7312345678901234567",
        "7312345678901230001",
        "7312345678901230002",
    ]
    assert page.skipped == 1  # the user card
    assert page.cursor == 15 and page.search_id == "20251122153012ABCDEF0123456789"
    first, note, second = page.items
    assert first.text.startswith("鲜果时光的芒果冰沙") and first.published_at == datetime.fromtimestamp(
        1763880000, UTC
    )
    assert (first.likes, first.comments, first.shares, first.collects) == (1203, 87, 45, 12)
    assert first.author_followers == 15320 and first.author_verified is False and first.ip_region == "广东"
    assert first.url == "https://www.douyin.com/video/7312345678901234567"
    assert first.extra["hashtags"] == ["食品安全", "避雷"] and "video" not in first.raw
    assert note.url == "https://www.douyin.com/note/7312345678901230001"  # aweme_type 68: image note
    assert note.published_at == datetime.fromtimestamp(1763870000, UTC)  # epoch seconds as a string
    assert note.author_verified is True and second.author_verified is True  # custom / enterprise verify
    assert note.ip_region is None  # ip_label often absent on web search


def test_comment_page() -> None:
    page = d.parse_comment_page(douyin_fixture("douyin_comments"), brand="b", aweme_id="7312345678901234567")
    assert page.cursor is None and page.total == 2  # has_more 0
    top, reply = page.items
    assert top.kind == "comment" and top.parent_post_id == "7312345678901234567"
    assert top.post_id == "7312399999999990001" and top.likes == 36 and top.comments == 4
    assert top.ip_region == "浙江" and top.extra == {"reply_to": None, "is_hot": True}
    assert reply.extra["reply_to"] == "7312399999999990001"
    assert reply.text == "<script>alert(1)</script>楼上说得对"  # kept verbatim; escaped where shown
    assert reply.published_at == datetime.fromtimestamp(1763882000, UTC)


@pytest.mark.parametrize(
    ("status", "body", "first", "error", "kind"),
    [
        (200, b"", False, Blocked, ErrorKind.SIGNATURE_REJECTED),
        (200, b"   \n", False, Blocked, ErrorKind.SIGNATURE_REJECTED),
        (
            200,
            "<html><head><title>验证码中间页</title></head><body><div id='captcha-verify-image'></div></body></html>",
            False,
            Blocked,
            ErrorKind.CAPTCHA,
        ),
        (200, b"blocked", False, Blocked, ErrorKind.IP_BLOCKED),
        (
            200,
            json.dumps({"status_code": 0, "data": [], "has_more": 0}),
            True,
            Blocked,
            ErrorKind.RATE_LIMITED,
        ),
        (
            200,
            json.dumps({"status_code": 8, "status_msg": "用户未登录"}),
            False,
            LoginRequired,
            ErrorKind.AUTH_EXPIRED,
        ),
        (429, b"", False, Blocked, ErrorKind.RATE_LIMITED),
        (502, b"bad gateway", False, ServerError, ErrorKind.SERVER_ERROR),
        (200, b'{"status_code": 0, "data": [', False, UnexpectedPayload, ErrorKind.BAD_PAYLOAD),
        (
            200,
            json.dumps({"status_code": 2483, "status_msg": "?"}),
            False,
            UnexpectedPayload,
            ErrorKind.BAD_PAYLOAD,
        ),
    ],
)
def test_response_error_table(status, body, first, error, kind) -> None:
    with pytest.raises(error) as err:
        d.check_response(status, body, "http://sim/douyin/x", first_page=first)
    assert err.value.kind is kind and err.value.platform == "douyin"


def test_empty_later_page_is_the_end_not_an_error() -> None:
    payload = d.check_response(200, json.dumps({"status_code": 0, "data": [], "has_more": 0}), "u")
    assert d.parse_search_page(payload, brand="b", keyword="k").items == []


@pytest.mark.parametrize("breakage", ["renamed_id", "data_not_list"])
def test_changed_schema_is_bad_payload(breakage) -> None:
    payload = copy.deepcopy(douyin_fixture("douyin_search"))
    if breakage == "renamed_id":  # every entry lost its id: the schema changed
        for entry in payload["data"]:
            for info in [entry.get("aweme_info")] + (entry.get("aweme_mix_info") or {}).get("mix_items", []):
                if info:
                    info["awemeId"] = info.pop("aweme_id")
    else:
        payload["data"] = {"oops": 1}
    with pytest.raises(UnexpectedPayload) as err:
        d.parse_search_page(payload, brand="b", keyword="k")
    assert err.value.kind is ErrorKind.BAD_PAYLOAD
    assert ("aweme_info.aweme_id" if breakage == "renamed_id" else "data is not a list") in str(err.value)


def test_one_bad_entry_is_reported_and_the_rest_kept() -> None:
    payload = copy.deepcopy(douyin_fixture("douyin_search"))
    payload["data"][2]["aweme_mix_info"]["mix_items"][0] = "x"
    page = d.parse_search_page(payload, brand="b", keyword="k")
    assert len(page.items) == 2 and len(page.bad) == 1


def test_wrong_types_do_not_crash() -> None:
    payload = copy.deepcopy(douyin_fixture("douyin_search"))
    info = payload["data"][0]["aweme_info"]
    info.update(desc=None, create_time="soon", author="nobody", statistics={"digg_count": "1.5万"})
    item = d.parse_search_page(payload, brand="b", keyword="k").items[0]
    assert item.text == "" and item.published_at is None and item.author_id is None and item.likes == 15000


def test_search_params_carry_the_common_web_parameters() -> None:
    params = d.search_params("鲜果时光", 10, "LOGID", web_id="1" * 19, ms_token="tok")
    assert params["offset"] == "10" and params["search_id"] == "LOGID" and params["keyword"] == "鲜果时光"
    assert params["aid"] == "6383" and params["device_platform"] == "webapp" and params["webid"] == "1" * 19
    assert len(d.new_web_id()) == 19


def test_login_markers() -> None:
    assert d.logged_in({"LOGIN_STATUS": "1"}) and d.logged_in({"sessionid": "s", "sid_guard": "g"})
    assert d.logged_in({}, {"HasUserLogin": "1"}) and not d.logged_in({"ttwid": "x"})
