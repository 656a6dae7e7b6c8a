"""Report output: HTML (Jinja2, autoescaped, charts as inline SVG — no script), PDF (Chromium's
page.pdf() through Playwright, CJK fonts from the system), XLSX (one sheet per section) and the
short Chinese text sent to chat channels.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crawler.analytics.export import safe_url
from crawler.config import PLATFORM_NAMES
from crawler.paths import package_path
from crawler.platform.browser import require_chromium

if TYPE_CHECKING:
    from crawler.analytics.reports import ReportData

TEMPLATES = package_path("crawler", "analytics", "templates")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MILESTONE_ORDER = ("上报", "初步核实", "答复", "处理完成或升级", "回访")


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def ratio(num: int, den: int) -> str:
    return "—" if not den else f"{num / den * 100:.1f}%（{num}/{den}）"


def bars(
    rows: list[dict[str, Any]], *, width: int = 420, row_h: int = 22, label_w: int = 90, key: str = "count"
) -> dict[str, Any]:
    """Geometry of a horizontal bar chart (the template draws it; labels stay escaped text)."""
    top = max((r[key] for r in rows), default=0) or 1
    span = width - label_w - 60
    items = [
        {
            "label": r.get("label") or r.get("word") or r.get("key") or "未知",
            "value": r[key],
            "y": i * row_h,
            "w": max(1, round(r[key] / top * span)),
            "share": r.get("share"),
        }
        for i, r in enumerate(rows)
    ]
    return {"items": items, "width": width, "height": max(row_h, len(rows) * row_h), "label_w": label_w}


def trend_chart(points: list[dict[str, Any]], *, width: int = 760, height: int = 220) -> dict[str, Any]:
    """Geometry of the volume bars + negative-share line."""
    n = max(len(points), 1)
    left, bottom, top_pad = 40, 30, 10
    plot_w, plot_h = width - left - 40, height - bottom - top_pad
    peak = max((p["total"] for p in points), default=0) or 1
    step = plot_w / n
    cols, line = [], []
    for i, p in enumerate(points):
        h = p["total"] / peak * plot_h
        x = left + i * step
        cols.append(
            {
                "x": round(x + step * 0.15, 1),
                "y": round(top_pad + plot_h - h, 1),
                "w": round(step * 0.7, 1),
                "h": round(h, 1),
                "total": p["total"],
                "label": p["t"][5:] if len(p["t"]) == 10 else p["t"][11:13],
                "tick": n <= 16 or i % 3 == 0,
            }
        )
        line.append(f"{x + step / 2:.1f},{top_pad + plot_h - p['negative_share'] * plot_h:.1f}")
    return {
        "cols": cols,
        "line": " ".join(line),
        "width": width,
        "height": height,
        "peak": peak,
        "base": top_pad + plot_h,
        "left": left,
        "right": width - 40,
        "top": top_pad,
    }


def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, safe_url=safe_url)
    return env


def _local(value: datetime | None, tz: str, fmt: str = "%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(ZoneInfo(tz)).strftime(fmt)


def to_html(data: ReportData) -> str:
    """The report as one self-contained HTML page."""
    sla = data.sla
    return str(
        _env()
        .get_template("report.html")
        .render(
            d=data,
            s=data.summary,
            sla=sla,
            trend=trend_chart(data.trend),
            charts={dim: bars(rows) for dim, rows in data.by.items()},
            hours=bars([{"label": f"{h:02d}时", "count": n} for h, n in enumerate(data.hours)], row_h=14),
            platform_names=PLATFORM_NAMES,
            local=lambda v, fmt="%m-%d %H:%M": _local(v, data.tz, fmt),
            ratio=ratio,
            breaches=[(m, sla["breaches"].get(m, 0)) for m in MILESTONE_ORDER],
            generated=_local(data.generated_at, data.tz, "%Y-%m-%d %H:%M"),
        )
    )


def to_pdf(html: str, path: Path) -> None:
    """Print the HTML to an A4 PDF with Chromium (no network: the page has no external resource).
    Without Chromium: :class:`crawler.platform.browser.BrowserMissing` (one line, with the install command)."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort())  # nothing may be fetched while printing
            page.set_content(html, wait_until="load")
            page.pdf(
                path=str(path),
                format="A4",
                print_background=True,
                margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"},
            )
        finally:
            browser.close()


