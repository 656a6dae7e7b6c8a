"""The simulator's signature checks: xhshow and the page JS pass, anything else is refused."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from crawler.platform.signing import XhshowSigner, build_xs_common
from simulator import signatures as S

A1 = "19ab1e5ce48c3b3c5c50e2c040a801cfcca0a4ac50000571046"
SEARCH = "/api/sns/web/v1/search/notes"
BODY = {
    "keyword": "鲜果时光",
    "page": 1,
    "page_size": 20,
    "search_id": "abc",
    "sort": "general",
    "note_type": 0,
}
BODY_TEXT = json.dumps(BODY, separators=(",", ":"), ensure_ascii=False)
QUERY = "note_id=abc&cursor=&top_comment_id=&image_formats=jpg,webp,avif&xsec_token=AB%3D"
PARAMS = {
    "note_id": "abc",
    "cursor": "",
    "top_comment_id": "",
    "image_formats": "jpg,webp,avif",
    "xsec_token": "AB=",
}


def _sign_post() -> dict[str, str]:
    return asyncio.run(XhshowSigner().sign("POST", SEARCH, cookies={"a1": A1}, payload=BODY))


def test_xhshow_post_and_get_pass() -> None:
    assert S.verify_xhs("POST", SEARCH, "", BODY_TEXT, _sign_post(), {"a1": A1}) is None
    headers = asyncio.run(
        XhshowSigner().sign("GET", "/api/sns/web/v2/comment/page", cookies={"a1": A1}, params=PARAMS)
    )
    assert S.verify_xhs("GET", "/api/sns/web/v2/comment/page", QUERY, "", headers, {"a1": A1}) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("body", "signature is not for this request"),
        ("path", "signature is not for this request"),
        ("a1", "signature made for another a1"),
        ("stale", "stale X-T"),
        ("xt", "X-T does not match the signature"),
        ("missing", "missing signature header"),
        ("garbage", "undecodable signature"),
        ("b3", "malformed X-B3-Traceid or X-T"),
        ("common", "x-s-common does not match a1"),
    ],
)
def test_wrong_signatures_are_refused(change: str, reason: str) -> None:
    headers = _sign_post()
    path, body, cookies, now = SEARCH, BODY_TEXT, {"a1": A1}, None
    if change == "body":
        body = BODY_TEXT.replace("鲜果时光", "小鹿宝贝")
    elif change == "path":
        path = "/api/sns/web/v1/search/notez"
    elif change == "a1":
        cookies = {"a1": A1[:-3] + "fff"}
        headers["x-S-Common"] = build_xs_common(cookies["a1"], "1", "2", "")
    elif change == "stale":
        now = int(headers["X-T"]) + 11 * 60 * 1000
    elif change == "xt":
        headers["X-T"] = str(int(headers["X-T"]) + 1)
    elif change == "missing":
        del headers["X-S"]
    elif change == "garbage":
        headers["X-S"] = "XYS_" + "A" * 40
    elif change == "b3":
        headers["X-B3-Traceid"] = "not-hex!"
    elif change == "common":
        headers["x-S-Common"] = build_xs_common("someone-else", "1", "2", "")
    assert S.verify_xhs("POST", path, "", body, headers, cookies, now_ms=now) == reason


def test_a_bogus_roundtrip_and_refusals() -> None:
    query, ua, secret = "keyword=%E9%B2%9C&offset=0&count=15", "Mozilla/5.0 UA", "sim-secret"
    good = S.douyin_sign(query, ua, secret)
    assert S.verify_a_bogus(f"{query}&a_bogus={good}", ua, secret) is None
    assert (
        S.verify_a_bogus(f"{query}&a_bogus={good}", "other UA", secret) == "a_bogus is not for this request"
    )
    assert S.verify_a_bogus(f"{query}&x=1&a_bogus={good}", ua, secret) == "a_bogus is not for this request"
    assert S.verify_a_bogus(query, ua, secret) == "no a_bogus"
    assert S.verify_a_bogus(f"{query}&a_bogus=%%%", ua, secret) == "undecodable a_bogus"
    old = S.douyin_sign(query, ua, secret, ts=int(time.time()) - 3600)
    assert S.verify_a_bogus(f"{query}&a_bogus={old}", ua, secret) == "stale a_bogus"


@pytest.mark.browser
def test_page_javascript_signs_what_the_simulator_accepts() -> None:
    from crawler.platform.browser import open_browser

    async def run() -> tuple[dict, dict, str, str]:
        async with open_browser(shared=False) as browser:
            page = await browser.new_page()
            await page.set_content("<html><body></body></html>")
            await page.add_script_tag(content=S.xhs_sign_js() + S.douyin_sign_js("sim-secret"))
            await page.evaluate(f"() => {{ window.xhsCookie = () => '{A1}'; }}")
            post = await page.evaluate("([u, d]) => window._webmsxyw(u, d)", [SEARCH, BODY])
            get = await page.evaluate(
                "([u, d]) => window._webmsxyw(u, d)", ["/api/sns/web/v2/comment/page?" + QUERY, None]
            )
            ab = await page.evaluate("([q, ua]) => window.bdms_sign(q, ua)", ["a=1&b=%20", "UA"])
            md5 = await page.evaluate("() => md5Hex('鲜果时光' + 'x'.repeat(100))")
            return post, get, ab, md5

    post, get, ab, md5 = asyncio.run(run())
    import hashlib

    assert md5 == hashlib.md5(("鲜果时光" + "x" * 100).encode()).hexdigest()
    for signed, method, path, query, body in (
        (post, "POST", SEARCH, "", BODY_TEXT),
        (get, "GET", "/api/sns/web/v2/comment/page", QUERY, ""),
    ):
        xt = str(signed["X-t"])
        headers = {
            "X-S": signed["X-s"],
            "X-T": xt,
            "x-S-Common": build_xs_common(A1, xt, signed["X-s"], ""),
            "X-B3-Traceid": "0123456789abcdef",
        }
        assert S.verify_xhs(method, path, query, body, headers, {"a1": A1}) is None
    assert S.verify_a_bogus(f"a=1&b=%20&a_bogus={ab}", "UA", "sim-secret") is None
