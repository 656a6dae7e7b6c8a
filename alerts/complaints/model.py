"""The complaint model's rules, defined once: statuses, the workflow, the SLA milestones and "overdue".

Everything that tells whether a record is overdue reads it from here: the sweeper
(``alerts.complaints.sla``), the read module (``crawler.analytics.complaints``: the API, the dashboard,
``yuqing complaints list|export``), reports and ``yuqing status``. Python code asks
:func:`overdue_on` / :func:`is_overdue`, SQL asks :func:`overdue_on_clause` /
:func:`overdue_clause`; both are built from the same :data:`MILESTONES` table.

**Overdue.** A record is overdue on a milestone when the milestone's clock runs in the
record's status (the four handling milestones while the record is open: 待处理, 处理中,
已升级; the callback while it is 已解决, awaiting the callback), the milestone has a
deadline, the deadline has passed (``now > due``: the deadline instant itself is still on
time, as a milestone met exactly at its deadline is met in time), and none of the columns
that mark the milestone met is set. A record is overdue when it is overdue on any milestone.
A closed record (已关闭) is never overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from crawler.storage.models import COMPLAINTS

OPEN_STATUSES: tuple[str, ...] = ("待处理", "处理中", "已升级")
RESOLVED = "已解决"
CALLED_BACK = "已回访"
CLOSED = "已关闭"
STATUSES: tuple[str, ...] = (*OPEN_STATUSES, RESOLVED, CALLED_BACK, CLOSED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "待处理": ("处理中", "已升级", "已解决", "已关闭"),
    "处理中": ("已升级", "已解决", "已关闭"),
    "已升级": ("处理中", "已解决", "已关闭"),
    "已解决": ("已回访", "处理中", "已关闭"),
    "已回访": ("已关闭", "处理中"),
    "已关闭": (),
}


@dataclass(frozen=True, slots=True)
class Milestone:
    """One SLA milestone of a record."""

    key: str
    due: str  # the column holding its deadline
    done: tuple[str, ...]  # the columns that mark it met (any of them)
    name: str  # Chinese name on the board, in reports and exports
    title: str  # Chinese name in the sweeper's notices
    minutes: str | None  # the SlaTimes attribute that sets the deadline at registration (None: set later)
    statuses: tuple[str, ...]  # the statuses in which its clock runs


MILESTONES: dict[str, Milestone] = {
    m.key: m
    for m in (
        Milestone(
            "report", "due_report_at", ("reported_at",), "上报", "上报", "report_minutes", OPEN_STATUSES
        ),
        Milestone(
            "first_check",
            "due_first_check_at",
            ("first_checked_at",),
            "初步核实",
            "初步核实",
            "first_check_minutes",
            OPEN_STATUSES,
        ),
        Milestone(
            "answer",
            "due_answer_at",
            ("answered_at", "resolved_at"),
            "答复",
            "答复处理结果",
            "answer_minutes",
            OPEN_STATUSES,
        ),
        Milestone(
            "resolve",
            "due_resolve_at",
            ("resolved_at", "escalated_at"),
            "处理完成或升级",
            "处理完成或升级",
            "resolve_minutes",
            OPEN_STATUSES,
        ),
        # due ``callback_days`` after resolution (alerts.complaints.clock.callback_due), met by 已回访
        Milestone("callback", "callback_due_at", ("callback_done_at",), "回访", "回访", None, (RESOLVED,)),
    )
}
# the milestones whose deadlines are set at registration from [complaints.sla.<urgency>]
REGISTRATION_MILESTONES: tuple[Milestone, ...] = tuple(m for m in MILESTONES.values() if m.minutes)


# --- Python ---------------------------------------------------------------------------


def done_at(rec: dict[str, Any], key: str) -> datetime | None:
    """When the milestone was met (the earliest of its done columns), or None."""
    return min((rec[c] for c in MILESTONES[key].done if rec.get(c) is not None), default=None)


def runs(rec: dict[str, Any], key: str) -> bool:
    """Whether the milestone's clock runs in the record's current status."""
    return rec.get("status") in MILESTONES[key].statuses


def overdue_on(rec: dict[str, Any], key: str, now: datetime) -> bool:
    """The record is overdue on this milestone at ``now`` (see the module docstring)."""
    m = MILESTONES[key]
    due = rec.get(m.due)
    return runs(rec, key) and due is not None and now > due and done_at(rec, key) is None


def overdue_milestones(rec: dict[str, Any], now: datetime) -> list[str]:
    """The keys of the milestones the record is overdue on at ``now``."""
    return [key for key in MILESTONES if overdue_on(rec, key, now)]


def is_overdue(rec: dict[str, Any], now: datetime) -> bool:
    return any(overdue_on(rec, key, now) for key in MILESTONES)


def due_soon_on(rec: dict[str, Any], key: str, now: datetime, minutes: float) -> bool:
    """Not overdue yet, but the deadline falls within ``minutes`` (the deadline instant included)."""
    m = MILESTONES[key]
    due = rec.get(m.due)
    return (
        runs(rec, key)
        and due is not None
        and now <= due <= now + timedelta(minutes=minutes)
        and done_at(rec, key) is None
    )


def milestone_state(rec: dict[str, Any], key: str, now: datetime) -> str | None:
    """The milestone as the board shows it: done, late (met after its deadline, or left unmet when its
    clock stopped after the deadline), pending, overdue; None when it has neither deadline nor date."""
    m = MILESTONES[key]
    due, done = rec.get(m.due), done_at(rec, key)
    if due is None and done is None:
        return None
    if done is not None:
        return "late" if due is not None and done > due else "done"
    if rec.get("status") == CLOSED:
        return "done"  # closing a record stops every clock
    if overdue_on(rec, key, now):
        return "overdue"
    return "late" if due is not None and now > due and not runs(rec, key) else "pending"


# --- SQL ------------------------------------------------------------------------------


def _unmet(m: Milestone) -> list[ColumnElement[bool]]:
    c = COMPLAINTS.c
    return [c.status.in_(m.statuses), c[m.due].is_not(None), *(c[d].is_(None) for d in m.done)]


def overdue_on_clause(key: str, now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`overdue_on`."""
    m = MILESTONES[key]
    return and_(*_unmet(m), COMPLAINTS.c[m.due] < now)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`is_overdue`."""
    return or_(*(overdue_on_clause(key, now) for key in MILESTONES))


def due_soon_clause(now: datetime, minutes: float) -> ColumnElement[bool]:
    """SQL: the record is due soon on some milestone (:func:`due_soon_on`)."""
    parts = []
    for m in MILESTONES.values():
        due = COMPLAINTS.c[m.due]
        parts.append(and_(*_unmet(m), due >= now, due <= now + timedelta(minutes=minutes)))
    return or_(*parts)
