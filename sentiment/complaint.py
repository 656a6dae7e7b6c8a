"""Complaint decision, category, urgency and risk (RUBRIC.md): the learned model decides,
the rubric's hard rows stay rules.

:mod:`sentiment.complaint_model` gives the probability that a mention is a complaint, a
probability per category and whether a complaint is 紧急 rather than 一般, from n-grams,
sentiment, snownlp's word statistics and the word-list signals. The rules here add what
the rubric fixes: every Heimao post is a complaint and at least 紧急; an escalation threat,
harm to a person, a post already spreading, a group complaint or a repeat escalator make
it 非常紧急; harm makes the category 食用不适 (物流配送 when a courier caused it). The risk
score lands in the urgency's band (≥ 80 非常紧急 · 60–79 紧急 · 30–59 一般 · < 30 not a
complaint) and the reasons name the model's evidence and every rule that fired, in Chinese.
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


def heimao_issue(text: str) -> str | None:
    """The 投诉问题 field of a Heimao complaint, if the text carries one."""
    m = _HEIMAO_ISSUE.search(text)
    return m.group(1) if m else None


def courier_harm(text: str) -> bool:
    """Whether a harm could come from a courier's conduct rather than a product."""
    return bool(_COURIER_HARM.search(text))


@dataclass(frozen=True)
class ModelOutput:
    """What the learned model says about one mention (``complaint_model``)."""

    p_complaint: float
    threshold: float
    categories: dict[str, float]  # probability per category
    p_urgent: float  # 紧急 rather than 一般, among complaints
    evidence: list[str] = field(default_factory=list)  # the n-grams that pushed towards a complaint
    cues: list[str] = field(default_factory=list)  # the dense signals that did
    p_top: float = 0.0  # 非常紧急 (the model's second opinion on the hard rows)
    top_threshold: float = 1.01  # p_top at or above which the model alone says 非常紧急
    hard_threshold: float = 0.5  # the complaint bar when a hard-row signal fired


def decide(
    sig: Signals,
    *,
    model: ModelOutput,
    sentiment: float,
    platform: str | None,
    followers: int,
    engagement: int,
    th: Thresholds,
    author_history: dict[str, Any] | None = None,
    courier: bool = False,
    issue_categories: dict[str, float] | None = None,
    untargeted: bool = False,
) -> Verdict:
    """The full verdict for one mention: the model decides, the rubric's hard rows stay rules.

    ``issue_categories``: keyword sums of the Heimao 投诉问题 field (already model features;
    used here only for the reasons). ``untargeted``: a post with nothing a complaint could be
    aimed at (no brand given or named, no word of a purchase, business or service; the
    analyser's :func:`~sentiment.analyzer.untargeted`): never a complaint.
    """
    reasons: list[str] = []
    heimao = platform == HEIMAO
    p = model.p_complaint
    if (
        not heimao and not sig.text_seen
    ):  # nothing to read ("1", "👍", "[微笑]", a bare link, the brand's name alone)
        return Verdict(False, None, None, 0, ["没有可分析的文字"])
    if untargeted and not heimao:  # the rubric: a grievance about an unrelated thing is no complaint
        risk = int(max(0, min(29, 29 * p / max(model.threshold, 1e-6))))
        return Verdict(
            False,
            None,
            None,
            risk,
            [f"未指向任何品牌、商家、商品或服务 (未给出品牌; 投诉概率 {p:.2f})", *_why_not(sig, sentiment)],
        )
    hard = sig.score["escalation"] >= 2.5 or sig.score["harm"] >= 2.5 or sig.score["bulk"] >= 2.5
    bar = model.hard_threshold if hard else model.threshold
    if heimao:
        is_complaint = True
        reasons.append("黑猫投诉平台")
    else:
        # a rubric hard-row signal (escalation, harm, a group) lowers the bar: missing one costs most
        is_complaint = p >= bar
    if not is_complaint:
        risk = int(max(0, min(29, 29 * p / max(model.threshold, 1e-6))))
        reasons.append(f"模型判定非投诉 (投诉概率 {p:.2f})")
        reasons.extend(_why_not(sig, sentiment))
        return Verdict(False, None, None, risk, reasons)
    urgency, urgent_reasons = _urgency(
        sig,
        model=model,
        heimao=heimao,
        followers=followers,
        engagement=engagement,
        th=th,
        author_history=author_history,
    )
    category, cat_reason = _category(sig, model=model, courier=courier)
    if p >= model.threshold:
        reasons.append(f"模型判定投诉 (投诉概率 {p:.2f})")
    elif hard:
        reasons.append(
            f"投诉概率 {p:.2f}，有升级/健康/群体信号，按较低阈值 {model.hard_threshold:.2f} 计为投诉"
        )
    else:
        reasons.append(f"投诉概率 {p:.2f}（低于模型阈值，按平台规则计为投诉）")
    if model.evidence:
        reasons.append("模型依据: " + "、".join(model.evidence))
    if model.cues:
        reasons.append("信号: " + "、".join(model.cues))
    reasons.extend(_evidence_reasons(sig, sentiment))
    if cat_reason:
        reasons.append(cat_reason)
    reasons.extend(urgent_reasons)
    risk = _risk(urgency, p, model.threshold)
    if risk < th.complaint_min_risk and not heimao:  # an operator raised the bar above the 一般 band
        return Verdict(
            False, None, None, min(risk, 29), [*_dedupe(reasons), f"风险低于阈值 {th.complaint_min_risk}"]
        )
    return Verdict(True, category, urgency, risk, _dedupe(reasons))


