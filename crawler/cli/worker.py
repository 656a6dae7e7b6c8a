"""``yuqing worker``: run crawl tasks queued in Redis by `yuqing run` (see :mod:`crawler.service.worker`)."""

from __future__ import annotations

from typing import Annotated

import typer

from crawler.cli._common import console, state
from crawler.errors import ConfigError


def worker_cmd(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-n",
            min=1,
            max=64,
            help="Crawls at once (default: distributed.worker_concurrency).",
        ),
    ] = None,
) -> None:
    """Run queued crawls from Redis into the shared database (distributed mode; start as many as you like).

    SIGTERM stops the running crawls cleanly and hands their tasks back to the queue.
    """
    from crawler.service.worker import Worker

    st = state(ctx)
    cfg = st.config()
    if not cfg.distributed.active:
        raise ConfigError(
            "yuqing worker needs distributed mode: set REDIS_URL, or redis_url in the distributed section",
            path=cfg.source,
            key="distributed",
        )
    st.writable_engine("worker")
    if cfg.database_url.startswith("sqlite"):
        console.print(
            "[yellow]warning:[/] workers share a SQLite file only on one machine; use PostgreSQL "
            "for workers on several machines",
            highlight=False,
        )
    worker = Worker(cfg, config_path=st.config_path, concurrency=concurrency)
    console.print(f"yuqing worker {worker.id}: {worker.concurrency} slot(s)", highlight=False)
    raise typer.Exit(worker.run())


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_cmd)
