"""``yuqing serve``: the REST API and the web dashboard (uvicorn, loopback by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli._common import console, state

if TYPE_CHECKING:
    from crawler.config import AppConfig


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (default [api].host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port (default [api].port, 8600).")
    ] = None,
) -> None:
    """Serve the dashboard and the REST API (docs at /api/docs)."""
    import uvicorn

    from crawler.api import create_app
    from crawler.storage.engine import safe_url

    st = state(ctx)
    cfg = st.config()
    engine = st.engine()
    app = create_app(cfg, engine=engine)
    bind_host, bind_port = host or cfg.api.host, cfg.api.port if port is None else port
    url = f"http://{bind_host}:{bind_port}"
    console.print(
        f"dashboard {url}/  API docs {url}/api/docs  database {safe_url(str(engine.url))}",
        highlight=False,
        soft_wrap=True,
    )
    if app.state.ephemeral_token:
        console.print(
            "[yellow]未配置 api.tokens：本次运行的临时处理人令牌如下（仅显示一次）[/]", highlight=False
        )
        console.print(f"{url}/#token={app.state.ephemeral_token}", highlight=False, soft_wrap=True)
    uvicorn.run(app, host=bind_host, port=bind_port, **uvicorn_options(cfg))


def uvicorn_options(cfg: AppConfig) -> dict[str, Any]:
    """Server options: X-Forwarded-* believed only from ``[api] trusted_proxies`` (uvicorn's own
    default trusts 127.0.0.1, which would let a local proxy's client choose its address)."""
    trusted = list(cfg.api.trusted_proxies)
    return {
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
    }


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
