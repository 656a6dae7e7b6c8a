"""The error table: statuses, bodies and envelopes → error kind, and which kinds are retried."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadTimeoutError
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError

from crawler.errors import ErrorKind, LoginRequired, PlatformError
from crawler.platform.faults import classify_exception, classify_status, login_fix
from crawler.scraping.middlewares import PlatformFaultsMiddleware, backoff_delay
from spiders import _heimao_api, _weibo_api
from spiders.heimao import HeimaoSpider
from spiders.weibo import WeiboSpider
from tests.spiders.helpers import html_response, json_response


@pytest.mark.parametrize(
    ("platform", "status", "body", "kind"),
    [
        ("weibo", 432, "<html>blocked</html>", ErrorKind.AUTH_EXPIRED),
        ("weibo", 403, "forbidden", ErrorKind.IP_BLOCKED),
        ("weibo", 403, "<html>请完成安全验证 验证码</html>", ErrorKind.CAPTCHA),
        ("weibo", 429, "", ErrorKind.RATE_LIMITED),
        ("weibo", 500, "", ErrorKind.SERVER_ERROR),
        ("weibo", 502, "", ErrorKind.SERVER_ERROR),
        ("weibo", 599, "", ErrorKind.SERVER_ERROR),
        ("weibo", 504, "", ErrorKind.TIMEOUT),
        ("heimao", 456, "", ErrorKind.RATE_LIMITED),
        ("heimao", 429, "", ErrorKind.RATE_LIMITED),
        ("heimao", 503, "", ErrorKind.SERVER_ERROR),
        ("heimao", 401, "", ErrorKind.AUTH_EXPIRED),
    ],
)
def test_status_table(platform: str, status: int, body: str, kind: ErrorKind) -> None:
    statuses = {"weibo": _weibo_api.STATUSES, "heimao": _heimao_api.STATUSES}[platform]
    err = classify_status(platform, status, f"https://x/{platform}", statuses=statuses, body=body)
    assert err is not None and err.kind is kind and err.platform == platform
    if kind is ErrorKind.AUTH_EXPIRED:
        assert isinstance(err, LoginRequired) and login_fix(platform) in str(err)


def test_ok_statuses_and_login_redirects() -> None:
    assert classify_status("weibo", 200, "https://m.weibo.cn/api/container/getIndex") is None
    assert classify_status("heimao", 456, "https://x") is None  # 456 means nothing on other platforms
    err = classify_status("weibo", 200, "https://passport.weibo.cn/signin/login?r=x")
    assert err is not None and err.kind is ErrorKind.AUTH_EXPIRED


@pytest.mark.parametrize(
    ("kind", "transient"),
    [
        (ErrorKind.RATE_LIMITED, True),
        (ErrorKind.SERVER_ERROR, True),
        (ErrorKind.TIMEOUT, True),
        (ErrorKind.NETWORK, True),
        (ErrorKind.CAPTCHA, False),
        (ErrorKind.IP_BLOCKED, False),
        (ErrorKind.AUTH_EXPIRED, False),
        (ErrorKind.SIGNATURE_REJECTED, False),
        (ErrorKind.BAD_PAYLOAD, False),
    ],
)
def test_only_transient_kinds_retry(kind: ErrorKind, transient: bool) -> None:
    assert kind.transient is transient


def test_download_exceptions() -> None:
    assert classify_exception("weibo", DownloadTimeoutError("took 3s")).kind is ErrorKind.TIMEOUT
    assert classify_exception("weibo", TimeoutError()).kind is ErrorKind.TIMEOUT
    assert classify_exception("weibo", ConnectionRefusedError()).kind is ErrorKind.NETWORK
    assert classify_exception("weibo", ConnectionResetError("reset")).kind is ErrorKind.NETWORK


def test_backoff() -> None:
    delays = [backoff_delay(n, base=1.0, cap=10.0, jitter=0) for n in (1, 2, 3, 4, 5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff_delay(1, base=1.0, cap=10.0, retry_after="7", jitter=0) == 7.0
    assert backoff_delay(1, base=1.0, cap=10.0, retry_after="600", jitter=0) == 10.0
    assert backoff_delay(1, base=1.0, cap=10.0, retry_after="Wed, 21 Oct", jitter=0) == 1.0
    assert 0.8 <= backoff_delay(1, base=1.0, cap=10.0) <= 1.2


def _spider(cls: type, crawl_config: Path) -> tuple[object, PlatformFaultsMiddleware]:
    settings = {"YUQING_CONFIG": str(crawl_config), "RETRY_TIMES": 2, "YUQING_BACKOFF_BASE": 0.0}
    crawler = get_crawler(cls, settings)
    crawler.spider = cls.from_crawler(crawler, brand="鲜果时光")
    return crawler.spider, PlatformFaultsMiddleware.from_crawler(crawler)


WEIBO_SEARCH = "http://127.0.0.1:1/weibo/api/container/getIndex?containerid=x"


@pytest.mark.parametrize(
    ("status", "body", "kind", "retried"),
    [
        (200, {"ok": 0, "msg": "请求过于频繁"}, ErrorKind.RATE_LIMITED, True),
        (200, {"ok": -100, "url": "https://passport.weibo.cn/signin"}, ErrorKind.AUTH_EXPIRED, False),
        (200, '{"ok": 1, "data": {"cards": [', ErrorKind.BAD_PAYLOAD, False),
        (200, "<html>请输入验证码</html>", ErrorKind.CAPTCHA, False),
        (432, "<html></html>", ErrorKind.AUTH_EXPIRED, False),
        (500, "oops", ErrorKind.SERVER_ERROR, True),
        (429, "", ErrorKind.RATE_LIMITED, True),
        (404, "", ErrorKind.BAD_PAYLOAD, False),
    ],
)
def test_weibo_middleware_retries_only_transient(
    crawl_config: Path, status: int, body: object, kind: ErrorKind, retried: bool
) -> None:
    spider, mw = _spider(WeiboSpider, crawl_config)
    response = json_response(
        WEIBO_SEARCH, body, status=status, meta={"yq_endpoint": "search", "yq_format": "json"}
    )
    if retried:
        retry = asyncio.run(mw.process_response(response.request, response))
        assert retry.meta["retry_times"] == 1 and retry.url == response.url and retry.dont_filter
        retry2 = asyncio.run(mw.process_response(retry, response.replace(request=retry)))
        assert retry2.meta["retry_times"] == 2
        with pytest.raises(PlatformError) as info:  # RETRY_TIMES = 2: the third failure gives up
            asyncio.run(mw.process_response(retry2, response.replace(request=retry2)))
    else:
        with pytest.raises(PlatformError) as info:
            asyncio.run(mw.process_response(response.request, response))
    assert info.value.kind is kind
    assert spider.crawler.stats.get_value(f"weibo/error/{kind}") >= 1


def test_middleware_passes_good_pages_and_caches_payload(crawl_config: Path) -> None:
    _, mw = _spider(WeiboSpider, crawl_config)
    response = json_response(WEIBO_SEARCH, {"ok": 1, "data": {"cards": []}}, meta={"yq_endpoint": "search"})
    assert asyncio.run(mw.process_response(response.request, response)) is response
    assert response.request.meta["yq_payload"] == {"ok": 1, "data": {"cards": []}}
    page = html_response(
        "http://127.0.0.1:1/weibo/detail/1",
        "",
        status=404,
        meta={"yq_endpoint": "detail", "yq_format": "html"},
    )
    assert asyncio.run(mw.process_response(page.request, page)) is page  # a deleted post is not a fault


def test_middleware_download_exceptions(crawl_config: Path) -> None:
    _, mw = _spider(HeimaoSpider, crawl_config)
    request = json_response("http://127.0.0.1:1/heimao/api/index/s", {}).request
    retry = asyncio.run(mw.process_exception(request, DownloadTimeoutError("3s")))
    assert retry.meta["retry_times"] == 1


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"result": {"status": {"code": -1, "msg": "签名验证失败"}}}, ErrorKind.SIGNATURE_REJECTED),
        (
            {"result": {"status": {"code": 0}, "data": {"lists": [], "pager": {"item_count": 30}}}},
            ErrorKind.RATE_LIMITED,
        ),
    ],
)
def test_heimao_envelopes(crawl_config: Path, body: object, kind: ErrorKind) -> None:
    _, mw = _spider(HeimaoSpider, crawl_config)
    response = json_response(
        "http://127.0.0.1:1/heimao/api/index/s", body, meta={"yq_endpoint": "search", "page": 1}
    )
    result: object
    try:
        result = asyncio.run(mw.process_response(response.request, response))
    except PlatformError as err:
        result = err
    if kind.transient:
        assert getattr(result, "meta", {}).get("retry_times") == 1
    else:
        assert isinstance(result, PlatformError) and result.kind is kind
