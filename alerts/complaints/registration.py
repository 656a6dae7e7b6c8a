"""Complaint registration for a triage batch, by story and by person, in the crawl's transaction.

A record is a consumer's complaint: someone with a problem of their own who needs an answer.
Each mention the rubric calls a complaint with ``risk >= [complaints].min_risk`` is decided
in this order:

1. **the same customer again** (same brand, platform and author, an open record about the
   same category or event within ``repeat_window_days``): it joins that record and may raise
   its urgency (relation ``repeat``);
2. **the same story** (an open record of its event, of the post it comments on, or of the
   post it reposts): when its author states no grievance of their own
   (:func:`alerts.complaints.grievance.judge`: a repost, a near-copy, a comment that echoes, supports
   or advises), it joins that record as evidence (relation ``repost``, ``copy`` or
   ``comment``); its spread and escalation signals (a big-V, a viral post, the record's
   combined engagement, the author's own escalation) raise the record to 非常紧急;
3. otherwise it **opens a record**, also inside a crisis event when its author has a grievance
   of their own (own order, purchase, amount, harm, child): linked to the event and, by
   default, assigned like the event's first open record. A comment without a grievance of
   its own and without a record to join is not registered (it is not the commenter's
   complaint).

Each decision is written down in Chinese: a new record's ``reasons`` start with why it was
opened ("评论者自述问题（本人订单），新建"), each joined mention's link carries why it joined
("转发同一事件，并入 TS…") and the record's history sums up each batch's joins.

**Groups.** When an event has ``group_min_records`` records (consumers with their own
grievance), its open records are tagged ``群体投诉`` and raised to 非常紧急 (RUBRIC.md: many
people report the same problem at once); triage reports the group once.

**Clocks.** A join never changes when a record was registered; a raised urgency recomputes
the deadlines from the registration time (:func:`alerts.complaints.records.set_urgency`), as before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import bindparam, func, insert, select, tuple_, update

from alerts.complaints import clock, customers, grievance
from alerts.complaints.model import OPEN_STATUSES
from alerts.complaints.records import (
    SYSTEM,
    get,
    next_numbers,
    pick_assignee,
    set_urgency,
)
from alerts.delivery.payloads import masked_excerpt
from alerts.rules import is_brand_voice, rank, urgency_of_rank
from crawler.clock import utcnow
from crawler.config import PLATFORM_NAMES
from crawler.storage.models import COMPLAINT_HISTORY as HISTORY
from crawler.storage.models import COMPLAINT_MENTIONS as LINKS
from crawler.storage.models import COMPLAINTS, MENTIONS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from crawler.config import AppConfig

Key = tuple[str, str, str]  # brand, platform, author id
# What deciding needs of an open record (the rest is loaded for the records a batch touches or reports).
_LIGHT = [
    COMPLAINTS.c[n]
    for n in (
        "id",
        "number",
        "brand",
        "platform",
        "mention_id",
        "event_id",
        "customer_platform",
        "customer_id",
        "customer_tags",
        "category",
        "urgency",
        "risk",
        "tags",
        "assignee",
        "team",
        "status",
        "registered_at",
    )
]
GROUP_TAG = "群体投诉"
RELATION_NAMES = {
    "source": "首帖",
    "repeat": "同一客户再次发帖",
    "repost": "转发",
    "copy": "近似内容",
    "comment": "评论",
}


def eligible(cfg: AppConfig, m: dict[str, Any]) -> bool:
    """Whether the rubric calls ``m`` a complaint above ``[complaints].min_risk``."""
    return (
        cfg.complaints.enabled
        and bool(m.get("is_complaint"))
        and int(m.get("risk") or 0) >= cfg.complaints.min_risk
    )


def base_urgency(m: dict[str, Any]) -> str:
    """The analysed urgency, else the risk band (RUBRIC.md); Heimao complaints are at least 紧急."""
    urgency = m.get("urgency")
    if rank(urgency) == 0:
        risk = int(m.get("risk") or 0)
        urgency = "非常紧急" if risk >= 80 else "紧急" if risk >= 60 else "一般"
    if m.get("platform") == "heimao" and rank(urgency) < 2:
        urgency = "紧急"
    return str(urgency)


def summary(m: dict[str, Any], category: str | None) -> str:
    """A one-line Chinese summary from the PII-masked text."""
    name = m.get("author_name") or "匿名用户"
    excerpt = masked_excerpt(m, 80)
    where = PLATFORM_NAMES.get(m.get("platform") or "", m.get("platform") or "")
    return f"{where}用户「{name}」反映{category or '其他'}问题：{excerpt}"


def engagement(m: dict[str, Any]) -> int:
    return int(m.get("likes") or 0) + int(m.get("comments") or 0) + int(m.get("shares") or 0)


def reposted_id(m: dict[str, Any]) -> str | None:
    """The post id a mention reposts, when the platform says so (Weibo ``retweeted``, the simulator's ``repost_of``)."""
    extra = m.get("extra") or {}
    if not isinstance(extra, dict):
        return None
    rt = extra.get("retweeted")
    if isinstance(rt, dict) and rt.get("id"):
        return str(rt["id"])
    return str(extra["repost_of"]) if extra.get("repost_of") else None


def is_repost(m: dict[str, Any]) -> bool:
    """A repost by the platform's metadata or by the text's own marks (//@, 转发…)."""
    text = (m.get("text") or "").lstrip()
    return bool(reposted_id(m)) or "//@" in text or text.startswith(("转发", "转:", "转：", "扩散", "Repost"))


def _text(m: dict[str, Any]) -> str:
    title = (m.get("title") or "").strip()
    return f"{title}。{m.get('text') or ''}" if title else str(m.get("text") or "")


@dataclass(slots=True)
class Registration:
    """What happened to one mention: a new record, or joined to an open one (and how)."""

    complaint: dict[str, Any]
    created: bool
    urgency_raised: bool = False
    relation: str = "source"
    note: str | None = None


@dataclass(slots=True)
class Group:
    """The records of one event that make a 群体投诉 (after this batch)."""

    event_id: int
    size: int  # records of the event, any status
    members: list[dict[str, Any]]  # its open records
    new: set[int]  # ids of the members created in this batch


class Registrations(dict[int, Registration]):
    """The batch's registrations by mention id, and its groups by event id."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[int, Group] = {}
        self.skipped: int = 0  # comments with no grievance of their own and no record to join


@dataclass(slots=True)
class _Spread:
    """How far a record's story went: its linked mentions, their engagement, platforms, biggest author."""

    count: int = 0
    engagement: int = 0
    max_followers: int = 0
    platforms: Counter[str] = field(default_factory=Counter)

    def add(self, m: dict[str, Any]) -> None:
        self.count += 1
        self.engagement += engagement(m)
        self.max_followers = max(self.max_followers, int(m.get("author_followers") or 0))
        self.platforms[m["platform"]] += 1


@dataclass(slots=True)
class _Rec:
    """A record this batch may touch: an open one from the database, or one it creates."""

    values: dict[str, Any]
    new: bool
    story: AbstractSet[str] = field(default_factory=set)
    spread: _Spread = field(default_factory=_Spread)
    links: list[dict[str, Any]] = field(
        default_factory=list
    )  # new links: mention_id, relation, note (templates)
    history: list[dict[str, Any]] = field(default_factory=list)
    joined: Counter[str] = field(default_factory=Counter)  # story joins of this batch per relation
    joined_ids: list[int] = field(default_factory=list)
    wanted: str | None = None  # an existing record's urgency to raise to (applied once, at the end)
    why: list[str] = field(default_factory=list)
    raised: bool = False
    lead: _Rec | None = None  # the event's first open record when this one was opened beside it
    tagged: bool = False  # got the group tag in this batch
    touched: bool = False


class _Batch:
    def __init__(self, conn: Connection, cfg: AppConfig, now: datetime) -> None:
        self.conn, self.cfg, self.now = conn, cfg, now
        self.profiles: dict[tuple[str, str], customers.Profile] = {}
        self.recs: dict[int, _Rec] = {}  # existing records by id
        self.by_customer: dict[Key, list[_Rec]] = defaultdict(list)
        self.by_event: dict[int, list[_Rec]] = defaultdict(list)
        self.by_post: dict[tuple[str, str], _Rec] = {}
        self.pending: list[_Rec] = []
        self.deltas: dict[
            tuple[str, str], list[Any]
        ] = {}  # (platform, author) -> [complaints, escalations, tags]
        self.decided: list[tuple[int, _Rec, str, bool]] = []  # (mention id, record, relation, created)
        self.grouped: dict[int, int] = {}  # event id -> records of the event (any status) after this batch
        self.out = Registrations()

    # -- loading -------------------------------------------------------------------

    def _rec(self, row: dict[str, Any]) -> _Rec:
        rec = self.recs.get(int(row["id"]))
        if rec is None:
            rec = self.recs[int(row["id"])] = _Rec(dict(row), new=False)
        return rec

    def prefetch(self, todo: list[dict[str, Any]]) -> None:
        people = {(m["platform"], str(m["author_id"])) for m in todo if m.get("author_id")}
        self.profiles = customers.profiles(self.conn, people)
        c = COMPLAINTS.c
        keys = {k for m in todo if (k := _key(m))}
        since = self.now - timedelta(days=self.cfg.complaints.repeat_window_days)
        for platform in sorted({k[1] for k in keys}):
            ids = sorted({k[2] for k in keys if k[1] == platform})
            for start in range(0, len(ids), 500):
                rows = self.conn.execute(
                    select(*_LIGHT)
                    .where(
                        c.customer_platform == platform,
                        c.customer_id.in_(ids[start : start + 500]),
                        c.status.in_(OPEN_STATUSES),
                        c.registered_at >= since,
                    )
                    .order_by(c.registered_at.desc(), c.id.desc())
                ).mappings()
                for r in rows:
                    self.by_customer[(r["brand"], platform, r["customer_id"])].append(self._rec(dict(r)))
        events = sorted({int(m["event_id"]) for m in todo if m.get("event_id")})
        for start in range(0, len(events), 500):
            rows = self.conn.execute(
                select(*_LIGHT)
                .where(
                    c.event_id.in_(events[start : start + 500]),
                    c.status.in_(OPEN_STATUSES),
                )
                .order_by(c.registered_at, c.id)
            ).mappings()
            for r in rows:
                self.by_event[int(r["event_id"])].append(self._rec(dict(r)))
        self._load_posts(todo)
        self._load_stories()

    def _load_posts(self, todo: list[dict[str, Any]]) -> None:
        """Open records holding the posts the batch's comments answer and its reposts repeat."""
        wanted: set[tuple[str, str]] = set()
        for m in todo:
            if m.get("parent_post_id"):
                wanted.add((m["platform"], str(m["parent_post_id"])))
            if (rid := reposted_id(m)) is not None:
                wanted.add((m["platform"], rid))
        pairs = sorted(wanted)
        for start in range(0, len(pairs), 300):
            chunk = pairs[start : start + 300]
            rows = self.conn.execute(
                select(*_LIGHT, MENTIONS.c.platform.label("_p"), MENTIONS.c.post_id.label("_post"))
                .select_from(
                    LINKS.join(MENTIONS, MENTIONS.c.id == LINKS.c.mention_id).join(
                        COMPLAINTS, COMPLAINTS.c.id == LINKS.c.complaint_id
                    )
                )
                .where(
                    tuple_(MENTIONS.c.platform, MENTIONS.c.post_id).in_(chunk),
                    COMPLAINTS.c.status.in_(OPEN_STATUSES),
                )
                .order_by(COMPLAINTS.c.registered_at, COMPLAINTS.c.id)
            ).mappings()
            for r in rows:
                row = {k: v for k, v in r.items() if k not in ("_p", "_post")}
                self.by_post.setdefault((r["_p"], r["_post"]), self._rec(row))

    def _load_stories(self) -> None:
        """Each loaded record's story (its source post's text) and spread (its linked mentions)."""
        ids = sorted(self.recs)
        sources = {
            rec.values["mention_id"]: rec for rec in self.recs.values() if rec.values.get("mention_id")
        }
        src = sorted(sources)
        for start in range(0, len(src), 500):
            for r in self.conn.execute(
                select(MENTIONS.c.id, MENTIONS.c.title, MENTIONS.c.text).where(
                    MENTIONS.c.id.in_(src[start : start + 500])
                )
            ).mappings():
                sources[r["id"]].story = grievance.source_story(r["title"], r["text"])
        m = MENTIONS.c
        for start in range(0, len(ids), 500):
            stmt = (
                select(
                    LINKS.c.complaint_id,
                    m.platform,
                    func.count(),
                    func.sum(m.likes + m.comments + m.shares),
                    func.max(m.author_followers),
                )
                .select_from(LINKS.join(MENTIONS, m.id == LINKS.c.mention_id))
                .where(LINKS.c.complaint_id.in_(ids[start : start + 500]))
                .group_by(LINKS.c.complaint_id, m.platform)
            )
            for cid, platform, n, eng, top in self.conn.execute(stmt):
                s = self.recs[int(cid)].spread
                s.count += int(n)
                s.engagement += int(eng or 0)
                s.max_followers = max(s.max_followers, int(top or 0))
                s.platforms[platform] += int(n)

    # -- deciding --------------------------------------------------------------------

    def _match_customer(self, m: dict[str, Any]) -> _Rec | None:
        key = _key(m)
        for rec in self.by_customer.get(key, []) if key else []:
            v = rec.values
            if v["category"] == (m.get("category") or "其他") or (
                m.get("event_id") and v["event_id"] == m["event_id"]
            ):
                return rec
        return None

    def _anchor(self, m: dict[str, Any]) -> _Rec | None:
        """The open record of ``m``'s story: its post's, its original's, else its event's closest."""
        if m.get("parent_post_id") and (rec := self.by_post.get((m["platform"], str(m["parent_post_id"])))):
            return rec
        if (rid := reposted_id(m)) is not None and (rec := self.by_post.get((m["platform"], rid))):
            return rec
        recs = self.by_event.get(int(m["event_id"])) if m.get("event_id") else None
        if not recs:
            return None
        if len(recs) == 1 or m.get("parent_post_id"):
            return recs[0]
        grams = grievance.bigrams(_text(m))
        n = len(grams)

        def closeness(ir: tuple[int, _Rec]) -> tuple[float, int]:
            story = ir[1].story
            inter = len(grams & story)
            return inter / ((n + len(story) - inter) or 1), -ir[0]  # Jaccard, earliest record first

        return max(enumerate(recs), key=closeness)[1]

    def add(self, m: dict[str, Any]) -> None:
        if is_brand_voice(self.cfg, m):  # the brand answering is never a complaint of the brand
            return
        rec = self._match_customer(m)
        if rec is not None:
            self._join_repeat(rec, m)
            return
        repost, comment = is_repost(m), bool(m.get("parent_post_id")) or m.get("kind") == "comment"
        anchor = self._anchor(m)
        story = set(anchor.story) if anchor else set()
        rt = (m.get("extra") or {}).get("retweeted") if isinstance(m.get("extra"), dict) else None
        if isinstance(rt, dict):
            story |= grievance.story_of([rt.get("text")])
        stance = grievance.judge(
            _text(m),
            author_name=m.get("author_name"),
            story=story or None,
            formal=m.get("platform") == "heimao" or m.get("kind") == "complaint",
            repost=repost,
            implicit=not comment and not repost,
        )
        if anchor is None:
            if comment and not stance.own:
                self.out.skipped += 1
                logger.debug(
                    "mention {id}: comment ({kind}) without a record to join, not registered",
                    id=m["id"],
                    kind=stance.kind,
                )
                return
            self._new(m, stance, lead=None, comment=comment, repost=repost)
        elif stance.own:
            lead = self.by_event.get(int(m["event_id"]), [anchor])[0] if m.get("event_id") else anchor
            self._new(m, stance, lead=lead, comment=comment, repost=repost)
        else:
            self._join_story(anchor, m, "comment" if comment else "repost" if repost else "copy", stance)

    def _delta(self, m: dict[str, Any], *, complaint: bool, escalation: bool, tags: list[str] | None) -> None:
        if not m.get("author_id") or not (complaint or escalation or tags is not None):
            return
        who = (m["platform"], str(m["author_id"]))
        d = self.deltas.setdefault(who, [0, 0, None])
        d[0] += int(complaint)
        d[1] += int(escalation)
        if tags is not None:
            d[2] = tags
        prof = self.profiles.setdefault(who, customers.Profile())
        prof.complaints += int(complaint)
        prof.escalations += int(escalation)
        if complaint:
            prof.platforms[m["platform"]] = prof.platforms.get(m["platform"], 0) + 1

    def _new(
        self, m: dict[str, Any], stance: grievance.Stance, *, lead: _Rec | None, comment: bool, repost: bool
    ) -> None:
        author = str(m["author_id"]) if m.get("author_id") else None
        prof = self.profiles.get((m["platform"], author or ""), customers.Profile())
        escalating = stance.escalation if lead is not None else customers.is_escalation(m)
        who = "评论者" if comment else "转发者" if repost else ""
        if stance.own:
            decision = f"{who}自述问题（{stance.why}），新建"
        else:
            decision = "同一事件的首条投诉帖，新建（其后的转发、评论并入本单）"
        if lead is not None:
            decision += "；同一事件已有 {lead}"
        urgency, reasons = base_urgency(m), [decision, *(m.get("reasons") or [])]
        if prof.escalations and rank(urgency) < 3:
            urgency = str(urgency_of_rank(rank(urgency) + 1))
            reasons.append("客户有升级投诉史，紧急程度上调一级")
        big_v = int(m.get("author_followers") or 0) >= self.cfg.analysis.big_v_followers
        tags = prof.tags(m["platform"], escalating_now=escalating, big_v=big_v)
        category = m.get("category") or "其他"
        if lead is not None:
            assignee, team = lead.values["assignee"], lead.values["team"]
            reasons.append(f"同一事件统一分派：{team or '-'} / {assignee or '-'}（随 {{lead}}）")
        else:
            assignee, team = pick_assignee(
                self.cfg, category=category, urgency=urgency, platform=m["platform"], brand=m["brand"]
            )
        fetched = m.get("fetched_at") or m.get("first_seen_at")
        values = {
            "number": None,
            "brand": m["brand"],
            "platform": m["platform"],
            "mention_id": m["id"],
            "event_id": m.get("event_id"),
            "customer_platform": m["platform"] if author else None,
            "customer_id": author,
            "customer_name": m.get("author_name"),
            "customer_tags": tags,
            "category": category,
            "urgency": urgency,
            "risk": int(m.get("risk") or 0),
            "reasons": reasons,
            "tags": [],
            "summary": summary(m, category),
            "assignee": assignee,
            "team": team,
            "status": "待处理",
            "registered_at": self.now,
            "source_fetched_at": fetched,
            "registration_latency_s": None,
            "escalation_level": 0,
            "updated_at": self.now,
            "sla_state": {
                "callback_days": self.cfg.complaints.callback_days,
                "clock": self.cfg.complaints.clock,
            },
            **clock.deadlines(self.cfg, urgency, self.now),
        }
        where = PLATFORM_NAMES.get(m["platform"], m["platform"])
        rec = _Rec(values, new=True, story=grievance.story_of([m.get("title"), m.get("text")]), lead=lead)
        rec.links.append({"mention_id": m["id"], "relation": "source", "note": decision})
        rec.history.append(
            {
                "action": "registered",
                "field": "status",
                "old": None,
                "new": "待处理",
                "note": f"自动登记：{where} 帖子 #{m['id']}，{decision}；分派 {team or '-'} / {assignee or '-'}",
            }
        )
        rec.spread.add(m)
        self.pending.append(rec)
        self.decided.append((m["id"], rec, "source", True))
        if (key := _key(m)) is not None:
            self.by_customer[key].insert(0, rec)
        if m.get("event_id"):
            self.by_event[int(m["event_id"])].append(rec)
        self.by_post.setdefault((m["platform"], str(m["post_id"])), rec)
        self._delta(m, complaint=True, escalation=escalating, tags=tags)

    def _raise(self, rec: _Rec, wanted: str, note: str) -> None:
        """Raise ``rec`` to ``wanted`` (deadlines recomputed from its registration time, never restarted)."""
        v = rec.values
        current = rec.wanted if rec.wanted and rank(rec.wanted) > rank(v["urgency"]) else v["urgency"]
        if rank(wanted) <= rank(current):
            return
        rec.raised = True
        if rec.new:
            rec.history.append(
                {
                    "action": "urgency",
                    "field": "urgency",
                    "old": v["urgency"],
                    "new": wanted,
                    "note": f"{note}；SLA 按登记时间重算",
                }
            )
            v["reasons"] = [*v["reasons"], f"{note}，紧急程度上调为{wanted}"]
            v["urgency"] = wanted
            v.update(clock.deadlines(self.cfg, wanted, v["registered_at"]))
        else:
            rec.wanted = wanted
            rec.why.append(note)
            rec.touched = True

    def _join_repeat(self, rec: _Rec, m: dict[str, Any]) -> None:
        """The same customer about the same problem: joins, may raise the urgency (unchanged rule)."""
        note = "同一客户就同一问题再次发帖，并入 {number}"
        rec.links.append({"mention_id": m["id"], "relation": "repeat", "note": note})
        rec.history.append(
            {
                "action": "merged",
                "field": "mention",
                "old": None,
                "new": str(m["id"]),
                "note": "同一客户就同一问题再次发帖，已并入本记录",
            }
        )
        rec.values["risk"] = max(int(rec.values["risk"] or 0), int(m.get("risk") or 0))
        rec.spread.add(m)
        rec.touched = True
        wanted = base_urgency(m)
        if customers.is_escalation(m) and rank(wanted) < 3:
            wanted = "非常紧急"  # seed 003: escalation now + strong opinion on an open record
        self._raise(rec, wanted, "重复投诉")
        self.decided.append((m["id"], rec, "repeat", False))
        self._delta(
            m,
            complaint=False,
            escalation=customers.is_escalation(m),
            tags=list(rec.values.get("customer_tags") or []),
        )

    def _join_story(self, rec: _Rec, m: dict[str, Any], relation: str, stance: grievance.Stance) -> None:
        """A repost, near-copy or comment without a grievance of its own: evidence for ``rec``."""
        if relation == "comment" and stance.kind == "other":
            note = "评论未自述本人问题，并入 {number}"
        elif relation == "comment":
            note = f"评论{grievance.KIND_NAMES[stance.kind]}，未自述本人问题，并入 {{number}}"
        elif relation == "repost":
            note = "转发同一事件，并入 {number}"
        else:
            note = "与同一事件内容近似，未自述本人问题，并入 {number}"
        rec.links.append({"mention_id": m["id"], "relation": relation, "note": note})
        rec.joined[relation] += 1
        rec.joined_ids.append(m["id"])
        rec.spread.add(m)
        rec.touched = True
        if relation != "comment":  # a repost carries the story's own risk; a comment's says little
            rec.values["risk"] = max(int(rec.values["risk"] or 0), int(m.get("risk") or 0))
        what = RELATION_NAMES[relation]
        followers = int(m.get("author_followers") or 0)
        viral = self.cfg.analysis.viral_engagement
        if stance.escalation:
            self._raise(rec, "非常紧急", f"关联{what}扬言升级投诉（#{m['id']}）")
        if followers >= self.cfg.analysis.big_v_followers:
            self._raise(
                rec, "非常紧急", f"大V{what}：{m.get('author_name') or '未知作者'}（粉丝 {followers}）"
            )
        if engagement(m) >= viral:
            self._raise(rec, "非常紧急", f"关联{what}互动 {engagement(m)}，已在扩散")
        elif viral and rec.spread.engagement >= viral:
            self._raise(rec, "非常紧急", f"本单关联帖子合计互动 {rec.spread.engagement}，已在扩散")
        self.decided.append((m["id"], rec, relation, False))
        self._delta(m, complaint=False, escalation=stance.escalation, tags=None)

    # -- groups ------------------------------------------------------------------------

    def _groups(self) -> None:
        """Tag (and raise) the open records of every event this batch opened records in that now has enough."""
        events = sorted({int(r.values["event_id"]) for r in self.pending if r.values.get("event_id")})
        if not events:
            return
        c = COMPLAINTS.c
        counts: Counter[int] = Counter()
        for start in range(0, len(events), 500):
            counts.update(
                {
                    int(e): int(n)
                    for e, n in self.conn.execute(
                        select(c.event_id, func.count())
                        .where(c.event_id.in_(events[start : start + 500]))
                        .group_by(c.event_id)
                    )
                }
            )
        for eid in events:
            new = [r for r in self.pending if r.values.get("event_id") == eid]
            size = counts[eid] + len(new)
            if size < self.cfg.complaints.group_min_records:
                continue
            members = self.by_event[eid]
            note = f"群体投诉：同一事件已有 {size} 张客诉单（批量/群体）"
            for rec in members:
                if GROUP_TAG not in (rec.values.get("tags") or []):
                    rec.values["tags"] = [*(rec.values.get("tags") or []), GROUP_TAG]
                    rec.tagged = rec.touched = True
                    rec.history.append(
                        {"action": "group", "field": "tags", "old": None, "new": GROUP_TAG, "note": note}
                    )
                self._raise(rec, "非常紧急", note)
            self.grouped[eid] = size

    # -- writing -------------------------------------------------------------------------

    def _complete(self) -> None:
        """The full rows of the loaded records this batch touches or reports (loaded with ``_LIGHT`` only:
        a busy event's open records are reloaded for every batch, most of them only to be compared)."""
        need = {int(rec.values["id"]) for _, rec, _, _ in self.decided if not rec.new}
        need.update(rid for rid, rec in self.recs.items() if rec.touched)
        for eid in self.grouped:
            need.update(int(r.values["id"]) for r in self.by_event[eid] if not r.new)
        ids = sorted(need)
        for start in range(0, len(ids), 500):
            for row in self.conn.execute(
                select(COMPLAINTS).where(COMPLAINTS.c.id.in_(ids[start : start + 500]))
            ).mappings():
                values = self.recs[int(row["id"])].values
                for k, v in row.items():
                    values.setdefault(k, v)

    def finish(self) -> Registrations:
        self._groups()
        self._complete()
        if self.pending:
            self._insert()
        self._write_existing()
        for eid, size in self.grouped.items():
            recs = self.by_event[eid]
            self.out.groups[eid] = Group(
                eid, size, [dict(r.values) for r in recs], {int(r.values["id"]) for r in recs if r.new}
            )
        for mid, rec, relation, created in self.decided:
            link = next((x for x in rec.links if x["mention_id"] == mid), None)
            self.out[mid] = Registration(
                dict(rec.values),
                created=created,
                urgency_raised=rec.raised,
                relation=relation,
                note=link["note"] if link else None,
            )
        customers.record_many(self.conn, self.deltas, self.now)
        return self.out

    def _insert(self) -> None:
        c = self.conn
        numbers = next_numbers(c, self.cfg, self.now, len(self.pending))
        done = utcnow()
        for rec, number in zip(self.pending, numbers, strict=True):
            rec.values["number"] = number
            if rec.values["source_fetched_at"] is not None:
                rec.values["registration_latency_s"] = (
                    done - rec.values["source_fetched_at"]
                ).total_seconds()
        for rec in self.pending:
            lead = rec.lead.values["number"] if rec.lead is not None else ""
            rec.values["reasons"] = [r.replace("{lead}", lead) for r in rec.values["reasons"]]
            for h in rec.history:
                h["note"] = (h["note"] or "").replace("{lead}", lead)
            for link in rec.links:
                link["note"] = link["note"].replace("{lead}", lead)
        rows = [rec.values for rec in self.pending]
        ids = c.execute(
            insert(COMPLAINTS).returning(COMPLAINTS.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        for rec, cid in zip(self.pending, ids, strict=True):
            rec.values["id"] = int(cid)
        logger.info(
            "{n} complaint record(s) registered: {first}…{last}",
            n=len(rows),
            first=numbers[0],
            last=numbers[-1],
        )

    def _write_existing(self) -> None:
        """Links, history, risk, tags and urgency of every record the batch touched (new ones included)."""
        c = self.conn
        links: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for rec in [*self.pending, *self.recs.values()]:
            if not rec.links and not rec.history:
                continue
            cid, number = rec.values["id"], rec.values["number"]
            for link in rec.links:
                link["note"] = link["note"].replace("{number}", number)
                links.append(
                    {
                        "complaint_id": cid,
                        "mention_id": link["mention_id"],
                        "added_at": self.now,
                        "relation": link["relation"],
                        "note": link["note"],
                    }
                )
            if rec.joined:
                parts = "、".join(f"{RELATION_NAMES[k]} {n} 条" for k, n in rec.joined.most_common())
                shown = "、".join(f"#{i}" for i in rec.joined_ids[:10]) + (
                    "…" if len(rec.joined_ids) > 10 else ""
                )
                rec.history.append(
                    {
                        "action": "merged",
                        "field": "mention",
                        "old": None,
                        "new": str(sum(rec.joined.values())),
                        "note": f"同一事件未自述本人问题的帖子并入本单：{parts}（{shown}）",
                    }
                )
            history += [{"complaint_id": cid, "at": self.now, "actor": SYSTEM, **h} for h in rec.history]
        if links:
            c.execute(insert(LINKS), links)
        if history:
            c.execute(insert(HISTORY), history)
        touched = [rec for rec in self.recs.values() if rec.touched]
        # One executemany per shape (risk and time; risk, time and the group tag), not a statement per record.
        for tagged in (False, True):
            rows = [
                {
                    "_cid": rec.values["id"],
                    "risk": rec.values["risk"],
                    "updated_at": self.now,
                    **({"tags": rec.values["tags"]} if tagged else {}),
                }
                for rec in touched
                if rec.tagged is tagged
            ]
            if rows:
                cols = ("risk", "updated_at", "tags") if tagged else ("risk", "updated_at")
                c.execute(
                    update(COMPLAINTS)
                    .where(COMPLAINTS.c.id == bindparam("_cid"))
                    .values({k: bindparam(k) for k in cols}),
                    rows,
                )
        for rec in touched:
            rec.values["updated_at"] = self.now
            if not rec.wanted:
                continue  # the row is what this batch loaded plus the values just written
            set_urgency(
                c,
                self.cfg,
                rec.values["id"],
                rec.wanted,
                actor=SYSTEM,
                note="；".join(dict.fromkeys(rec.why)) + "，紧急程度上调",
                now=self.now,
            )
            reasons = [
                *(rec.values.get("reasons") or []),
                *(f"{w}，紧急程度上调为{rec.wanted}" for w in dict.fromkeys(rec.why)),
            ]
            c.execute(update(COMPLAINTS).where(COMPLAINTS.c.id == rec.values["id"]).values(reasons=reasons))
            rec.values.update(get(c, rec.values["id"]))


def _key(m: dict[str, Any]) -> Key | None:
    return (m["brand"], m["platform"], str(m["author_id"])) if m.get("author_id") else None


def registered_mentions(conn: Connection, mention_ids: list[int]) -> set[int]:
    out: set[int] = set()
    for start in range(0, len(mention_ids), 500):
        chunk = mention_ids[start : start + 500]
        out.update(
            int(r[0]) for r in conn.execute(select(LINKS.c.mention_id).where(LINKS.c.mention_id.in_(chunk)))
        )
    return out


def _order(m: dict[str, Any]) -> tuple[bool, datetime, int]:
    """Posts before comments (a comment joins its post's record), then by publication."""
    comment = bool(m.get("parent_post_id")) or m.get("kind") == "comment"
    t = m.get("published_at") or m.get("fetched_at") or datetime.min.replace(tzinfo=utcnow().tzinfo)
    return comment, t, int(m["id"])


def register_mentions(
    conn: Connection, cfg: AppConfig, mentions: list[dict[str, Any]], *, now: datetime
) -> Registrations:
    """Register (or join) every eligible mention not registered yet; returns them by mention id."""
    todo = [m for m in mentions if eligible(cfg, m)]
    if not todo:
        return Registrations()
    done = registered_mentions(conn, [m["id"] for m in todo])
    todo = sorted((m for m in todo if m["id"] not in done), key=_order)
    batch = _Batch(conn, cfg, now)
    batch.prefetch(todo)
    for m in todo:
        batch.add(m)
    return batch.finish()
