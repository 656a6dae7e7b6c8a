"""Take the dashboard screenshot of the README and docs/api.md: ``python scripts/dashboard_screenshot.py [docs/dashboard.png]``.

Seeds a temporary SQLite database with the fake-data generator (a fortnight of mentions
for the two example brands, a crisis event, complaint records), serves the dashboard on
a free loopback port and photographs it with Debian's Chromium.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _shots import chromium, served

from crawler.analytics import search_index
from crawler.config import load_config
from crawler.storage.engine import open_database
from simulator.fakedata.database import seed_database

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "screenshot-handler-token-000000"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"
    base = load_config(ROOT / "config" / "yuqing.toml")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shot.db'}"
        cfg = base.model_copy(
            update={
                "storage": base.storage.model_copy(update={"url": url}),
                "project": base.project.model_copy(update={"data_dir": tmp}),
                "api": base.api.model_validate(
                    {"tokens": [{"name": "张敏", "token": TOKEN, "role": "handler"}]}
                ),
            }
        )
        search_index.configure(cfg)
        engine = open_database(url)
        seed_database(engine, cfg, mentions=2500, days=14)
        with served(cfg, engine) as base_url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 2300})
            page.goto(f"{base_url}#token={TOKEN}")
            page.wait_for_selector("body[data-loaded='1']", timeout=30_000)
            page.wait_for_timeout(800)  # chart animations
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1440, "height": 2300})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
