"""``yuqing alerts receiver``: a loopback stand-in for the configured chat robots (try channels offline)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import typer

from crawler.cli._common import console, state
from crawler.errors import YuqingError


def register_from_config(rx: object, channels: dict[str, object], port: int) -> list[str]:
    """Register a robot on ``rx`` for every channel whose URL points at 127.0.0.1:``port``."""
    from crawler.config import ChannelConfig
    from simulator.receiver.server import Receiver

    assert isinstance(rx, Receiver)
    names = []
    for name, c in channels.items():
        assert isinstance(c, ChannelConfig)
        if c.type == "email" or c.url is None or not c.enabled:
            continue
        url = urlsplit(c.url.get_secret_value())
        if url.hostname != "127.0.0.1" or url.port != port:
            continue
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        secret = c.secret.get_secret_value() if c.secret else None
        keywords = [c.keyword] if c.keyword else None
        if c.type == "dingtalk":
            rx.dingtalk(name, token=query.get("access_token", ""), secret=secret, keywords=keywords)
        elif c.type == "wecom":
            rx.wecom(name, key=query.get("key", ""))
        elif c.type == "feishu":
            rx.feishu(name, hook=url.path.rsplit("/", 1)[-1], secret=secret, keywords=keywords)
        elif c.type == "slack":
            rx.slack(name, path=url.path.removeprefix("/services/"))
        else:
            rx.webhook(name, hook=url.path.removeprefix("/hooks/"), secret=secret)
        names.append(name)
    return names


def receiver_cmd(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1 to listen on.")
    ] = 8700,
) -> None:
    """Run a local receiver for the channels whose URL is http://127.0.0.1:PORT/... and print what arrives."""
    from simulator.receiver.server import Receiver

    cfg = state(ctx).config()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        rx = Receiver().start(port)
    except OSError as exc:
        raise YuqingError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    names = register_from_config(rx, dict(cfg.alerts.channels), port)
    console.print(
        f"receiver on {rx.url}; robots: {', '.join(names) or 'none (no channel points here)'}",
        highlight=False,
    )
    seen = 0
    try:
        while not stop.wait(0.5):
            for msg in rx.messages()[seen:]:
                console.rule(f"{msg.robot} ({msg.kind}){' duplicate' if msg.duplicate else ''}")
                console.print(msg.text, highlight=False, markup=False)
            seen = len(rx.messages())
    finally:
        rx.stop()
