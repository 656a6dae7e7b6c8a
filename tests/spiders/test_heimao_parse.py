"""Heimao: the signature (a fixed test vector), list and detail parsers, hostile variants."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from crawler.errors import ErrorKind, PlatformError
from crawler.platform.faults import decode_json
from spiders import _heimao_api as api
from tests.spiders.helpers import load_fixture, load_json

TS, RS = "1700000000000", "abcdefghijklmnop"


def test_signature_test_vector() -> None:
    # sorted(["1700000000000", "abcdefghijklmnop", SECRET, "鲜果时光", "10", "1"]) joined, sha256
    joined = "$d6eb7ff91ee257475%" + "1" + "10" + "1700000000000" + "abcdefghijklmnop" + "鲜果时光"
    expected = "3e35b6ecbbbd73abfef71ba30fe8b01520544d5c75ab5cf0e6bbcf2dd850731b"
    assert hashlib.sha256(joined.encode()).hexdigest() == expected
    params = api.signed_params(api.search_params("鲜果时光", 1), ts=TS, rs=RS)
    assert params == {
        "ts": TS,
        "rs": RS,
        "keywords": "鲜果时光",
        "page_size": "10",
        "page": "1",
        "signature": expected,
    }


def test_signature_company_vector_and_string_sort() -> None:
    # "10" sorts before "2": values are compared as strings (JS Array.sort), not numbers.
    params = api.signed_params(api.company_params("5650743478", 2), ts=TS, rs=RS)
    assert params["signature"] == "4e59f19ec3089c07261e0745c4f144d8dd0affd058163cb9cfe46adf31fcc601"


def test_signature_secret_is_configurable_and_unsigned_params_ignored() -> None:
    base = api.signature({"keywords": "k"}, ts=TS, rs=RS, secret="$d6eb7ff91ee257475%")
    assert api.signature({"keywords": "k"}, ts=TS, rs=RS, secret="P0tk894Tcxi4t%S$") != base
    assert (
        api.signature(
            {"keywords": "k", "callback": "jQuery1", "field": "7"}, ts=TS, rs=RS, secret="$d6eb7ff91ee257475%"
        )
        == base
    )
    fresh = api.signed_params({"page": 1})
    assert len(fresh["ts"]) == 13 and len(fresh["rs"]) == 16 and fresh["rs"].isalnum()


def test_search_page() -> None:
    page = api.parse_list_page(
        load_json("heimao", "search_page.json"), brand="鲜果时光", keyword="鲜果时光", page=1
    )
    assert [i.post_id for i in page.items] == ["17390396995", "17390396996"]
    assert len(page.bad) == 1 and "main.sn" in page.bad[0]
    first, second = page.items
    assert first.kind == "complaint" and first.title == "鲜果时光橙汁喝出异物，要求退款赔偿"
    assert first.url == "https://tousu.sina.com.cn/complaint/view/17390396995/"
    assert first.published_at == datetime(2024, 6, 2, 3, 46, 40, tzinfo=UTC)
    assert first.extra == {
        "status": 4,
        "status_name": "处理中",
        "demand": "退款,赔偿",
        "issue": "食品安全",
        "amount": 35.0,
        "company": "鲜果时光（上海）餐饮有限公司",
        "couid": "5650743478",
    }
    assert first.author_name == "消费者小林"
    assert second.extra and second.extra["status"] == 7 and "amount" not in second.extra
    assert page.cursor == 2


def test_company_page_null_and_last_page() -> None:
    page = api.parse_list_page(load_json("heimao", "company_page.json"), brand="b", keyword=None, page=1)
    assert page.items == [] and page.cursor is None
    payload = load_json("heimao", "search_page.json")
    payload["result"]["data"]["pager"]["current"] = 3
    assert api.parse_list_page(payload, brand="b", keyword="k", page=3).cursor is None


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"result": {"status": {"code": -1, "msg": "签名错误"}}}, ErrorKind.SIGNATURE_REJECTED),
        ({"result": {"status": {"code": 1001, "msg": "请求过于频繁"}}}, ErrorKind.RATE_LIMITED),
        ({"result": {"status": {"code": 2, "msg": "请先登录"}}}, ErrorKind.AUTH_EXPIRED),
        ({"result": {"status": {"code": 0}}}, ErrorKind.BAD_PAYLOAD),
        ({"result": {"status": {"code": 0}, "data": {"items": []}}}, ErrorKind.BAD_PAYLOAD),
        ({"result": {"status": {"code": 0}, "data": {"lists": "x"}}}, ErrorKind.BAD_PAYLOAD),
        ({"status": 0}, ErrorKind.BAD_PAYLOAD),
        ("just a string", ErrorKind.BAD_PAYLOAD),
    ],
)
def test_envelope_errors(payload: object, kind: ErrorKind) -> None:
    with pytest.raises(PlatformError) as info:
        api.parse_list_page(payload, brand="b", keyword="k", page=1)
    assert info.value.kind is kind


def test_jsonp_and_malformed_bodies() -> None:
    body = load_fixture("heimao", "search_page.json")
    wrapped = f"try{{jQuery1112043_1717({body});}}catch(e){{}};"
    payload = decode_json("heimao", wrapped)
    assert len(api.parse_list_page(payload, brand="b", keyword="k", page=1).items) == 2
    assert decode_json("heimao", f"cb({body})")["result"]["status"]["code"] == 0
    for bad, kind in [
        ('{"result": {', ErrorKind.BAD_PAYLOAD),
        ("", ErrorKind.BAD_PAYLOAD),
        ("<html>请输入验证码</html>", ErrorKind.CAPTCHA),
        ("<html>hello</html>", ErrorKind.BAD_PAYLOAD),
    ]:
        with pytest.raises(PlatformError) as info:
            decode_json("heimao", bad)
        assert info.value.kind is kind


def test_hostile_entries() -> None:
    entries = [
        {
            "main": {
                "sn": 123,
                "title": "<script>x()</script><b>标题</b>",
                "summary": None,
                "status": "abc",
                "timestamp": "not a time",
                "cost": "十元",
            },
            "author": "nobody",
        },
        {"main": "broken"},
        None,
        {"author": {}},
    ]
    payload = {"result": {"status": {"code": 0}, "data": {"lists": entries, "pager": {}}}}
    page = api.parse_list_page(payload, brand="b", keyword="k", page=1)
    assert [i.post_id for i in page.items] == ["123"] and len(page.bad) == 3
    item = page.items[0]
    assert item.title == "标题" and item.text == "" and item.published_at is None
    assert item.extra is not None and "amount" not in item.extra and item.extra.get("status") is None


def test_detail_page() -> None:
    detail = api.parse_complaint_detail(load_fixture("heimao", "detail_page.html"))
    assert detail.title == "鲜果时光橙汁喝出异物，要求退款赔偿"
    assert detail.facts["demand"] == "退款,赔偿,道歉" and detail.facts["amount"] == "35元"
    assert detail.facts["company"] == "鲜果时光（上海）餐饮有限公司" and detail.status_name == "处理中"
    assert [s["status"] for s in detail.steps] == ["发起投诉", "投诉已分配"]
    assert detail.text.startswith("6月1日") and "alert" not in detail.text
    assert detail.reply and detail.reply.startswith("商家回复")
    item = api.parse_list_page(load_json("heimao", "search_page.json"), brand="b", keyword="k", page=1).items[
        0
    ]
    merged = api.apply_detail(item, detail)
    assert merged.text == detail.text and merged.extra is not None
    assert merged.extra["demand"] == "退款,赔偿,道歉" and merged.extra["amount"] == 35.0
    assert len(merged.extra["steps"]) == 2 and merged.extra["reply"].startswith("商家回复")
    with pytest.raises(PlatformError) as info:
        api.parse_complaint_detail("<html><body>改版了</body></html>")
    assert info.value.kind is ErrorKind.BAD_PAYLOAD
