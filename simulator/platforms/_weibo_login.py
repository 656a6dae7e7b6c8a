"""Simulated Weibo QR login (``/weibo/login``), the page ``yuqing login weibo`` drives.

The page shows ``img.qrcode-img`` and polls ``/weibo/login/qrcode/check?qrid=`` (retcodes as
passport.weibo.com: 50114001 waiting, 50114002 scanned, 20000000 done). The phone is a test:
``POST /weibo/__admin/qr/confirm`` (body ``{"qrid"}``, default the newest pending code). The
poll after the confirm sets ``SUB``, ``SUBP`` and ``SSOLoginState`` (path ``/weibo``) and the
page moves on to ``/weibo/``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

from simulator.qrlogin import CONFIRMED, QrLogins, qr_svg

if TYPE_CHECKING:
    from simulator.options import SessionStore

COOKIE_PATH = "/weibo"
_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>微博登录</title></head>
<body><div class="login-box"><h3>扫码登录</h3>
<img class="qrcode-img" src="/weibo/login/qrcode.svg?qrid={qrid}" alt="二维码" width="232" height="232">
<p class="tip">请使用微博客户端扫码登录</p></div>
<script>
const qrid = {qrid_json};
async function poll() {{
  try {{
    const r = await fetch("/weibo/login/qrcode/check?qrid=" + encodeURIComponent(qrid), {{credentials: "same-origin"}});
    const body = await r.json();
    if (body.retcode === 20000000) {{ location.href = body.data.url; return; }}
  }} catch (e) {{}}
  setTimeout(poll, 500);
}}
setTimeout(poll, 500);
</script></body></html>
"""


class WeiboQrLogin:
    """The login page, its QR image and status poll, and the phone's confirm hook."""

    def __init__(self, sessions: SessionStore) -> None:
        self.sessions = sessions
        self.codes = QrLogins()

    async def page(self, request: web.Request) -> web.StreamResponse:
        code = self.codes.create()
        return web.Response(
            text=_PAGE.format(qrid=code.qrid, qrid_json=json.dumps(code.qrid)), content_type="text/html"
        )

    async def image(self, request: web.Request) -> web.StreamResponse:
        qrid = request.query.get("qrid", "")
        if self.codes.get(qrid) is None:
            raise web.HTTPNotFound(text="unknown qrid")
        return web.Response(
            text=qr_svg(f"https://passport.weibo.cn/signin/qrcode/scan?qr={qrid}"),
            content_type="image/svg+xml",
        )

    async def check(self, request: web.Request) -> web.StreamResponse:
        qrid = request.query.get("qrid", "")
        code = self.codes.get(qrid)
        if code is None:
            return web.json_response({"retcode": 50114004, "msg": "该二维码已过期", "data": None})
        if code.state == CONFIRMED and self.codes.consume(qrid):
            token = self.sessions.issue("weibo")
            resp = web.json_response({"retcode": 20000000, "msg": "登录成功", "data": {"url": "/weibo/"}})
            for name, value in (
                ("SUB", token),
                ("SUBP", "0033WrSXqPxfM725Ws9jqgMF55529P9D9W5"),
                ("SSOLoginState", str(int(time.time()))),
            ):
                resp.set_cookie(name, value, path=COOKIE_PATH, httponly=name == "SUB", max_age=86400 * 30)
            return resp
        return web.json_response({"retcode": 50114001, "msg": "未使用", "data": None})

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else {}
        code = self.codes.confirm(str((body or {}).get("qrid") or ""))
        if code is None:
            return web.json_response({"ok": False, "error": "no such QR code waiting"}, status=404)
        return web.json_response({"ok": True, "qrid": code.qrid})

    async def pending(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"pending": self.codes.pending()})
