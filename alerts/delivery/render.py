"""Alert payload → a format-neutral Chinese message (:class:`Doc`); ``alerts/delivery/formats.py`` serialises it.

A Doc holds labels the product wrote and values taken from the payload. Values are
treated as hostile and escaped by each format; the only URLs are the post and
dashboard links, passed through :func:`alerts.delivery.escape.safe_link`. Kinds: mention,
event, surge, digest, backfill (summary of history), rollup (over the hourly budget),
health, complaint_sla (or complaint) and report. A comment is shown under the post it
answers (``payload["post"]``); an event with its speed and top spreader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.delivery.escape import safe_link
from crawler.config import PLATFORM_NAMES

MARKERS = {"非常紧急": "🔴", "紧急": "🟠", "一般": "🟡"}
TRENDS = {
    "rising": "上升",
    "up": "上升",
    "surging": "激增",
    "falling": "回落",
    "down": "回落",
    "stable": "平稳",
    "flat": "平稳",
    "new": "新出现",
}
KIND_TITLES = {
    "mention": "舆情预警",
    "event": "舆情事件",
    "surge": "声量激增",
    "digest": "舆情摘要",
    "health": "采集状态",
    "complaint_sla": "客诉时限提醒",
    "complaint": "客诉登记",
    "report": "舆情报告",
    "backfill": "回溯汇总",
    "rollup": "风险汇总",
    "hot": "热榜预警",
    "spread": "传播追踪",
}
SUMMARY_KINDS = ("digest", "backfill", "rollup")
EXCERPT_CHARS = 280
POST_EXCERPT_CHARS = 120
DIGEST_EXCERPT_CHARS = 100
SUMMARY_EXCERPT_CHARS = 80  # backfill summaries and roll-ups: a few items, each short


@dataclass(slots=True)
class Line:
    """One line of a message: an optional label (ours), a value (hostile), an optional style or link."""

    label: str | None
    value: str
    style: str | None = None  # quote | note | strong
    color: str | None = None  # warning | info | comment (WeCom font colours)
    url: str | None = None  # a safe link; ``value`` is its label


@dataclass(slots=True)
class Doc:
    """A rendered alert: heading, lines that every part repeats, splittable sections, footer."""

    title: str
    marker: str
    summary: str
    head: list[Line] = field(default_factory=list)
    sections: list[list[Line]] = field(default_factory=list)
    foot: list[Line] = field(default_factory=list)


def number(n: Any) -> str:
    """12345 → 1.2万, 123456789 → 1.2亿."""
    try:
        v = int(n or 0)
    except (TypeError, ValueError):
        return str(n)
    if abs(v) >= 100_000_000:
        return f"{v / 100_000_000:.1f}亿".replace(".0亿", "亿")
    if abs(v) >= 10_000:
        return f"{v / 10_000:.1f}万".replace(".0万", "万")
    return str(v)


def when(value: Any, tz: ZoneInfo) -> str:
    """An ISO timestamp as local ``MM-DD HH:MM``; '' when missing or unreadable."""
    if not value:
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if dt.tzinfo is None:
        return ""
    return dt.astimezone(tz).strftime("%m-%d %H:%M")


def _platform(m: Mapping[str, Any]) -> str:
    return str(
        m.get("platform_name") or PLATFORM_NAMES.get(str(m.get("platform") or ""), m.get("platform") or "")
    )


def _risk_lines(p: Mapping[str, Any]) -> list[Line]:
    lines = [Line("品牌", str(p.get("brand") or ""))] if p.get("brand") else []
    level = " · ".join(
        x
        for x in (str(p.get("urgency") or ""), f"风险 {p['risk']}/100" if p.get("risk") is not None else "")
        if x
    )
    if level:
        lines.append(
            Line("等级", level, style="strong", color="warning" if p.get("urgency") != "一般" else "comment")
        )
    reasons = [str(r) for r in (p.get("reasons") or []) if r]
    if reasons:
        lines.append(Line("原因", "；".join(reasons[:8])))
    return lines


def _who(name: Any, followers: Any, verified: Any) -> str:
    extra = f"粉丝 {number(followers)}" + ("，已认证" if verified else "")
    return f"{name or '匿名用户'}（{extra}）"


def _engagement(m: Mapping[str, Any]) -> str:
    return f"赞 {number(m.get('likes'))} · 评论 {number(m.get('comments'))} · 转发 {number(m.get('shares'))}"


def mention_lines(
    m: Mapping[str, Any], tz: ZoneInfo, *, excerpt_chars: int = EXCERPT_CHARS, comment: bool = False
) -> list[Line]:
    """Platform, author, time, region, engagement, excerpt and post link of one mention.

    ``comment``: the mention is shown under its post (``post_lines``), so its lines say 评论.
    """
    lines = [] if comment else [Line("平台", _platform(m))]
    if m.get("category"):
        lines.append(Line("类别", str(m["category"])))
    lines.append(
        Line(
            "评论者" if comment else "作者",
            _who(m.get("author_name"), m.get("author_followers"), m.get("author_verified")),
        )
    )
    meta = " · ".join(
        x
        for x in (when(m.get("published_at"), tz), f"IP {m['ip_region']}" if m.get("ip_region") else "")
        if x
    )
    if meta:
        lines.append(Line("发布", meta))
    lines.append(Line("互动", _engagement(m)))
    if m.get("text"):
        lines.append(Line(None, str(m["text"])[: excerpt_chars * 2], style="quote"))
    link = safe_link(m.get("url"))
    if link:
        lines.append(Line(None, "查看评论" if comment else "查看原帖", url=link))
    return lines


def post_lines(post: Mapping[str, Any], m: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """The post a comment answers: who wrote it, its reach, an excerpt, and how many risky comments it drew."""
    risky = (
        f"该帖已有 {number(post.get('risky_comments'))} 条风险评论"
        f"（已采集评论 {number(post.get('stored_comments'))} 条）"
    )
    if post.get("missing"):
        return [Line("原帖", f"{_platform(m)} · 未采集到原帖"), Line("风险评论", risky, color="warning")]
    head = " · ".join(
        x
        for x in (
            _platform(m),
            _who(post.get("author_name"), post.get("author_followers"), post.get("author_verified")),
            when(post.get("published_at"), tz),
        )
        if x
    )
    lines = [Line("原帖", head, style="strong"), Line("原帖互动", _engagement(post))]
    if post.get("text"):
        lines.append(Line(None, str(post["text"])[: POST_EXCERPT_CHARS * 2], style="quote"))
    link = safe_link(post.get("url"))
    if link:
        lines.append(Line(None, "查看原帖", url=link))
    lines.append(Line("风险评论", risky, color="warning"))
    lines.append(Line(None, "↓ 触发本次告警的评论", style="strong"))
    return lines


def _trend(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:+.0%}" if abs(value) < 50 else f"{value:+.0f}"
    return TRENDS.get(str(value).lower(), str(value)) if value else ""


def _size(e: Mapping[str, Any]) -> str:
    counts = e.get("platform_counts") or {}
    spread = (
        " / ".join(f"{PLATFORM_NAMES.get(str(k), str(k))} {number(v)}" for k, v in counts.items())
        if isinstance(counts, Mapping)
        else ""
    )
    total = int(e.get("mention_count") or 0)
    if e.get("comment_count") is not None:
        comments = int(e.get("comment_count") or 0)
        size = f"帖子 {number(total - comments)} 条" + (f"、评论 {number(comments)} 条" if comments else "")
    else:
        size = f"{number(total)} 条相关内容"
    return size + (f"（{spread}）" if spread else "")


def _speed(g: Any) -> str:
    if not isinstance(g, Mapping):
        return ""
    minutes = int(g.get("minutes") or 60)
    span = "1小时" if minutes == 60 else f"{minutes}分钟"
    return f"近{span}新增 {number(g.get('last_hour'))} 条，此前{span} {number(g.get('prev_hour'))} 条"


def event_lines(e: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """Event size (posts and comments per platform), engagement, trend, speed and the top spreader."""
    lines = (
        [Line("事件", str(e.get("title") or "")), Line("规模", _size(e))]
        if e.get("title")
        else [Line("规模", _size(e))]
    )
    tail = " · ".join(
        x
        for x in (
            f"总互动 {number(e.get('engagement'))}" if e.get("engagement") is not None else "",
            f"趋势 {_trend(e.get('trend'))}" if e.get("trend") not in (None, "") else "",
            f"首次 {when(e.get('first_seen_at'), tz)}" if e.get("first_seen_at") else "",
        )
        if x
    )
    if tail:
        lines.append(Line("态势", tail))
    if _speed(e.get("growth")):
        lines.append(Line("增速", _speed(e.get("growth")), color="warning"))
    top = e.get("spreader")
    if isinstance(top, Mapping) and top.get("author_name"):
        lines.append(
            Line(
                "扩散最广",
                f"{_who(top.get('author_name'), top.get('followers'), top.get('verified'))}"
                f" · {_platform(top)} · 互动 {number(top.get('engagement'))}",
            )
        )
    return lines


def complaint_lines(c: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """The complaint record: number, grade, owner, status and its SLA deadlines."""
    owner = " / ".join(str(x) for x in (c.get("team"), c.get("assignee")) if x) or "待分派"
    lines = [Line("客诉单", f"{c.get('number') or ''}（{c.get('status') or '待处理'}）", style="strong")]
    grade = " · ".join(str(x) for x in (c.get("category"), c.get("urgency")) if x)
    if grade:
        lines.append(Line("分级", grade))
    lines.append(Line("负责", owner))
    dues = [
        (label, when(c.get(key), tz))
        for label, key in (
            ("上报", "due_report_at"),
            ("首查", "due_first_check_at"),
            ("答复", "due_answer_at"),
            ("解决", "due_resolve_at"),
        )
    ]
    shown = " · ".join(f"{label} {t}" for label, t in dues if t)
    if shown:
        lines.append(Line("时限", shown, color="warning"))
    return lines


def _footer(p: Mapping[str, Any], ref: str) -> list[Line]:
    foot: list[Line] = []
    dash = safe_link((p.get("links") or {}).get("dashboard")) if isinstance(p.get("links"), Mapping) else None
    if dash:
        foot.append(Line(None, "在看板中查看", url=dash))
    foot.append(Line(None, f"yuqing 舆情监控 · {ref}", style="note", color="comment"))
    return foot


def _heading(p: Mapping[str, Any], kind: str) -> tuple[str, str]:
    urgency = str(p.get("urgency") or "")
    marker = MARKERS.get(urgency, "🔵" if kind in (*SUMMARY_KINDS, "report") else "⚪")
    if kind == "health":
        marker = "✅" if (p.get("health") or {}).get("state") == "cleared" else "⚠️"
    base = KIND_TITLES.get(kind, "舆情预警")
    title = str(p.get("title") or "").strip()
    brand = str(p.get("brand") or "")
    prefix = f"【{urgency}】" if urgency else ""
    return (
        marker,
        f"{prefix}{brand + ' ' if brand and brand not in title else ''}{base}：{title}"
        if title
        else f"{prefix}{brand} {base}".strip(),
    )


def _digest_sections(p: Mapping[str, Any], tz: ZoneInfo) -> list[list[Line]]:
    out = []
    quote = DIGEST_EXCERPT_CHARS * 2 if p.get("kind") == "digest" else SUMMARY_EXCERPT_CHARS
    for i, item in enumerate(p.get("items") or [], 1):
        if not isinstance(item, Mapping):
            continue
        if item.get("note") and not item.get("platform"):  # a held surge or an SLA notice: its text
            note = [Line(f"第{i}条", str(item["note"]), style="strong")]
            page = safe_link(item.get("link"))
            if page:
                note.append(Line(None, "查看客诉单", url=page))
            out.append(note)
            continue
        comp = item.get("complaint")
        head = " · ".join(
            x
            for x in (
                _platform(item),
                str(item.get("author_name") or ""),
                "评论" if item.get("kind") == "comment" else "",
                str(item.get("category") or ""),
                str(item.get("urgency") or "") if p.get("kind") != "digest" else "",
                f"风险 {item['risk']}" if item.get("risk") is not None else "",
                f"客诉单 {comp.get('number')}" if isinstance(comp, Mapping) and comp.get("number") else "",
                f"同事件 {number(item.get('event_mentions'))} 条"
                if int(item.get("event_mentions") or 0) > 1 and p.get("kind") != "digest"
                else "",
            )
            if x
        )
        lines = [Line(f"第{i}条", head, style="strong")]
        if item.get("post_text"):
            lines.append(Line("原帖", str(item["post_text"])[:quote]))
        if item.get("text"):
            text = str(item["text"])
            lines.append(
                Line(
                    None,
                    text[:quote] + ("…" if len(text) > quote and not text.endswith("…") else ""),
                    style="quote",
                )
            )
        link = safe_link(item.get("url"))
        if link:
            lines.append(Line(None, "查看原帖", url=link))
        out.append(lines)
    return out


def _health_lines(h: Mapping[str, Any]) -> list[Line]:
    state = "已恢复" if h.get("state") == "cleared" else "异常"
    where = " · ".join(
        x
        for x in (
            PLATFORM_NAMES.get(str(h.get("platform") or ""), str(h.get("platform") or "")),
            str(h.get("brand") or ""),
        )
        if x
    )
    lines = [
        Line(
            "状态",
            f"{where} {state}".strip(),
            style="strong",
            color="info" if state == "已恢复" else "warning",
        )
    ]
    if h.get("kind"):
        lines.append(Line("类型", str(h["kind"])))
    if h.get("message"):
        lines.append(Line("详情", str(h["message"])))
    if h.get("fix"):
        lines.append(Line("处理", str(h["fix"])))
    return lines


def hot_lines(h: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """A brand topic on a hot list: list, topic, rank, heat, label and the topic's search link."""
    lines = [
        Line("热榜", str(h.get("list") or h.get("platform") or "")),
        Line("话题", str(h.get("word") or ""), style="strong"),
    ]
    rank = f"第 {h.get('rank')} 位"
    if h.get("best_rank") and h.get("best_rank") != h.get("rank"):
        rank += f"（最高第 {h.get('best_rank')} 位）"
    lines.append(Line("排名", rank, color="warning"))
    lines.append(Line("热度", number(h.get("heat"))))
    if h.get("label"):
        lines.append(Line("标签", str(h["label"])))
    if h.get("first_seen_at"):
        lines.append(Line("上榜", when(h.get("first_seen_at"), tz)))
    link = safe_link(h.get("search_url"))
    if link:
        lines.append(Line(None, "查看话题", url=link))
    return lines


