"""``/api/mentions`` (filter, search, paging, export) and ``/api/stats`` (trends, distributions, words)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from sqlalchemy import select

from crawler.analytics.export import export_bytes
from crawler.analytics.query import (
    ROW_COLUMNS,
    MentionFilter,
    find_mentions,
    sentiment_label,
    to_record,
)
from crawler.analytics.stats import distribution, summary, surges, top_words, volume_trend
from crawler.api.auth import User, current_user
from crawler.api.deps import Cfg, Conn, Filter, bad_request
from crawler.api.schemas import (
    MentionOut,
    MentionPage,
    MentionThread,
    Overview,
    Slice,
    Summary,
    SurgeMark,
    TrendPoint,
    WordCount,
)
from crawler.clock import utcnow
from crawler.storage.models import COMPLAINT_MENTIONS, COMPLAINTS, MENTIONS

router = APIRouter(prefix="/api", tags=["mentions"])
UserDep = Annotated[User, Depends(current_user)]
MAX_EXPORT_ROWS = 100_000


def mention_out(rec: dict[str, Any]) -> dict[str, Any]:
    rec = {k: v for k, v in rec.items() if k in MentionOut.model_fields}
    rec["sentiment_label"] = sentiment_label(rec.get("sentiment"))
    return rec


def _check_unmasked(user: User, unmasked: bool) -> None:
    if unmasked and not user.is_handler:
        raise HTTPException(403, detail="查看未脱敏内容需要处理人 (handler) 权限")


@router.get("/mentions", response_model=MentionPage, summary="提及列表（筛选、全文搜索、分页）")
def list_mentions(
    f: Filter,
    conn: Conn,
    user: UserDep,
    order: Literal["newest", "oldest", "risk", "engagement"] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    unmasked: bool = False,
) -> dict[str, Any]:
    _check_unmasked(user, unmasked)
    rows, more = find_mentions(conn, f, order=order, limit=limit, offset=offset, unmasked=unmasked)
    return {"items": [mention_out(r) for r in rows], "limit": limit, "offset": offset, "has_more": more}


@router.get("/mentions/{mention_id}", response_model=MentionOut, summary="单条提及")
def get_mention(
    mention_id: Annotated[int, Path(ge=1, le=2**62)], conn: Conn, user: UserDep, unmasked: bool = False
) -> dict[str, Any]:

    _check_unmasked(user, unmasked)
    row = conn.execute(
        select(*[MENTIONS.c[c] for c in ROW_COLUMNS]).where(MENTIONS.c.id == mention_id)
    ).first()
    if row is None:
        raise HTTPException(404, detail=f"提及 {mention_id} 不存在")
    return mention_out(to_record(row, unmasked=unmasked))


@router.get(
    "/mentions/{mention_id}/thread", response_model=MentionThread, summary="提及所在的帖子、评论与投诉单"
)
def mention_thread(
    mention_id: Annotated[int, Path(ge=1, le=2**62)],
    conn: Conn,
    user: UserDep,
    unmasked: bool = False,
    limit: Annotated[int, Query(ge=1, le=200, description="comments at most")] = 50,
) -> dict[str, Any]:
    """The post a mention belongs to (itself for a post), that post's stored comments (most
    engaged first), and the complaint records the mention is linked to."""

    _check_unmasked(user, unmasked)
    cols = [MENTIONS.c[c] for c in ROW_COLUMNS]
    row = conn.execute(select(*cols, MENTIONS.c.parent_post_id).where(MENTIONS.c.id == mention_id)).first()
    if row is None:
        raise HTTPException(404, detail=f"提及 {mention_id} 不存在")
    post_id = row.parent_post_id if row.kind == "comment" and row.parent_post_id else row.post_id
    post = (
        row
        if row.kind != "comment"
        else conn.execute(
            select(*cols).where(MENTIONS.c.platform == row.platform, MENTIONS.c.post_id == post_id)
        ).first()
    )
    comments = conn.execute(
        select(*cols)
        .where(
            MENTIONS.c.platform == row.platform,
            MENTIONS.c.parent_post_id == post_id,
            MENTIONS.c.kind == "comment",
        )
        .order_by(MENTIONS.c.likes.desc(), MENTIONS.c.id)
        .limit(limit)
    ).all()
    complaints, links = COMPLAINTS, COMPLAINT_MENTIONS
    recs = (
        conn.execute(
            select(
                complaints.c.id,
                complaints.c.number,
                complaints.c.status,
                complaints.c.urgency,
                complaints.c.category,
            )
            .join(links, links.c.complaint_id == complaints.c.id)
            .where(links.c.mention_id == mention_id)
            .order_by(complaints.c.id)
        )
        .mappings()
        .all()
    )
    return {
        "mention": mention_out(to_record(row, unmasked=unmasked)),
        "post": mention_out(to_record(post, unmasked=unmasked)) if post is not None else None,
        "comments": [mention_out(to_record(c, unmasked=unmasked)) for c in comments],
        "complaints": [dict(r) for r in recs],
    }


@router.get(
    "/export",
    summary="导出 CSV / XLSX（默认脱敏）",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
def export(
    f: Filter,
    conn: Conn,
    cfg: Cfg,
    user: UserDep,
    format: Literal["csv", "xlsx"] = "csv",
    unmasked: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = 10_000,
) -> Response:

    _check_unmasked(user, unmasked)
    body, media, name = export_bytes(
        conn, f, fmt=format, unmasked=unmasked, limit=limit, tz=cfg.scheduler.timezone, actor=user.name
    )
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- stats ------------------------------------------------------------------------

stats = APIRouter(prefix="/api/stats", tags=["stats"])


def _ranged(f: MentionFilter, default_days: int = 7) -> MentionFilter:
    if f.since is None:
        return f.model_copy(update={"since": (f.until or utcnow()) - timedelta(days=default_days)})
    return f


@stats.get("/summary", response_model=Summary, summary="总量、负面、投诉")
def stats_summary(f: Filter, conn: Conn, user: UserDep) -> dict[str, Any]:
    return summary(conn, f)


@stats.get("/trend", response_model=list[TrendPoint], summary="声量与负面占比趋势（默认近 7 天）")
def stats_trend(
    f: Filter, conn: Conn, cfg: Cfg, user: UserDep, bucket: Literal["hour", "day"] = "day"
) -> list[dict[str, Any]]:
    f = _ranged(f)
    if bucket == "hour" and f.since and (f.until or utcnow()) - f.since > timedelta(days=31):
        raise bad_request("按小时统计的时间范围不能超过 31 天")
    return volume_trend(conn, f, bucket=bucket, tz=cfg.scheduler.timezone)


@stats.get("/distribution", response_model=list[Slice], summary="按维度分布")
def stats_distribution(
    f: Filter,
    conn: Conn,
    cfg: Cfg,
    user: UserDep,
    dim: Literal["sentiment", "category", "platform", "region", "urgency", "kind", "customer"] = "sentiment",
    limit: Annotated[int, Query(ge=1, le=100)] = 40,
) -> list[dict[str, Any]]:
    return distribution(conn, f, dim, limit=limit, big_v=cfg.analysis.big_v_followers)


@stats.get("/words", response_model=list[WordCount], summary="高频词")
def stats_words(
    f: Filter, conn: Conn, cfg: Cfg, user: UserDep, limit: Annotated[int, Query(ge=1, le=200)] = 40
) -> list[dict[str, Any]]:
    return top_words(conn, f, limit=limit, exclude=_brand_words(cfg))


@stats.get("/surges", response_model=list[SurgeMark], summary="突增标记")
def stats_surges(f: Filter, conn: Conn, user: UserDep) -> list[dict[str, Any]]:
    return surges(conn, _ranged(f))


@stats.get("/overview", response_model=Overview, summary="仪表盘一次取全：汇总、趋势、分布、高频词")
def stats_overview(
    f: Filter, conn: Conn, cfg: Cfg, user: UserDep, bucket: Literal["hour", "day"] = "day"
) -> dict[str, Any]:
    f = _ranged(f)
    if bucket == "hour" and f.since and (f.until or utcnow()) - f.since > timedelta(days=31):
        raise bad_request("按小时统计的时间范围不能超过 31 天")
    big_v = cfg.analysis.big_v_followers
    return {
        "summary": summary(conn, f),
        "trend": volume_trend(conn, f, bucket=bucket, tz=cfg.scheduler.timezone),
        "surges": surges(conn, f),
        **{
            dim: distribution(conn, f, dim, big_v=big_v)
            for dim in ("sentiment", "category", "platform", "region", "customer")
        },
        "words": top_words(conn, f, limit=40, exclude=_brand_words(cfg)),
    }


def _brand_words(cfg: Any) -> set[str]:
    return {w for b in cfg.brands for w in b.all_names}
