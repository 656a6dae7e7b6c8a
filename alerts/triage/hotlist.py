"""Hot-list alerts: which topics belong to a brand, and when a topic on a list is news.

**Matching** (:func:`match_topic`) uses the words that find a brand's mentions — its name, aliases,
products and search keywords — and the same exclusion words (a topic holding one is not the
brand's). One guard more than a keyword search needs: a topic is short and has no context, so a
short alias of one or two Han characters must stand at an edge of a word (``鲜果门店``), not in the
middle of another one (``新鲜果汁``). Paid placements (ads) are never a brand topic.

**Alerts** (:func:`updates`, pure): one alert thread per topic. The first time a brand topic is
seen on a list is an immediate alert; later fetches update it when the topic climbs into the top N
(``[hot_lists].top``), gains a 沸 or 爆 label, or climbs ``[hot_lists].rank_jump`` places above the
rank last alerted. Everything else (small moves, a falling topic) is only stored. A brand on a hot
list is a crisis signal: the first alert passes quiet hours and a spent hourly budget (as a new
非常紧急 event does); every message is charged to the budget.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from alerts import rules
from alerts.delivery import payloads
from alerts.delivery.outbox import enqueue
from alerts.triage import pacing

if TYPE_CHECKING:
    from crawler.config import AppConfig

HOT_LABELS = ("沸", "爆")
PLATFORM_LISTS = {"weibo": "微博热搜", "douyin": "抖音热榜"}
_HAN = re.compile(r"[\u3400-\u9fff]")


def _is_han(ch: str) -> bool:
    return bool(_HAN.match(ch))


def _stands_alone(word: str, term: str) -> bool:
    """Whether ``term`` occurs in ``word`` not glued inside other Han characters (short Han terms only)."""
    if len(term) > 2 or not all(_is_han(c) for c in term):
        return term in word
    start = word.find(term)
    while start >= 0:
        end = start + len(term)
        left = start == 0 or not _is_han(word[start - 1])
        right = end == len(word) or not _is_han(word[end])
        if left or right:
            return True
        start = word.find(term, start + 1)
    return False


def match_topic(cfg: AppConfig, word: str) -> tuple[str, str] | None:
    """``(brand, matched word)`` of a hot-list topic, or None (no brand word, or an exclusion word)."""
    for brand in cfg.brands:
        if any(x and x in word for x in brand.exclude):
            continue
        terms = sorted(
            {t for t in (brand.name, *brand.aliases, *brand.products, *brand.keywords) if t},
            key=len,
            reverse=True,
        )
        for term in terms:
            if term in word and _stands_alone(word, term):
                return brand.name, term
    return None


def updates(state: dict[str, Any] | None, rank: int, label: str | None, *, top: int, jump: int) -> list[str]:
    """Why an alert goes out for a topic now at ``rank`` with ``label``, given what was alerted (``state``)."""
    state = state or {}
    if not state.get("alerts"):
        return ["登榜"]
    reasons = []
    if rank <= top and int(state.get("best_alerted") or 999) > top:
        reasons.append(f"进入前{top}")
    if label in HOT_LABELS and label not in (state.get("labels") or []):
        reasons.append(f"获得「{label}」标签")
    last = int(state.get("rank") or 999)
    if last - rank >= jump and not reasons:
        reasons.append(f"排名上升 {last} → {rank}")
    return reasons


def after_alert(state: dict[str, Any] | None, rank: int, label: str | None, now: datetime) -> dict[str, Any]:
    """The topic's alert state once an alert for ``rank``/``label`` went out."""
    new = dict(state or {})
    new["alerts"] = int(new.get("alerts") or 0) + 1
    new["rank"] = rank
    new["best_alerted"] = min(rank, int(new.get("best_alerted") or 999))
    labels = list(new.get("labels") or [])
    if label in HOT_LABELS and label not in labels:
        labels.append(label)
    new["labels"] = labels
    new["last"] = now.isoformat()
    return new


def channels_for(cfg: AppConfig, brand: str) -> list[str]:
    return list(cfg.hot_lists.channels) or rules.surge_channels(cfg, brand)


def hot_part(topic: dict[str, Any], item: Any) -> dict[str, Any]:
    return {
        "platform": topic["platform"],
        "list": PLATFORM_LISTS.get(topic["platform"], topic["platform"]),
        "word": topic["word"],
        "rank": item.rank,
        "heat": item.heat,
        "label": item.label,
        "best_rank": topic.get("best_rank") or item.rank,
        "first_seen_at": topic.get("first_seen_at"),
        "search_url": item.search_url,
        "matched_by": topic.get("matched_by"),
    }


def send(
    conn: Connection, cfg: AppConfig, topic: dict[str, Any], item: Any, reasons: list[str], now: datetime
) -> int | None:
    """Queue the topic's alert (the first, or an update); returns the alert id (None: nothing queued)."""
    n = int((topic.get("alert_state") or {}).get("alerts") or 0) + 1
    lst = PLATFORM_LISTS.get(topic["platform"], topic["platform"])
    title = f"{lst}第{item.rank}位 · {topic['word']}"[:80]
    first = n == 1
    text = f"品牌话题登上{lst}：第 {item.rank} 位" if first else f"热榜话题更新：{'；'.join(reasons)}"
    payload = {
        "kind": "hot",
        "title": title,
        "brand": topic["brand"],
        "urgency": None,
        "risk": None,
        "reasons": reasons,
        "text": text,
        "hot": hot_part(topic, item),
        "links": payloads.links(cfg, event_id=topic.get("event_id")),
    }
    channels = channels_for(cfg, topic["brand"])
    # The first alert passes a spent budget; an update over it is told in the next roll-up, not sent.
    names, held = pacing.split(conn, cfg, topic["brand"], channels, now, exempt=first)
    if held:
        pacing.hold(
            conn,
            [
                pacing.Hold(
                    "rollup",
                    topic["brand"],
                    ch,
                    f"hot:{topic['id']}:{n}",
                    "hot",
                    event_id=topic.get("event_id"),
                    note=f"{title}：{text}"[:500],
                )
                for ch in held
            ],
            now,
        )
    if not names:
        return None
    alert_id = enqueue(
        conn,
        cfg,
        kind="hot",
        dedup_key=f"hot:{topic['id']}:{n}",
        title=title,
        payload=payload,
        channels=names,
        brand=topic["brand"],
        event_id=topic.get("event_id"),
    )
    if alert_id is not None:
        pacing.charge(conn, topic["brand"], names, now, alert_id, exempt=first)
    return alert_id
