"""The aiohttp application: platform routes under their prefixes, the fault middleware, request stats, admin API.

Admin endpoints (JSON) under ``/__admin/``: ``truth`` (GET), ``faults`` (GET/POST/DELETE),
``stats`` (GET; ``?log=1`` adds every request with its arrival time), ``publish`` (POST), ``boost`` (POST), ``sessions`` (POST issues, DELETE
expires), ``reset`` (POST), and ``/__admin/`` itself (platforms and base URLs).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulator.corpus import PlanItem
from simulator.faults import DEFAULT_DELAY, DELAY_KINDS, PAYLOAD_KINDS, Fault
from simulator.registry import FAULT_KEY, PLATFORM_KEY

if TYPE_CHECKING:
    from simulator.core import Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


LOG_SIZE = 200_000


class Stats:
    """Requests per platform per minute, response statuses and fired faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.per_minute: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
            self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
            self.faults: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.recent: dict[str, deque[float]] = defaultdict(deque)
            self.log: deque[tuple[float, str, str, int]] = deque(maxlen=LOG_SIZE)

    def hit(self, platform: str) -> int:
        """Count a request; returns how many requests this platform got in the last 60 s."""
        now = time.time()
        with self._lock:
            self.per_minute[platform][int(now // 60) * 60] += 1
            window = self.recent[platform]
            window.append(now)
            while window and window[0] < now - 60:
                window.popleft()
            return len(window)

    def status(self, platform: str, code: int, path: str = "", started: float | None = None) -> None:
        with self._lock:
            self.statuses[platform][code] += 1
            self.log.append((started or time.time(), platform, path, code))

    def request_log(self, platform: str | None = None) -> list[tuple[float, str, str, int]]:
        """(epoch seconds when it arrived, platform, path, status) of the latest requests, oldest first."""
        with self._lock:
            return [e for e in self.log if platform is None or e[1] == platform]

    def fault(self, platform: str, kind: str) -> None:
        with self._lock:
            self.faults[platform][kind] += 1

    def request_counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                p: {
                    datetime.fromtimestamp(m, UTC).strftime("%Y-%m-%dT%H:%M"): n for m, n in sorted(c.items())
                }
                for p, c in self.per_minute.items()
            }

    def as_dict(self) -> dict[str, Any]:
        counts = self.request_counts()
        with self._lock:
            return {
                "per_minute": counts,
                "total": {p: sum(c.values()) for p, c in counts.items()},
                "statuses": {p: {str(k): v for k, v in c.items()} for p, c in self.statuses.items()},
                "faults": {p: dict(c) for p, c in self.faults.items()},
            }


def _json(payload: Any, status: int = 200) -> web.Response:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return web.Response(
        status=status,
        text=json.dumps(payload, ensure_ascii=False, default=default),
        content_type="application/json",
    )


def build_app(sim: Simulator) -> web.Application:
    """The whole server: every registered platform plus the admin API."""

    @web.middleware
    async def platform_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.path.split("/", 2)[1]
        plat = sim.ctx.platforms.get(name)
        if plat is None or "/__admin/" in request.path:  # a platform's own test hooks (the QR "phone")
            return await handler(request)
        request[PLATFORM_KEY] = plat
        started = time.time()
        recent = sim.stats.hit(name)
        limit = sim.ctx.options.rate_limits.get(name)
        fault = sim.faults.pick(name, request.path_qs[len(name) + 1 :])
        if limit and recent > limit:
            fault = Fault(0, name, "rate_limited", fired=recent)
        if fault is not None:
            request[FAULT_KEY] = fault
            sim.stats.fault(name, fault.kind)
            if fault.kind in DELAY_KINDS:
                await asyncio.sleep(float(fault.options.get("delay", DEFAULT_DELAY[fault.kind])))
            elif fault.kind == "network":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            elif fault.kind not in PAYLOAD_KINDS:
                resp = plat.render_fault(fault.kind, request, fault.options)
                sim.stats.status(name, resp.status, request.path, started)
                return resp
        resp = await handler(request)
        sim.stats.status(name, resp.status, request.path, started)
        return resp

    app = web.Application(middlewares=[platform_gate])
    for name, plat in sim.ctx.platforms.items():
        for method, path, handler in plat.routes():
            app.router.add_route(method, f"/{name}{path}", handler)
            if path == "/":
                app.router.add_route(method, f"/{name}", handler)
    _admin_routes(app, sim)
    return app


def _admin_routes(app: web.Application, sim: Simulator) -> None:
    async def index(request: web.Request) -> web.Response:
        return _json(
            {
                "url": sim.url,
                "seed": sim.ctx.options.seed,
                "live": sim.ctx.options.live,
                "platforms": {p: sim.base_url(p) for p in sim.ctx.platforms},
                "brands": [b.name for b in sim.ctx.brands],
            }
        )

    async def truth(request: web.Request) -> web.Response:
        q = request.query
        return _json(
            sim.truth(q.get("platform"), kind=q.get("kind"), brand=q.get("brand"), keyword=q.get("keyword"))
        )

    async def faults_get(request: web.Request) -> web.Response:
        return _json(sim.faults_list())

    async def faults_post(request: web.Request) -> web.Response:
        body = await _body(request)
        specs = body if isinstance(body, list) else [body]
        created = []
        try:
            for spec in specs:
                spec = dict(spec)
                created.append(sim.set_fault(spec.pop("platform", ""), spec.pop("kind", ""), **spec))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"created": created, "faults": sim.faults_list()})

    async def faults_delete(request: web.Request) -> web.Response:
        fid = request.query.get("id")
        return _json({"removed": sim.clear_faults(request.query.get("platform"), int(fid) if fid else None)})

    async def stats(request: web.Request) -> web.Response:
        out = sim.stats.as_dict()
        if request.query.get("log"):
            out["log"] = [
                {"at": t, "platform": p, "path": path, "status": code}
                for t, p, path, code in sim.stats.request_log(request.query.get("platform"))
            ]
        return _json(out)

    async def publish(request: web.Request) -> web.Response:
        body = await _body(request) or {}
        item = PlanItem(body["type"], body.get("category"), body.get("urgency")) if body.get("type") else None
        try:
            made = sim.publish(
                int(body.get("count", 1)), platform=body.get("platform"), brand=body.get("brand"), item=item
            )
        except (KeyError, StopIteration, ValueError) as exc:
            return _json({"error": f"cannot publish: {exc!r}"}, 400)
        return _json(made)

    async def boost(request: web.Request) -> web.Response:
        b = await _body(request) or {}
        try:
            rec = sim.boost(
                b["platform"],
                str(b["post_id"]),
                likes=int(b.get("likes", 0)),
                comments=int(b.get("comments", 0)),
                shares=int(b.get("shares", 0)),
            )
        except KeyError as exc:
            return _json({"error": f"unknown post or missing field: {exc}"}, 404)
        return _json(rec)

    async def sessions_post(request: web.Request) -> web.Response:
        b = await _body(request) or {}
        platform = b.get("platform", "weibo")
        if platform not in sim.ctx.platforms:
            return _json({"error": f"unknown platform {platform!r}"}, 400)
        return _json({"platform": platform, "cookies": sim.issue_session(platform)})

    async def sessions_delete(request: web.Request) -> web.Response:
        sim.expire_sessions(request.query.get("platform"))
        return _json({"expired": request.query.get("platform") or "all"})

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        return _json({"ok": True, "posts": len(sim.ctx.world.log) if sim.ctx.world else 0})

    r = app.router
    r.add_get("/__admin/", index)
    r.add_get("/__admin/truth", truth)
    r.add_get("/__admin/faults", faults_get)
    r.add_post("/__admin/faults", faults_post)
    r.add_delete("/__admin/faults", faults_delete)
    r.add_get("/__admin/stats", stats)
    r.add_post("/__admin/publish", publish)
    r.add_post("/__admin/boost", boost)
    r.add_post("/__admin/sessions", sessions_post)
    r.add_delete("/__admin/sessions", sessions_delete)
    r.add_post("/__admin/reset", reset)


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"admin body is not JSON: {exc}") from exc
