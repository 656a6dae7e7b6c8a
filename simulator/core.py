"""``Simulator``: the world plus the HTTP server, in a background thread or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulator.corpus import PlanItem
from simulator.faults import FaultBook
from simulator.options import WEIBO_TEST_SUB, SessionStore, SimOptions, brand_specs
from simulator.registry import discover
from simulator.server import Stats, build_app
from simulator.world import SimContext, World

if TYPE_CHECKING:
    from types import TracebackType

    from crawler.config import AppConfig

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Simulator:
    """The local stand-in for Weibo, Heimao (and every other registered platform).

    ``Simulator(seed=7, brands=[...] or cfg=AppConfig, live=False, port=0, **options)``;
    ``options`` are :class:`~simulator.options.SimOptions` fields (``posts_per_brand``,
    ``comments_per_post``, ``days``, ``crisis_size``, ``page_size``, ``live_interval`` ...).
    """

    def __init__(
        self,
        seed: int = 7,
        brands: Iterable[Any] | None = None,
        cfg: AppConfig | None = None,
        live: bool = False,
        port: int = 0,
        host: str = "127.0.0.1",
        now: datetime | None = None,
        **options: Any,
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the simulator only listens on loopback, not {host!r}")
        if cfg is not None and "heimao_secret" not in options:
            options["heimao_secret"] = cfg.platforms.heimao.signature_secret.get_secret_value()
        opts = SimOptions(seed=seed, live=live, **options)
        self.ctx = SimContext(opts, brand_specs(brands, cfg), SessionStore(opts.test_sessions))
        names = tuple(opts.platforms) if opts.platforms is not None else None
        self.ctx.platforms = {n: cls(self.ctx) for n, cls in discover(names).items()}
        self._now = now
        World(self.ctx, now)
        self.faults = FaultBook(seed)
        self.stats = Stats()
        self.host, self.port = host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._live_task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def world(self) -> World:
        assert self.ctx.world is not None
        return self.ctx.world

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, platform: str) -> str:
        if platform not in self.ctx.platforms:
            raise KeyError(f"the simulator does not serve {platform!r}")
        return f"{self.url}/{platform}"

    def crawl_settings(self, platform: str) -> dict[str, Any]:
        """Scrapy settings that point the ``platform`` spider at this simulator, logged in where the
        platform needs it (``yuqing demo``, tests, benchmarks). The simulator supplies them: the
        spiders know nothing of it."""
        base = self.base_url(platform)
        out: dict[str, Any] = {f"{platform.upper()}_BASE_URL": base}
        if platform == "weibo":
            out["WEIBO_COOKIES"] = f"SUB={WEIBO_TEST_SUB}"
        elif platform == "xiaohongshu":
            out["XIAOHONGSHU_WEB_URL"] = base
            out["XIAOHONGSHU_COOKIES"] = self.cookie_header(platform)
        elif platform == "douyin":
            out["DOUYIN_COOKIES"] = self.cookie_header(platform)
        return out

    async def _astart(self) -> None:
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if self.ctx.options.live:
            self._live_task = asyncio.get_running_loop().create_task(self._live())

    async def _astop(self) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._live_task
        if self._runner is not None:
            await self._runner.cleanup()

    async def _live(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.options.live_interval)
            self.world.tick()

    def start(self) -> Simulator:
        """Serve in a background thread; returns once the port is listening."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._astart())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._astop())
            loop.close()

        self._thread = threading.Thread(target=run, name="yuqing-simulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT or SIGTERM (the ``yuqing simulate`` process)."""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await self._astart()
            if on_ready is not None:
                on_ready(self.url)
            await stop.wait()
            await self._astop()

        asyncio.run(main())

    # --- ground truth and world changes ---------------------------------------------------------------

    def truth(
        self,
        platform: str | None = None,
        *,
        kind: str | None = None,
        brand: str | None = None,
        keyword: str | None = None,
    ) -> list[dict[str, Any]]:
        """Everything published so far (``published_at`` as aware UTC datetimes), in publication order."""
        return self.world.truth(platform, kind=kind, brand=brand, keyword=keyword)

    def publish(
        self, n: int = 1, platform: str | None = None, brand: str | None = None, item: PlanItem | None = None
    ) -> list[dict[str, Any]]:
        """Publish ``n`` new posts now; returns their truth records."""
        if platform is not None:
            self.base_url(platform)
        return [p.truth() for p in self.world.publish(n, platform, brand, item)]

    def boost(
        self, platform: str, post_id: str, *, likes: int = 0, comments: int = 0, shares: int = 0
    ) -> dict[str, Any]:
        """Raise a post's engagement (a post that starts spreading)."""
        return self.world.boost(platform, post_id, likes, comments, shares).truth()

    def reset(self) -> None:
        """Regenerate the world from the seed (timestamps relative to now); clear faults and stats."""
        old = self.world
        with old.lock:
            World(self.ctx, self._now)
        self.faults.clear()
        self.stats.reset()
        self.ctx.sessions.restore_test_values()

    # --- faults, sessions, stats ------------------------------------------------------------------------

    def set_fault(
        self,
        platform: str,
        kind: str,
        rate: float = 1.0,
        duration: float | None = None,
        *,
        after: float = 0.0,
        count: int | None = None,
        path: str | None = None,
        options: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Switch a fault on; ``extra`` keyword options (``delay``, ``status``, ``variant``) go to ``options``."""
        plat = self.ctx.platforms.get(platform)
        if plat is None:
            raise ValueError(f"unknown platform {platform!r}; served: {', '.join(self.ctx.platforms)}")
        if kind not in plat.fault_kinds:
            raise ValueError(
                f"{platform} has no {kind!r} failure; it has: {', '.join(sorted(plat.fault_kinds))}"
            )
        fault = self.faults.add(
            platform,
            kind,
            float(rate),
            None if duration is None else float(duration),
            after=float(after),
            count=None if count is None else int(count),
            path=path,
            options={**(options or {}), **extra},
        )
        return fault.as_dict()

    def clear_faults(self, platform: str | None = None, fault_id: int | None = None) -> int:
        return self.faults.clear(platform, fault_id)

    def faults_list(self) -> list[dict[str, Any]]:
        return self.faults.list()

    def fault_kinds(self, platform: str) -> list[str]:
        return sorted(self.ctx.platforms[platform].fault_kinds)

    def request_counts(self) -> dict[str, dict[str, int]]:
        """Requests per platform per minute: ``{"heimao": {"2025-06-01T12:03": 31, ...}}`` (UTC minutes)."""
        return self.stats.request_counts()

    def request_log(self, platform: str | None = None) -> list[tuple[float, str, str, int]]:
        """The latest requests (up to 200,000): (arrival epoch seconds, platform, path, status)."""
        return self.stats.request_log(platform)

    def issue_session(self, platform: str = "weibo") -> dict[str, str]:
        """A fresh login for ``platform``: the cookies to send (Weibo: ``{"SUB": ...}``)."""
        plat = self.ctx.platforms[platform]
        return plat.session_cookies(self.ctx.sessions.issue(platform))

    def cookie_header(self, platform: str = "weibo") -> str:
        return "; ".join(f"{k}={v}" for k, v in self.issue_session(platform).items())

    def expire_sessions(self, platform: str | None = None) -> None:
        """Every session of the platform (or all) stops working, as when a login expires."""
        self.ctx.sessions.expire(platform)
