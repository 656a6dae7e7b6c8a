"""``yuqing run``: the long-running scheduler service (see :mod:`crawler.service.daemon`)."""

from __future__ import annotations

import typer

from crawler.cli._common import console, state


def run_cmd(ctx: typer.Context) -> None:
    """Run the scheduler: crawls on schedule, alert dispatch, digests, SLA sweeps, health, reports, retention.

    SIGHUP reloads the config file; SIGTERM stops running crawls cleanly and exits.
    With REDIS_URL or [distributed] it only enqueues crawl tasks for `yuqing worker`s.
    """
    from crawler.service.daemon import Service

    st = state(ctx)
    cfg = st.config()
    st.writable_engine("run")
    mode = "distributed (crawls run on `yuqing worker`s)" if cfg.distributed.active else "local"
    console.print(
        f"yuqing run: {len(cfg.brands)} brand(s), platforms {', '.join(cfg.platforms.enabled())}, {mode}",
        highlight=False,
    )
    code = Service(st.config_path, cfg=cfg).run()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
