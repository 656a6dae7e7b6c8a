"""Take the event-page screenshot of docs/crisis.md from a demo database.

``yuqing demo --database sqlite:////tmp/demo.db`` then
``python scripts/event_screenshot.py sqlite:////tmp/demo.db [EVENT_ID] [docs/crisis-event.png]``

Without an event id, the event of the watched post with the most visits is shown (the demo's
crisis). The dashboard is served on a free loopback port and photographed with Debian's Chromium,
as ``scripts/dashboard_screenshot.py`` does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _shots import chromium, served
from sqlalchemy import select

from crawler.analytics import search_index
from crawler.config import load_config
from crawler.storage.engine import open_database
from crawler.storage.models import TrackedPost

ROOT = Path(__file__).resolve().parent.parent
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
            event_id = (
                conn.execute(
                    select(t.event_id).where(t.event_id.is_not(None)).order_by(t.fetches.desc(), t.id)
                )
                .scalars()
                .first()
            )
        if event_id is None:
            sys.exit("no watched post with an event in this database: run `yuqing demo` first")
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs" / "crisis-event.png"
    base = load_config(ROOT / "config" / "yuqing.toml")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = base.model_copy(
            update={
                "storage": base.storage.model_copy(update={"url": url}),
                "project": base.project.model_copy(update={"data_dir": tmp}),
                "api": base.api.model_validate(
                    {"tokens": [{"name": "截图", "token": TOKEN, "role": "viewer"}]}
                ),
            }
        )
        search_index.configure(cfg)
        with served(cfg, engine) as base_url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base_url}#token={TOKEN}")
            page.wait_for_selector("body[data-loaded='1']", timeout=30_000)
            page.goto(f"{base_url}#/event/{event_id}")
            page.wait_for_selector("body[data-item='event'] #c-spread-tree-0 canvas", timeout=30_000)
            page.wait_for_timeout(1500)  # chart animations
            box = page.evaluate("""() => { const t = [...document.querySelectorAll('#item-page table.compact')].pop();
                return t.getBoundingClientRect().bottom + window.scrollY; }""")  # down to the spreaders
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(out),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1280, "height": min(int(box) + 24, 4000)},
            )
    print(f"wrote {out} (event {event_id})")


if __name__ == "__main__":
    main()
