"""Simulated Xiaohongshu: edith API (search, feed detail, comments, selfinfo) + www pages and QR login.

Contract of PLATFORMS.md §2: every API call needs well-formed ``X-S``/``X-T``/``x-S-Common``/
``X-B3-Traceid`` headers signed for exactly that request and ``a1`` cookie (else HTTP 406
``code -1``); search and detail need a logged-in ``web_session`` (else ``-101`` / ``-100 登录已过期``).
Counts are strings ("1.2万"), times epoch ms, ``shared_count`` in search vs ``share_count`` in detail.
Faults: 461/471 captcha, 406 signature, ``300012`` IP block, ``300013`` rate limit, 登录已过期.
The phone of the QR login is played through ``POST /xiaohongshu/__admin/qr/confirm``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import secrets
import threading
from datetime import datetime
from typing import Any, TypedDict

from aiohttp import ClientPayloadError, web

from simulator.model import Post
from simulator.platforms._xd_pages import qr_png, xhs_home_html
from simulator.registry import PlatformSim, Route, json_response, register
from simulator.signatures import verify_xhs, xhs_sign_js
from simulator.world import now_utc

PREFIX = "/xiaohongshu"


class _CookieOptions(TypedDict):
    path: str
    max_age: int


_COOKIE: _CookieOptions = {"path": PREFIX, "max_age": 86400 * 30}


def fmt_count(n: int) -> str:
    """How the site shows a count: "3496", "1.2万"."""
    if n < 10_000:
        return str(n)
    return f"{n / 10_000:.1f}".rstrip("0").rstrip(".") + "万"


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 0, "success": True, "msg": "成功", "data": data}


def failure(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "success": False, "msg": msg, "data": {}}


@register
class Xiaohongshu(PlatformSim):
    name = "xiaohongshu"
    host = "https://www.xiaohongshu.com"
    style = "xiaohongshu"
    default_posts = 30
    crisis_share = 0.5
    session_cookie = "web_session"
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
        self._qr: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._sign_js = xhs_sign_js()

    def routes(self) -> list[Route]:
        return [
            ("POST", "/api/sns/web/v1/search/notes", self.search),
            ("POST", "/api/sns/web/v1/feed", self.feed),
            ("GET", "/api/sns/web/v2/comment/page", self.comments),
            ("GET", "/api/sns/web/v2/comment/sub/page", self.sub_comments),
            ("GET", "/api/sns/web/v1/user/selfinfo", self.selfinfo),
            ("GET", "/explore", self.home),
            ("GET", "/", self.home),
            ("POST", "/api/sns/web/v1/login/qrcode/create", self.qr_create),
            ("GET", "/api/sns/web/v1/login/qrcode/status", self.qr_status),
            ("GET", "/login/qrcode.png", self.qr_image),
            ("POST", "/__admin/qr/confirm", self.qr_confirm),
            ("GET", "/__admin/qr/pending", self.qr_pending),
        ]

    # --- world hooks ---------------------------------------------------------------------------

    def new_author_id(self, rng: random.Random) -> str:
        return f"{rng.getrandbits(96):024x}"

    def finish(self, post: Post, draft: Any, rng: random.Random) -> None:
        post.post_id = f"{int(post.published_at.timestamp()) & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"
        token = self.xsec_token(post.post_id)
        post.extra["xsec_token"] = token
        if post.kind == "post":
            post.url = f"{self.host}/explore/{post.post_id}?xsec_token={token}&xsec_source=pc_search"
            post.extra["note_type"] = "video" if rng.random() < 0.3 else "normal"

    def xsec_token(self, note_id: str) -> str:
        digest = hashlib.sha256(f"{self.ctx.options.seed}:{note_id}".encode()).digest()
        return "AB" + base64.urlsafe_b64encode(digest).decode()[:42] + "="

    def rename_fields(self, payload: Any) -> Any:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict):
            for item in data.get("items") or []:
                if isinstance(item, dict) and "note_card" in item:
                    item["noteCard"] = item.pop("note_card")
            for com in data.get("comments") or []:
                if isinstance(com, dict) and "id" in com:
                    com["comment_id"] = com.pop("id")
        return payload

    def render_fault(self, kind: str, request: web.Request, options: dict[str, Any]) -> web.StreamResponse:
        status = int(options.get("status", 0))
        if kind == "captcha":
            status = status or 461
            return web.json_response(
                {"code": status, "success": False, "msg": ""},
                status=status,
                headers={"Verifytype": "102", "Verifyuuid": secrets.token_hex(8)},
            )
        if kind == "signature_rejected":
            return web.json_response({"code": -1, "success": False}, status=406)
        if kind == "ip_blocked":
            return web.json_response(failure(300012, "网络连接异常，请检查网络设置或重启试试"))
        if kind == "rate_limited":
            return web.json_response(
                failure(300013, "访问频次异常，请勿频繁操作或重启试试"), status=status or 200
            )
        if kind == "auth_expired":
            return web.json_response(failure(-100, "登录已过期"))
        return super().render_fault(kind, request, options)

    def session_cookies(self, token: str) -> dict[str, str]:
        a1 = hashlib.sha256(token.encode()).hexdigest()[:52]
        return {"a1": a1, "webId": hashlib.md5(a1.encode()).hexdigest(), "web_session": token}

    # --- checks ------------------------------------------------------------------------------------

    async def _refuse(self, request: web.Request, *, login: bool = True) -> web.Response | None:
        """The answer to an unsigned/mis-signed or logged-out request, or None when it may proceed."""
        try:
            body = await request.text() if request.method == "POST" else ""
        except (ConnectionResetError, ClientPayloadError):  # the client gave up (its timeout)
            return web.Response(status=400, text="client went away")
        path = request.rel_url.raw_path[len(PREFIX) :]
        reason = verify_xhs(
            request.method,
            path,
            request.rel_url.raw_query_string,
            body,
            dict(request.headers),
            dict(request.cookies),
        )
        if reason is not None:
            return web.json_response({"code": -1, "success": False, "msg": reason}, status=406)
        if login and not self.logged_in(request):
            if request.cookies.get(self.session_cookie):
                return json_response(request, failure(-100, "登录已过期"))
            return json_response(request, failure(-101, "无登录信息，或登录信息为空"))
        return None

    def _posts(self, keyword: str, sort: str) -> list[Post]:
        world = self.ctx.world
        assert world is not None
        return world.search(self.name, keyword, "time" if sort == "time_descending" else "hot")

    def _note(self, note_id: str) -> Post | None:
        world = self.ctx.world
        assert world is not None
        post = world.get(self.name, note_id)
        return post if post is not None and post.kind == "post" else None

    # --- API -----------------------------------------------------------------------------------------

    async def search(self, request: web.Request) -> web.StreamResponse:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            keyword, page = str(body["keyword"]), max(1, int(body.get("page", 1)))
            size = min(max(1, int(body.get("page_size", 20))), 20)
        except (ValueError, KeyError, TypeError):
            return json_response(request, failure(-1, "参数错误"), status=400)
        found = self._posts(keyword, str(body.get("sort", "general")))
        chunk = found[(page - 1) * size : page * size]
        items: list[dict[str, Any]] = [self._search_item(p) for p in chunk]
        if page == 1 and chunk:
            items.insert(
                min(3, len(items)),
                {
                    "id": f"rq{secrets.token_hex(8)}",
                    "model_type": "rec_query",
                    "rec_query": {"title": "相关搜索", "queries": [{"name": keyword}]},
                },
            )
        return json_response(request, envelope({"has_more": page * size < len(found), "items": items}))

    def _user(self, post: Post) -> dict[str, Any]:
        a = post.author
        return {
            "user_id": a.id,
            "nickname": a.name,
            "nick_name": a.name,
            "xsec_token": self.xsec_token(a.id),
            "avatar": f"https://sns-avatar-qc.xhscdn.com/avatar/{a.id}.jpg",
        }

    def _search_item(self, post: Post) -> dict[str, Any]:
        card = {
            "type": post.extra.get("note_type", "normal"),
            "display_title": post.title or "",
            "user": self._user(post),
            "interact_info": {
                "liked": False,
                "liked_count": fmt_count(post.likes),
                "collected": False,
                "collected_count": fmt_count(post.collects),
                "comment_count": fmt_count(post.comments),
                "shared_count": fmt_count(post.shares),
            },
            "cover": {
                "url_default": f"http://sns-webpic-qc.xhscdn.com/cover/{post.post_id}!nc_n_webp_mw_1",
                "height": 1660,
                "width": 1242,
            },
            "corner_tag_info": [{"type": "publish_time", "text": post.published_at.strftime("%m-%d")}],
        }
        return {
            "id": post.post_id,
            "model_type": "note",
            "xsec_token": post.extra["xsec_token"],
            "note_card": card,
        }

    async def feed(self, request: web.Request) -> web.StreamResponse:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            note_id, token = str(body["source_note_id"]), str(body.get("xsec_token", ""))
        except (ValueError, KeyError, TypeError):
            return json_response(request, failure(-1, "参数错误"), status=400)
        post = self._note(note_id)
        if post is None:
            return json_response(request, failure(-510000, "笔记不存在"))
        if token != post.extra["xsec_token"]:
            return json_response(request, failure(-510001, "笔记状态异常，请稍后查看"))
        return json_response(
            request,
            envelope(
                {
                    "items": [{"id": post.post_id, "model_type": "note", "note_card": self._note_card(post)}],
                    "current_time": ms(now_utc()),
                    "cursor_score": "",
                }
            ),
        )

    def _note_card(self, post: Post) -> dict[str, Any]:

        desc = re.sub(r"#([^#\s]{1,40})#", r"#\1[话题]#", post.text)
        tags = [
            {"id": hashlib.md5(t.encode()).hexdigest()[:24], "name": t, "type": "topic"}
            for t in re.findall(r"#([^#\s]{1,40})#", post.text)
        ]
        return {
            "note_id": post.post_id,
            "type": post.extra.get("note_type", "normal"),
            "title": post.title or "",
            "desc": desc,
            "time": ms(post.published_at),
            "last_update_time": ms(post.published_at),
            "ip_location": post.ip_region,
            "user": self._user(post),
            "tag_list": tags,
            "at_user_list": [],
            "interact_info": {
                "followed": False,
                "relation": "none",
                "liked": False,
                "liked_count": fmt_count(post.likes),
                "collected": False,
                "collected_count": fmt_count(post.collects),
                "comment_count": fmt_count(post.comments),
                "share_count": fmt_count(post.shares),
            },
            "image_list": [
                {
                    "url_default": f"http://sns-webpic-qc.xhscdn.com/{post.post_id}/0!nd_dft_wgth_webp_3",
                    "width": 1080,
                    "height": 1440,
                }
            ],
            "share_info": {"un_share": False},
        }

    def _comment(self, com: Post, note: Post, *, inline: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": com.post_id,
            "note_id": note.post_id,
            "content": com.text,
            "create_time": ms(com.published_at),
            "ip_location": com.ip_region,
            "like_count": fmt_count(com.likes),
            "liked": False,
            "status": 0,
            "at_users": [],
            "show_tags": ["is_author"] if com.author.id == note.author.id else [],
            "user_info": {
                "user_id": com.author.id,
                "nickname": com.author.name,
                "image": f"https://sns-avatar-qc.xhscdn.com/avatar/{com.author.id}.jpg",
                "xsec_token": self.xsec_token(com.author.id),
            },
        }
        root = com.extra.get("root_id")
        if root:
            out["target_comment"] = {"id": root, "user_info": {"user_id": "", "nickname": ""}}
        if com.parent_post_id and not root:
            shown = com.replies[:inline]
            out.update(
                sub_comments=[self._comment(r, note) for r in shown],
                sub_comment_count=str(len(com.replies)),
                sub_comment_cursor=shown[-1].post_id if shown else "",
                sub_comment_has_more=len(com.replies) > len(shown),
            )
        return out

    @staticmethod
    def _after(items: list[Post], cursor: str) -> list[Post]:
        if not cursor:
            return items
        ids = [p.post_id for p in items]
        return items[ids.index(cursor) + 1 :] if cursor in ids else []

    async def comments(self, request: web.Request) -> web.StreamResponse:
        refused = await self._refuse(request, login=False)
        if refused is not None:
            return refused
        note = self._note(request.query.get("note_id", ""))
        if note is None:
            return json_response(request, failure(-510000, "笔记不存在"))
        size = self.ctx.options.comment_page_size
        rest = self._after(list(note.replies), request.query.get("cursor", ""))
        page = rest[:size]
        data = {
            "comments": [self._comment(c, note, inline=1) for c in page],
            "cursor": page[-1].post_id if page else "",
            "has_more": len(rest) > size,
            "time": ms(now_utc()),
            "xsec_token": note.extra["xsec_token"],
            "user_id": note.author.id,
        }
        return json_response(request, envelope(data))

    async def sub_comments(self, request: web.Request) -> web.StreamResponse:
        refused = await self._refuse(request, login=False)
        if refused is not None:
            return refused
        note = self._note(request.query.get("note_id", ""))
        root = next(
            (c for c in (note.replies if note else []) if c.post_id == request.query.get("root_comment_id")),
            None,
        )
        if note is None or root is None:
            return json_response(request, failure(-510000, "评论不存在"))
        try:
            num = min(max(1, int(request.query.get("num", "10"))), 20)
        except ValueError:
            num = 10
        rest = self._after(list(root.replies), request.query.get("cursor", ""))
        page = rest[:num]
        data = {
            "comments": [self._comment(c, note) for c in page],
            "cursor": page[-1].post_id if page else "",
            "has_more": len(rest) > num,
            "time": ms(now_utc()),
            "xsec_token": note.extra["xsec_token"],
            "user_id": note.author.id,
        }
        return json_response(request, envelope(data))

    async def selfinfo(self, request: web.Request) -> web.StreamResponse:
        refused = await self._refuse(request)
        if refused is not None:
            return refused
        return json_response(
            request,
            envelope(
                {
                    "result": {"success": True, "code": 0, "msg": "成功"},
                    "basic_info": {"nickname": "小红薯用户", "red_id": "95000001"},
                }
            ),
        )

    # --- pages and QR login ---------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        html = xhs_home_html(
            PREFIX,
            self._sign_js,
            logged_in=self.logged_in(request),
            b1=hashlib.sha256(b"b1").hexdigest()[:32],
        )
        resp = web.Response(text=html, content_type="text/html", charset="utf-8")
        if not request.cookies.get("a1"):
            a1 = secrets.token_hex(26)
            resp.set_cookie("a1", a1, **_COOKIE)
            resp.set_cookie("webId", hashlib.md5(a1.encode()).hexdigest(), **_COOKIE)
        return resp

    async def qr_create(self, request: web.Request) -> web.StreamResponse:
        qr_id, code = str(secrets.randbelow(10**17) + 10**17), f"{secrets.randbelow(10**6):06d}"
        with self._lock:
            self._qr[qr_id] = {"code": code, "status": 0, "token": None}
        url = f"{self.host}/mobile/login?qrId={qr_id}&ruleId=3&code={code}"
        return web.json_response(envelope({"qr_id": qr_id, "code": code, "url": url, "multi_flag": 0}))

    async def qr_image(self, request: web.Request) -> web.StreamResponse:
        qr_id = request.query.get("qr_id", "")
        with self._lock:
            state = self._qr.get(qr_id)
        if state is None:
            raise web.HTTPNotFound()
        url = f"{self.host}/mobile/login?qrId={qr_id}&ruleId=3&code={state['code']}"
        return web.Response(body=qr_png(url), content_type="image/png")

    async def qr_status(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            state = self._qr.get(request.query.get("qr_id", ""))
        if state is None or state["code"] != request.query.get("code"):
            return web.json_response(failure(-1, "二维码已过期"))
        resp = web.json_response(
            envelope(
                {
                    "code_status": state["status"],
                    "login_info": {"user_id": "5b2496181"} if state["token"] else {},
                }
            )
        )
        if state["token"]:
            resp.set_cookie("web_session", state["token"], **_COOKIE)
        return resp

    async def qr_confirm(self, request: web.Request) -> web.StreamResponse:
        """The phone: scan and confirm ``qr_id`` (body ``{"qr_id"}``; default: the newest pending QR)."""
        body = await request.json() if request.can_read_body else {}
        with self._lock:
            pending = [k for k, v in self._qr.items() if v["status"] < 2]
            qr_id = str(body.get("qr_id") or (pending[-1] if pending else ""))
            state = self._qr.get(qr_id)
            if state is None:
                return web.json_response({"ok": False, "error": "no such QR code"}, status=404)
            state["status"], state["token"] = 2, self.ctx.sessions.issue(self.name)
        return web.json_response({"ok": True, "qr_id": qr_id})

    async def qr_pending(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            return web.json_response({"pending": [k for k, v in self._qr.items() if v["status"] < 2]})
