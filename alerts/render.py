"""Alert payload → a format-neutral Chinese message (:class:`Doc`); ``alerts/formats.py`` serialises it.

A Doc holds labels the product wrote and values taken from the payload. Values are
treated as hostile and escaped by each format; the only URLs are the post and
dashboard links, passed through :func:`alerts.escape.safe_link`. Kinds: mention,
event, surge, digest, health, complaint_sla (or complaint) and report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.escape import safe_link

PLATFORM_NAMES = {"weibo": "微博", "xiaohongshu": "小红书", "douyin": "抖音", "heimao": "黑猫投诉"}
MARKERS = {"非常紧急": "🔴", "紧急": "🟠", "一般": "🟡"}
TRENDS = {"rising": "上升", "up": "上升", "surging": "激增", "falling": "回落", "down": "回落",
          "stable": "平稳", "flat": "平稳", "new": "新出现"}
KIND_TITLES = {
    "mention": "舆情预警", "event": "舆情事件", "surge": "声量激增", "digest": "舆情摘要",
    "health": "采集状态", "complaint_sla": "客诉时限提醒", "complaint": "客诉登记", "report": "舆情报告",
}
EXCERPT_CHARS = 280
DIGEST_EXCERPT_CHARS = 100


@dataclass(slots=True)
class Line:
    """One line of a message: an optional label (ours), a value (hostile), an optional style or link."""

    label: str | None
    value: str
    style: str | None = None  # quote | note | strong
    color: str | None = None  # warning | info | comment (WeCom font colours)
    url: str | None = None    # a safe link; ``value`` is its label


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
    return str(m.get("platform_name") or PLATFORM_NAMES.get(str(m.get("platform") or ""), m.get("platform") or ""))


def _risk_lines(p: Mapping[str, Any]) -> list[Line]:
    lines = [Line("品牌", str(p.get("brand") or ""))] if p.get("brand") else []
    level = " · ".join(x for x in (
        str(p.get("urgency") or ""), f"风险 {p['risk']}/100" if p.get("risk") is not None else "") if x)
    if level:
        lines.append(Line("等级", level, style="strong", color="warning" if p.get("urgency") != "一般" else "comment"))
    reasons = [str(r) for r in (p.get("reasons") or []) if r]
    if reasons:
        lines.append(Line("原因", "；".join(reasons[:8])))
    return lines


def mention_lines(m: Mapping[str, Any], tz: ZoneInfo, *, excerpt_chars: int = EXCERPT_CHARS) -> list[Line]:
    """Platform, author, time, region, engagement, excerpt and post link of one mention."""
    lines = [Line("平台", _platform(m))]
    if m.get("category"):
        lines.append(Line("类别", str(m["category"])))
    author = str(m.get("author_name") or "匿名用户")
    extra = f"粉丝 {number(m.get('author_followers'))}" + ("，已认证" if m.get("author_verified") else "")
    lines.append(Line("作者", f"{author}（{extra}）"))
    meta = " · ".join(x for x in (when(m.get("published_at"), tz), f"IP {m['ip_region']}" if m.get("ip_region") else "") if x)
    if meta:
        lines.append(Line("发布", meta))
    lines.append(Line("互动", f"赞 {number(m.get('likes'))} · 评论 {number(m.get('comments'))} · 转发 {number(m.get('shares'))}"))
    if m.get("text"):
        lines.append(Line(None, str(m["text"])[: excerpt_chars * 2], style="quote"))
    link = safe_link(m.get("url"))
    if link:
        lines.append(Line(None, "查看原帖", url=link))
    return lines


def _trend(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:+.0%}" if abs(value) < 50 else f"{value:+.0f}"
    return TRENDS.get(str(value).lower(), str(value)) if value else ""


def event_lines(e: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """Event size, spread per platform, engagement and trend."""
    counts = e.get("platform_counts") or {}
    spread = " / ".join(f"{PLATFORM_NAMES.get(str(k), str(k))} {number(v)}" for k, v in counts.items()) if isinstance(
        counts, Mapping) else ""
    size = f"{number(e.get('mention_count'))} 条相关内容" + (f"（{spread}）" if spread else "")
    lines = [Line("事件", str(e.get("title") or "")), Line("规模", size)] if e.get("title") else [Line("规模", size)]
    tail = " · ".join(x for x in (
        f"总互动 {number(e.get('engagement'))}" if e.get("engagement") is not None else "",
        f"趋势 {_trend(e.get('trend'))}" if e.get("trend") not in (None, "") else "",
        f"首次 {when(e.get('first_seen_at'), tz)}" if e.get("first_seen_at") else "",
    ) if x)
    if tail:
        lines.append(Line("态势", tail))
    return lines


def complaint_lines(c: Mapping[str, Any], tz: ZoneInfo) -> list[Line]:
    """The complaint record: number, grade, owner, status and its SLA deadlines."""
    owner = " / ".join(str(x) for x in (c.get("team"), c.get("assignee")) if x) or "待分派"
    lines = [Line("客诉单", f"{c.get('number') or ''}（{c.get('status') or '待处理'}）", style="strong")]
    grade = " · ".join(str(x) for x in (c.get("category"), c.get("urgency")) if x)
    if grade:
        lines.append(Line("分级", grade))
    lines.append(Line("负责", owner))
    dues = [(label, when(c.get(key), tz)) for label, key in (
        ("上报", "due_report_at"), ("首查", "due_first_check_at"), ("答复", "due_answer_at"), ("解决", "due_resolve_at"))]
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
    marker = MARKERS.get(urgency, "🔵" if kind in ("digest", "report") else "⚪")
    if kind == "health":
        marker = "✅" if (p.get("health") or {}).get("state") == "cleared" else "⚠️"
    base = KIND_TITLES.get(kind, "舆情预警")
    title = str(p.get("title") or "").strip()
    brand = str(p.get("brand") or "")
    prefix = f"【{urgency}】" if urgency else ""
    return marker, f"{prefix}{brand + ' ' if brand and brand not in title else ''}{base}：{title}" if title else \
        f"{prefix}{brand} {base}".strip()


def _digest_sections(p: Mapping[str, Any], tz: ZoneInfo) -> list[list[Line]]:
    out = []
    for i, item in enumerate(p.get("items") or [], 1):
        if not isinstance(item, Mapping):
            continue
        head = " · ".join(x for x in (_platform(item), str(item.get("author_name") or ""),
                                      str(item.get("category") or ""), f"风险 {item['risk']}" if item.get("risk") is not None else "") if x)
        lines = [Line(f"第{i}条", head, style="strong")]
        if item.get("text"):
            lines.append(Line(None, str(item["text"])[: DIGEST_EXCERPT_CHARS * 2], style="quote"))
        link = safe_link(item.get("url"))
        if link:
            lines.append(Line(None, "查看原帖", url=link))
        out.append(lines)
    return out


def _health_lines(h: Mapping[str, Any]) -> list[Line]:
    state = "已恢复" if h.get("state") == "cleared" else "异常"
    where = " · ".join(x for x in (PLATFORM_NAMES.get(str(h.get("platform") or ""), str(h.get("platform") or "")),
                                   str(h.get("brand") or "")) if x)
    lines = [Line("状态", f"{where} {state}".strip(), style="strong", color="info" if state == "已恢复" else "warning")]
    if h.get("kind"):
        lines.append(Line("类型", str(h["kind"])))
    if h.get("message"):
        lines.append(Line("详情", str(h["message"])))
    if h.get("fix"):
        lines.append(Line("处理", str(h["fix"])))
    return lines


def _text_sections(text: str) -> list[list[Line]]:
    return [[Line(None, line)] for line in text.splitlines() if line.strip()]


def _body(kind: str, p: Mapping[str, Any], tz: ZoneInfo) -> tuple[list[Line], list[list[Line]]]:
    m, e, c = p.get("mention"), p.get("event"), p.get("complaint")
    head = _risk_lines(p) if kind not in ("health", "report") else []
    sections: list[list[Line]] = []
    if kind == "health" and isinstance(p.get("health"), Mapping):
        head = _health_lines(p["health"])
    if isinstance(c, Mapping) and kind in ("complaint_sla", "complaint"):
        head += complaint_lines(c, tz)
    if p.get("text") and kind in ("complaint_sla", "complaint", "surge", "event"):
        head.append(Line(None, str(p["text"]), style="strong"))
    if isinstance(e, Mapping):
        head += event_lines(e, tz)
    if isinstance(m, Mapping):
        head += mention_lines(m, tz)
    if isinstance(c, Mapping) and kind not in ("complaint_sla", "complaint"):
        head += complaint_lines(c, tz)
    if kind == "digest":
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
    return Doc(title=title, marker=marker, summary=f"{marker} {title}", head=head, sections=sections,
               foot=_footer(payload, ref))

