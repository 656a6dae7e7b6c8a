"""Driving Douyin's own search page in Chromium and capturing the API answers it fetches.

Douyin signs every API call with ``a_bogus`` computed by the page's JavaScript, so the
default mode lets the page do it: :class:`DouyinBrowser` opens ``/search/<keyword>`` in a
logged-in context, yields each ``/general/search/single/`` response the page makes, and
scrolls to make it fetch the next one. Comments are fetched from inside the page with the
page's own signing function (``sign_expression``). Nothing here parses or judges a
response; the spider runs :func:`spiders._douyin_api.check_response` on what it gets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from crawler.errors import ErrorKind
from crawler.platform.browser import open_browser
from crawler.platform.faults import make_error
from crawler.platform.signing import cookie_list
from spiders._douyin_api import CAPTCHA_TITLE, PLATFORM, SEARCH_PATH

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

_FETCH_JS = """async (url) => {
  const r = await fetch(url, {credentials: 'include'});
  return {status: r.status, body: await r.text(), url: r.url};
}"""


@dataclass(slots=True)
class Capture:
    """One API answer as the browser received it."""

    url: str
    status: int
    body: bytes


class DouyinBrowser:
    """A Chromium page on Douyin with the session's cookies; always closed on exit."""

    def __init__(
        self,
        base_url: str,
        cookies: dict[str, str],
        *,
        user_agent: str,
        headless: bool = True,
        sign_expression: str,
        timeout: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = cookies
        self.user_agent = user_agent
        self.headless = headless
        self.sign_expression = sign_expression
        self.timeout = timeout
        self._cm: Any = None
        self.page: Page | None = None

    async def __aenter__(self) -> DouyinBrowser:

        self._cm = open_browser(
            headless=self.headless,
            user_agent=self.user_agent,
            cookies=cookie_list(self.cookies, self.base_url + "/"),
            timeout_ms=self.timeout * 1000,
        )
        session = await self._cm.__aenter__()
        try:
            self.page = await session.new_page()
        except BaseException:
            await self._cm.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        cm, self._cm, self.page = self._cm, None, None
        if cm is not None:
            await cm.__aexit__(et, ev, tb)

    def search_url(self, keyword: str) -> str:
        """The search page, newest first (``sort_type=2``) so paging can stop at known posts."""
        return f"{self.base_url}/search/{quote(keyword, safe='')}?type=general&sort_type=2"

    async def _open(self, url: str) -> None:
        from playwright.async_api import Error as PlaywrightError

        assert self.page is not None
        try:
            response = await self.page.goto(url, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            kind = ErrorKind.TIMEOUT if "Timeout" in exc.message else ErrorKind.NETWORK
            raise make_error(
                kind, f"search page: {exc.message.splitlines()[0]}", platform=PLATFORM, url=url
            ) from exc
        if response is not None and response.status >= 500:
            raise make_error(
                ErrorKind.SERVER_ERROR, f"search page: HTTP {response.status}", platform=PLATFORM, url=url
            )
        if CAPTCHA_TITLE in await self.page.title():
            raise make_error(
                ErrorKind.CAPTCHA,
                "the search page is the captcha middle page (验证码中间页)",
                platform=PLATFORM,
                url=url,
            )

    async def search(self, keyword: str, *, max_pages: int) -> AsyncIterator[Capture]:
        """Each search API answer the page fetches, scrolling for the next until the caller stops."""
        assert self.page is not None
        page = self.page
        # Leave whatever the page was doing first: a retry must not see the aborted calls of the last try.
        await page.goto("about:blank")
        queue: asyncio.Queue[Response | None] = asyncio.Queue()

        def on_response(response: Response) -> None:
            if SEARCH_PATH in response.url:
                queue.put_nowait(response)

        def on_failed(request: Any) -> None:
            if SEARCH_PATH in request.url:
                queue.put_nowait(None)

        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        try:
            url = self.search_url(keyword)
            await self._open(url)
            for number in range(max_pages):
                try:
                    response = await asyncio.wait_for(queue.get(), self.timeout)
                except TimeoutError:
                    what = "the first results" if number == 0 else "the next results after scrolling"
                    raise make_error(
                        ErrorKind.TIMEOUT,
                        f"the page did not fetch {what} within {self.timeout:.0f}s",
                        platform=PLATFORM,
                        url=url,
                    ) from None
                if response is None:
                    raise make_error(
                        ErrorKind.NETWORK,
                        "the page's search request failed (connection lost)",
                        platform=PLATFORM,
                        url=url,
                    )
                yield Capture(response.url, response.status, await self._body(response))
                await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        finally:
            page.remove_listener("response", on_response)
            page.remove_listener("requestfailed", on_failed)

    @staticmethod
    async def _body(response: Response) -> bytes:
        from playwright.async_api import Error as PlaywrightError

        try:
            return await response.body()
        except PlaywrightError as exc:  # the body is gone (page navigated away, connection aborted)
            raise make_error(
                ErrorKind.NETWORK,
                f"lost the response body: {exc.message.splitlines()[0]}",
                platform=PLATFORM,
                url=response.url,
            ) from exc

    async def signed_get(self, path: str, params: dict[str, str]) -> Capture:
        """GET an API path from inside the page, signed by the page's own function."""
        from playwright.async_api import Error as PlaywrightError

        assert self.page is not None
        query = urlencode(params)
        url = f"{self.base_url}{path}?{query}"
        try:
            a_bogus = await self.page.evaluate(self.sign_expression, [query, self.user_agent])
            result = await self.page.evaluate(_FETCH_JS, f"{url}&a_bogus={quote(str(a_bogus), safe='')}")
        except PlaywrightError as exc:
            if "bdms" in exc.message or "is not a function" in exc.message:
                raise make_error(
                    ErrorKind.SIGNATURE_REJECTED,
                    f"the page cannot sign: {exc.message.splitlines()[0]}",
                    platform=PLATFORM,
                    url=url,
                ) from exc
            raise make_error(
                ErrorKind.NETWORK,
                f"in-page fetch failed: {exc.message.splitlines()[0]}",
                platform=PLATFORM,
                url=url,
            ) from exc
        return Capture(str(result["url"]), int(result["status"]), str(result["body"]).encode())
