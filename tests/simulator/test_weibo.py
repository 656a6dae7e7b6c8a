"""Simulated m.weibo.cn: shapes against the real capture, paging, long text, comments, cookies."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

import httpx

from simulator import Simulator
from simulator.platforms._weibo_render import mid_to_bid, relative_time, rfc_time, wan
from tests.conftest import real_capture
from tests.simulator.conftest import mblogs, search_params

CAPTURE = real_capture("weibo", "m_weibo_cn_getIndex_cards_excerpt.pyliteral.txt")
# Card-level keys of a user timeline (not of search) and badges of that one user.
TIMELINE_ONLY = {"profile_type_id", "since_id", "timestamp", "total", "reward_scheme"}
RFC_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \+0800 \d{4}$")
RELATIVE_RE = re.compile(
    r"^(刚刚|\d+分钟前|\d+小时前|今天 \d\d:\d\d|昨天 \d\d:\d\d|\d\d-\d\d|\d{4}-\d\d-\d\d)$"
)


def plain(text_html: str) -> str:
    text = re.sub(r'<img alt="([^"]*)"[^>]*>', r"\1", text_html)
    text = text.replace("<br />", "\n")
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def all_keys(obj: object, out: set[str]) -> set[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            all_keys(v, out)
    elif isinstance(obj, list):
        for v in obj:
            all_keys(v, out)
    return out


def crawl(client: httpx.Client, keyword: str, search_type: int = 61) -> tuple[list[dict], int]:
    posts, page = [], 1
    while True:
        payload = client.get(
            "/api/container/getIndex", params=search_params(keyword, search_type, page)
        ).json()
        assert payload["ok"] == 1
        if not payload["data"]["cards"]:
            return posts, page
        posts += mblogs(payload)
        page += 1


def test_search_has_every_field_of_the_real_capture(weibo: httpx.Client) -> None:
    seen: set[str] = set()
    for page in range(1, 7):
        all_keys(weibo.get("/api/container/getIndex", params=search_params("鲜果时光", 1, page)).json(), seen)
    badge_keys = set(re.findall(r'"(\w+)"\s*:\s*\d', CAPTURE.read_text().split('"badge"')[1].split("}")[0]))
    expected = set(re.findall(r'"(\w+)"\s*:', CAPTURE.read_text())) - TIMELINE_ONLY - badge_keys
    assert expected - seen == set()


def test_search_pages_cover_the_truth_exactly_once_then_end_empty(
    sim: Simulator, weibo: httpx.Client
) -> None:
    posts, last = crawl(weibo, "鲜果时光")
    ids = [m["id"] for m in posts]
    truth = {t["post_id"] for t in sim.truth("weibo", kind="post", keyword="鲜果时光")}
    assert len(ids) == len(set(ids)) == len(truth) and set(ids) == truth
    assert last == -(-len(truth) // 10) + 1  # 10 posts a page, then one empty page
    times = [sim.world.get("weibo", i).published_at for i in ids]
    assert times == sorted(times, reverse=True)  # 实时 is newest first


def test_cards_nest_posts_in_card_group_and_lead_with_a_user_card(weibo: httpx.Client) -> None:
    first = weibo.get("/api/container/getIndex", params=search_params("鲜果时光", 1, 1)).json()["data"]
    assert first["cards"][0]["card_type"] == 11 and first["cards"][0]["card_group"][0]["card_type"] == 10
    assert first["cardlistInfo"]["page"] == 2
    second = weibo.get("/api/container/getIndex", params=search_params("鲜果时光", 1, 2)).json()["data"]
    groups = [c for c in second["cards"] if c["card_type"] == 11]
    assert groups and all(g["card_group"][0]["card_type"] == 9 for g in groups)
    assert len(mblogs({"data": second})) == 10


def test_display_quirks_strings_times_regions(sim: Simulator, weibo: httpx.Client) -> None:
    posts = crawl(weibo, "小鹿", 1)[0] + crawl(weibo, "鲜果", 1)[0]
    assert all(RFC_RE.match(m["created_at"]) or RELATIVE_RE.match(m["created_at"]) for m in posts)
    assert any(RFC_RE.match(m["created_at"]) for m in posts)
    assert any(
        isinstance(m["user"]["followers_count"], str) and m["user"]["followers_count"].endswith("万")
        for m in posts
    )
    counts = [m[k] for m in posts for k in ("attitudes_count", "comments_count", "reposts_count")]
    assert any(isinstance(c, int) for c in counts) and any(isinstance(c, str) for c in counts)
    assert any(m.get("region_name", "").startswith("发布于 ") for m in posts)
    assert any('class="url-icon"' in m["text"] and 'alt="[' in m["text"] for m in posts)
    assert any("retweeted_status" in m for m in posts)  # the crisis reposts


def test_long_text_is_cut_and_full_on_detail_and_extend(sim: Simulator, weibo: httpx.Client) -> None:
    posts = crawl(weibo, "鲜果")[0] + crawl(weibo, "小鹿")[0]
    long = [m for m in posts if m["isLongText"]]
    assert long, "the corpus writes some long posts"
    mid = long[0]["id"]
    assert long[0]["text"].endswith(f'...<a href="/status/{mid}">全文</a>')
    truth = sim.world.get("weibo", mid)
    page = weibo.get(f"/detail/{mid}").text
    data = json.loads(re.search(r"var \$render_data = (\[.*\])\[0\] \|\| \{\};", page, re.S).group(1))
    assert plain(data[0]["status"]["text"]) == truth.text
    ext = weibo.get("/statuses/extend", params={"id": mid}).json()
    assert plain(ext["data"]["longTextContent"]) == truth.text


def test_hotflow_pages_with_max_id_until_zero(sim: Simulator, weibo: httpx.Client) -> None:
    post = max(sim.world.posts["weibo"], key=lambda p: len(p.replies))
    assert len(post.replies) > 4
    got, max_id, pages = [], None, 0
    while max_id != 0:
        params = {"id": post.post_id, "mid": post.post_id, "max_id_type": 0}
        if max_id:
            params["max_id"] = max_id
        body = weibo.get("/comments/hotflow", params=params).json()
        assert body["ok"] == 1 and body["data"]["max_id_type"] == 0
        for com in body["data"]["data"]:
            got.append(com["idstr"])
            assert com["source"].startswith("来自")
            got += [r["idstr"] for r in (com["comments"] or [])]
        max_id, pages = body["data"]["max_id"], pages + 1
    expected = {
        t["post_id"] for t in sim.truth("weibo", kind="comment") if t["parent_post_id"] == post.post_id
    }
    assert sorted(got) == sorted(expected) and pages == -(-len(post.replies) // 4)
    assert weibo.get("/comments/hotflow", params={"id": "1", "mid": "1"}).json()["ok"] == 0


def test_comment_times_mix_rfc_and_relative(sim: Simulator, weibo: httpx.Client) -> None:
    forms = set()
    for post in sim.world.posts["weibo"][:60]:
        for com in weibo.get("/comments/hotflow", params={"id": post.post_id, "mid": post.post_id}).json()[
            "data"
        ]["data"]:
            forms.add("rfc" if RFC_RE.match(com["created_at"]) else "relative")
            assert RFC_RE.match(com["created_at"]) or RELATIVE_RE.match(com["created_at"]), com["created_at"]
    assert forms == {"rfc", "relative"}


def test_cookie_check_config_and_session_expiry(sim: Simulator) -> None:
    base = sim.base_url("weibo")
    assert httpx.get(f"{base}/api/container/getIndex", params=search_params("鲜果时光")).status_code == 432
    assert httpx.get(f"{base}/api/config").json()["data"]["login"] is False
    cookies = sim.issue_session("weibo")
    assert httpx.get(f"{base}/api/config", cookies=cookies).json()["data"]["login"] is True
    assert (
        httpx.get(f"{base}/comments/hotflow", params={"id": "1"}, cookies={"SUB": "forged"}).status_code
        == 432
    )
    fresh = Simulator(seed=1, platforms=("weibo",), posts_per_brand=3).start()
    try:
        c = fresh.issue_session("weibo")
        url = fresh.base_url("weibo") + "/api/container/getIndex"
        assert httpx.get(url, params=search_params("鲜果时光"), cookies=c).status_code == 200
        fresh.expire_sessions("weibo")
        assert httpx.get(url, params=search_params("鲜果时光"), cookies=c).status_code == 432
    finally:
        fresh.stop()


def test_render_helpers_match_the_site() -> None:
    assert mid_to_bid("4857881961438732") == "MohM062hm"  # the real capture's mid and bid
    assert mid_to_bid("4857828294527603") == "MognriZPR"
    dt = datetime.fromisoformat("2023-01-14T10:39:37+00:00")
    assert rfc_time(dt) == "Sat Jan 14 18:39:37 +0800 2023"
    assert relative_time(dt, datetime.fromisoformat("2023-01-14T10:40:07+00:00")) == "刚刚"
    assert relative_time(dt, datetime.fromisoformat("2023-01-14T11:09:37+00:00")) == "30分钟前"
    assert relative_time(dt, datetime.fromisoformat("2023-01-15T03:00:00+00:00")) == "昨天 18:39"
    assert relative_time(dt, datetime.fromisoformat("2023-03-01T03:00:00+00:00")) == "01-14"
    assert wan(1_059_000) == "105.9万" and wan(100_000) == "10万" and wan(99_999 + 1) == "10万"


def test_qr_login_page_phone_confirm_then_session(sim: Simulator) -> None:
    base = sim.base_url("weibo")
    with httpx.Client() as browser, httpx.Client() as phone:
        page = browser.get(f"{base}/login").text
        qrid = re.search(r'qrcode\.svg\?qrid=(\w+)"', page).group(1)
        assert 'class="qrcode-img"' in page
        assert browser.get(f"{base}/login/qrcode.svg", params={"qrid": qrid}).text.startswith("<svg")
        assert browser.get(f"{base}/login/qrcode/check", params={"qrid": qrid}).json()["retcode"] == 50114001
        assert qrid in phone.get(f"{base}/__admin/qr/pending").json()["pending"]
        assert phone.post(f"{base}/__admin/qr/confirm", json={}).json()["qrid"] == qrid
        done = browser.get(f"{base}/login/qrcode/check", params={"qrid": qrid})
        assert done.json()["retcode"] == 20000000
        assert {"SUB", "SUBP", "SSOLoginState"} <= set(done.cookies)
        assert browser.get(f"{base}/api/config").json()["data"]["login"] is True
        assert phone.post(f"{base}/__admin/qr/confirm", json={"qrid": qrid}).status_code == 404


def test_hostile_text_is_escaped_in_html_and_raw_in_truth(sim: Simulator, weibo: httpx.Client) -> None:
    hostile = [p for p in sim.world.posts["weibo"] if "hostile" in p.label.signals]
    assert len(hostile) >= 2, "every brand gets a post with markup in its text"
    for post in hostile:
        served = weibo.get("/statuses/extend", params={"id": post.post_id}).json()["data"]["longTextContent"]
        assert "<script" not in served and "<img src=x" not in served and "&lt;" in served
        assert plain(served) == post.text
