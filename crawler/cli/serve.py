"""``yuqing serve``: the REST API and the web dashboard (uvicorn, loopback by default)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli._common import console, state
from crawler.errors import YuqingError

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
    sock = _listen(bind_host, bind_port)  # before any output: a busy port is one line, not a dead link
    bind_port = sock.getsockname()[1]
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
    server = uvicorn.Server(uvicorn.Config(app, host=bind_host, port=bind_port, **uvicorn_options(cfg)))
    server.run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to serve on, or a one-line error."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise YuqingError(
            f"cannot listen on {host}:{port}: {reason} (another server on that port? use --port)"
        ) from None
    return sock


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
