"""The FastAPI application factory: REST API under ``/api``, the dashboard at ``/``.

``create_app(cfg)`` builds a fresh app (no module-level app, no engine at import time);
the database is opened in the lifespan unless an engine is passed in (tests). Reads
``[api]`` (tokens, CORS origins, login limits) and ``[scheduler].timezone``.
Every response, errors included, carries a strict Content-Security-Policy: scripts only
from this server, no inline script, no eval, no framing — scraped text can never execute.
``/api/docs`` is Swagger UI from the vendored copy under ``static/vendor/swagger-ui``,
started by ``static/api-docs.js``: it obeys that policy and needs no network.
A database error (gone, locked, corrupt, read-only) is a JSON 503, never a bare 500.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from crawler import __version__
from crawler.analytics import search_index
from crawler.api import routes_complaints, routes_events, routes_mentions, routes_session
from crawler.api.auth import FailureLimiter, TokenAuth
from crawler.config import AppConfig
from crawler.paths import package_path
from crawler.storage.engine import describe_error, open_database, read_only_reason

STATIC = package_path("crawler", "api", "static")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ERRORS = {"unhandled": 0}


def _auth(cfg: AppConfig) -> tuple[TokenAuth, str | None]:
    """Token table from ``[api].tokens``; with none configured, one random handler token for this run."""
    limiter = FailureLimiter(cfg.api.login_max_failures, cfg.api.login_window_seconds)
    tokens: list[tuple[str, str, str]] = [
        (t.name, t.token.get_secret_value(), t.role) for t in cfg.api.tokens
    ]
    ephemeral = None
    if not tokens:
        ephemeral = secrets.token_urlsafe(24)
        tokens = [("admin", ephemeral, "handler")]
    return TokenAuth(tokens, limiter), ephemeral


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "参数错误：" + "；".join(parts)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()[:20]
        ]
        return JSONResponse({"detail": _validation_message(exc), "errors": errors}, status_code=422)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # the database went away, is locked, is not a database, or is a read-only file
        return _database_unavailable(request, exc)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # process boundary
        # this handler answers outside the middleware below: it sets the same headers itself
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
        if isinstance(exc, DBAPIError):  # raised where the handler above cannot see it
            response = _database_unavailable(request, exc)
            response.headers.update(headers)
            return response
        ERRORS["unhandled"] += 1
        logger.exception("API error on {method} {path}", method=request.method, path=request.url.path)
        return JSONResponse({"detail": "服务器内部错误"}, status_code=500, headers=headers)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
    """503 with a JSON reason; the log names the database (password masked), never the client."""

    engine: Engine | None = getattr(request.app.state, "engine", None)
    url = engine.url.render_as_string(hide_password=False) if engine is not None else None
    read_only = engine is not None and read_only_reason(engine) is not None
    logger.log(
        "WARNING" if read_only else "ERROR",
        "API: database unavailable on {method} {path}: {message}",
        method=request.method,
        path=request.url.path,
        message=describe_error(exc, url),
    )
    if read_only:
        return JSONResponse({"detail": "数据库为只读，无法保存修改（只能查看）"}, status_code=503)
    return JSONResponse(
        {"detail": "数据库暂时不可用，请稍后再试"}, status_code=503, headers={"Retry-After": "30"}
    )


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "中文错误说明"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "字段级错误"},
    },
}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The spec with our error body (``{"detail": "…", "errors": […]}``) in place of FastAPI's default 422."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas["HTTPValidationError"] = ERROR_SCHEMA
            schemas.pop("ValidationError", None)
            app.openapi_schema = spec
        return app.openapi_schema

    return build


def create_app(cfg: AppConfig, *, engine: Engine | None = None) -> FastAPI:
    """A new application for ``cfg`` (the database opened at startup unless ``engine`` is given)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:

        if app.state.engine is None:
            app.state.engine = open_database(cfg.database_url)
        search_index.configure(cfg)
        yield

    app = FastAPI(
        title="yuqing 舆情监测 API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        description="品牌舆情：提及检索、统计、事件、告警、投诉单。使用 `Authorization: Bearer <token>`。",
    )
    auth, ephemeral = _auth(cfg)
    app.state.cfg, app.state.engine, app.state.auth, app.state.ephemeral_token = cfg, engine, auth, ephemeral
    _install_handlers(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    if cfg.api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cfg.api.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    for router in (
        routes_session.router,
        routes_mentions.router,
        routes_mentions.stats,
        routes_events.router,
        routes_complaints.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> FileResponse:
        return FileResponse(STATIC / "api-docs.html", media_type="text/html; charset=utf-8")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    return app
