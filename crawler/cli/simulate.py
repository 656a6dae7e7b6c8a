"""``yuqing simulate``: run the platform simulator as a process (first stdout line: its URL)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from loguru import logger

from crawler.cli._choices import PLATFORMS, comma_choice
from crawler.cli._common import state
from crawler.errors import ConfigError


def _parse_limits(spec: str | None) -> dict[str, int]:
    limits: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, value = part.partition("=")
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(
                f"bad --rate-limit {part!r}: expected platform=requests_per_minute", key="rate-limit"
            )
        limits[name] = int(value)
    return limits


def _parse_range(spec: str) -> tuple[int, int]:
    lo, _, hi = spec.partition("-")
    if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
        raise ConfigError(f"bad --comments {spec!r}: expected MIN-MAX such as 0-6", key="comments")
    return int(lo), int(hi)


def simulate_cmd(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0 = a free one).")] = 0,
    seed: Annotated[int, typer.Option(help="World seed: the same seed gives the same posts.")] = 7,
    live: Annotated[
        bool, typer.Option("--live", help="Publish new posts and grow engagement over time.")
    ] = False,
    live_interval: Annotated[float, typer.Option(min=0.05, help="Seconds between live ticks.")] = 5.0,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Faults to switch on: platform:kind[:rate[:duration]],... e.g. weibo:rate_limited:0.2"
        ),
    ] = None,
    posts: Annotated[
        int | None, typer.Option(min=0, help="Posts per brand per platform (default: per platform).")
    ] = None,
    comments: Annotated[
        str | None, typer.Option(help="Comments per post as MIN-MAX, e.g. 0-6 (0-0: none).")
    ] = None,
    platforms: Annotated[
        str | None,
        typer.Option(
            "--platforms",
            "-p",
            help="Comma-separated subset of platforms to serve.",
            **comma_choice(PLATFORMS, "platform"),
        ),
    ] = None,
    rate_limit: Annotated[
        str | None, typer.Option("--rate-limit", help="Block above N requests/min, e.g. heimao=45.")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file whose brands (and Heimao secret) the world uses."),
    ] = None,
) -> None:
    """Serve simulated Weibo / Heimao / Xiaohongshu / Douyin on loopback until Ctrl-C or SIGTERM."""

    from simulator import Simulator, parse_fault_spec

    st = state(ctx)
    if config:
        st.config_path = config
    cfg = st.config()
    try:
        fault_specs = parse_fault_spec(faults or "")
        extra: dict[str, Any] = {"comments_per_post": _parse_range(comments)} if comments else {}
        sim = Simulator(
            seed=seed,
            cfg=cfg,
            live=live,
            port=port,
            live_interval=live_interval,
            posts_per_brand=posts,
            rate_limits=_parse_limits(rate_limit),
            **extra,
            platforms=tuple(p.strip() for p in platforms.split(",")) if platforms else None,
        )
        for spec in fault_specs:
            sim.set_fault(**spec)
    except ValueError as exc:
        raise ConfigError(str(exc), key="simulate") from exc

    def ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.write(
            f"weibo cookie: SUB={sim.issue_session('weibo')['SUB']}\n" if "weibo" in sim.ctx.platforms else ""
        )
        sys.stdout.flush()
        logger.info(
            "simulator serving {} platforms, {} posts, seed {}",
            len(sim.ctx.platforms),
            len(sim.world.log),
            seed,
        )

    sim.serve_forever(ready)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