def spread_lines(s: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """A tracked post's spread: reposts so far, speed, acceleration and the top spreaders."""
    lines = [Line("转发", f"{number(s.get('reposts'))} 次 · 评论 {number(s.get('comments'))} 条")]
    if s.get("velocity") is not None:
        lines.append(
            Line(
                "速度",
                f"{float(s.get('velocity') or 0):.0f} 次/小时 · 加速度 "
                f"{float(s.get('acceleration') or 0):+.0f} 次/小时²",
                color="warning",
            )
        )
    for i, sp in enumerate(s.get("spreaders") or [], 1):
        if isinstance(sp, Mapping) and i <= 3:
            lines.append(
                Line(
                    f"扩散者{i}",
                    f"{_who(sp.get('author_name'), sp.get('followers'), sp.get('verified'))}"
                    f" · 带来转发 {number(sp.get('reposts_below'))}",
                )
            )
    return lines


def _text_sections(text: str) -> list[list[Line]]:
    return [[Line(None, line)] for line in text.splitlines() if line.strip()]


def _event_worth_showing(e: Mapping[str, Any], kind: str, under_post: bool) -> bool:
    """An event block says something when the story has spread: more than one mention, or, for a comment
    shown under its post, more than that one post (its own thread is the post block already)."""
    if kind in ("surge", "event"):
        return True
    total = int(e.get("mention_count") or 0)
    if under_post and e.get("comment_count") is not None:
        return total - int(e.get("comment_count") or 0) > 1
    return total > 1


def _body(kind: str, p: Mapping[str, Any], tz: ZoneInfo) -> tuple[list[Line], list[list[Line]]]:
    m, e, c, post = p.get("mention"), p.get("event"), p.get("complaint"), p.get("post")
    head = _risk_lines(p) if kind not in ("health", "report") else []
    sections: list[list[Line]] = []
    if kind == "health" and isinstance(p.get("health"), Mapping):
        head = _health_lines(p["health"])
    if isinstance(c, Mapping) and kind in ("complaint_sla", "complaint"):
        head += complaint_lines(c, tz)
    if p.get("text") and kind in (
        "complaint_sla",
        "complaint",
        "surge",
        "event",
        "backfill",
        "rollup",
        "hot",
        "spread",
    ):
        head.append(Line(None, str(p["text"]), style="strong"))
    if kind == "hot" and isinstance(p.get("hot"), Mapping):
        head += hot_lines(p["hot"], tz)
    if kind == "spread" and isinstance(p.get("spread"), Mapping):
        head += spread_lines(p["spread"], tz)
    if isinstance(e, Mapping) and _event_worth_showing(e, kind, isinstance(post, Mapping)):
        head += event_lines(e, tz)
    if isinstance(m, Mapping):
        if isinstance(post, Mapping):
            head += post_lines(post, m, tz)
        head += mention_lines(m, tz, comment=isinstance(post, Mapping))
    if isinstance(c, Mapping) and kind not in ("complaint_sla", "complaint"):
        head += complaint_lines(c, tz)
    if kind in ("backfill", "rollup", "complaint_sla") and isinstance(p.get("facts"), list):
        head += [
            Line(str(f[0]), str(f[1])) for f in p["facts"] if isinstance(f, list | tuple) and len(f) == 2
        ]
    if kind in SUMMARY_KINDS or (kind == "complaint_sla" and p.get("items")):
        sections = _digest_sections(p, tz)
    if kind == "report" and p.get("text"):
        sections = _text_sections(str(p["text"]))
    return head, sections


def render(payload: Mapping[str, Any], *, ref: str, tz: ZoneInfo | str = "Asia/Shanghai") -> Doc:
    """The message for an alert payload (see the contract in CONTRACTS.md); ``ref`` names the alert."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    kind = str(payload.get("kind") or "mention")
    marker, title = _heading(payload, kind)
    head, sections = _body(kind, payload, zone)
    if kind == "digest":
        head.insert(0, Line("条数", f"{len(sections)} 条未单独推送的风险内容"))
    return Doc(
        title=title,
        marker=marker,
        summary=f"{marker} {title}",
        head=head,
        sections=sections,
        foot=_footer(payload, ref),
    )
