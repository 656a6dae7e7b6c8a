"""Simulated m.weibo.cn (prefix ``/weibo``): keyword search, detail, long text, comments, login check.

Every data endpoint needs a valid ``SUB`` cookie (issued by the simulator or the test value
``simulator.WEIBO_TEST_SUB``); without one it answers HTTP 432 with a non-JSON body, as the
real site does. ``/api/config`` always answers, with ``data.login`` true or false.
"""

from __future__ import annotations

import random
import zlib
from typing import Any
from urllib.parse import parse_qs, quote

from aiohttp import web

from simulator.corpus import Draft
from simulator.model import Post
from simulator.phrases import CLIENTS
from simulator.platforms import _weibo_render as r
from simulator.platforms._weibo_login import WeiboQrLogin
from simulator.registry import (
    FAULT_KEY,
    PlatformSim,
    RawJSON,
    Route,
    dumps,
    html_response,
    json_response,
    register,
)
from simulator.world import now_utc

MID_BASE = 4_900_000_000_000_000
NOT_FOUND_MSG = "该微博不存在或已被删除"
_H432 = "<html>\r\n<head><title>432</title></head>\r\n<body>\r\n<center><h1>432</h1></center>\r\n</body>\r\n</html>\r\n"


@register
class WeiboSim(PlatformSim):
    name = "weibo"
    host = "https://m.weibo.cn"
    style = "weibo"
    default_posts = 40
    crisis_share = 1.0
    session_cookie = "SUB"
    fault_kinds = frozenset(
        {
            "rate_limited",
            "captcha",
            "ip_blocked",
            "auth_expired",
            "server_error",
            "timeout",
            "slow",
            "bad_payload",
            "malformed_json",
            "schema_change",
            "network",
        }
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._mblogs: dict[str, tuple[tuple[Any, ...], RawJSON]] = {}
        self.qr = WeiboQrLogin(ctx.sessions)

    def routes(self) -> list[Route]:
        return [
            ("GET", "/", self.home),
            ("GET", "/api/config", self.config),
            ("GET", "/api/container/getIndex", self.get_index),
            ("GET", "/comments/hotflow", self.hotflow),
            ("GET", "/detail/{mid}", self.detail),
            ("GET", "/status/{mid}", self.detail),
            ("GET", "/statuses/extend", self.extend),
            ("GET", "/ajax/side/hotSearch", self.hot_search),
            ("GET", "/api/statuses/repostTimeline", self.repost_timeline),
            ("GET", "/login", self.qr.page),
            ("GET", "/login/qrcode.svg", self.qr.image),
            ("GET", "/login/qrcode/check", self.qr.check),
            ("POST", "/__admin/qr/confirm", self.qr.confirm),
            ("GET", "/__admin/qr/pending", self.qr.pending),
        ]

    # --- world hooks --------------------------------------------------------------------------

    def finish(self, post: Post, draft: Draft | None, rng: random.Random) -> None:
        world = self.ctx.world
        assert world is not None
        mid = str(world.time_id(self.name, post.published_at, MID_BASE, 100))
        post.post_id = mid
        post.extra["bid"] = r.mid_to_bid(mid)
        post.url = f"https://m.weibo.cn/detail/{mid}"
        if post.kind == "post":
            post.extra["source"] = rng.choice(CLIENTS)
            if rng.random() < 0.3:
                post.extra["pic_ids"] = [
                    f"{rng.getrandbits(64):016x}ly1h{rng.getrandbits(40):010x}"
                    for _ in range(rng.randint(1, 4))
                ]
            if rng.random() < 0.08:
                post.extra["video"] = True

    def rename_fields(self, payload: Any) -> Any:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict):
            for old, new in (
                ("cards", "items"),
                ("data", "comments"),
                ("login", "is_login"),
                ("longTextContent", "long_text"),
                ("realtime", "band_list"),
            ):
                if old in data:
                    data[new] = data.pop(old)
        return payload

    def render_fault(self, kind: str, request: web.Request, options: dict[str, Any]) -> web.StreamResponse:
        if kind == "rate_limited":
            variant = options.get("variant") or ("http" if request[FAULT_KEY].fired % 2 else "ok0")
            if variant == "empty":  # throttled silently: a normal envelope with no cards
                if request.path.endswith("/api/config"):  # the session itself is fine
                    return json_response(request, _config_payload(True))
                return json_response(
                    request, {"ok": 1, "data": {"cardlistInfo": {"page": None, "total": 0}, "cards": []}}
                )
            if variant == "http":
                return web.Response(
                    status=429,
                    text="<html><body>429 Too Many Requests</body></html>",
                    content_type="text/html",
                )
            return json_response(request, {"ok": 0, "errno": "100005", "msg": "请求过于频繁，请稍后再试"})
        if kind == "auth_expired":
            if request.path.endswith("/api/config"):
                return json_response(request, _config_payload(False))
            return _unauthorised()
        if kind == "ip_blocked":
            return web.Response(status=418, text="", content_type="text/html")
        return super().render_fault(kind, request, options)

    # --- handlers ----------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        resp = web.Response(
            text='<!DOCTYPE html><html><head><meta charset="utf-8"><title>微博</title></head>'
            '<body><div id="app"></div></body></html>',
            content_type="text/html",
        )
        resp.set_cookie("_T_WM", f"{random.getrandbits(40):d}", path="/")
        resp.set_cookie("XSRF-TOKEN", f"{random.getrandbits(24):06x}", path="/")
        return resp

    async def config(self, request: web.Request) -> web.StreamResponse:
        return json_response(request, _config_payload(self.logged_in(request)))

    async def get_index(self, request: web.Request) -> web.StreamResponse:
        if not self.logged_in(request):
            return _unauthorised()
        containerid = request.query.get("containerid", "")
        if not containerid.startswith("100103"):
            return json_response(request, {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
        inner = parse_qs(containerid[6:])
        search_type = (inner.get("type") or [request.query.get("type", "1")])[0]
        keyword = (inner.get("q") or [request.query.get("q", "")])[0]
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        return json_response(
            request, self._search_page(containerid, search_type, keyword, page), spliced=True
        )

    def _search_page(self, containerid: str, search_type: str, keyword: str, page: int) -> dict[str, Any]:
        world, opts = self.ctx.world, self.ctx.options
        assert world is not None
        order = "time" if search_type in ("61", "64") else "hot"
        with world.lock:
            hits = world.search(self.name, keyword, order)
            if search_type == "64":
                hits = [p for p in hits if p.extra.get("video")]
            size = opts.page_size
            last = -(-len(hits) // size)
            if opts.weibo_max_pages:
                last = min(last, opts.weibo_max_pages)
            chunk = hits[(page - 1) * size : page * size] if page <= last else []
            now = now_utc()
            lfid = quote(containerid, safe="")
            cards = [self._card(p, now, lfid, keyword) for p in chunk]
        if page % 3 == 2 and len(cards) >= 3:
            cards[-2:] = [
                {
                    "card_type": 11,
                    "show_type": 1,
                    "itemid": f"{containerid}_group_{page}",
                    "card_group": cards[-2:],
                }
            ]
        if page == 1 and search_type == "1" and cards:
            official = self._official_card(keyword)
            if official is not None:
                cards.insert(0, official)
        info = {
            "containerid": containerid,
            "v_p": 42,
            "show_style": 1,
            "total": len(hits),
            "autoLoadMoreIndex": 20,
            "can_shared": 0,
            "title_top": keyword,
            "page": page + 1 if page < last else None,
        }
        return {
            "ok": 1,
            "data": {
                "cardlistInfo": info,
                "cards": cards,
                "scheme": f"sinaweibo://searchall?containerid={quote(containerid, safe='')}",
                "showAppTips": 0,
            },
        }

    def _card(self, post: Post, now: Any, lfid: str, keyword: str) -> dict[str, Any]:
        world = self.ctx.world
        assert world is not None
        origin = world.get(self.name, post.extra["repost_of"]) if "repost_of" in post.extra else None
        bid = post.extra["bid"]
        return {
            "card_type": 9,
            "card_type_name": "",
            "itemid": f"seqid:{r.stable_hash(bid)}|type:1|t:|pos:1-0|q:{keyword}|ext:&mid={post.post_id}&",
            "display_arrow": 0,
            "show_type": 1,
            "mblog": self._mblog_json(post, origin, now),
            "scheme": f"https://m.weibo.cn/status/{bid}?mblogid={bid}&luicode=10000011&lfid={lfid}",
            "title": "",
        }

    def _mblog_json(self, post: Post, origin: Post | None, now: Any) -> RawJSON:
        """The serialised ``mblog``, cached until its counts or its displayed time change."""
        key = (
            id(self.ctx.world),
            post.likes,
            post.comments,
            post.shares,
            r.created_at(post, now, 2, 2),
            None
            if origin is None
            else (origin.likes, origin.comments, origin.shares, r.created_at(origin, now, 2, 2)),
        )
        hit = self._mblogs.get(post.post_id)
        if hit is not None and hit[0] == key:
            return hit[1]
        raw = RawJSON(dumps(r.mblog(post, now, retweet=origin)))
        self._mblogs[post.post_id] = (key, raw)
        return raw

    def _official_card(self, keyword: str) -> dict[str, Any] | None:
        world = self.ctx.world
        assert world is not None
        brand = next((b for b in self.ctx.brands if keyword in b.all_names), None)
        if brand is None:
            return None
        user = r.user_json(world.pools[self.name].official[brand.name])
        return {
            "card_type": 11,
            "show_type": 1,
            "itemid": "user_group",
            "card_group": [
                {
                    "card_type": 10,
                    "user": user,
                    "desc1": f"粉丝：{user['followers_count_str']}",
                    "scheme": user["profile_url"],
                    "itemid": f"user_{user['id']}",
                }
            ],
        }

    def _lookup(self, request: web.Request, post_id: str) -> Post | None:
        world = self.ctx.world
        assert world is not None
        post = world.get(self.name, post_id)
        if post is None and post_id and not post_id.isdigit():
            post = next((p for p in world.posts[self.name] if p.extra.get("bid") == post_id), None)
        return post if post is not None and post.kind == "post" else None

    async def hotflow(self, request: web.Request) -> web.StreamResponse:
        if not self.logged_in(request):
            return _unauthorised()
        post = self._lookup(request, request.query.get("id") or request.query.get("mid", ""))
        if post is None:
            return json_response(request, {"ok": 0, "msg": NOT_FOUND_MSG})
        world = self.ctx.world
        assert world is not None
        with world.lock:
            ordered = sorted(post.replies, key=lambda c: (-c.likes, c.seq))
            start = 0
            max_id = request.query.get("max_id", "0") or "0"
            if max_id != "0":
                start = next((i for i, c in enumerate(ordered) if c.post_id == max_id), -1)
                if start < 0:
                    return json_response(request, {"ok": 0, "msg": "参数错误"})
            size = self.ctx.options.comment_page_size
            now = now_utc()
            items = [
                r.comment_json(c, now, post, start + i + 1)
                for i, c in enumerate(ordered[start : start + size])
            ]
            nxt = int(ordered[start + size].post_id) if start + size < len(ordered) else 0
            total = post.comments
        return json_response(
            request,
            {"ok": 1, "data": {"data": items, "total_number": total, "max_id": nxt, "max_id_type": 0}},
        )

    async def detail(self, request: web.Request) -> web.StreamResponse:
        if not self.logged_in(request):
            return _unauthorised()
        post = self._lookup(request, request.match_info["mid"])
        if post is None:
            return html_response(
                request, "<html><body><p>微博不存在或暂无查看权限</p></body></html>", status=404
            )
        with self.ctx.world.lock:  # type: ignore[union-attr]
            status = r.mblog(post, now_utc(), full=True)
        return html_response(
            request,
            r.render_data_html(status, lambda v: dumps(v)),
            renames=(("$render_data", "$render_data_v2"),),
        )

    async def extend(self, request: web.Request) -> web.StreamResponse:
        if not self.logged_in(request):
            return _unauthorised()
        post = self._lookup(request, request.query.get("id", ""))
        if post is None:
            return json_response(request, {"ok": 0, "msg": NOT_FOUND_MSG})
        return json_response(
            request,
            {
                "ok": 1,
                "data": {
                    "ok": 1,
                    "longTextContent": r.text_html(post.text),
                    "reposts_count": r.show_count(post.shares, post.post_id + "r"),
                    "comments_count": r.show_count(post.comments, post.post_id + "c"),
                    "attitudes_count": r.show_count(post.likes, post.post_id + "a"),
                },
            },
        )

    async def hot_search(self, request: web.Request) -> web.StreamResponse:
        """PC ``/ajax/side/hotSearch``: ``data.realtime`` (ads marked ``is_ad``) and the pinned ``hotgov``."""
        if not self.logged_in(request):
            return _unauthorised()
        world = self.ctx.world
        assert world is not None
        board = world.hot.get(self.name)
        now = now_utc()
        items = []
        for e in board.entries(now) if board is not None else []:
            item: dict[str, Any] = {
                "word": e.word,
                "word_scheme": f"#{e.word}#",
                "note": e.word,
                "num": e.heat,
                "rank": e.rank - 1,
                "realpos": e.rank,
                "label_name": e.label,
                "flag": {"新": 1, "热": 2, "沸": 4, "爆": 8, "商": 0}.get(e.label, 0),
                "category": e.category,
                "topic_flag": 1,
                "emoticon": "",
                "onboard_time": int((e.onboard or now).timestamp()),
                "icon_desc": "",
                "small_icon_desc": e.label,
                "small_icon_desc_color": "#ff9406" if e.label else "",
            }
            if e.is_ad:
                item.update(
                    is_ad=1,
                    icon_desc="荐",
                    icon_desc_color="#ff8d35",
                    num=0,
                    ad_info={"ad_type": "hot_search"},
                    rank=e.rank - 1,
                )
            items.append(item)
        gov = {
            "word": "#坚持以人民为中心#",
            "note": "坚持以人民为中心",
            "is_gov": 1,
            "icon_desc": "",
            "topic_flag": 1,
            "realpos": 0,
        }
        return json_response(request, {"ok": 1, "data": {"realtime": items, "hotgov": gov, "hotgovs": [gov]}})

    async def repost_timeline(self, request: web.Request) -> web.StreamResponse:
        """``/api/statuses/repostTimeline?id={mid}&page={n}``: reposts newest first, ``//@`` chains in ``text``."""
        if not self.logged_in(request):
            return _unauthorised()
        world = self.ctx.world
        assert world is not None
        mid = request.query.get("id", "")
        cascade = world.cascades.get(mid)
        post = self._lookup(request, mid)
        if post is None:
            return json_response(request, {"ok": 0, "msg": NOT_FOUND_MSG})
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        now = now_utc()
        visible = cascade.visible(now) if cascade is not None else []
        size = self.ctx.options.page_size
        pages = max(1, -(-len(visible) // size))
        newest = visible[::-1][(page - 1) * size : page * size]
        shown = {r.post_id for r in visible}
        origin = r.mblog(post, now)
        data = [
            {
                "created_at": r.rfc_time(rp.published_at),
                "id": rp.post_id,
                "mid": rp.post_id,
                "idstr": rp.post_id,
                "text": r.repost_html(rp.text),
                "raw_text": rp.text,
                "source": "iPhone客户端",
                "user": r.user_json(rp.author),
                "reposts_count": sum(1 for c in rp.children if c in shown),
                "comments_count": 0,
                "attitudes_count": zlib.crc32(rp.post_id.encode()) % 50,
                "pid": int(rp.parent or mid),
                "retweeted_status": {
                    "id": origin["id"],
                    "mid": origin["mid"],
                    "bid": origin["bid"],
                    "user": origin["user"],
                },
            }
            for rp in newest
        ]
        if page > pages:
            return json_response(request, {"ok": 0, "msg": "还没有人转发过"})
        return json_response(
            request,
            {
                "ok": 1,
                "data": {"data": data, "total_number": len(visible), "hot_total_number": 0, "max": pages},
            },
        )


def _config_payload(login: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"login": login, "st": "a1b2c3" if login else "", "preferQuickapp": 0}
    if login:
        data["uid"] = "7300000001"
    return {"ok": 1, "data": data}


def _unauthorised() -> web.Response:
    return web.Response(status=432, text=_H432, content_type="text/html")