def to_text(data: ReportData) -> str:
    """A few Chinese lines for chat channels and e-mail."""
    s, sla = data.summary, data.sla
    cats = "、".join(f"{r['label']} {r['count']}" for r in data.by.get("category", [])[:3]) or "无"
    lines = [
        f"统计区间：{data.period.label}",
        f"提及 {s['total']} 条（环比 {pct(s['change_total'], True)}），负面占比 {pct(s['negative_share'])}"
        f"（{s['change_negative_share'] * 100:+.1f} 个百分点），投诉 {s['complaints']} 条，非常紧急 {s['very_urgent']} 条",
        f"投诉类别前三：{cats}",
        f"投诉单 {sla['total']} 张：10 分钟内登记 {ratio(sla['registered_in_time'], sla['registered_timed'])}，"
        f"按时答复 {ratio(sla['answered_in_time'], sla['answered'])}，超时 {sla['breached_records']} 张，"
        f"回访完成 {ratio(sla['callbacks_done'], sla['callbacks_due'])}",
    ]
    if data.events:
        lines.append(f"重点事件：{data.events[0]['title']}（{data.events[0]['mention_count']} 条）")
    for s in data.spread[:3]:
        hot = "；".join(
            f"{'微博热搜' if h['platform'] == 'weibo' else '抖音热榜'}最高第{h['best_rank']}位"
            for h in s["hot"]
        )
        lines.append(f"传播：{s['title']} 转发 {s['reposts']} 次" + (f"，{hot}" if hot else ""))
    for cat, words in list(data.root_causes.items())[:2]:
        lines.append(f"根因提示·{cat}：{'、'.join(w['word'] for w in words[:4])}")
    return "\n".join(lines)


def to_xlsx(data: ReportData, path: Path) -> None:
    """One sheet per section, header rows bold and frozen, links clickable."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    s, sla = data.summary, data.sla
    sheets: dict[str, tuple[list[str], list[list[Any]]]] = {
        "概览": (
            ["指标", "本期", "上期"],
            [
                ["提及量", s["total"], data.previous["total"]],
                ["负面条数", s["negative"], data.previous["negative"]],
                ["负面占比", s["negative_share"], data.previous["negative_share"]],
                ["投诉", s["complaints"], data.previous["complaints"]],
                ["非常紧急", s["very_urgent"], data.previous["very_urgent"]],
                ["涉及用户", s["authors"], data.previous["authors"]],
            ],
        ),
        "趋势": (
            ["时间", "声量", "负面", "投诉", "负面占比"],
            [[p["t"], p["total"], p["negative"], p["complaints"], p["negative_share"]] for p in data.trend],
        ),
        "分布": (
            ["维度", "取值", "条数", "占比", "负面", "投诉"],
            [
                [dim, r["label"], r["count"], r["share"], r["negative"], r["complaints"]]
                for dim, rows in data.by.items()
                for r in rows
            ],
        ),
        "投诉SLA": (
            ["指标", "数值"],
            [
                ["投诉单", sla["total"]],
                ["10分钟内登记", sla["registered_in_time"]],
                ["有登记时长", sla["registered_timed"]],
                ["已答复", sla["answered"]],
                ["按时答复", sla["answered_in_time"]],
                ["超时单数", sla["breached_records"]],
                *[[f"超时·{m}", sla["breaches"].get(m, 0)] for m in MILESTONE_ORDER],
                ["应回访", sla["callbacks_due"]],
                ["已回访", sla["callbacks_done"]],
                ["未结", sla["open"]],
                ["超时未结", sla["overdue_open"]],
            ],
        ),
        "重点事件": (
            ["标题", "条数", "互动", "最高风险", "首次", "最近"],
            [
                [
                    e["title"],
                    e["mention_count"],
                    e["engagement"],
                    e["max_risk"],
                    _local(e["first_seen_at"], data.tz),
                    _local(e["last_seen_at"], data.tz),
                ]
                for e in data.events
            ],
        ),
        "高风险帖子": (
            ["风险", "平台", "作者", "内容", "原因", "链接"],
            [
                [
                    m["risk"],
                    PLATFORM_NAMES.get(m["platform"], m["platform"]),
                    m["author_name"],
                    m["text"],
                    "；".join(m["reasons"] or []),
                    safe_url(m["url"]) or "",
                ]
                for m in data.risky
            ],
        ),
        "根因提示": (
            ["类别", "高频词"],
            [[c, "、".join(f"{w['word']}({w['count']})" for w in ws)] for c, ws in data.root_causes.items()],
        ),
    }
    wb.remove(wb.active)
    for name, (header, rows) in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text stays text, even "=..." from a post
                    if cell.value.startswith(("http://", "https://")):
                        cell.hyperlink = cell.value
                        cell.style = "Hyperlink"
        ws.freeze_panes = "A2"
    wb.save(path)
