"""``/api/login`` (token check, rate limited), ``/api/me`` and ``/api/meta`` (choices for the dashboard)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from crawler.analytics.complaints import workflow_statuses
from crawler.api.auth import User, current_user
from crawler.api.deps import Cfg
from crawler.api.schemas import LoginIn, Me, Meta
from crawler.config import CATEGORIES, PLATFORM_NAMES, PLATFORMS, URGENCIES

router = APIRouter(prefix="/api", tags=["session"])


@router.post(
    "/login",
    response_model=Me,
    summary="校验令牌（失败次数受限）",
    responses={401: {"description": "令牌无效"}, 429: {"description": "失败次数过多"}},
)
def login(body: LoginIn, request: Request) -> dict[str, Any]:
    user = request.app.state.auth.check(request, body.token.strip())
    return {"name": user.name, "role": user.role}


@router.get("/me", response_model=Me, summary="当前用户")
def me(user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.get("/meta", response_model=Meta, summary="品牌、平台、类别等可选值")
def meta(cfg: Cfg, user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    statuses, transitions = workflow_statuses()
    return {
        "transitions": {k: list(v) for k, v in transitions.items()},
        "brands": [b.name for b in cfg.brands],
        "platforms": {p: PLATFORM_NAMES[p] for p in PLATFORMS},
        "categories": list(CATEGORIES),
        "urgencies": list(URGENCIES),
        "statuses": list(statuses),
        "timezone": cfg.scheduler.timezone,
        "user": {"name": user.name, "role": user.role},
    }
