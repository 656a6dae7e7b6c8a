"""Simulated tousu.sina.com.cn: signatures, envelopes, paging, JSONP and the detail page."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from parsel import Selector

from simulator import Simulator, heimao_signature
from tests.simulator.conftest import SECRET, sign

MAIN_FIELDS = {
    "sn",
    "title",
    "summary",
    "cotitle",
    "couid",
    "appeal",
    "issue",
    "cost",
    "status",
    "timestamp",
    "url",
    "evaluate_u",
}


def test_signature_matches_the_documented_formula() -> None:
    # sorted(["1700000000000", "abcdefghijklmnop", SECRET, "鲜果时光", "10", "1"]) joined, sha256
    joined = "".join(sorted(["1700000000000", "abcdefghijklmnop", SECRET, "鲜果时光", "10", "1"]))
    import hashlib

    assert (
        heimao_signature("1700000000000", "abcdefghijklmnop", SECRET, ["鲜果时光", "10", "1"])
        == hashlib.sha256(joined.encode()).hexdigest()
    )


def test_search_envelope_highlight_and_paging(sim: Simulator, heimao: httpx.Client) -> None:
    truth = {t["post_id"] for t in sim.truth("heimao", keyword="鲜果时光")}
    seen, page = [], 1
    while True:
        body = heimao.get(
            "/api/index/s", params=sign({"keywords": "鲜果时光", "page_size": 10, "page": page})
        ).json()
        assert body["result"]["status"]["code"] == 0
        data = body["result"]["data"]
        assert data["pager"]["item_count"] == len(truth) and data["pager"]["current"] == page
        if not data["lists"]:
            break
        for item in data["lists"]:
            main = item["main"]
            assert MAIN_FIELDS <= set(main) and {"title", "wb_profile"} <= set(item["author"])
            assert main["url"] == f"//tousu.sina.com.cn/complaint/view/{main['sn']}/"
            assert main["timestamp"].isdigit() and isinstance(main["status"], int)
            seen.append(main["sn"])
        page += 1
    assert sorted(seen) == sorted(truth) and page - 1 == data["pager"]["page_amount"]
    first = heimao.get(
        "/api/index/s", params=sign({"keywords": "鲜果时光", "page_size": 10, "page": 1})
    ).json()
    assert all(
        '<span class="code-red">鲜果时光</span>' in i["main"]["cotitle"]
        for i in first["result"]["data"]["lists"]
    )


@pytest.mark.parametrize("tamper", ["signature", "ts", "keywords", "missing"])
def test_wrong_signature_gets_the_error_envelope(heimao: httpx.Client, tamper: str) -> None:
    params = sign({"keywords": "鲜果时光", "page_size": 10, "page": 1})
    if tamper == "signature":
        params["signature"] = params["signature"][::-1]
    elif tamper == "ts":
        params["ts"] = str(int(params["ts"]) + 1)
    elif tamper == "keywords":
        params["keywords"] = "小鹿宝贝"
    else:
        del params["signature"]
    body = heimao.get("/api/index/s", params=params).json()
    assert body["result"]["status"] == {"code": 2002, "msg": "签名错误"}


def test_other_secret_is_rejected_unless_configured(heimao: httpx.Client) -> None:
    params = sign({"keywords": "鲜果时光", "page_size": 10, "page": 1}, secret="P0tk894Tcxi4t%S$")
    assert heimao.get("/api/index/s", params=params).json()["result"]["status"]["code"] == 2002
    with Simulator(platforms=("heimao",), posts_per_brand=2, heimao_secret="P0tk894Tcxi4t%S$") as other:
        body = httpx.get(other.base_url("heimao") + "/api/index/s", params=params).json()
        assert body["result"]["status"]["code"] == 0


def test_company_complaints_use_the_configured_couid_and_end_with_null(
    sim: Simulator, heimao: httpx.Client
) -> None:
    couid = sim.ctx.brands[0].couid
    assert couid == "5650743478"
    mine = [t for t in sim.truth("heimao") if t["extra"]["couid"] == couid]
    pages = -(-len(mine) // 10)
    got = []
    for page in range(1, pages + 2):
        data = heimao.get(
            "/api/company/received_complaints",
            params=sign({"couid": couid, "type": 1, "page_size": 10, "page": page}),
        ).json()
        got += [c["main"]["sn"] for c in data["result"]["data"]["complaints"] or []]
    assert data["result"]["data"]["complaints"] is None
    assert sorted(got) == sorted(t["post_id"] for t in mine)
    unknown = heimao.get(
        "/api/company/received_complaints", params=sign({"couid": "1", "type": 1, "page_size": 10, "page": 1})
    ).json()
    assert (
        unknown["result"]["data"]["complaints"] is None
        and unknown["result"]["data"]["pager"]["item_count"] == 0
    )


def test_feed_is_newest_first_and_jsonp_wraps(sim: Simulator, heimao: httpx.Client) -> None:
    params = sign({"page_size": 5, "type": 2, "page": 1})
    params["callback"] = "jQuery1124_1700000000000"
    resp = heimao.get("/api/index/feed", params=params)
    assert resp.headers["content-type"].startswith("application/javascript")
    m = re.fullmatch(r"try\{jQuery1124_1700000000000\((.*)\);\}catch\(e\)\{\};", resp.text, re.S)
    assert m is not None
    stamps = [int(i["main"]["timestamp"]) for i in json.loads(m.group(1))["result"]["data"]["lists"]]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 5
    bad = heimao.get("/api/index/feed", params=sign({"page_size": 500, "type": 2, "page": 1})).json()
    assert bad["result"]["status"]["code"] == 1001


def test_detail_page_selectors(sim: Simulator, heimao: httpx.Client) -> None:
    rec = next(t for t in sim.truth("heimao") if t["extra"]["status"] in (6, 7))
    sel = Selector(heimao.get(f"/complaint/view/{rec['post_id']}/").text)
    assert sel.css("div.ts-d-question h1::text").get() == rec["title"]
    facts = sel.css("ul.ts-q-list li")
    assert len(facts) == 6 and rec["post_id"] in "".join(facts[0].css("::text").getall())
    assert facts[-1].css("b::text").get() in ("已回复", "已完成")
    steps = sel.css("div.ts-d-steplist div.ts-d-item")
    assert steps[0].css("span.u-status::text").get() == "发起投诉"
    assert steps[0].css("div.ts-d-cont p::text").get() == rec["text"]
    assert all(s.css("span.u-date::text").re(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$") for s in steps)
    assert sel.css("div.ts-reply::text").get() == rec["extra"]["reply"]
    crisis = next(t for t in sim.truth("heimao") if t["crisis"])
    page = Selector(heimao.get(f"/complaint/view/{crisis['post_id']}/").text)
    assert page.css('a[data-sudaclick="relategroupts_view"]::attr(href)').get().startswith("/grp_comp/view/G")
    assert heimao.get("/complaint/view/123/").status_code == 404
