"""Serialising a :class:`~alerts.delivery.render.Doc` per channel format, and splitting it over a size limit.

Formats: DingTalk / WeCom markdown, Feishu interactive card (lark_md) or rich-text post,
Slack Block Kit (mrkdwn), HTML and plain text (e-mail, webhook). Every value goes through
the matching escape in ``alerts/delivery/escape.py``; labels and links are the product's own.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from alerts.delivery import escape
from alerts.delivery.render import Doc, Line

FEISHU_TEMPLATES = {"🔴": "red", "🟠": "orange", "🟡": "yellow", "✅": "green", "⚠️": "orange"}


# --- markdown (DingTalk, WeCom, Feishu lark_md) --------------------------------


def _md_line(line: Line, flavour: str) -> str:
    if line.url:
        return f"[{escape.md(line.value)}]({line.url})"
    value = escape.md(line.value)
    if flavour == "wecom" and line.color:
        value = f'<font color="{line.color}">{value}</font>'
    if line.style == "quote":
        return f"> {value}"
    if line.style == "strong" and not line.label:
        return f"**{value}**"
    if line.label:
        return f"**{escape.md(line.label)}：**{value}"
    return value


def to_markdown(
    doc: Doc, *, flavour: str, part: str = "", keyword: str | None = None, title: bool = True
) -> str:
    """Markdown for ``flavour`` dingtalk | wecom | lark (lark: the card header carries the title)."""
    sep = "\n\n" if flavour == "dingtalk" else "\n"
    out: list[str] = []
    if title:
        out.append(f"### {doc.marker} {escape.md(doc.title)}{part}")
    out += [_md_line(line, flavour) for line in doc.head]
    for section in doc.sections:
        out += [_md_line(line, flavour) for line in section]
    out += [_md_line(line, flavour) for line in doc.foot]
    text = sep.join(out)
    if keyword and keyword not in text:
        text += sep + escape.md(keyword)
    return text


# --- Slack ----------------------------------------------------------------------


def _slack_line(line: Line) -> str:
    if line.url:
        return f"<{line.url.replace('|', '%7C').replace('>', '%3E')}|{escape.slack(line.value)}>"
    value = escape.slack(line.value)
    if line.style == "quote":
        return f"> {value}"
    if line.style == "strong" and not line.label:
        return f"*{value}*"
    if line.label:
        return f"*{escape.slack(line.label)}：* {value}"
    return value


def _slack_sections(lines: list[Line], limit: int = 2900) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = ""
    for line in lines:
        piece = _slack_line(line)[:limit]
        if text and len(text) + len(piece) + 1 > limit:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = ""
        text = f"{text}\n{piece}" if text else piece
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def to_slack(doc: Doc, *, part: str = "") -> dict[str, Any]:
    """An incoming-webhook body: mrkdwn fallback ``text`` plus Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": escape.plain(f"{doc.marker} {doc.title}{part}", max_chars=150),
            },
        },
    ]
    blocks += _slack_sections(doc.head)
    for section in doc.sections:
        blocks += _slack_sections(section)
    notes = [line for line in doc.foot if not line.url]
    blocks += _slack_sections([line for line in doc.foot if line.url])
    if notes:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape.slack(n.value)} for n in notes],
            }
        )
    return {"text": escape.slack(f"{doc.summary}{part}", max_chars=300), "blocks": blocks}


# --- Feishu ---------------------------------------------------------------------


def to_feishu_card(doc: Doc, *, part: str = "", keyword: str | None = None) -> dict[str, Any]:
    """``msg_type: interactive``: a card with a coloured header and one lark_md block."""
    body = to_markdown(replace(doc, foot=[f for f in doc.foot if f.url]), flavour="lark", title=False)
    notes = [escape.plain(f.value) for f in doc.foot if not f.url] + (
        [escape.plain(keyword)] if keyword else []
    )
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": body}}]
    if notes:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": " · ".join(notes)}]})
    card = {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {
                "tag": "plain_text",
                "content": escape.plain(f"{doc.marker} {doc.title}{part}", max_chars=120),
            },
            "template": FEISHU_TEMPLATES.get(doc.marker, "blue"),
        },
        "elements": elements,
    }
    return {"msg_type": "interactive", "card": card}


