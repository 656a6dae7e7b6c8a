"""``/api/docs`` in Debian's Chromium: Swagger UI from the vendored copy renders every operation under
the app's own CSP (no violation reported, nothing in the console), every request stays on this
server, and "Try it out" works with a bearer token. The page and its assets ship with the package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.api.app import CSP, STATIC
from crawler.platform.browser import require_chromium
from crawler.storage.engine import open_database
from simulator.fakedata.database import seed_database
from tests.crawler.analytics.conftest import ARTIFACTS, VIEWER, LiveServer, make_cfg
from tests.crawler.api.test_dashboard import CHROMIUM_ARGS

# recorded before any page script runs (an init script is not subject to the page's CSP)
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"""


def test_docs_page_uses_only_vendored_files() -> None:
    html = (STATIC / "api-docs.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "://" not in html  # no inline script, nothing from another host
    for asset in (
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "vendor/swagger-ui/swagger-ui.css",
        "api-docs.js",
    ):
        assert f"/static/{asset}" in html
        assert (STATIC / asset).is_file()
    assert "Apache License" in (STATIC / "vendor/swagger-ui/SWAGGER-UI-LICENSE.txt").read_text()
    assert "'unsafe-inline'" not in CSP.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.slow
@pytest.mark.browser
def test_api_docs_render_offline_under_the_csp(tmp_path: Path, data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.api import create_app

    url = f"sqlite:///{tmp_path / 'docs.db'}"
    cfg = make_cfg(url, data_dir)
    engine = open_database(url)
    seed_database(engine, cfg, mentions=40)
    app = create_app(cfg, engine=engine)
    operations = sum(len(ops) for ops in app.openapi()["paths"].values())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with LiveServer(app) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.add_init_script(WATCH_CSP)
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            foreign: list[str] = []
            page.on(
                "request", lambda r: foreign.append(r.url) if not r.url.startswith(srv.url + "/") else None
            )
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))

            response = page.goto(srv.url + "/api/docs")
            assert response is not None and response.headers["content-security-policy"] == CSP
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() == operations
            assert "yuqing 舆情监测 API" in (page.text_content(".info .title") or "")
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"))

            # "Try it out" on /api/me with a viewer token, under connect-src 'self'
            page.click("button.authorize")
            page.fill(".modal-ux input", VIEWER)
            page.click(".modal-ux button.authorize")
            page.click(".modal-ux button.btn-done")
            op = page.locator("#operations-session-me_api_me_get")
            op.locator(".opblock-summary").click()
            op.locator("button.try-out__btn").click()
            op.locator("button.execute").click()
            status = op.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=15_000)
            assert status.text_content().strip() == "200"
            assert '"role": "viewer"' in (
                op.locator(".live-responses-table tbody .response-col_description").first.text_content() or ""
            )

            assert page.evaluate("() => window.__csp") == []
            assert console == [], console
            assert foreign == [] and failed == [], (foreign, failed)

            # the watcher does catch a violation: an inline script is blocked and reported
            page.evaluate("""() => { const s = document.createElement('script');
                                     s.textContent = 'window.__ran = 1'; document.body.append(s); }""")
            page.wait_for_function("() => window.__csp.length > 0", timeout=5_000)
            assert page.evaluate("() => window.__ran") is None
        finally:
            browser.close()