def hard_urgency(
    sig: Signals, *, followers: int, engagement: int, th: Thresholds, author_history: dict[str, Any] | None
) -> list[str]:
    """The rubric's 非常紧急 rows that fire (escalation, harm, spread, group, repeat escalator)."""
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
    return top


def _urgency(
    sig: Signals,
    *,
    model: ModelOutput,
    heimao: bool,
    followers: int,
    engagement: int,
    th: Thresholds,
    author_history: dict[str, Any] | None,
) -> tuple[str, list[str]]:
    top = hard_urgency(sig, followers=followers, engagement=engagement, th=th, author_history=author_history)
    if not top and model.p_top >= model.top_threshold:
        top.append(f"模型判定非常紧急 ({model.p_top:.2f})")
    if top:
        return "非常紧急", top
    s, t = sig.score, sig.terms
    mid: list[str] = []
    if model.p_urgent >= 0.5:
        mid.append(f"模型判定紧急 ({model.p_urgent:.2f})")
        if s["demand"] >= 2.5:
            mid.append("明确诉求: " + "、".join(t["demand"][:3]))
        if s["emotion"] >= 2.5:
            mid.append("情绪强烈: " + "、".join(t["emotion"][:3]))
    if heimao:
        mid.append("黑猫投诉至少紧急")
    complaints_before = int((author_history or {}).get("complaint_count") or 0)
    if complaints_before >= 3:
        mid.append(f"作者历史投诉 {complaints_before} 次")
    if mid:
        return "紧急", mid
    return "一般", []


def _category(sig: Signals, *, model: ModelOutput, courier: bool) -> tuple[str, str | None]:
    """Harm to a person is 食用不适 (物流配送 when a courier caused it); otherwise the model's category."""
    if sig.score["harm"] >= 2.5:
        if courier and (sig.categories.get("物流配送", 0) >= 3 or model.categories.get("物流配送", 0) >= 0.3):
            return "物流配送", "快递/配送造成伤害"
        return "食用不适", None
    if not model.categories:
        return "其他", None
    best, prob = max(model.categories.items(), key=lambda kv: kv[1])
    return best, f"类别 {best} ({prob:.2f})"


def _risk(urgency: str, p: float, threshold: float) -> int:
    """A point in the urgency's band, higher the surer the model is that it is a complaint."""
    low = {"非常紧急": 80, "紧急": 60, "一般": 30}[urgency]
    high = {"非常紧急": 100, "紧急": 79, "一般": 59}[urgency]
    sure = (p - threshold) / max(1e-6, 1.0 - threshold)
    return int(max(low, min(high, low + round(max(0.0, sure) * (high - low)))))


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
        out.append("针对其他品牌或无关的事: " + "、".join(sig.competitor_terms[:2]))
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
    return list(dict.fromkeys(items))
