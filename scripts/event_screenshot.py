"""Take the event-page screenshot of docs/crisis.md from a demo database.

``yuqing demo --database sqlite:////tmp/demo.db`` then
``python scripts/event_screenshot.py sqlite:////tmp/demo.db [EVENT_ID] [docs/crisis-event.png]``

Without an event id, the event of the watched post with the most visits is shown (the demo's
crisis). The dashboard is served on a free loopback port and photographed with Debian's Chromium,
as ``scripts/dashboard_screenshot.py`` does.
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
from sqlalchemy import select

from crawler import search_index
from crawler.api import create_app
from crawler.browser import require_chromium
from crawler.config import load_config
from crawler.storage.engine import open_database
from crawler.storage.models import TrackedPost

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "screenshot-viewer-token-0000000"


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    url = sys.argv[1]
    engine = open_database(url)
    t = TrackedPost.__table__.c  # type: ignore[attr-defined]
    if len(sys.argv) > 2:
        event_id = int(sys.argv[2])
    else:
        with engine.connect() as conn:
            event_id = conn.execute(select(t.event_id).where(t.event_id.is_not(None))
                                    .order_by(t.fetches.desc(), t.id)).scalars().first()
        if event_id is None:
            sys.exit("no watched post with an event in this database: run `yuqing demo` first")
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs" / "crisis-event.png"
    base = load_config(ROOT / "config" / "yuqing.toml")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = base.model_copy(update={
            "storage": base.storage.model_copy(update={"url": url}),
            "project": base.project.model_copy(update={"data_dir": tmp}),
            "api": base.api.model_validate({"tokens": [{"name": "截图", "token": TOKEN, "role": "viewer"}]}),
        })
        search_index.configure(cfg)
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
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/#token={TOKEN}")
                page.wait_for_selector("body[data-loaded='1']", timeout=30_000)
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/#/event/{event_id}")
                page.wait_for_selector("body[data-item='event'] #c-spread-tree-0 canvas", timeout=30_000)
                page.wait_for_timeout(1500)  # chart animations
                box = page.evaluate("""() => { const t = [...document.querySelectorAll('#item-page table.compact')].pop();
                    return t.getBoundingClientRect().bottom + window.scrollY; }""")  # down to the spreaders
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True,
                                clip={"x": 0, "y": 0, "width": 1280, "height": min(int(box) + 24, 4000)})
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(f"wrote {out} (event {event_id})")


if __name__ == "__main__":
    main()
