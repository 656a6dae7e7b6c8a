"""The Playwright browser helper: Chromium found, headless, media blocked, closed reliably.

Used by the Douyin spider (the page signs its own API calls), the Xiaohongshu
browser signer, ``yuqing login``, PDF reports and the dashboard screenshot script.
:func:`find_chromium` looks for the browser in this order: ``YUQING_CHROMIUM`` (when set,
only there), Debian's ``/usr/bin/chromium`` (or ``chromium`` / ``chromium-browser`` on
the PATH), then Playwright's own download (``playwright install chromium``, under
``$PLAYWRIGHT_BROWSERS_PATH`` or ``~/.cache/ms-playwright``). Without one,
:func:`require_chromium` raises :class:`BrowserMissing`: one line naming what is missing
and the command that installs it. :func:`open_browser` is an async context
manager; whatever happens inside it, pages, contexts, the browser and the
Playwright driver are closed on exit, and any Chromium process left among this
process's descendants is killed (no leaked browsers after a failed crawl).
Settings: ``YUQING_CHROMIUM`` overrides the executable path.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from loguru import logger

from crawler.errors import YuqingError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--mute-audio",
)
BLOCKED_RESOURCES = frozenset({"image", "media", "font"})


INSTALL_HINT = (
    "install it: apt-get install -y chromium fonts-noto-cjk (Debian), or playwright install chromium; "
    "or set YUQING_CHROMIUM to its path"
)


class BrowserMissing(YuqingError):
    """No Chromium to run: the message says what is missing and how to install it."""


@dataclass(frozen=True, slots=True)
class ChromiumLookup:
    """Where Chromium was found (``path``, ``source``) or, when ``path`` is None, why not (``reason``)."""

    path: str | None
    source: str
    reason: str = ""

    def message(self) -> str:
        return f"Chromium not found ({self.reason}): {INSTALL_HINT}"


def _executable(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _playwright_chromium() -> str | None:
    """The newest Chromium that ``playwright install chromium`` downloaded, if any."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    bases = [Path(root)] if root and root != "0" else [Path.home() / ".cache" / "ms-playwright"]
    if root == "0":  # browsers kept inside the playwright package
        spec = importlib.util.find_spec("playwright")
        if spec and spec.origin:
            bases = [Path(spec.origin).parent / "driver" / "package" / ".local-browsers"]
    found: list[tuple[int, str]] = []
    for base in bases:
        for pattern in (
            "chromium-*/chrome-linux*/chrome",
            "chromium_headless_shell-*/chrome-*/headless_shell",
            "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
        ):
            for candidate in base.glob(pattern):
                revision = re.search(r"-(\d+)", candidate.relative_to(base).parts[0])
                if _executable(candidate):
                    found.append((int(revision.group(1)) if revision else 0, str(candidate)))
    return max(found)[1] if found else None


