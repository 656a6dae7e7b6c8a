"""The platform registry: every ``simulator/platforms/<name>.py`` registers one :class:`PlatformSim`.

A platform module subclasses :class:`PlatformSim`, decorates it with :func:`register` and
lists its routes (paths below its prefix ``/<name>``). The core discovers the modules with
:func:`discover`, so adding a platform never edits the core. Response helpers here apply
the payload-damaging faults (malformed JSON, schema change) uniformly.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

import simulator.platforms as pkg

if TYPE_CHECKING:
    from simulator.corpus import Draft
    from simulator.model import Post
    from simulator.world import SimContext

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What the fault middleware attaches to a request: its platform and the fault it suffers.
PLATFORM_KEY: web.RequestKey[Any] = web.RequestKey("sim_platform")
FAULT_KEY: web.RequestKey[Any] = web.RequestKey("sim_fault")
Route = tuple[str, str, Handler]

_REGISTRY: dict[str, type[PlatformSim]] = {}
_ORDER = ("weibo", "xiaohongshu", "douyin", "heimao")

CAPTCHA_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title></head><body>'
    '<div class="verify-wrap"><h3>请完成安全验证</h3><p>您的访问过于频繁，请输入验证码后继续访问</p>'
    '<div id="captcha" class="geetest_holder"></div></div></body></html>'
)
SERVER_ERROR_HTML = (
    "<html><head><title>{status} Service Unavailable</title></head><body>"
    "<center><h1>{status} Service Unavailable</h1></center><hr><center>nginx</center></body></html>"
)


class PlatformSim:
    """Base of a simulated platform. Class attributes describe it; methods render it."""

    name: ClassVar[str]
    host: ClassVar[str]  # the real site's origin, used in URLs the pages contain
    style: ClassVar[str] = "weibo"  # corpus voice
    complaints_only: ClassVar[bool] = False
    has_comments: ClassVar[bool] = True
    default_posts: ClassVar[int] = 40  # posts per brand
    crisis_share: ClassVar[float] = 0.5  # share of the crisis burst published here
    fault_kinds: ClassVar[frozenset[str]] = frozenset()
    session_cookie: ClassVar[str | None] = None  # the cookie carrying a login, if any

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    # --- what subclasses provide -------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def new_author_id(self, rng: random.Random) -> str:
        return str(rng.randrange(10**9, 10**10))

    def finish(self, post: Post, draft: Draft | None, rng: random.Random) -> None:
        """Give a new post or comment its platform id, URL and extra fields."""
        raise NotImplementedError

    def evolve(self, post: Post, rng: random.Random) -> bool:
        """Live mode: change platform state of an older post (e.g. a complaint's status); True if changed."""
        return False

    def rename_fields(self, payload: Any) -> Any:
        """The ``schema_change`` fault: the payload with a required field renamed."""
        return payload

    def render_fault(self, kind: str, request: web.Request, options: dict[str, Any]) -> web.StreamResponse:
        """The response of a replacing fault; subclasses override the kinds their site shows differently."""
        status = int(options.get("status", 0))
        if kind == "rate_limited":
            return web.Response(status=status or 429, text="Too Many Requests")
        if kind == "captcha":
            return web.Response(status=status or 200, text=CAPTCHA_HTML, content_type="text/html")
        if kind == "ip_blocked":
            return web.Response(
                status=status or 403, text="<html><body>403 Forbidden</body></html>", content_type="text/html"
            )
        if kind == "server_error":
            status = status or 503
            return web.Response(
                status=status, text=SERVER_ERROR_HTML.format(status=status), content_type="text/html"
            )
        return web.Response(status=status or 400, text=f"{kind}", content_type="text/plain")

    def session_cookies(self, token: str) -> dict[str, str]:
        return {self.session_cookie: token} if self.session_cookie else {}

    def logged_in(self, request: web.Request) -> bool:
        if not self.session_cookie:
            return True
        return self.ctx.sessions.valid(self.name, request.cookies.get(self.session_cookie))


def register(cls: type[PlatformSim]) -> type[PlatformSim]:
    """Class decorator: make a platform known to the simulator core."""
    _REGISTRY[cls.name] = cls
    return cls


def discover(names: tuple[str, ...] | None = None) -> dict[str, type[PlatformSim]]:
    """Import the modules of ``simulator.platforms`` (all, or only ``names``); return them registered, in order."""

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and (names is None or mod.name in names):
            importlib.import_module(f"simulator.platforms.{mod.name}")
    if names is not None and (missing := set(names) - set(_REGISTRY)):
        raise ValueError(f"no simulated platform named {', '.join(sorted(missing))}")
    found = sorted(_REGISTRY, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
    return {n: _REGISTRY[n] for n in found if names is None or n in names}


# --- response helpers (apply payload faults) -----------------------------------------------


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class RawJSON(str):
    """A value already serialised as JSON (e.g. a cached post); ``json_response(spliced=True)`` inserts it as is."""


def _dumps_spliced(payload: Any) -> str:
    raws: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, RawJSON):
            raws.append(value)
            return f"\x00{len(raws) - 1}\x00"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    body = dumps(swap(payload))
    for i, raw in enumerate(raws):
        body = body.replace(f'"\\u0000{i}\\u0000"', raw, 1)
    return body


def _payload_fault(request: web.Request) -> str | None:
    fault = request.get(FAULT_KEY)
    return (
        fault.kind
        if fault is not None and fault.kind in ("bad_payload", "malformed_json", "schema_change")
        else None
    )


def json_response(
    request: web.Request,
    payload: Any,
    *,
    status: int = 200,
    jsonp: str | None = None,
    content_type: str = "application/json",
    spliced: bool = False,
) -> web.Response:
    """Serialise ``payload`` (``spliced``: it holds :class:`RawJSON` parts); payload faults apply here."""
    kind = _payload_fault(request)
    if kind == "schema_change":
        payload = request[PLATFORM_KEY].rename_fields(payload)
    body = _dumps_spliced(payload) if spliced else dumps(payload)
    if kind in ("bad_payload", "malformed_json"):
        body = body[: max(1, len(body) // 2)]
    if jsonp:
        body = f"try{{{jsonp}({body});}}catch(e){{}};"
        content_type = "application/javascript"
    return web.Response(status=status, text=body, content_type=content_type, charset="utf-8")


def html_response(
    request: web.Request, html: str, *, status: int = 200, renames: tuple[tuple[str, str], ...] = ()
) -> web.Response:
    """An HTML page; ``schema_change`` applies ``renames`` (old, new), malformed truncates it."""
    kind = _payload_fault(request)
    if kind == "schema_change":
        for old, new in renames:
            html = html.replace(old, new)
    elif kind in ("bad_payload", "malformed_json"):
        html = html[: max(1, len(html) // 2)]
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")
