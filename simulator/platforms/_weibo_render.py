"""Render simulator posts the way m.weibo.cn serves them: ``mblog``, ``user``, comments, HTML text.

Field set follows ``tests/fixtures/weibo/m_weibo_cn_getIndex_cards_excerpt.pyliteral.txt``.
Display quirks are chosen per id (stable): a few posts and many comments carry relative
times (刚刚 / N分钟前 / N小时前 / 今天 HH:MM / 昨天 HH:MM / MM-DD), big counts may be
strings ("1.2万", "100万+"), followers ≥ 100,000 are strings ("105.9万").
"""

from __future__ import annotations

import html
import re
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from simulator.model import Author, Post

CST = timezone(timedelta(hours=8))
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ICON_FILES = {
    "[怒]": "d_nu",
    "[允悲]": "d_yunbei",
    "[哈哈]": "d_haha",
    "[赞]": "d_zan",
    "[心]": "l_xin",
    "[泪]": "d_lei",
    "[抓狂]": "d_zhuakuang",
    "[吃瓜]": "d_chigua",
    "[doge]": "d_doge",
    "[微笑]": "d_hehe",
}
_TOKEN_RE = re.compile(r"(\[[^\[\]\n]{1,6}\]|#[^#\n]{1,40}#|@[\w\u4e00-\u9fff-]{1,30}|\n)")
LONG_TEXT_LIMIT = 140
SNIPPET_CHARS = 120


def stable_hash(value: str) -> int:
    return zlib.crc32(value.encode())


def mid_to_bid(mid: str) -> str:
    """Weibo's short id: the mid in 7-digit groups from the right, each in base 62 (4 chars, padded)."""
    out = []
    s = mid
    while s:
        chunk, s = s[-7:], s[:-7]
        n, enc = int(chunk), ""
        while n:
            n, r = divmod(n, 62)
            enc = _B62[r] + enc
        out.append(enc.rjust(4, "0") if s else enc or "0")
    return "".join(reversed(out))


def rfc_time(dt: datetime) -> str:
    """``Sat Jan 14 18:39:37 +0800 2023`` in China time."""
    t = dt.astimezone(CST)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} +0800 {t.year}"


def relative_time(dt: datetime, now: datetime, variant: int = 0) -> str:
    """The relative forms of older payloads and HTML pages, as of ``now``."""
    t, n = dt.astimezone(CST), now.astimezone(CST)
    secs = (n - t).total_seconds()
    if secs < 60:
        return "刚刚"
    if secs < 3600:
        return f"{int(secs // 60)}分钟前"
    if t.date() == n.date():
        return f"{int(secs // 3600)}小时前" if variant % 2 else f"今天 {t:%H:%M}"
    if t.date() == n.date() - timedelta(days=1):
        return f"昨天 {t:%H:%M}"
    if t.year == n.year:
        return f"{t:%m-%d}"
    return f"{t:%Y-%m-%d}"


def wan(n: int) -> str:
    """Chinese ten-thousands, truncated to one decimal: 1,059,000 -> "105.9万"."""
    if n >= 100_000_000:
        v, unit = n // 10_000_000 / 10, "亿"
    else:
        v, unit = n // 1_000 / 10, "万"
    return f"{v:.1f}".removesuffix(".0") + unit


def show_count(n: int, key: str) -> int | str:
    if n >= 1_000_000:
        return "100万+"
    if n >= 10_000 and stable_hash(key) % 3:
        return wan(n)
    return n


def text_html(plain: str) -> str:
    """Plain text to Weibo's HTML: emoticons as images, #topics# and @names as links, newlines as <br />."""
    parts = []
    for tok in _TOKEN_RE.split(plain):
        if not tok:
            continue
        if tok == "\n":
            parts.append("<br />")
        elif tok in _ICON_FILES:
            src = f"https://h5.sinaimg.cn/m/emoticon/icon/default/{_ICON_FILES[tok]}-{stable_hash(tok) % 10**8:08x}.png"
            parts.append(
                f'<span class="url-icon"><img alt="{html.escape(tok)}" src="{src}" '
                f'style="width:1em; height:1em;" /></span>'
            )
        elif tok.startswith("#") and len(tok) > 2:
            q = quote(tok, safe="")
            parts.append(
                f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D{q}'
                f'&extparam={q}&luicode=10000011" data-hide=""><span class="surl-text">'
                f"{html.escape(tok)}</span></a>"
            )
        elif tok.startswith("@"):
            parts.append(f"<a href='/n/{html.escape(tok[1:])}'>{html.escape(tok)}</a>")
        else:
            parts.append(html.escape(tok, quote=False))
    return "".join(parts)


def display_text(post: Post) -> tuple[str, bool]:
    """(HTML text as the search shows it, isLongText)."""
    if len(post.text) <= LONG_TEXT_LIMIT:
        return text_html(post.text), False
    snippet = text_html(post.text[:SNIPPET_CHARS])
    return f'{snippet} ...<a href="/status/{post.post_id}">全文</a>', True


