"""Render simulator complaints as tousu.sina.com.cn serves them: list items and the detail page."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from typing import Any

from simulator.model import Post

CST = timezone(timedelta(hours=8))
STATUS_TEXT = {1: "通过审核", 3: "待分配", 4: "处理中", 6: "已回复", 7: "已完成", 8: "已关闭"}
SUMMARY_CHARS = 80
BLOCKED_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>访问受限</title></head>'
    "<body><p>您的访问频率过高，请稍后再试。</p></body></html>"
)
LOGIN_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>新浪通行证 登录</title></head><body>'
    '<div class="login-box"><h2>请登录</h2><p>登录后查看投诉内容</p>'
    '<a href="https://passport.sina.com.cn/signin/signin?entry=tousu">登录</a></div></body></html>'
)


def cst(dt: datetime) -> str:
    return dt.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def mark(text: str, keyword: str) -> str:
    """Escape ``text`` and wrap each occurrence of ``keyword`` in the site's red highlight."""
    escaped = html.escape(text, quote=False)
    if not keyword:
        return escaped
    kw = html.escape(keyword, quote=False)
    return escaped.replace(kw, f'<span class="code-red">{kw}</span>')


def item(post: Post, keyword: str = "") -> dict[str, Any]:
    """One ``{"main": ..., "author": ...}`` entry of ``lists`` / ``complaints``."""
    x = post.extra
    summary = post.text[:SUMMARY_CHARS]
    evaluate = x.get("evaluate")
    main = {
        "sn": post.post_id,
        "title": mark(post.title or "", keyword),
        "summary": mark(summary, keyword),
        "cotitle": mark(x["cotitle"], keyword),
        "couid": x["couid"],
        "appeal": x["appeal"],
        "issue": x["issue"],
        "cost": x["cost"],
        "status": x["status"],
        "timestamp": str(int(post.published_at.timestamp())),
        "url": f"//tousu.sina.com.cn/complaint/view/{post.post_id}/",
        "uid": post.author.id,
        "upvote_amount": 0,
        "share_amount": 0,
        "comment_amount": 0,
        "evaluate_u": dict(evaluate) if evaluate else None,
    }
    author = {
        "title": post.author.name,
        "wb_profile": f"//weibo.com/u/{post.author.id}",
        "avatar": "//tvax1.sinaimg.cn/default/images/default_avatar_male_50.gif",
    }
    return {"main": main, "author": author}


def _step(name: str, status: str, when: datetime, body: str) -> str:
    return (
        f'<div class="ts-d-item"><div class="ts-d-user"><span class="u-name">{html.escape(name)}</span>'
        f'<span class="u-status">{status}</span><span class="u-date">{cst(when)}</span></div>'
        f'<div class="ts-d-cont">{body}</div></div>'
    )


def _steps(post: Post) -> list[str]:
    x, t = post.extra, post.published_at
    status = x["status"]
    steps = [
        _step(post.author.name, "发起投诉", t, f"<p>{html.escape(post.text)}</p>"),
        _step("黑猫投诉", "投诉通过审核", t + timedelta(hours=2), "<p>投诉已通过平台审核</p>"),
    ]
    if status >= 3:
        steps.append(
            _step(
                "黑猫投诉",
                "投诉已分配商家",
                t + timedelta(hours=5),
                f"<p>已分配给{html.escape(x['cotitle'])}</p>",
            )
        )
    if status >= 4:
        steps.append(
            _step(x["cotitle"], "商家处理中", t + timedelta(hours=20), "<p>商家已受理，正在处理</p>")
        )
    if status in (6, 7) and x.get("reply"):
        steps.append(
            _step(
                x["cotitle"],
                "商家已回复",
                t + timedelta(hours=30),
                f'<div class="ts-reply">{html.escape(x["reply"])}</div>',
            )
        )
    if status == 7:
        steps.append(
            _step(post.author.name, "确认完成", t + timedelta(hours=50), "<p>用户确认投诉已完成</p>")
        )
    if status == 8:
        steps.append(_step("黑猫投诉", "投诉已关闭", t + timedelta(hours=72), "<p>投诉已关闭</p>"))
    return steps


def detail_html(post: Post) -> str:
    """``/complaint/view/{sn}/``: title, facts list, progress steps (the first holds the full text), reply."""
    x = post.extra
    facts = [
        ("投诉编号", post.post_id),
        (
            "投诉对象",
            f'<a href="//tousu.sina.com.cn/company/view/?couid={x["couid"]}">{html.escape(x["cotitle"])}</a>',
        ),
        ("投诉问题", html.escape(x["issue"])),
        ("投诉要求", html.escape(x["appeal"])),
        ("涉诉金额", f"{html.escape(x['cost'])}元"),
        ("投诉进度", f"<b>{STATUS_TEXT.get(x['status'], '')}</b>"),
    ]
    lis = "".join(f"<li><label>{k}：</label>{v}</li>" for k, v in facts)
    group = ""
    if x.get("group"):
        group = (
            f'<div class="ts-d-group"><a data-sudaclick="relategroupts_view" href="/grp_comp/view/{x["group"]}/">'
            "查看集体投诉</a></div>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(post.title or '')}_黑猫投诉</title></head><body>"
        f'<div class="ts-d-question"><h1 class="article">{html.escape(post.title or "")}</h1>'
        f'<ul class="ts-q-list">{lis}</ul></div>{group}'
        f'<div class="ts-d-steplist">{"".join(_steps(post))}</div></body></html>'
    )
