"""Lexicon signals of one text: which word-list terms fired, where, and whether they count.

A hit does not count when a negator stands right before it in the same clause
("没有任何问题", "一点都不烫"), when it sits in a clause about a competitor ("某牌坚果吃出过
虫子"), or, for harm, when it is a near miss ("差点…还好没事"). Clauses end at punctuation,
spaces and emoji; a competitor's clauses run on until the brand is named again or the
author switches ("换成", "还是").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from sentiment.lexicons import Hit, Matcher, WordList

# lists whose hits are evidence about the brand (negation and competitor rules apply)
EVIDENCE = ("problem", "demand", "emotion", "escalation", "harm", "bulk", "sarcasm", "category")
NEGATABLE = ("problem", "emotion", "harm", "escalation", "bulk")  # category words keep the topic
CLAUSE_BREAK = re.compile(
    r"[，,。.！!？?；;…~～\s\n|｜【】()（）“”\"]+|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50]+"
)
_NOT_NEGATION = (
    "不过",
    "不错",
    "不少",
    "不仅",
    "不停",
    "不断",
    "不得不",
    "要不",
    "不然",
    "没想到",
    "不知道",
    "不管",
    "不止",
    "无论",
    "不会吧",
    "不用",
    "毫不",
    "不久",
    "是不是",
    "能不能",
    "会不会",
    "有没有",
    "要不要",
    "好不好",
    "行不行",
    "可不可以",
    "是否",
    "不急",
    "没办法",
    "不到",
    "不住",
    "无奈",
    "不得",
    "无理由",
    "无法",
    "无人",
    "无语",
    "无故",
    "不可",
    "不能",
    "不给",
    "不让",
    "不退",
    "不回",
    "没人",
    "没收到",
    "不发",
)
# problem words after these are hypothetical (a brand's offer: "如遇问题，投诉24小时内必回")
HYPOTHETICAL = (
    "如遇",
    "如有",
    "若有",
    "如果有",
    "有任何问题",
    "可直接",
    "可随时",
    "随时找",
    "随时投诉",
    "有问题随时",
    "有问题可",
    "万一",
    "一旦有",
    "担心",
    "本来以为",
    "原本以为",
    "还以为",
    "怕",
)
_NOT_NEGATION_RE = re.compile("|".join(re.escape(p) for p in _NOT_NEGATION))
_HYPOTHETICAL_RE = re.compile("|".join(re.escape(h) for h in HYPOTHETICAL))
_NEAR_MISS = re.compile(
    r"差点|差一点|险些|还好没事|幸好没事|好在没事|没出事|完全没事|一点事都没有|担心会|怕会"
)


@dataclass
class Signals:
    """Scores per list (counted hits only) and the terms behind them, for reasons."""

    score: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    terms: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    categories: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    negated: list[str] = field(default_factory=list)
    competitor_terms: list[str] = field(default_factory=list)
    brand_named: bool = False
    text_seen: bool = True  # False for an empty text

    def finish(self) -> None:
        """Derived scores: sarcasm carries strong feeling."""
        if self.score["sarcasm"] >= 2:
            self.score["emotion"] += 1.5

    def add(self, kind: str, term: str, weight: float) -> None:
        self.score[kind] += weight
        if term not in self.terms[kind]:
            self.terms[kind].append(term)


@dataclass
class Lexicon:
    """All word lists, compiled: one matcher for every list and one per category."""

    lists: dict[str, WordList]
    categories: dict[str, WordList]
    negators: tuple[str, ...]
    slang: tuple[str, ...]
    stopwords: frozenset[str]
    words: tuple[str, ...] = ()
    matcher: Matcher = field(init=False)

    def __post_init__(self) -> None:
        merged = dict(self.lists)
        for name, wl in self.categories.items():
            merged["category:" + name] = wl
        self.matcher = Matcher(merged)


def clauses(text: str) -> list[int]:
    """Start offsets of the clauses of ``text`` (always begins with 0)."""
    return [0, *(m.end() for m in CLAUSE_BREAK.finditer(text))]


BRAND_MARK = "\u24b7"  # Ⓑ: brand names are blanked out before matching ("味多多出了" is no "多出")
_QUOTED = re.compile(r"[“\"「『][^”\"」』]{1,40}[”\"」』]")
_HASHTAG = re.compile(r"#[^#\n]{1,30}#")
PROMO = ("ads", "news")
_PROMO_SET = frozenset(PROMO)  # inside quotation marks these quote someone else's advert


def mask_brands(text: str, brand_terms: tuple[str, ...]) -> str:
    """``text`` with every brand term replaced by as many :data:`BRAND_MARK` characters."""
    for term in brand_terms:
        if term and term in text:
            text = text.replace(term, BRAND_MARK * len(term))
    return text


def collect(text: str, lex: Lexicon, brand_terms: tuple[str, ...] = ()) -> Signals:
    """Signals of ``text`` (already normalised and lower-cased)."""
    return collect_many([text], lex, [brand_terms])[0]


def collect_many(texts: list[str], lex: Lexicon, brand_terms: list[tuple[str, ...]]) -> list[Signals]:
    """:func:`collect` for many texts (the word lists are matched for the whole batch at once)."""
    masked = [mask_brands(t, b) for t, b in zip(texts, brand_terms, strict=True)]
    return [_signals(t, hits, lex) for t, hits in zip(masked, lex.matcher.find_many(masked), strict=True)]


def _signals(text: str, hits: list[Hit], lex: Lexicon) -> Signals:
    sig = Signals()
    if not hits:
        sig.brand_named = BRAND_MARK in text  # (with hits, _competitor_clauses sets it)
        return sig
    starts = clauses(text)
    competitor_clauses = _competitor_clauses(text, starts, hits, sig)
    kinds = {h.kind for h in hits}
    near_miss = "harm" in kinds and bool(_NEAR_MISS.search(text))
    demand_spans = [(h.start, h.end) for h in hits if h.kind == "demand"]
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)] if kinds & _PROMO_SET else []
    tags = [(m.start(), m.end()) for m in _HASHTAG.finditer(text)] if "#" in text else []
    cured: list[Hit] = []
    for hit in _longest_only(hits):
        kind = hit.kind
        base = _base(kind)
        if base in PROMO and any(a <= hit.start and hit.end <= b for a, b in quoted):
            continue
        if base in EVIDENCE:
            clause_no = bisect_right(starts, hit.start) - 1
            if clause_no in competitor_clauses:
                continue
            if (
                base in NEGATABLE
                and hit.term[0].isalnum()
                and _is_negated(text, starts[clause_no], hit, lex.negators)
            ):
                sig.negated.append(hit.term)
                continue
            if base in ("problem", "category") and _is_hypothetical(text, starts, clause_no, hit):
                sig.negated.append(hit.term)
                continue
            if base == "harm" and near_miss:
                continue
            if base == "harm" and _is_cured(text, starts[clause_no], hit):
                cured.append(hit)  # counted after all: see below
                continue
        if base == "category":
            # a refund demanded is not a refund refused: words inside a demand weigh less
            inside = any(a < hit.end and hit.start < b for a, b in demand_spans)
            sig.categories[kind.split(":", 1)[1]] += hit.weight * (0.3 if inside else 1.0)
        elif base == "problem" and any(a <= hit.start and hit.end <= b for a, b in tags):
            sig.add(kind, hit.term, hit.weight * 0.4)  # a topic tag (#消费维权#) is weaker than a statement
        else:
            sig.add(kind, hit.term, hit.weight)
    if cured:
        # harm the author says went away is praise only when nothing else in the text asks for
        # redress: "住院一周治好了，要求赔偿" and "烫伤好了留了疤" are harm complaints
        if sig.score.get("demand", 0) >= 2.5 or sig.score.get("escalation", 0) > 0:
            for hit in cured:
                sig.add(hit.kind, hit.term, hit.weight)
        else:
            sig.negated.extend(h.term for h in cured)
    if sig.score.get("harm") and _INSURANCE_CLAIM.search(text) and set(sig.terms["harm"]) <= _CARE_ONLY:
        # a hospital stay an insurance claim is about is the claim's occasion, not harm the
        # insurer did ("我爸住院要报销，保险的理赔专员…"); an injury word keeps the harm
        del sig.terms["harm"]  # not "negated": the stay happened, it is just not this brand's harm
        sig.score["harm"] = 0.0
    sig.finish()
    return sig


_INSURANCE_CLAIM = re.compile(r"理赔|拒赔|保单|保险|医保|投保|医疗险|寿险")
_CARE_ONLY = frozenset(
    ("住院", "急诊", "挂水", "输液", "打点滴", "就医", "送医", "看医生", "医院", "医药费", "医疗费", "宝宝")
)


_BASES: dict[str, str] = {}


def _base(kind: str) -> str:
    """ "category:产品质量" → "category" (memoised)."""
    base = _BASES.get(kind)
    if base is None:
        base = _BASES[kind] = kind.split(":", 1)[0]
    return base


def _longest_only(hits: list[Hit]) -> list[Hit]:
    """Within one list, drop a word hit that lies inside a longer word hit of the same list.

    Regular-expression hits neither hide nor are hidden by word hits.
    """
    by_kind: dict[str, list[Hit]] = defaultdict(list)
    out: list[Hit] = []
    for h in hits:
        if h.regex:
            out.append(h)
        else:
            by_kind[h.kind].append(h)
    for group in by_kind.values():
        group.sort(key=lambda h: (h.start, -(h.end - h.start)))
        reach = -1
        for h in group:
            if h.end <= reach:
                continue
            out.append(h)
            reach = max(reach, h.end)
    return out


_NEW_PREDICATE = frozenset("就才却但还又便竟而")
MAX_NEGATION_GAP = 3  # "没有任何问题": 任何 sits between 没有 and 问题


def _is_negated(text: str, clause_start: int, hit: Hit, negators: tuple[str, ...]) -> bool:
    """A negator shortly before the hit, with no new predicate between ("没提醒就扣了" is not)."""
    window = text[max(clause_start, hit.start - 8) : hit.start]
    if not window:
        return False
    quick = _any_negator(negators)
    if quick is not None and not quick.search(window):  # the blanking below cannot make one appear
        return False
    if _NOT_NEGATION_RE.search(window):
        for phrase in _NOT_NEGATION:
            window = window.replace(phrase, "＿" * len(phrase))
    for neg in negators:  # longest first
        at = window.rfind(neg)
        if at < 0:
            continue
        gap = window[at + len(neg) :]
        if len(gap) <= MAX_NEGATION_GAP and not _NEW_PREDICATE.intersection(gap):
            return True
    return False


@lru_cache(maxsize=8)
def _any_negator(negators: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of ``negators`` (None when a negator could not be searched so)."""
    if not negators or any(not n or "＿" in n for n in negators):
        return None
    return re.compile("|".join(re.escape(n) for n in negators))


