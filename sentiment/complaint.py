"""Complaint decision, category, urgency and risk (RUBRIC.md), from lexicon signals + sentiment.

The decision is a weighted sum of evidence (problem, demand, anger, sarcasm, harm,
escalation, negative sentiment) minus what makes a post something else (advertising,
news, praise, a fixed problem, the author's own fault, a joke). Urgency follows the
rubric's first-matching row; the risk score lands in the urgency's band
(≥ 80 非常紧急 · 60–79 紧急 · 30–59 一般 · < 30 not a complaint) and the reasons name
every signal that fired, in Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sentiment.signals import Signals

HEIMAO = "heimao"
_HEIMAO_ISSUE = re.compile(r"投诉问题[】\]]?\s*[:：]?\s*([^｜|【]{1,80})")
_COURIER_HARM = re.compile(r"快递员|快递小哥|配送员|骑手|三轮|货车|司机|撞")


@dataclass(frozen=True)
class Thresholds:
    big_v_followers: int = 100_000
    viral_engagement: int = 1_000
    complaint_min_risk: int = 30


@dataclass
class Verdict:
    is_complaint: bool
    category: str | None
    urgency: str | None
    risk: int
    reasons: list[str] = field(default_factory=list)


def rule_evidence(sig: Signals) -> float:
    """Grievance evidence from the word lists alone (problem, demand, anger, harm, escalation)."""
    s = sig.score
    value = (min(s["problem"], 8.0) + min(s["demand"], 6.0) * 0.8 + min(s["emotion"], 4.0) * 0.4
             + min(s["harm"], 6.0) + min(s["escalation"], 6.0) * 0.6 + min(s["bulk"], 3.0) * 0.3)
    if s["sarcasm"] >= 1.5 and (s["problem"] > 0 or s["demand"] > 0):
        value += 1.5  # sarcasm about a stated problem; a sarcastic joke alone is no grievance
    return value + category_evidence(sig)


def category_evidence(sig: Signals) -> float:
    """A category-specific problem described (中转站躺了四天, 嘎吱响) adds a little evidence."""
    best = max((v for k, v in sig.categories.items() if k != "食用不适"), default=0.0)
    return min(best, 6.0) * 0.2


def evidence(sig: Signals, sentiment: float) -> float:
    """Rule evidence plus the model's negativity (sarcasm turns praise into grievance)."""
    neg = (0.5 - sentiment) * 3.0
    if sig.score["sarcasm"] >= 1.5:
        neg = abs(neg)
    neg = max(-0.75, neg)  # the model's praise is weak evidence against the word lists
    return rule_evidence(sig) + neg


def suppression(sig: Signals) -> float:
    """How strongly the text is something other than a grievance."""
    s = sig.score
    value = (min(s["ads"], 6.0) * 0.9 + min(s["news"], 6.0) * 0.8 + min(s["ownfault"], 4.0) * 1.5
             + min(s["resolved"], 4.0) * 1.0 + min(s["praise"], 6.0) * 0.35 + min(s["joke"], 4.0) * 0.6)
    if sig.competitor_terms:
        value += 1.5
    return value


def heimao_issue(text: str) -> str | None:
    """The 投诉问题 field of a Heimao complaint, if the text carries one."""
    m = _HEIMAO_ISSUE.search(text)
    return m.group(1) if m else None


def courier_harm(text: str) -> bool:
    """Whether a harm could come from a courier's conduct rather than a product."""
    return bool(_COURIER_HARM.search(text))


def decide(sig: Signals, *, sentiment: float, platform: str | None, followers: int, engagement: int,
           th: Thresholds, author_history: dict[str, Any] | None = None, courier: bool = False,
           issue_categories: dict[str, float] | None = None) -> Verdict:
    """The full verdict for one mention (``issue_categories``: scores of the Heimao issue field)."""
    reasons: list[str] = []
    heimao = platform == HEIMAO
    ev = evidence(sig, sentiment)
    sup = suppression(sig)
    margin = ev - sup
    if heimao:
        is_complaint = True
        reasons.append("黑猫投诉平台")
    else:
        is_complaint = margin >= 2.0 and rule_evidence(sig) - category_evidence(sig) >= 1.0
        promo = sig.score["ads"] >= 3 or sig.score["news"] >= 3
        if is_complaint and promo and not (sig.score["personal"] >= 1 and sig.score["problem"] >= 3):
            is_complaint = False  # an advert or a news item quoting complaint words
    if not is_complaint:
        risk = int(max(0, min(29, 10 + margin * 4)))
        reasons.extend(_why_not(sig, sentiment))
        return Verdict(False, None, None, risk, reasons)
    urgency, urgent_reasons = _urgency(sig, heimao=heimao, followers=followers, engagement=engagement,
                                       th=th, author_history=author_history)
    category = _category(sig, courier=courier, issue_categories=issue_categories)
    reasons.extend(_evidence_reasons(sig, sentiment))
    reasons.extend(urgent_reasons)
    risk = _risk(urgency, margin, sig)
    if risk < th.complaint_min_risk and not heimao:  # an operator raised the bar above the 一般 band
        return Verdict(False, None, None, min(risk, 29), [*_dedupe(reasons), f"风险低于阈值 {th.complaint_min_risk}"])
    return Verdict(True, category, urgency, risk, _dedupe(reasons))


