"""Request dependencies: the database connection and the mention filter from query parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from sqlalchemy.engine import Connection, Engine

from crawler.analytics.query import MentionFilter, QueryError, build_filter, parse_time
from crawler.config import AppConfig


def config(request: Request) -> AppConfig:
    return request.app.state.cfg  # type: ignore[no-any-return]


def connection(request: Request) -> Iterator[Connection]:
    """A read connection for one request."""
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


def transaction(request: Request) -> Iterator[Connection]:
    """A connection inside a transaction, committed when the request succeeds."""
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        yield conn


def bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=message)


def split_values(values: list[str] | None) -> list[str]:
    """``?platform=weibo&platform=douyin`` or ``?platform=weibo,douyin`` → ``["weibo", "douyin"]``."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.replace("，", ",").split(",") if p.strip())
    return out


def resolve_brand(cfg: AppConfig, brand: str | None) -> str | None:
    """The configured brand name for a name or alias; 422 if unknown."""
    if brand is None or not brand.strip():
        return None
    for b in cfg.brands:
        if brand.strip() in b.all_names:
            return b.name
    raise bad_request(f"未知品牌 {brand!r}（已配置：{'、'.join(b.name for b in cfg.brands)}）")


def _time(value: str | None, tz: str, *, end: bool = False) -> Any:
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, tz=tz, end=end)
    except QueryError as exc:
        raise bad_request(str(exc)) from exc


ListParam = Annotated[list[str] | None, Query(max_length=40)]


def mention_filter(
    request: Request,
    brand: Annotated[str | None, Query(max_length=64, description="品牌名或别名")] = None,
    platform: ListParam = None,
    since: Annotated[str | None, Query(max_length=40, description="24h、7d、2026-11-01 或 ISO 时间")] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    sentiment: Annotated[str | None, Query(pattern="^(positive|neutral|negative)$")] = None,
    complaint: bool | None = None,
    category: ListParam = None,
    urgency: ListParam = None,
    min_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
    max_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
    region: ListParam = None,
    author: Annotated[str | None, Query(max_length=128)] = None,
    event_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    kind: ListParam = None,
    q: Annotated[
        str | None, Query(max_length=200, description='全文搜索：词之间为“且”，OR、-排除、"短语"、前缀*')
    ] = None,
) -> MentionFilter:
    cfg: AppConfig = request.app.state.cfg
    tz = cfg.scheduler.timezone
    try:
        return build_filter(
            brand=resolve_brand(cfg, brand),
            platforms=split_values(platform),
            since=_time(since, tz),
            until=_time(until, tz, end=True),
            sentiment=sentiment,
            complaint=complaint,
            categories=split_values(category),
            urgencies=split_values(urgency),
            min_risk=min_risk,
            max_risk=max_risk,
            regions=split_values(region),
            author=author or None,
            event_id=event_id,
            kinds=split_values(kind),
            q=q,
        )
    except QueryError as exc:
        raise bad_request(str(exc)) from exc


Filter = Annotated[MentionFilter, Depends(mention_filter)]
Conn = Annotated[Connection, Depends(connection)]
Tx = Annotated[Connection, Depends(transaction)]
Cfg = Annotated[AppConfig, Depends(config)]