def find_chromium() -> ChromiumLookup:
    """Look for Chromium (see the module docstring for the order)."""
    explicit = os.environ.get("YUQING_CHROMIUM")
    if explicit:
        if _executable(explicit):
            return ChromiumLookup(explicit, "YUQING_CHROMIUM")
        return ChromiumLookup(
            None, "YUQING_CHROMIUM", f"YUQING_CHROMIUM={explicit} is not an executable file"
        )
    for candidate in (CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and _executable(candidate):
            return ChromiumLookup(candidate, "debian")
    own = _playwright_chromium()
    if own:
        return ChromiumLookup(own, "playwright")
    return ChromiumLookup(None, "none", f"no {CHROMIUM}, no chromium on the PATH, no Playwright download")


def require_chromium() -> str:
    """The Chromium executable to launch, or :class:`BrowserMissing`."""
    found = find_chromium()
    if found.path is None:
        raise BrowserMissing(found.message())
    return found.path


def chromium_path() -> str:
    return require_chromium()


def platform_needs_browser(cfg: Any, platform: str) -> bool:
    """Whether crawling ``platform`` with this config runs Chromium (Douyin's browser mode or a browser signer)."""
    if platform == "douyin":
        dcfg = cfg.platforms.douyin
        return bool(dcfg.mode == "browser" or dcfg.signer == "browser")
    if platform == "xiaohongshu":
        return bool(cfg.platforms.xiaohongshu.signer == "browser")
    return False


def has_display() -> bool:
    """Whether a headed browser can be shown (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_args(headless: bool) -> list[str]:
    return [*(["--headless"] if headless else []), *BASE_ARGS]


async def _block_media(route: Route) -> None:
    if route.request.resource_type in BLOCKED_RESOURCES:
        await route.abort()
    else:
        await route.continue_()


@dataclass
class BrowserSession:
    """An open context (persistent when a profile directory was given) and its pages."""

    playwright: Playwright
    context: BrowserContext
    pages: list[Page] = field(default_factory=list)

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        self.pages.append(page)
        return page

    async def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in await self.context.cookies()}


def _chromium_descendants() -> list[psutil.Process]:
    found = []
    with suppress(psutil.Error):
        for proc in psutil.Process().children(recursive=True):
            with suppress(psutil.Error):
                if "chrom" in proc.name().lower() and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
    return found


def _kill(procs: list[psutil.Process], timeout: float, *, expected: set[int] | None = None) -> int:
    """Terminate, then kill, ``procs``; warn about those not in ``expected``."""
    alive_now = [p for p in procs if p.is_running()]
    for proc in alive_now:
        with suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(alive_now, timeout=timeout)
    for proc in alive:
        with suppress(psutil.Error):
            proc.kill()
    leaked = [p for p in alive_now if expected is None or p.pid not in expected]
    if leaked:
        logger.warning("killed {} leftover chromium process(es)", len(leaked))
    return len(alive_now)


def kill_leftover_chromium(timeout: float = 3.0) -> int:
    """Kill every Chromium process this process started (the exit-time last resort)."""
    shared = {p.pid for _, _, roots in _shared.values() for p in _tree(roots)}
    return _kill(_chromium_descendants(), timeout, expected=shared)


_exit_hook = False


def _register_exit_cleanup() -> None:
    """Last resort: whatever path the process exits by, its Chromium processes are killed."""
    global _exit_hook
    if not _exit_hook:
        atexit.register(kill_leftover_chromium, 1.0)
        _exit_hook = True


# One browser per process and event loop, a fresh context per use: crawls that run in one
# process (``run_crawls``, workers, the test runner) do not pay a Chromium start-up each.
_shared: dict[tuple[int, bool], tuple[Playwright, Browser, set[int]]] = {}
_shared_lock: dict[int, asyncio.Lock] = {}


def _roots(before: set[int]) -> set[int]:
    """The main process(es) of Chromium started since ``before`` (whose parent is not Chromium)."""
    new = {p.pid: p for p in _chromium_descendants() if p.pid not in before}
    roots = set()
    for pid, proc in new.items():
        with suppress(psutil.Error):
            if proc.ppid() not in new:
                roots.add(pid)
    return roots


def _tree(roots: set[int]) -> list[psutil.Process]:
    """Those Chromium processes and everything they started since (renderers, zygotes ...)."""
    out = []
    for pid in roots:
        with suppress(psutil.Error):
            root = psutil.Process(pid)
            out += [root, *root.children(recursive=True)]
    return out


async def _launch(playwright: Playwright, headless: bool) -> tuple[Browser, set[int]]:
    before = {p.pid for p in _chromium_descendants()}
    browser = await playwright.chromium.launch(
        executable_path=chromium_path(), headless=headless, args=launch_args(headless)
    )
    return browser, _roots(before)


async def _shared_browser(headless: bool) -> tuple[Playwright, Browser]:
    from playwright.async_api import async_playwright

    loop_id = id(asyncio.get_running_loop())
    async with _shared_lock.setdefault(loop_id, asyncio.Lock()):
        hit = _shared.get((loop_id, headless))
        if hit is not None and hit[1].is_connected():
            return hit[0], hit[1]
        if hit is not None:  # the browser crashed or was closed: start a new one
            await _close_shared(hit)
        playwright = await async_playwright().start()
        browser, pids = await _launch(playwright, headless)
        _shared[(loop_id, headless)] = (playwright, browser, pids)
        return playwright, browser


async def _close_shared(entry: tuple[Playwright, Browser, set[int]]) -> None:
    playwright, browser, pids = entry
    with suppress(Exception):  # already gone with its crashed process
        await browser.close()
    with suppress(Exception):
        await playwright.stop()
    _kill(_tree(pids), 2.0)


async def close_shared_browsers() -> None:
    """Close this event loop's shared browsers (their contexts are closed by their users)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _shared if k[0] == loop_id]:
        await _close_shared(_shared.pop(key))


async def _close(session: BrowserSession | None, own: tuple[Playwright, Any, set[int]] | None) -> None:
    if session is not None:
        for page in session.pages:
            with suppress(Exception):  # the page may already be gone with its crashed browser
                await page.close()
        with suppress(Exception):
            await session.context.close()
    if own is not None:
        playwright, browser, pids = own
        if browser is not None:
            with suppress(Exception):
                await browser.close()
        with suppress(Exception):
            await playwright.stop()
        _kill(_tree(pids), 2.0)


@asynccontextmanager
async def open_browser(
    *,
    headless: bool = True,
    profile_dir: Path | None = None,
    block_media: bool = True,
    user_agent: str | None = None,
    cookies: list[dict[str, Any]] | None = None,
    timeout_ms: float = 20_000,
    shared: bool = True,
) -> AsyncIterator[BrowserSession]:
    """Yield a :class:`BrowserSession` (a new context); it and its pages are closed on exit.

    With ``profile_dir`` (a persistent login profile) or ``shared=False`` the browser is this
    session's own and is closed (and its processes reaped) too; otherwise the context lives
    in the process's shared browser.
    """
    from playwright.async_api import async_playwright

    _register_exit_cleanup()
    session: BrowserSession | None = None
    own: tuple[Playwright, Any, set[int]] | None = None
    try:
        opts: dict[str, Any] = {
            "user_agent": user_agent,
            "locale": "zh-CN",
            "viewport": {"width": 1280, "height": 900},
        }
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            playwright = await async_playwright().start()
            own = (playwright, None, set())
            before = {p.pid for p in _chromium_descendants()}
            context = await playwright.chromium.launch_persistent_context(
                str(profile_dir),
                executable_path=chromium_path(),
                headless=headless,
                args=launch_args(headless),
                **opts,
            )
            own = (playwright, None, _roots(before))
        elif shared:
            playwright, browser = await _shared_browser(headless)
            context = await browser.new_context(**opts)
        else:
            playwright = await async_playwright().start()
            own = (playwright, None, set())
            browser, pids = await _launch(playwright, headless)
            own = (playwright, browser, pids)
            context = await browser.new_context(**opts)
        context.set_default_timeout(timeout_ms)
        if block_media:
            await context.route("**/*", _block_media)
        if cookies:
            await context.add_cookies(cookies)  # type: ignore[arg-type]
        session = BrowserSession(playwright, context)
        session.pages.extend(context.pages)
        yield session
    finally:
        await _close(session, own)