def user_json(a: Author) -> dict[str, Any]:
    followers: int | str = wan(a.followers) if a.followers >= 100_000 else a.followers
    out: dict[str, Any] = {
        "id": int(a.id),
        "screen_name": a.name,
        "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{int(a.id):x}ly8g.jpg",
        "profile_url": f"https://m.weibo.cn/u/{a.id}?uid={a.id}&luicode=10000011",
        "statuses_count": a.statuses,
        "verified": a.verified,
        "verified_type": a.verified_type,
    }
    if a.verified:
        out["verified_type_ext"] = 1
        out["verified_reason"] = a.verified_reason
    out.update(
        {
            "close_blue_v": False,
            "description": a.description,
            "gender": a.gender,
            "mbtype": 12 if a.verified else 0,
            "svip": 0,
            "urank": 20 + int(a.id) % 30,
            "mbrank": int(a.id) % 7,
            "follow_me": False,
            "following": False,
            "follow_count": 50 + int(a.id) % 900,
            "followers_count": followers,
            "followers_count_str": wan(a.followers) if a.followers >= 10_000 else str(a.followers),
            "cover_image_phone": "https://tva1.sinaimg.cn/crop.0.0.640.640.640/549d0121tw1egm1kjly3jj20hs0hsq4f.jpg",
            "avatar_hd": f"https://wx1.sinaimg.cn/orj480/{int(a.id):x}ly8g.jpg",
            "like": False,
            "like_me": False,
            "badge": _badge(a),
        }
    )
    return out


_BADGES = (
    "bind_taobao",
    "dzwbqlx_2016",
    "follow_whitelist_video",
    "user_name_certificate",
    "wenchuan_10th",
    "super_star_2018",
    "worldcup_2018",
    "dailv_2018",
    "weibo_display_fans",
    "relation_display",
    "pc_new",
    "hongbao_2020",
    "gongyi_2020",
    "status_visible",
    "video_visible",
    "iplocationchange_2022",
    "gaokao_2022",
    "party_cardid_state",
    "hongrenjie_2022",
    "companion_card",
)


def _badge(a: Author) -> dict[str, int]:
    h = stable_hash(a.id)
    return {name: 1 + (h >> i) % 2 for i, name in enumerate(_BADGES) if (h >> i) & 1 or i < 4}


def _topic_page(post: Post) -> dict[str, Any] | None:
    topic = re.search(r"#[^#\n]{1,40}#", post.text)
    if topic is None:
        return None
    q = quote(topic.group(0), safe="")
    return {
        "type": "search_topic",
        "object_type": 0,
        "page_pic": {"url": "https://wx1.sinaimg.cn/thumb180/0024cZx9ly8gyemyiee8yj605005074d02.jpg"},
        "page_url": f"https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D{q}&extparam={q}",
        "page_title": topic.group(0),
        "content1": f"{stable_hash(q) % 5000}讨论 {stable_hash(q) % 90000}阅读 ",
    }


def _pics(post: Post) -> dict[str, Any]:
    pids = post.extra.get("pic_ids", [])
    if not pids:
        return {"pic_ids": [], "pic_num": 0}
    pics = [
        {
            "pid": p,
            "url": f"https://wx1.sinaimg.cn/orj360/{p}.jpg",
            "size": "orj360",
            "geo": {"width": 360, "height": 270, "croped": False},
            "large": {
                "size": "large",
                "url": f"https://wx1.sinaimg.cn/large/{p}.jpg",
                "geo": {"width": "1024", "height": "768", "croped": False},
            },
        }
        for p in pids
    ]
    return {
        "pic_ids": pids,
        "pic_num": len(pids),
        "pics": pics,
        "picStatus": ",".join("1" * len(pids)),
        "thumbnail_pic": f"https://wx1.sinaimg.cn/thumbnail/{pids[0]}.jpg",
        "bmiddle_pic": f"http://wx1.sinaimg.cn/bmiddle/{pids[0]}.jpg",
        "original_pic": f"https://wx1.sinaimg.cn/large/{pids[0]}.jpg",
    }


