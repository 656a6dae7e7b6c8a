"""``/api/complaints``: the complaint board (list, detail) and the workflow (status, notes, assignment).

Reading needs any token; changing a record needs the ``handler`` role. Changes go
through ``alerts.complaints.records`` (validation, history rows) in one transaction; an
invalid change is a 409 with the workflow's reason, an unknown record a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import select
from sqlalchemy.engine import Connection

from alerts.complaints import records as complaints
from crawler.analytics.complaints import (
    RELATION_NAMES,
    event_records,
    link_stats,
    list_complaints,
    present,
    workflow_statuses,
)
from crawler.analytics.query import ROW_COLUMNS, to_record
from crawler.api.auth import User, current_user, handler_user
from crawler.api.deps import Cfg, Conn, Tx, bad_request, resolve_brand, split_values
from crawler.api.routes_mentions import mention_out
from crawler.api.schemas import AssignIn, ComplaintDetail, ComplaintPage, NoteIn, StatusIn, VerdictIn
from crawler.clock import utcnow
from crawler.config import URGENCIES
from crawler.storage.models import COMPLAINT_MENTIONS as LINKS
from crawler.storage.models import COMPLAINTS, MENTIONS

router = APIRouter(prefix="/api/complaints", tags=["complaints"])
IdPath = Annotated[int, Path(ge=1, le=2**62, description="record id")]


def _workflow() -> Any:

    return complaints


def _load(conn: Connection, complaint_id: int) -> dict[str, Any]:
    wf = _workflow()
    try:
        return dict(wf.get(conn, complaint_id))
    except wf.ComplaintError as exc:
        raise HTTPException(404, detail=f"投诉单 {complaint_id} 不存在") from exc


MAX_DETAIL_MENTIONS = 200


def _detail(conn: Connection, rec: dict[str, Any]) -> dict[str, Any]:
    wf = _workflow()
    statuses, transitions = workflow_statuses()
    links = [
        {
            **link,
            "relation": link["relation"] or "source",
            "relation_name": RELATION_NAMES.get(link["relation"] or "source", link["relation"] or ""),
        }
        for link in wf.links(conn, rec["id"])
    ]
    m = MENTIONS.c
    source = rec.get("mention_id") or -1
    rows = conn.execute(
        select(*[m[c] for c in ROW_COLUMNS])
        .where(m.id.in_(select(LINKS.c.mention_id).where(LINKS.c.complaint_id == rec["id"])))
        .order_by((m.id == source).desc(), (m.likes + m.comments + m.shares).desc(), m.id)
        .limit(MAX_DETAIL_MENTIONS)
    ).all()
    mentions = [mention_out(to_record(r)) for r in rows]
    url = next((x["url"] for x in mentions if x["id"] == rec.get("mention_id")), None)
    history = [
        {k: h.get(k) for k in ("at", "actor", "action", "field", "old", "new", "note")}
        for h in wf.history(conn, rec["id"])
    ]
    stats = link_stats(conn, [rec["id"]]).get(rec["id"])
    records = event_records(conn, [rec["event_id"]]).get(rec["event_id"]) if rec.get("event_id") else None
    return {
        **present(rec, utcnow(), url, stats=stats, records=records),
        "history": history,
        "mentions": mentions,
        "links": links,
        "allowed_statuses": list(transitions.get(rec["status"], ())),
    }


@router.get("", response_model=ComplaintPage, summary="投诉单列表（看板）")
def complaints_list(
    conn: Conn,
    cfg: Cfg,
    user: Annotated[User, Depends(current_user)],
    brand: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[list[str] | None, Query(max_length=10)] = None,
    urgency: Annotated[list[str] | None, Query(max_length=5)] = None,
    overdue: bool | None = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    event_id: Annotated[
        int | None, Query(ge=1, le=2**62, description="only the records of this event")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> dict[str, Any]:
    statuses, _ = workflow_statuses()
    wanted, urg = split_values(status), split_values(urgency)
    if bad := [s for s in wanted if s not in statuses]:
        raise bad_request(f"未知状态 {bad[0]!r}（可选：{'、'.join(statuses)}）")
    if bad := [u for u in urg if u not in URGENCIES]:
        raise bad_request(f"未知紧急程度 {bad[0]!r}（可选：{'、'.join(URGENCIES)}）")
    items, more = list_complaints(
        conn,
        brand=resolve_brand(cfg, brand),
        statuses=wanted,
        urgencies=urg,
        overdue=overdue,
        assignee=assignee or None,
        event_id=event_id,
        limit=limit,
        offset=offset,
    )
    return {"items": items, "limit": limit, "offset": offset, "has_more": more, "statuses": list(statuses)}


@router.get("/number/{number}", response_model=ComplaintDetail, summary="按编号查投诉单（告警链接用）")
def complaint_by_number(
    number: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")],
    conn: Conn,
    user: Annotated[User, Depends(current_user)],
) -> dict[str, Any]:

    table = COMPLAINTS
    found = conn.execute(select(table.c.id).where(table.c.number == number)).scalar()
    if found is None:
        raise HTTPException(404, detail=f"投诉单 {number} 不存在")
    return _detail(conn, _load(conn, int(found)))


@router.get("/{complaint_id}", response_model=ComplaintDetail, summary="投诉单详情（含历史与关联提及）")
def complaint_detail(
    complaint_id: IdPath, conn: Conn, user: Annotated[User, Depends(current_user)]
) -> dict[str, Any]:
    return _detail(conn, _load(conn, complaint_id))


def _apply(conn: Connection, complaint_id: int, change: Any) -> dict[str, Any]:
    wf = _workflow()
    _load(conn, complaint_id)
    try:
        rec = change(wf)
    except wf.ComplaintError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return _detail(conn, dict(rec))


@router.post("/{complaint_id}/status", response_model=ComplaintDetail, summary="变更状态（处理人）")
def complaint_status(
    complaint_id: IdPath, body: StatusIn, conn: Tx, user: Annotated[User, Depends(handler_user)]
) -> dict[str, Any]:
    statuses, _ = workflow_statuses()
    if body.status not in statuses:
        raise bad_request(f"未知状态 {body.status!r}（可选：{'、'.join(statuses)}）")
    return _apply(
        conn,
        complaint_id,
        lambda wf: wf.change_status(
            conn, complaint_id, body.status, actor=user.name, note=(body.note or "").strip() or None
        ),
    )


@router.post("/{complaint_id}/notes", response_model=ComplaintDetail, summary="添加备注 / 答复（处理人）")
def complaint_note(
    complaint_id: IdPath, body: NoteIn, conn: Tx, user: Annotated[User, Depends(handler_user)]
) -> dict[str, Any]:
    if not body.note.strip():
        raise bad_request("备注不能为空")
    return _apply(
        conn,
        complaint_id,
        lambda wf: wf.add_note(
            conn, complaint_id, actor=user.name, note=body.note.strip(), answer=body.answer
        ),
    )


@router.post(
    "/{complaint_id}/verdict",
    response_model=ComplaintDetail,
    summary="纠正判定：误报、改类别或改紧急程度（处理人）",
)
def complaint_verdict(
    complaint_id: IdPath, body: VerdictIn, conn: Tx, cfg: Cfg, user: Annotated[User, Depends(handler_user)]
) -> dict[str, Any]:
    category = (body.category or "").strip() or None
    urgency = (body.urgency or "").strip() or None
    if not body.not_complaint and category is None and urgency is None:
        raise bad_request("请选择“误报”，或填写正确的类别或紧急程度")
    if urgency is not None and urgency not in URGENCIES:
        raise bad_request(f"未知紧急程度 {urgency!r}（可选：{'、'.join(URGENCIES)}）")
    return _apply(
        conn,
        complaint_id,
        lambda wf: wf.correct_verdict(
            conn,
            complaint_id,
            actor=user.name,
            not_complaint=body.not_complaint,
            category=category,
            urgency=urgency,
            cfg=cfg,
            note=(body.note or "").strip() or None,
        ),
    )


@router.post("/{complaint_id}/assign", response_model=ComplaintDetail, summary="分派（处理人）")
def complaint_assign(
    complaint_id: IdPath, body: AssignIn, conn: Tx, user: Annotated[User, Depends(handler_user)]
) -> dict[str, Any]:
    assignee, team = (body.assignee or "").strip() or None, (body.team or "").strip() or None
    if not assignee and not team:
        raise bad_request("请填写处理人或处理组")
    return _apply(
        conn,
        complaint_id,
        lambda wf: wf.assign(
            conn, complaint_id, assignee=assignee, team=team, actor=user.name, note=body.note
        ),
    )
