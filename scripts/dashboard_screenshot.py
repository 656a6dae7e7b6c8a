"""Take the dashboard screenshot of the README and docs/api.md: ``python scripts/dashboard_screenshot.py [docs/dashboard.png]``.

Seeds a temporary SQLite database with the fake-data generator (a fortnight of mentions
for the two example brands, a crisis event, complaint records), serves the dashboard on
a free loopback port and photographs it with Debian's Chromium.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from crawler import search_index
from crawler.api import create_app
from crawler.browser import require_chromium
from crawler.config import load_config
from crawler.fakedata_db import seed_database
from crawler.storage.engine import open_database

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "screenshot-handler-token-000000"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"
    base = load_config(ROOT / "config" / "yuqing.toml")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shot.db'}"
        cfg = base.model_copy(update={
            "storage": base.storage.model_copy(update={"url": url}),
            "project": base.project.model_copy(update={"data_dir": tmp}),
            "api": base.api.model_validate({"tokens": [{"name": "张敏", "token": TOKEN, "role": "handler"}]}),
        })
        search_index.configure(cfg)
        engine = open_database(url)
        seed_database(engine, cfg, mentions=2500, days=14)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(cfg, engine=engine), log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=require_chromium(), args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 2300})
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/#token={TOKEN}")
                page.wait_for_selector("body[data-loaded='1']", timeout=30_000)
                page.wait_for_timeout(800)  # chart animations
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1440, "height": 2300})
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