def created_at(post: Post, now: datetime, relative_share: int, max_relative_days: float | None = None) -> str:
    """RFC time, or (for ``relative_share`` in 10 ids, younger than ``max_relative_days``) a relative form."""
    h = stable_hash(post.post_id)
    young = (
        max_relative_days is None or (now - post.published_at).total_seconds() < max_relative_days * 86_400
    )
    if h % 10 < relative_share and young:
        return relative_time(post.published_at, now, h // 10)
    return rfc_time(post.published_at)


def mblog(post: Post, now: datetime, *, full: bool = False, retweet: Post | None = None) -> dict[str, Any]:
    """The ``mblog`` object of a post; ``full`` puts the whole text in (detail page)."""
    text, is_long = display_text(post)
    if full:
        text = text_html(post.text)
    m: dict[str, Any] = {
        "visible": {"type": 0, "list_id": 0},
        "created_at": created_at(post, now, 2, 2),
        "id": post.post_id,
        "mid": post.post_id,
        "can_edit": False,
        "show_additional_indication": 0,
        "text": text,
        "textLength": len(post.text.encode("gbk", "replace")),
        "source": post.extra.get("source", ""),
        "favorited": False,
        **_pics(post),
        "is_paid": False,
        "mblog_vip_type": 0,
        "user": user_json(post.author),
        "reposts_count": show_count(post.shares, post.post_id + "r"),
        "comments_count": show_count(post.comments, post.post_id + "c"),
        "reprint_cmt_count": 0,
        "attitudes_count": show_count(post.likes, post.post_id + "a"),
        "pending_approval_count": 0,
        "isLongText": is_long,
        "mlevel": 0,
        "show_mlevel": 0,
        "darwin_tags": [],
        "hot_page": {"fid": "232532_mblog", "feed_detail_type": 0},
        "mblogtype": 0,
        "rid": f"0_0_50_{stable_hash(post.post_id)}_0_0_0",
        "number_display_strategy": {
            "apply_scenario_flag": 3,
            "display_text_min_number": 1000000,
            "display_text": "100万+",
        },
        "cardid": f"star_{1600 + stable_hash(post.author.id) % 100}",
        "extern_safe": 0,
        "content_auth": 0,
        "safe_tags": 1 << (30 + stable_hash(post.post_id) % 6),
        "comment_manage_info": {
            "comment_permission_type": -1,
            "approval_comment_type": 0,
            "comment_sort_type": 0,
            "ai_play_picture_type": 0,
        },
        "new_comment_style": 0,
        "ab_switcher": 4,
        "mblog_menu_new_style": 0,
        "edit_config": {"edited": False},
        "bid": post.extra.get("bid", ""),
    }
    if post.ip_region and stable_hash(post.post_id) % 20:
        m["region_name"] = f"发布于 {post.ip_region}"
        m["region_opt"] = 1
    topic_page = _topic_page(post)
    if topic_page is not None:
        m["page_info"] = topic_page
    if post.extra.get("video"):
        m["page_info"] = {
            "type": "video",
            "object_type": 11,
            "page_title": post.author.name + "的微博视频",
            "media_info": {"duration": 42, "stream_url": f"https://f.video.weibocdn.com/{post.post_id}.mp4"},
            "urls": {"mp4_720p_mp4": f"https://f.video.weibocdn.com/{post.post_id}_720.mp4"},
        }
    if retweet is not None:
        m["retweeted_status"] = mblog(retweet, now)
        m["repost_type"] = 1
        m["pid"] = int(retweet.post_id)
        m["pidstr"] = retweet.post_id
        m["raw_text"] = post.text
    return m


def comment_json(com: Post, now: datetime, post: Post, floor: int) -> dict[str, Any]:
    """One ``hotflow`` comment; top-level comments carry their replies inline (or ``false``)."""
    root = com.extra.get("root_id", com.post_id)
    out: dict[str, Any] = {
        "created_at": created_at(com, now, 4),
        "id": int(com.post_id),
        "idstr": com.post_id,
        "rootid": int(root),
        "rootidstr": root,
        "floor_number": floor,
        "text": text_html(com.text),
        "disable_reply": 0,
        "restrictOperate": 0,
        "source": f"来自{com.ip_region}" if com.ip_region else "",
        "user": user_json(com.author),
        "mid": com.post_id,
        "like_count": com.likes,
        "isLikedByMblogAuthor": False,
        "more_info_type": 0,
        "bid": post.extra.get("bid", ""),
    }
    if "root_id" not in com.extra:
        out["total_number"] = len(com.replies)
        out["comments"] = [comment_json(r, now, post, 0) for r in com.replies] or False
    return out


def render_data_html(status: dict[str, Any], dumps: Any) -> str:
    """The m.weibo.cn detail page: the status inside ``var $render_data = [...][0] || {};``."""
    data = dumps(
        [
            {
                "status": status,
                "call": "1",
                "hotScheme": "sinaweibo://detail?mblogid=" + status["bid"],
                "appScheme": "sinaweibo://detail?mblogid=" + status["bid"],
            }
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<title>微博正文 - 微博HTML5版</title>\n</head>\n<body>\n<div id="app"></div>\n<script>\n'
        '    var $config = [{"st": "sim", "login": true}][0] || {};\n'
        f"    var $render_data = {data}[0] || {{}};\n</script>\n</body>\n</html>\n"
    )


_CHAIN_RE = re.compile(r"//@([^:：/]{1,40})[:：]")


def repost_html(text: str) -> str:
    """A repost's text as the timeline shows it: its own words, then ``//<a>@name</a>:`` per ancestor."""
    parts = []
    pos = 0
    for m in _CHAIN_RE.finditer(text):
        parts.append(text_html(text[pos : m.start()]))
        name = m.group(1)
        parts.append(f"//<a href='/n/{html.escape(name)}'>@{html.escape(name)}</a>:")
        pos = m.end()
    parts.append(text_html(text[pos:]))
    return "".join(parts)
