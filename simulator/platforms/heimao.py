"""Simulated tousu.sina.com.cn, 黑猫投诉 (prefix ``/heimao``): search, feed, company complaints, detail page.

The three JSON endpoints check ``ts``, ``rs`` and ``signature`` exactly as PLATFORMS.md §4.2
(secret ``SimOptions.heimao_secret``); a missing or wrong signature gets the error envelope
``{"result": {"status": {"code": 2002, "msg": "签名错误"}, ...}}``. ``callback=`` makes the body JSONP.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from aiohttp import web

from simulator.corpus import Draft
from simulator.model import Post
from simulator.phrases import HEIMAO_REPLIES
from simulator.platforms import _heimao_render as hr
from simulator.registry import PlatformSim, Route, html_response, json_response, register
from simulator.world import now_utc

SN_BASE = 17_000_000_000
SIGNED_PARAMS = {
    "search": ("keywords", "page_size", "page"),
    "feed": ("page_size", "type", "page"),
    "company": ("couid", "type", "page_size", "page"),
}
SIGNATURE_ERROR = {"code": 2002, "msg": "签名错误"}
PARAM_ERROR = {"code": 1001, "msg": "参数错误"}
MAX_PAGE_SIZE = 50


def heimao_signature(ts: str, rs: str, secret: str, values: list[str]) -> str:
    """sha256 of the lexicographically sorted strings ts, rs, secret and the business values, joined."""
    return hashlib.sha256("".join(sorted([ts, rs, secret, *values])).encode("utf-8")).hexdigest()


def envelope(data: Any, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "result": {
            "status": status or {"code": 0, "msg": "成功"},
            "timestamp": str(int(now_utc().timestamp())),
            "data": data,
        }
    }


@register
class HeimaoSim(PlatformSim):
    name = "heimao"
    host = "https://tousu.sina.com.cn"
    style = "heimao"
    complaints_only = True
    has_comments = False
    default_posts = 20
    crisis_share = 0.25
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
            "malformed_json",
            "schema_change",
            "network",
        }
    )

    def routes(self) -> list[Route]:
        return [
            ("GET", "/api/index/s", self.search),
            ("GET", "/api/index/feed", self.feed),
            ("GET", "/api/company/received_complaints", self.company),
            ("GET", "/complaint/view/{sn}/", self.detail),
            ("GET", "/complaint/view/{sn}", self.detail),
        ]

    # --- world hooks -----------------------------------------------------------------------------

    def finish(self, post: Post, draft: Draft | None, rng: random.Random) -> None:
        world = self.ctx.world
        assert world is not None
        sn = str(world.time_id(self.name, post.published_at, SN_BASE, 10))
        post.post_id = sn
        post.url = f"https://tousu.sina.com.cn/complaint/view/{sn}/"
        brand = self.ctx.brand(post.brand)
        age_days = (world.t0 - post.published_at).total_seconds() / 86_400
        status = (
            rng.choice((1, 3)) if age_days < 1 else rng.choices((3, 4, 6, 7, 8), weights=(2, 3, 3, 3, 1))[0]
        )
        post.extra.update({"couid": brand.couid, "cotitle": brand.name, "status": status})
        post.extra.setdefault("appeal", "退款")
        post.extra.setdefault("issue", "其他问题")
        post.extra.setdefault("cost", "0")
        if status in (6, 7):
            post.extra["reply"] = rng.choice(HEIMAO_REPLIES)
        if status == 7:
            post.extra["evaluate"] = {
                "attitude": rng.randint(1, 5),
                "process": rng.randint(1, 5),
                "satisfaction": rng.randint(1, 5),
                "evalContent": "问题已解决",
            }
        if post.crisis:
            post.extra["group"] = f"G{SN_BASE + 5_000_000:d}"

    def evolve(self, post: Post, rng: random.Random) -> bool:
        nxt = {1: 3, 3: 4, 4: 6, 6: 7}.get(post.extra.get("status", 0))
        if nxt is None or rng.random() > 0.3:
            return False
        post.extra["status"] = nxt
        if nxt == 6:
            post.extra["reply"] = rng.choice(HEIMAO_REPLIES)
        return True

    def rename_fields(self, payload: Any) -> Any:
        data = payload.get("result", {}).get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict):
            for old, new in (("lists", "list"), ("complaints", "complaint_list")):
                if old in data:
                    data[new] = data.pop(old)
        return payload

    def render_fault(self, kind: str, request: web.Request, options: dict[str, Any]) -> web.StreamResponse:
        if (
            kind == "rate_limited" and options.get("variant") == "empty"
        ):  # risk control: no rows, a real count
            pager = {"current": 1, "page_amount": 50, "item_count": 500, "page_size": 10}
            return json_response(
                request, envelope({"lists": [], "pager": pager}), jsonp=request.query.get("callback")
            )
        if kind == "rate_limited":
            return web.Response(
                status=int(options.get("status", 456)), text=hr.BLOCKED_HTML, content_type="text/html"
            )
        if kind == "signature_rejected":
            return json_response(request, envelope([], SIGNATURE_ERROR), jsonp=request.query.get("callback"))
        if kind == "auth_expired":
            return web.Response(text=hr.LOGIN_HTML, content_type="text/html")
        return super().render_fault(kind, request, options)

    # --- JSON endpoints ------------------------------------------------------------------------------

    def _checked(
        self, request: web.Request, endpoint: str
    ) -> tuple[dict[str, Any] | None, web.Response | None]:
        """Verify the signature and read paging; returns (params, None) or (None, error response)."""
        q = request.query
        cb = q.get("callback")
        ts, rs, sig = q.get("ts", ""), q.get("rs", ""), q.get("signature", "")
        values = [q[k] for k in SIGNED_PARAMS[endpoint] if k in q]
        if not (ts and rs and sig) or sig.lower() != heimao_signature(
            ts, rs, self.ctx.options.heimao_secret, values
        ):
            return None, json_response(request, envelope([], SIGNATURE_ERROR), jsonp=cb)
        try:
            page, size = int(q.get("page", "1")), int(q.get("page_size", "10"))
        except ValueError:
            return None, json_response(request, envelope([], PARAM_ERROR), jsonp=cb)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return None, json_response(request, envelope([], PARAM_ERROR), jsonp=cb)
        return {"page": page, "size": size, "cb": cb}, None

    def _page(
        self,
        request: web.Request,
        items: list[Post],
        p: dict[str, Any],
        key: str,
        *,
        highlight: str = "",
        max_pages: int | None = None,
        null_empty: bool = False,
    ) -> web.Response:
        page, size = p["page"], p["size"]
        pages = -(-len(items) // size)
        served = items[(page - 1) * size : page * size] if not max_pages or page <= max_pages else []
        rows: list[dict[str, Any]] | None = [hr.item(post, highlight) for post in served]
        if null_empty and not rows:
            rows = None
        pager = {"current": page, "page_amount": pages, "item_count": len(items), "page_size": size}
        return json_response(request, envelope({key: rows, "pager": pager}), jsonp=p["cb"])

    async def search(self, request: web.Request) -> web.StreamResponse:
        p, err = self._checked(request, "search")
        if err is not None or p is None:
            return err  # type: ignore[return-value]
        keyword = request.query.get("keywords", "")
        world = self.ctx.world
        assert world is not None
        with world.lock:
            return self._page(request, world.search(self.name, keyword), p, "lists", highlight=keyword)

    async def feed(self, request: web.Request) -> web.StreamResponse:
        p, err = self._checked(request, "feed")
        if err is not None or p is None:
            return err  # type: ignore[return-value]
        world = self.ctx.world
        assert world is not None
        with world.lock:
            items = sorted(world.posts[self.name], key=lambda c: (c.published_at, c.seq), reverse=True)
            return self._page(request, items, p, "lists", max_pages=self.ctx.options.heimao_feed_max_pages)

    async def company(self, request: web.Request) -> web.StreamResponse:
        p, err = self._checked(request, "company")
        if err is not None or p is None:
            return err  # type: ignore[return-value]
        couid = request.query.get("couid", "")
        world = self.ctx.world
        assert world is not None
        with world.lock:
            items = [c for c in reversed(world.posts[self.name]) if c.extra.get("couid") == couid]
            items.sort(key=lambda c: (c.published_at, c.seq), reverse=True)
            return self._page(request, items, p, "complaints", null_empty=True)

    async def detail(self, request: web.Request) -> web.StreamResponse:
        world = self.ctx.world
        assert world is not None
        post = world.get(self.name, request.match_info["sn"])
        if post is None:
            return html_response(request, "<html><body><p>投诉不存在或已删除</p></body></html>", status=404)
        with world.lock:
            page = hr.detail_html(post)
        return html_response(
            request, page, renames=(("ts-d-steplist", "ts-d-steps"), ("ts-q-list", "ts-q-items"))
        )