def _post_line(line: Line) -> list[dict[str, Any]]:
    if line.url:
        return [{"tag": "a", "text": line.value, "href": line.url}]
    value = escape.plain(line.value)
    if line.style == "quote":
        value = f"「{value}」"
    return [{"tag": "text", "text": f"{line.label}：{value}" if line.label else value}]


def to_feishu_post(doc: Doc, *, part: str = "", keyword: str | None = None) -> dict[str, Any]:
    """``msg_type: post``: rich text whose text tags are plain text (nothing in them is interpreted)."""
    lines = [*doc.head, *(line for s in doc.sections for line in s), *doc.foot]
    content = [_post_line(line) for line in lines]
    if keyword:
        content.append([{"tag": "text", "text": escape.plain(keyword)}])
    title = escape.plain(f"{doc.marker} {doc.title}{part}", max_chars=120)
    return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": content}}}}


# --- plain text and HTML ------------------------------------------------------------


def _text_line(line: Line) -> str:
    if line.url:
        return f"{line.value}：{line.url}"
    value = escape.plain(line.value)
    if line.style == "quote":
        return f"「{value}」"
    return f"{line.label}：{value}" if line.label else value


def to_text(doc: Doc, *, part: str = "") -> str:
    """Plain text (e-mail alternative, webhook ``text``)."""
    lines = [*doc.head, *(line for s in doc.sections for line in s), *doc.foot]
    return "\n".join([escape.plain(f"{doc.marker} {doc.title}{part}"), *(_text_line(x) for x in lines)])


def _html_line(line: Line) -> str:
    if line.url:
        return f'<p><a href="{html.escape(line.url, quote=True)}">{html.escape(line.value)}</a></p>'
    value = escape.html_text(line.value)
    if line.style == "quote":
        return f'<blockquote style="border-left:3px solid #ccc;margin:6px 0;padding-left:8px;color:#333">{value}</blockquote>'
    if line.style == "note":
        return f'<p style="color:#888;font-size:12px">{value}</p>'
    label = f"<b>{html.escape(line.label)}：</b>" if line.label else ""
    return f"<p>{label}{f'<b>{value}</b>' if line.style == 'strong' else value}</p>"


def to_html(doc: Doc, *, part: str = "") -> str:
    """A small, self-contained HTML document."""
    lines = [*doc.head, *(line for s in doc.sections for line in s), *doc.foot]
    body = "\n".join(_html_line(x) for x in lines)
    title = escape.html_text(f"{doc.marker} {doc.title}{part}")
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body style="font-family:sans-serif"><h3>{title}</h3>\n{body}\n</body></html>'
    )


# --- splitting -------------------------------------------------------------------------


def _shrink(lines: list[Line], keep: int) -> list[Line]:
    return [
        replace(x, value=x.value[:keep] + "…") if x.style == "quote" and len(x.value) > keep else x
        for x in lines
    ]


def split(doc: Doc, fits: Callable[[Doc, str], bool]) -> list[tuple[Doc, str]]:
    """Parts of ``doc`` that each satisfy ``fits(part, label)``; label is '' or '（i/n）'.

    The first part keeps the head; sections are packed greedily in order; a section too
    big for a part of its own has its quotes cut until it fits.
    """
    if fits(doc, ""):
        return [(doc, "")]
    probe = "（99/99）"
    keep = 400
    head = doc.head
    while not fits(replace(doc, head=head, sections=[]), probe) and keep > 20:
        keep //= 2
        head = _shrink(doc.head, keep)
    chunks: list[list[list[Line]]] = [[]]
    for section in doc.sections:
        current = chunks[-1]
        first = len(chunks) == 1
        if fits(replace(doc, head=head if first else [], sections=[*current, section]), probe):
            current.append(section)
            continue
        cut, keep = section, 400
        while not fits(replace(doc, head=[], sections=[cut]), probe) and keep > 10:
            keep //= 2
            cut = _shrink(section, keep)
        if current or first and head:
            chunks.append([cut])
        else:
            current.append(cut)
    n = len(chunks)
    return [
        (replace(doc, head=head if i == 0 else [], sections=chunk), f"（{i + 1}/{n}）" if n > 1 else "")
        for i, chunk in enumerate(chunks)
    ]
