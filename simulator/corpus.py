"""Text generator: realistic Chinese posts, complaints and comments for any brand, labelled by RUBRIC.md.

``Corpus(rng)`` is deterministic for a seeded ``random.Random``. ``plan(n, ...)`` first
covers every (category, urgency) pair, every non-complaint type and every 非常紧急 reason
(escalation words, health harm, bulk reports, virality, big accounts), then draws the rest
at random. ``post()`` turns a plan item into a :class:`Draft`; ``style`` is the platform's
voice (``weibo``/``douyin``: short, emoticons and #topics#; ``heimao``: a formal complaint with
title, demand, issue and amount; ``xiaohongshu``: a title plus a note).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulator import phrases as ph
from simulator.model import BrandSpec, Label

CATEGORIES = (
    "产品质量",
    "食用不适",
    "活动政策",
    "使用问题",
    "服务态度",
    "物流配送",
    "退换货",
    "虚假宣传",
    "价格收费",
    "其他",
)
URGENCIES = ("非常紧急", "紧急", "一般")
NON_COMPLAINT_TYPES = (
    "praise",
    "neutral",
    "news",
    "ad",
    "competitor",
    "negated",
    "joke",
    "unrelated",
    "fixed",
    "hostile",
)
ESCALATION_KEYS = tuple(ph.ESCALATIONS)
# Why a 非常紧急 complaint is 非常紧急; cycled so every reason appears.
URGENT_REASONS = (*ESCALATION_KEYS, "bulk", "viral", "big_v")
_RANDOM_WEIGHTS = {
    "complaint": 45,
    "praise": 12,
    "neutral": 10,
    "news": 6,
    "ad": 7,
    "competitor": 5,
    "negated": 5,
    "joke": 5,
    "unrelated": 3,
    "fixed": 2,
    "hostile": 1,
}
_NEG_ICONS = ("[怒]", "[泪]", "[抓狂]", "[允悲]")
_POS_ICONS = ("[赞]", "[心]", "[哈哈]", "[doge]")


@dataclass(frozen=True, slots=True)
class PlanItem:
    type: str  # "complaint" or a NON_COMPLAINT_TYPES entry
    category: str | None = None
    urgency: str | None = None


@dataclass(slots=True)
class Draft:
    """Generated text plus its label; ``reach`` asks the world for big numbers or a big account."""

    text: str
    label: Label
    title: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    reach: str = "normal"  # normal | viral | big_v | official | media


def _tidy(text: str, brand: BrandSpec, shown: str) -> str:
    """Drop a doubled brand when a product name already starts with it (鲜果时光鲜果时光轻食杯)."""
    for name in {shown, brand.name}:
        text = text.replace(f"{shown}{name}", name) if name.startswith(shown) or shown == name else text
    return text


class Corpus:
    """Seeded text generator; one instance per world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._reason_i = 0
        self._crisis: dict[
            str, dict[str, Any]
        ] = {}  # each brand's crisis values (one story on every platform)

    # --- planning ------------------------------------------------------------------------

    def coverage(self, *, complaints_only: bool = False) -> list[PlanItem]:
        """One item for every category×urgency (and every non-complaint type unless complaints only)."""
        urgencies = ("非常紧急", "紧急") if complaints_only else URGENCIES
        items = [
            PlanItem("complaint", c, u)
            for c in CATEGORIES
            for u in urgencies
            if c != "食用不适" or u == "非常紧急"
        ]
        if not complaints_only:
            items += [PlanItem(t) for t in NON_COMPLAINT_TYPES]
        return items

    def random_item(self, *, complaints_only: bool = False) -> PlanItem:
        rng = self.rng
        kind = (
            "complaint"
            if complaints_only
            else rng.choices(list(_RANDOM_WEIGHTS), weights=list(_RANDOM_WEIGHTS.values()))[0]
        )
        if kind != "complaint":
            return PlanItem(kind)
        cat = rng.choice(CATEGORIES)
        if cat == "食用不适":
            return PlanItem(kind, cat, "非常紧急")
        weights = (30, 70, 0) if complaints_only else (25, 40, 35)
        return PlanItem(kind, cat, rng.choices(URGENCIES, weights=weights)[0])

    def plan(self, n: int, *, complaints_only: bool = False) -> list[PlanItem]:
        items = self.coverage(complaints_only=complaints_only)
        self.rng.shuffle(items)
        while len(items) < n:
            items.append(self.random_item(complaints_only=complaints_only))
        return items[:n]

    # --- posts ---------------------------------------------------------------------------

    def _values(self, brand: BrandSpec) -> dict[str, Any]:
        rng = self.rng
        name = brand.name if not brand.aliases or rng.random() < 0.75 else rng.choice(brand.aliases)
        return {
            "b": name,
            "p": rng.choice(brand.products or ph.GENERIC_PRODUCTS),
            "d": rng.randint(2, 15),
            "n": rng.randint(2, 9),
            "m": rng.choice((19, 29, 39.9, 68, 99, 128, 199, 299, 588)),
            "city": rng.choice(ph.CITIES),
            "hh": rng.randint(20, 23),
            "cmp": rng.choice(ph.COMPETITORS),
        }

    def post(self, brand: BrandSpec, item: PlanItem, style: str = "weibo") -> Draft:
        """Write one post (or Heimao complaint) for ``brand`` as ``item`` asks."""
        v = self._values(brand)
        if item.type != "complaint":
            draft = self._non_complaint(item.type, v)
        elif style == "heimao":
            draft = self._heimao(item, v)
        else:
            draft = self._complaint(item, v)
        if style != "heimao":
            self._decorate(draft, v, style)
        draft.text = _tidy(draft.text, brand, v["b"])
        if style == "xiaohongshu" and draft.title is None:
            draft.title = draft.text.split("，")[0][:20]
        return draft

    def _reason(self, category: str, *, heimao: bool) -> str:
        if category == "食用不适":
            return "health"
        while True:
            reason = URGENT_REASONS[self._reason_i % len(URGENT_REASONS)]
            self._reason_i += 1
            if not (heimao and reason in ("viral", "big_v")):
                return reason

    def _core(self, item: PlanItem, v: dict[str, Any], *, heimao: bool = False) -> tuple[str, Label, str]:
        """The grievance sentence(s) and label shared by every style; returns (text, label, reach)."""
        rng = self.rng
        cat, urg = item.category or "其他", item.urgency or "一般"
        label = Label("complaint", True, cat, urg)
        text = rng.choice(ph.PROBLEMS[cat]).format_map(v)
        reach = "normal"
        if urg == "一般":
            text += "，" + rng.choice(ph.MILD)
            label.signals.append("mild")
        elif urg == "紧急":
            if rng.random() < 0.2 and not heimao:
                text = rng.choice(ph.SARCASM).format_map(v) + text
                label.signals.append("sarcasm")
            text += "，" + rng.choice(ph.DEMANDS + ph.EMOTIONS).format_map(v)
            label.signals.append("demand_or_emotion")
        else:
            reason = self._reason(cat, heimao=heimao)
            label.signals.append(
                reason if reason in ("health", "bulk", "viral", "big_v") else f"escalation:{reason}"
            )
            text += "，" + rng.choice(ph.DEMANDS).format_map(v)
            if reason in ph.ESCALATIONS:
                text += ph.ESCALATIONS[reason].format_map(v) + "。"
            elif reason == "bulk":
                text += rng.choice(ph.BULK) + "。"
            elif reason in ("viral", "big_v"):
                reach = reason
        if rng.random() < 0.15:
            text += self._pii(label)
        if urg != "一般" and rng.random() < 0.1 and not heimao:
            text = rng.choice(ph.SLANG) + text
            label.signals.append("slang")
        return text, label, reach

    def _pii(self, label: Label) -> str:
        rng = self.rng
        kind = rng.choice(("phone", "order", "email"))
        label.signals.append(f"pii:{kind}")
        if kind == "phone":
            return f"我的电话1{rng.choice('3456789')}{rng.randrange(10**9):09d}，"
        if kind == "order":
            return f"订单号{rng.randrange(10**17, 10**18)}，"
        user = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(6)) + str(rng.randint(10, 99))
        return f"联系邮箱{user}@{rng.choice(('qq.com', '163.com', '126.com'))}，"

    def _complaint(self, item: PlanItem, v: dict[str, Any]) -> Draft:
        text, label, reach = self._core(item, v)
        if item.urgency == "一般" and item.category == "使用问题" and "？" not in text:
            text += "，有人知道怎么解决吗？"
            label.signals.append("question")
        return Draft(text.rstrip("，"), label, reach=reach)

    def _non_complaint(self, kind: str, v: dict[str, Any]) -> Draft:
        rng = self.rng
        text = rng.choice(ph.NON_COMPLAINTS[kind]).format_map(v)
        reach = {"ad": "official", "news": "media"}.get(kind, "normal")
        if kind == "praise" and rng.random() < 0.15:
            reach = "viral"
        if kind == "hostile":  # a joke under the rubric; the markup is the point
            return Draft(text, Label("joke", signals=["hostile"]))
        return Draft(text, Label(kind), reach=reach)

    def _decorate(self, draft: Draft, v: dict[str, Any], style: str) -> None:
        rng = self.rng
        icons = _NEG_ICONS if draft.label.is_complaint else _POS_ICONS
        if rng.random() < 0.3 and not draft.text.endswith("]"):
            draft.text += rng.choice(icons)
        if rng.random() < 0.25:
            topic = rng.choice(ph.TOPICS).format_map(v)
            draft.text = f"{topic}{draft.text}" if rng.random() < 0.5 else f"{draft.text} {topic}"
        if style == "weibo" and draft.label.is_complaint and rng.random() < 0.12:
            draft.text += "\n" + rng.choice(ph.LONG_TAILS).format_map(v)

    def _heimao(self, item: PlanItem, v: dict[str, Any]) -> Draft:
        rng = self.rng
        problem, label, _ = self._core(item, v, heimao=True)
        when = datetime(2025, 1, 1) + timedelta(days=rng.randint(0, 300))
        opener = rng.choice(ph.HEIMAO_OPENERS).format_map(
            {**v, "date": f"{when.month}月{when.day}日", "channel": rng.choice(ph.HEIMAO_CHANNELS)}
        )
        content = f"{opener}{problem.rstrip('，。！')}。多次联系客服均没有得到有效解决，希望平台帮忙处理。"
        appeal = rng.choice(ph.HEIMAO_APPEALS)
        issue = ph.HEIMAO_ISSUES[label.category or "其他"]
        title = f"{v['b']}{issue}，要求{appeal.replace(',', '和')}"
        cost = str(rng.choice((0, 29, 59, 99, 128, 199, 299, 460, 888, 1299)))
        return Draft(content, label, title=title, fields={"appeal": appeal, "issue": issue, "cost": cost})

    # --- comments and the crisis ---------------------------------------------------------

    def comment(self, brand: BrandSpec, parent: Label, *, official: bool = False) -> Draft:
        """A comment under a post whose label is ``parent``; labels follow the parent approximately."""
        rng = self.rng
        v = self._values(brand)
        if official:
            return Draft(rng.choice(ph.COMMENT_OFFICIAL), Label("official_reply"), reach="official")
        if parent.is_complaint:
            text = rng.choice(ph.COMMENT_ECHO)
            if "{b}" in text:
                label = Label("complaint", True, parent.category, "一般", ["echo"])
            else:
                label = Label("reaction")
            return Draft(text.format_map(v), label)
        return Draft(rng.choice(ph.COMMENT_CHEER).format_map(v), Label("reaction"))

    def crisis(self, brand: BrandSpec, n: int, style: str = "weibo") -> list[Draft]:
        """The burst: an original story and ``n - 1`` near-identical reposts of it.

        The story is the same on every platform (its product above all): the ground truth counts
        the burst as one story, so its copies must tell that story, not another product's.
        """
        rng = self.rng
        drawn = self._values(brand)  # still drawn on every platform: the rest of the world stays as it was
        v = dict(self._crisis.setdefault(brand.name, drawn))
        v["b"] = brand.name
        story = ph.CRISIS_STORIES[0].format_map(v)
        drafts = []
        for i in range(n):
            label = Label("complaint", True, "食用不适", "非常紧急", ["health", "bulk", "crisis"])
            if i == 0:
                text = f"{story}。#{brand.name}食品安全#"
            else:
                text = rng.choice(ph.CRISIS_PREFIX) + story + rng.choice(ph.CRISIS_SUFFIX).format_map(v)
            draft = Draft(text, label, reach="viral" if i == 0 else "normal")
            if style == "heimao":
                draft.title = f"{brand.name}{v['p']}吃完腹泻呕吐，要求赔偿"
                draft.text = (
                    f"看到网上很多人反映，我家吃了{brand.name}的{v['p']}后也腹泻呕吐，{story}。要求赔偿。"
                )
                draft.fields = {
                    "appeal": "赔偿",
                    "issue": "食品安全问题",
                    "cost": str(rng.choice((68, 99, 128))),
                }
            elif style == "xiaohongshu":
                draft.title = f"{brand.name}{v['p']}吃完腹泻！姐妹们避雷"
            drafts.append(draft)
        return drafts