# harm that went away or the product cured is praise ("用了一个月过敏全好了", "治好了我的过敏")
_CURED_AFTER = re.compile(
    r"[^，,。.！!？?；;\s没不未]{0,3}?(?:全好了|都好了|好了|痊愈|消了|好多了|消失了|改善了|缓解了|减轻了)(?![吗么没？?])"
)
_CURED_BEFORE = re.compile(r"(?<!没有)(?<!并未)(?<![没不未])(?:治好了?我|治愈了?我|缓解了?我|改善了?我|告别)")
# the harm came back, or left a mark: not cured
_RELAPSE = re.compile(r"又|再次|复发|反复|反而|留了?疤|留下|后遗症|还是|但是|可是|结果")


def _is_cured(text: str, clause_start: int, hit: Hit) -> bool:
    """A harm word the author says went away ("过敏全好了") or the product cured ("治好了我的湿疹"),
    and that did not come back ("拉肚子好了又拉")."""
    after = _CURED_AFTER.match(text, hit.end)
    if after:
        return _RELAPSE.search(text, after.end(), after.end() + 12) is None
    return _CURED_BEFORE.search(text, max(clause_start, hit.start - 8), hit.start) is not None


def _is_hypothetical(text: str, starts: list[int], clause_no: int, hit: Hit) -> bool:
    """A problem word in the clause of (or right after) a conditional offer."""
    begin = starts[clause_no - 1] if clause_no > 0 else 0
    return _HYPOTHETICAL_RE.search(text, begin, hit.start) is not None


def _competitor_clauses(text: str, starts: list[int], hits: list[Hit], sig: Signals) -> set[int]:
    """Clauses about a competitor: from a competitor marker until the brand or a switch marker."""
    marker_clauses = set()
    switch_clauses = set()
    for h in hits:
        if h.kind == "competitor":
            marker_clauses.add(bisect_right(starts, h.start) - 1)
            sig.competitor_terms.append(h.term)
        elif h.kind == "switch":
            switch_clauses.add(bisect_right(starts, h.start) - 1)
    brand_clauses = set()
    pos = text.find(BRAND_MARK)
    while pos >= 0:
        brand_clauses.add(bisect_right(starts, pos) - 1)
        pos = text.find(BRAND_MARK, pos + 1)
    sig.brand_named = bool(brand_clauses)
    if not marker_clauses:
        return set()
    out: set[int] = set()
    active = False
    for i in range(len(starts)):
        if i in marker_clauses:
            active = True
        elif i in brand_clauses or i in switch_clauses:
            active = False
        if active:
            out.add(i)
    return out
