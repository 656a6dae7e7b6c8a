"""Simulated Douyin: the search page that signs its own API calls, the search and comment APIs, QR login.

PLATFORMS.md §3: ``/aweme/v1/web/general/search/single/`` (``offset``/``count``, ``search_id`` =
the previous ``extra.logid``, ``aweme_info`` and ``aweme_mix_info`` entries, epoch seconds,
``ip_label``) and ``/aweme/v1/web/comment/list/`` (``cursor``/``has_more``/``total``). Every API
call must carry an ``a_bogus`` that the search page's own JavaScript (``window.bdms_sign``)
computes over the exact query and User-Agent; a wrong one gets 200 with an empty body, as a
stale signature does on the real site. Search needs the ``sessionid`` cookie (else
``status_code 8``). Faults: empty body, empty ``data`` (风控), the 验证码中间页, ``blocked``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import threading
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from aiohttp import web

from simulator.model import Post
from simulator.platforms._xd_pages import DOUYIN_CAPTCHA_HTML, douyin_home_html, douyin_search_html, qr_png
from simulator.registry import PlatformSim, Route, json_response, register
from simulator.signatures import douyin_sign_js, verify_a_bogus
from simulator.world import now_utc

PREFIX = "/douyin"
SEARCH = "/aweme/v1/web/general/search/single/"
HOT_LIST = "/aweme/v1/web/hot/search/list/"
_DOUYIN_LABEL = {"新": 1, "热": 3, "沸": 3, "爆": 3}


class _CookieOptions(TypedDict):
    path: str
    max_age: int


_COOKIE: _CookieOptions = {"path": PREFIX, "max_age": 86400 * 30}
COMMON = {
    "device_platform": "webapp",
    "aid": "6383",
    "channel": "channel_pc_web",
    "pc_client_type": "1",
    "version_code": "190600",
    "version_name": "19.6.0",
    "update_version_code": "170400",
    "cookie_enabled": "true",
    "browser_language": "zh-CN",
    "browser_platform": "MacIntel",
    "browser_name": "Chrome",
    "browser_version": "125.0.0.0",
    "browser_online": "true",
    "engine_name": "Blink",
    "engine_version": "109.0",
    "os_name": "Mac OS",
    "os_version": "10.15.7",
    "platform": "PC",
    "cpu_core_num": "8",
    "device_memory": "8",
    "screen_width": "2560",
    "screen_height": "1440",
    "effective_type": "4g",
    "round_trip_time": "50",
}


def _logid() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


@register
class Douyin(PlatformSim):
    name = "douyin"
    host = "https://www.douyin.com"
    style = "douyin"
    default_posts = 30
    crisis_share = 0.5
    session_cookie = "sessionid"
    fault_kinds = frozenset(
        {
            "rate_limited",
            "captcha",
            "ip_blocked",
            "auth_expired",
            "signature_rejected",
            "server_error",
            "timeout",
            "slow",
            "bad_payload",
            "schema_change",
            "malformed_json",
        }
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.secret = f"dy-sim-{ctx.options.seed}-{secrets.token_hex(4)}"
        self._sign_js = douyin_sign_js(self.secret)
        self._qr: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [
            ("GET", SEARCH, self.search_api),
            ("GET", "/aweme/v1/web/comment/list/", self.comment_api),
            ("GET", "/aweme/v1/web/comment/list/reply/", self.reply_api),
            ("GET", "/aweme/v1/web/query/user/", self.query_user),
            ("GET", HOT_LIST, self.hot_list),
            ("GET", "/search/{keyword}", self.search_page),
            ("GET", "/", self.home),
            ("GET", "/passport/web/get_qrcode/", self.qr_create),
            ("GET", "/passport/web/check_qrconnect/", self.qr_status),
            ("GET", "/login/qrcode.png", self.qr_image),
            ("POST", "/__admin/qr/confirm", self.qr_confirm),
            ("GET", "/__admin/qr/pending", self.qr_pending),
        ]

    # --- world hooks ------------------------------------------------------------------------------

    def new_author_id(self, rng: random.Random) -> str:
        return str(rng.randrange(10**10, 10**11))

    def finish(self, post: Post, draft: Any, rng: random.Random) -> None:
        post.post_id = f"7{int(post.published_at.timestamp()) % 10**10:010d}{rng.randrange(10**8):08d}"
        if post.kind == "post":
            post.extra["aweme_type"] = 68 if rng.random() < 0.2 else 0
            kind = "note" if post.extra["aweme_type"] == 68 else "video"
            post.url = f"{self.host}/{kind}/{post.post_id}"

    def rename_fields(self, payload: Any) -> Any:
        if isinstance(payload, dict):
            for entry in payload.get("data") or []:
                if not isinstance(entry, dict):
                    continue
                infos = [entry.get("aweme_info"), *(entry.get("aweme_mix_info") or {}).get("mix_items", [])]
                for info in infos:
                    if isinstance(info, dict) and "aweme_id" in info:
                        info["awemeId"] = info.pop("aweme_id")
            data = payload.get("data")
            if isinstance(data, dict) and "word_list" in data:
                data["wordList"] = data.pop("word_list")
            for com in payload.get("comments") or []:
                if isinstance(com, dict) and "cid" in com:
                    com["comment_id"] = com.pop("cid")
        return payload

    def render_fault(self, kind: str, request: web.Request, options: dict[str, Any]) -> web.StreamResponse:
        if kind == "rate_limited" and request.path.endswith(SEARCH):
            return web.json_response(
                {
                    "status_code": 0,
                    "data": [],
                    "has_more": 0,
                    "cursor": 0,
                    "extra": {"logid": _logid(), "now": _now_ms()},
                }
            )
        if kind == "captcha":
            return web.Response(text=DOUYIN_CAPTCHA_HTML, content_type="text/html", charset="utf-8")
        if kind == "signature_rejected":
            return web.Response(status=200, body=b"", content_type="application/json")
        if kind == "ip_blocked":
            return web.Response(text="blocked", content_type="text/plain")
        if kind == "auth_expired":
            return web.json_response({"status_code": 8, "status_msg": "用户未登录"})
        return super().render_fault(kind, request, options)

    def session_cookies(self, token: str) -> dict[str, str]:
        return {
            "sessionid": token,
            "sessionid_ss": token,
            "sid_guard": f"{token}%7C{_now_ms() // 1000}",
            "LOGIN_STATUS": "1",
            "ttwid": "1%7C" + hashlib.sha256(token.encode()).hexdigest()[:43],
        }

    # --- helpers ------------------------------------------------------------------------------------------

    def _signed(self, request: web.Request) -> bool:
        ua = request.headers.get("User-Agent", "")
        return verify_a_bogus(request.rel_url.raw_query_string, ua, self.secret) is None

    @staticmethod
    def _unsigned() -> web.Response:
        return web.Response(status=200, body=b"", content_type="application/json")

    @staticmethod
    def _int(request: web.Request, key: str, default: int, hi: int) -> int:
        try:
            return min(max(0, int(request.query.get(key, default))), hi)
        except ValueError:
            return default

    def _author(self, post: Post) -> dict[str, Any]:
        a = post.author
        sec = "MS4wLjABAAAA" + base64.urlsafe_b64encode(hashlib.sha256(a.id.encode()).digest()).decode()[:32]
        return {
            "uid": a.id,
            "sec_uid": sec,
            "short_id": a.id[-8:],
            "unique_id": f"dy{a.id[-6:]}",
            "nickname": a.name,
            "signature": a.description,
            "avatar_thumb": {"url_list": [f"https://p3-pc.douyinpic.com/aweme/100x100/{a.id}.jpeg"]},
            "follower_count": a.followers,
            "custom_verify": a.verified_reason if a.verified else "",
            "enterprise_verify_reason": "",
        }

    def aweme_info(self, post: Post) -> dict[str, Any]:

        tags = re.findall(r"#([^#\s]{1,40})#", post.text)
        return {
            "aweme_id": post.post_id,
            "aweme_type": post.extra.get("aweme_type", 0),
            "desc": post.text,
            "create_time": int(post.published_at.timestamp()),
            "author": self._author(post),
            "statistics": {
                "digg_count": post.likes,
                "comment_count": post.comments,
                "share_count": post.shares,
                "collect_count": post.collects,
                "play_count": 0,
            },
            "ip_label": post.ip_region,
            "text_extra": [{"hashtag_name": t, "type": 1} for t in tags],
            "video": {"play_addr": {"url_list": [f"https://v3-web.douyinvod.com/{post.post_id}.mp4"]}},
        }

    def _found(self, request: web.Request) -> list[Post]:
        world = self.ctx.world
        assert world is not None
        try:
            filters = json.loads(request.query.get("filter_selected") or "{}")
        except ValueError:
            filters = {}
        order = "time" if str(filters.get("sort_type", "0")) == "2" else "hot"
        found = world.search(self.name, request.query.get("keyword", ""), order)
        days = int(filters.get("publish_time") or 0) if str(filters.get("publish_time", "0")).isdigit() else 0
        if days:
            cutoff = now_utc() - timedelta(days=days)
            found = [p for p in found if p.published_at >= cutoff]
        return found

    # --- API ----------------------------------------------------------------------------------------------

    async def search_api(self, request: web.Request) -> web.StreamResponse:
        if not self._signed(request):
            return self._unsigned()
        if not self.logged_in(request):
            return json_response(request, {"status_code": 8, "status_msg": "用户未登录"})
        offset, count = self._int(request, "offset", 0, 10**6), self._int(request, "count", 15, 20) or 15
        found = self._found(request)
        chunk = found[offset : offset + count]
        data: list[dict[str, Any]] = []
        for i, post in enumerate(chunk):
            if (offset + i) % 6 == 5:
                data.append({"type": 1, "aweme_mix_info": {"mix_items": [self.aweme_info(post)]}})
            else:
                data.append({"type": 1, "aweme_info": self.aweme_info(post)})
        if offset == 0 and data:
            data.insert(1, {"type": 999, "user_list": [{"user_info": {"uid": "1", "nickname": "相关用户"}}]})
        more = offset + count < len(found)
        return json_response(
            request,
            {
                "status_code": 0,
                "data": data,
                "has_more": int(more),
                "cursor": offset + count,
                "extra": {"logid": _logid(), "now": _now_ms()},
                "log_pb": {"impr_id": _logid()},
            },
        )

    def _comment(self, com: Post, aweme_id: str) -> dict[str, Any]:
        root = com.extra.get("root_id")
        return {
            "cid": com.post_id,
            "text": com.text,
            "aweme_id": aweme_id,
            "create_time": int(com.published_at.timestamp()),
            "digg_count": com.likes,
            "reply_id": root or "0",
            "reply_to_reply_id": "0",
            "reply_comment_total": len(com.replies),
            "ip_label": com.ip_region,
            "is_hot": com.likes > 100,
            "is_author_digged": False,
            "level": 1,
            "user": {
                "uid": com.author.id,
                "nickname": com.author.name,
                "sec_uid": self._author(com)["sec_uid"],
                "avatar_thumb": {"url_list": [f"https://p3-pc.douyinpic.com/{com.author.id}.jpeg"]},
            },
            "text_extra": [],
            "image_list": None,
        }

    def _comment_page(self, request: web.Request, items: list[Post], aweme_id: str) -> web.Response:
        cursor, count = self._int(request, "cursor", 0, 10**6), self._int(request, "count", 20, 50) or 20
        page = items[cursor : cursor + count]
        return json_response(
            request,
            {
                "status_code": 0,
                "comments": [self._comment(c, aweme_id) for c in page],
                "cursor": cursor + len(page),
                "has_more": int(cursor + count < len(items)),
                "total": len(items),
                "reply_style": 2,
                "extra": {"now": _now_ms()},
                "log_pb": {"impr_id": _logid()},
            },
        )

    async def comment_api(self, request: web.Request) -> web.StreamResponse:
        if not self._signed(request):
            return self._unsigned()
        world = self.ctx.world
        assert world is not None
        post = world.get(self.name, request.query.get("aweme_id", ""))
        if post is None or post.kind != "post":
            return json_response(
                request, {"status_code": 0, "comments": [], "cursor": 0, "has_more": 0, "total": 0}
            )
        return self._comment_page(request, list(post.replies), post.post_id)

    async def reply_api(self, request: web.Request) -> web.StreamResponse:
        if not self._signed(request):
            return self._unsigned()
        world = self.ctx.world
        assert world is not None
        com = world.get(self.name, request.query.get("comment_id", ""))
        replies = list(com.replies) if com is not None else []
        return self._comment_page(request, replies, request.query.get("item_id", ""))

    async def hot_list(self, request: web.Request) -> web.StreamResponse:
        """The hot list (PLATFORMS.md §4b): needs the web cookie ``ttwid`` (the home page sets it), else an
        empty body as the site gives a client it does not know; ``position`` is 1-based, ``label`` an int."""
        if not request.cookies.get("ttwid"):
            return web.Response(status=200, body=b"", content_type="application/json")
        world = self.ctx.world
        assert world is not None
        board = world.hot.get(self.name)
        now = now_utc()
        words = []
        for e in board.entries(now) if board is not None else []:
            sid = str(100_000 + zlib.crc32(e.word.encode()) % 900_000)
            words.append(
                {
                    "word": e.word,
                    "hot_value": e.heat,
                    "position": e.rank,
                    "label": 8 if e.category == "娱乐" and not e.label else _DOUYIN_LABEL.get(e.label, 0),
                    "video_count": 3 + e.heat // 200_000,
                    "discuss_video_count": e.heat // 500_000,
                    "event_time": int((e.onboard or now).timestamp()),
                    "sentence_id": sid,
                    "group_id": f"7{zlib.crc32(sid.encode()):018d}",
                    "sentence_tag": 0,
                    "word_cover": {
                        "uri": f"tos-cn-i-0813/{sid}",
                        "url_list": [f"https://p3-sign.douyinpic.com/tos-cn-i-0813/{sid}.jpeg"],
                    },
                }
            )
        trending = [
            {"word": w["word"], "position": i + 1, "sentence_id": w["sentence_id"]}
            for i, w in enumerate(words[:5])
        ]
        return json_response(
            request,
            {
                "status_code": 0,
                "data": {
                    "word_list": words,
                    "trending_list": trending,
                    "active_time": now.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                },
                "extra": {"now": _now_ms()},
                "log_pb": {"impr_id": _logid()},
            },
        )

    async def query_user(self, request: web.Request) -> web.StreamResponse:
        if not self.logged_in(request):
            return web.json_response({"status_code": 8, "status_msg": "用户未登录"})
        return web.json_response({"status_code": 0, "user_uid": "84512345678", "user_uid_type": 0})

    # --- pages and QR login ----------------------------------------------------------------------------

    def _page(self, html: str, request: web.Request) -> web.Response:
        resp = web.Response(text=html, content_type="text/html", charset="utf-8")
        if not request.cookies.get("ttwid"):
            resp.set_cookie("ttwid", "1%7C" + secrets.token_urlsafe(32), **_COOKIE)
            resp.set_cookie("s_v_web_id", "verify_" + secrets.token_hex(12), **_COOKIE)
        return resp

    async def home(self, request: web.Request) -> web.StreamResponse:
        return self._page(douyin_home_html(PREFIX, self._sign_js, logged_in=self.logged_in(request)), request)

    async def search_page(self, request: web.Request) -> web.StreamResponse:
        keyword = request.match_info["keyword"]
        web_id = str(
            int(hashlib.sha256(request.cookies.get("ttwid", "x").encode()).hexdigest(), 16) % 9 * 10**18
            + 10**18
        )
        html = douyin_search_html(
            PREFIX,
            self._sign_js,
            keyword=keyword,
            common=COMMON,
            web_id=web_id,
            ms_token=secrets.token_urlsafe(96)[:107],
        )
        return self._page(html, request)

    async def qr_create(self, request: web.Request) -> web.StreamResponse:
        token = secrets.token_hex(16)
        with self._lock:
            self._qr[token] = {"status": "1", "session": None}
        return web.json_response(
            {
                "data": {
                    "token": token,
                    "qrcode_index_url": f"https://aweme.snssdk.com/passport/web/scan_qrcode/?token={token}",
                },
                "message": "success",
            }
        )

    async def qr_image(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("token", "")
        with self._lock:
            known = token in self._qr
        if not known:
            raise web.HTTPNotFound()
        return web.Response(
            body=qr_png(f"https://aweme.snssdk.com/passport/web/scan_qrcode/?token={token}"),
            content_type="image/png",
        )

    async def qr_status(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            state = self._qr.get(request.query.get("token", ""))
        if state is None:
            return web.json_response({"data": {"status": "5"}, "message": "expired"})
        resp = web.json_response({"data": {"status": state["status"]}, "message": "success"})
        if state["session"]:
            for name, value in self.session_cookies(state["session"]).items():
                resp.set_cookie(name, value, **_COOKIE)
        return resp

    async def qr_confirm(self, request: web.Request) -> web.StreamResponse:
        """The phone: scan and confirm ``token`` (body ``{"token"}``; default: the newest pending QR)."""
        body = await request.json() if request.can_read_body else {}
        with self._lock:
            pending = [k for k, v in self._qr.items() if v["status"] != "3"]
            token = str(body.get("token") or (pending[-1] if pending else ""))
            state = self._qr.get(token)
            if state is None:
                return web.json_response({"ok": False, "error": "no such QR code"}, status=404)
            state["status"], state["session"] = "3", self.ctx.sessions.issue(self.name)
        return web.json_response({"ok": True, "token": token})

    async def qr_pending(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            return web.json_response({"pending": [k for k, v in self._qr.items() if v["status"] != "3"]})


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
