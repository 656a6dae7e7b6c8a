"""Take the README's alert pictures: ``python scripts/alert_screenshots.py [--seed 7] [--out docs]``.

Runs the demo's first crawl (simulator → spiders → analysis → triage, as ``yuqing demo``) into a
scratch SQLite database with ``[api] public_url`` set, picks the immediate alert of the biggest
event, and photographs with Debian's Chromium:

- ``alert-message.png``: that alert's message as the e-mail channel sends it (the chat robots get
  the same lines as markdown or a card);
- ``item-page.png``: the dashboard page its link opens (a handler's view).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _shots import chromium, served
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.delivery.formats import to_html  # noqa: E402
from alerts.delivery.render import render  # noqa: E402
from crawler.config import load_config  # noqa: E402
from crawler.storage.engine import dispose_engines, open_database  # noqa: E402
from crawler.storage.models import Alert  # noqa: E402

TOKEN = "screenshot-handler-token-000000"
PUBLIC_URL = "https://yuqing.example.com/"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #eef0f3; font: 14px/1.6 "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }}
.mail {{ width: 620px; margin: 16px; padding: 16px 20px; background: #fff; border: 1px solid #d0d4da; }}
.meta {{ color: #667; font-size: 12px; border-bottom: 1px solid #e3e5e8; margin-bottom: 8px; padding-bottom: 6px; }}
</style></head><body><div class="mail"><div class="meta">{meta}</div>{html}</div></body></html>"""


def run_demo(work: Path, seed: int) -> tuple[Path, Any]:
    """The demo's first run in ``work``; returns the config path and the database engine."""
    from simulator.demo.runner import run_demo as demo

    shutil.copytree(ROOT / "config", work / "config")
    path = work / "config" / "yuqing.toml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^public_url\s*=.*$\n?", "", text)
    text = re.sub(r"(?m)^\[api\]\s*$", lambda m: m.group(0) + f'\npublic_url = "{PUBLIC_URL}"', text, count=1)
    path.write_text(text, encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        cfg = load_config(path)
        url = f"sqlite:///{work / 'demo.db'}"
        engine = open_database(url)
        demo(cfg, engine, url, config_path=str(path), seed=seed)
    finally:
        os.chdir(cwd)
    return path, engine


def pick_alert(engine: Any) -> dict[str, Any]:
    """The immediate alert of the biggest event (it carries the most context), else any immediate one."""
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(Alert.id, Alert.kind, Alert.payload).where(Alert.kind.in_(("mention", "event")))
            ).mappings()
        ]
    if not rows:
        raise SystemExit("the demo sent no immediate alert")
    return max(
        rows,
        key=lambda a: (int(((a["payload"] or {}).get("event") or {}).get("mention_count") or 0), -a["id"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.pop("YUQING_DATABASE_URL", None)
    work = Path(tempfile.mkdtemp(prefix="yuqing-shots-"))
    try:
        path, engine = run_demo(work, args.seed)
        alert = pick_alert(engine)
        payload = alert["payload"]
        link = (payload.get("links") or {}).get("dashboard") or PUBLIC_URL
        doc = render(payload, ref=f"告警编号 {alert['id']}")
        meta = f"发件人：yuqing 舆情监控 · 主题：{doc.summary}"
        cfg = load_config(path)
        cfg = cfg.model_copy(
            update={
                "api": cfg.api.model_validate(
                    {**cfg.api.model_dump(), "tokens": [{"name": "张敏", "token": TOKEN, "role": "handler"}]}
                )
            }
        )
        with served(cfg, engine) as base, chromium() as browser:
            page = browser.new_page(viewport={"width": 660, "height": 900})
            mail = re.search(r"<body[^>]*>(.*)</body>", to_html(doc), re.S)
            page.set_content(
                PAGE.format(
                    meta=meta.replace("&", "&amp;").replace("<", "&lt;"), html=mail.group(1) if mail else ""
                )
            )
            page.locator(".mail").screenshot(path=str(out / "alert-message.png"))
            item = browser.new_page(viewport={"width": 1280, "height": 1000})
            item.goto(f"{base}#token={TOKEN}")
            item.wait_for_selector("body[data-loaded='1']", timeout=30_000)
            item.goto(base + "#" + link.split("#", 1)[1] if "#" in link else base)
            item.wait_for_selector("body[data-item]:not([data-item='loading'])", timeout=30_000)
            item.wait_for_timeout(800)  # the event chart's animation
            item.screenshot(path=str(out / "item-page.png"), full_page=False)
        print(f"alert {alert['id']} ({link}): wrote {out / 'alert-message.png'} and {out / 'item-page.png'}")
    finally:
        dispose_engines()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