def _urgency(sig: Signals, *, heimao: bool, followers: int, engagement: int, th: Thresholds,
             author_history: dict[str, Any] | None) -> tuple[str, list[str]]:
    s, t = sig.score, sig.terms
    top: list[str] = []
    if s["escalation"] >= 2.5:
        top.append("提及" + "、".join(t["escalation"][:3]))
    if s["harm"] >= 2.5:
        top.append("健康安全: " + "、".join(t["harm"][:3]))
    if engagement >= th.viral_engagement:
        top.append(f"高传播: 点赞+评论+转发 {engagement:,}")
    if followers >= th.big_v_followers:
        top.append(f"大V作者 粉丝 {_wan(followers)}")
    if s["bulk"] >= 2.5:
        top.append("批量/群体问题: " + "、".join(t["bulk"][:2]))
    history = author_history or {}
    escalated_before = int(history.get("escalation_count") or 0)
    if escalated_before and (s["demand"] >= 2.5 or s["emotion"] >= 2.5):
        top.append(f"作者曾升级投诉 {escalated_before} 次且本次诉求强烈")
    if top:
        return "非常紧急", top
    mid: list[str] = []
    if s["demand"] >= 2.5:
        mid.append("明确诉求: " + "、".join(t["demand"][:3]))
    if s["emotion"] >= 2.5:
        mid.append("情绪强烈: " + "、".join(t["emotion"][:3]))
    if heimao:
        mid.append("黑猫投诉至少紧急")
    complaints_before = int(history.get("complaint_count") or 0)
    if complaints_before >= 3:
        mid.append(f"作者历史投诉 {complaints_before} 次")
    if mid:
        return "紧急", mid
    return "一般", []


def _category(sig: Signals, *, courier: bool, issue_categories: dict[str, float] | None) -> str:
    scores = dict(sig.categories)
    for name, value in (issue_categories or {}).items():
        scores[name] = scores.get(name, 0.0) + value * 2
    if sig.score["harm"] >= 2.5:
        if courier and scores.get("物流配送", 0) >= 3:
            return "物流配送"
        return "食用不适"
    scores.pop("食用不适", None)
    if not scores:
        return "其他"
    best = max(scores.items(), key=lambda kv: (kv[1], _PRIORITY.get(kv[0], 0)))
    return best[0] if best[1] >= 1.5 else "其他"


_PRIORITY = {"退换货": 9, "价格收费": 8, "活动政策": 7, "服务态度": 6, "虚假宣传": 5,
             "物流配送": 4, "产品质量": 3, "使用问题": 2, "其他": 1}


def _risk(urgency: str, margin: float, sig: Signals) -> int:
    low = {"非常紧急": 80, "紧急": 60, "一般": 30}[urgency]
    high = {"非常紧急": 100, "紧急": 79, "一般": 59}[urgency]
    extra = margin * 2.0 + sig.score["escalation"] + sig.score["harm"] + sig.score["demand"] * 0.5
    return int(max(low, min(high, low + extra)))


def _evidence_reasons(sig: Signals, sentiment: float) -> list[str]:
    t = sig.terms
    out: list[str] = []
    if sentiment < 0.35:
        out.append(f"负面情绪 {sentiment:.2f}")
    if t["problem"]:
        out.append("不满/问题: " + "、".join(t["problem"][:4]))
    if t["sarcasm"]:
        out.append("反讽: " + "、".join(t["sarcasm"][:2]))
    return out


def _why_not(sig: Signals, sentiment: float) -> list[str]:
    s, t = sig.score, sig.terms
    out: list[str] = []
    if s["ads"] >= 2:
        out.append("广告/活动: " + "、".join(t["ads"][:2]))
    if s["news"] >= 2:
        out.append("新闻/公告: " + "、".join(t["news"][:2]))
    if sig.competitor_terms:
        out.append("针对其他品牌: " + "、".join(sig.competitor_terms[:2]))
    if sig.negated:
        out.append("否定的问题: " + "、".join(sig.negated[:3]))
    if s["ownfault"] >= 2:
        out.append("作者自身原因")
    if s["resolved"] >= 2:
        out.append("问题已解决并获好评")
    if s["joke"] >= 2:
        out.append("玩笑/调侃")
    if sentiment > 0.65:
        out.append(f"正面情绪 {sentiment:.2f}")
    return out


def _wan(n: int) -> str:
    return f"{n / 10_000:.1f}".rstrip("0").rstrip(".") + "万" if n >= 10_000 else f"{n:,}"


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]
