"""The analyser: one-time set-up (brands, lexicons, model) and ``analyze`` for one mention.

``configure(cfg)`` is idempotent and cheap to call again; ``analyze`` configures lazily
with the defaults when nobody did. Everything heavy (jieba's dictionary, the model
weights, the compiled word lists) is loaded once per process.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from math import exp
from typing import TYPE_CHECKING, Any

import numpy as np

from crawler.names import canonical_platform
from sentiment import complaint, complaint_model, fingerprint, lexicons, ngram, pii, segment
from sentiment.signals import Lexicon, Signals, collect, collect_many

if TYPE_CHECKING:
    from crawler.config import AppConfig

RULES_VERSION = "rules-4"  # 3: the target rule for brandless posts; traditional characters read as simplified; 4: cured harm is no harm
MAX_ANALYSED_CHARS = 5_000  # lexicons and the model read this much; PII masking reads all


@dataclass
class Analysis:
    """What the analyser says about one mention (the ``mentions`` analysis columns)."""

    sentiment: float
    is_complaint: bool
    category: str | None
    urgency: str | None
    risk: int
    reasons: list[str]
    fingerprint: int
    masked_text: str
    tokens: str
    model_version: str
    analyzed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    COLUMN_NAMES = (
        "sentiment",
        "is_complaint",
        "category",
        "urgency",
        "risk",
        "reasons",
        "fingerprint",
        "masked_text",
        "tokens",
        "model_version",
        "analyzed_at",
    )

    def columns(self) -> dict[str, Any]:
        """Exactly the ``mentions`` column names and their values."""
        return {name: getattr(self, name) for name in self.COLUMN_NAMES}

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (``analyzed_at`` as ISO text)."""
        out = self.columns()
        out["analyzed_at"] = self.analyzed_at.isoformat()
        return out


@dataclass
class _State:
    lexicon: Lexicon
    model: ngram.SentimentModel
    cmodel: complaint_model.ComplaintModel
    thresholds: complaint.Thresholds
    brands: dict[str, tuple[str, ...]]
    all_brand_terms: tuple[str, ...]
    version: str
    key: tuple[Any, ...]
    joint: ngram.JointVocab | None = None  # both models' vocabularies: one key look-up per batch


_lock = threading.RLock()
_state: _State | None = None


def configure(cfg: AppConfig | None = None, *, cmodel: complaint_model.ComplaintModel | None = None) -> None:
    """Set up the analyser for ``cfg`` (brands, lexicon dir, thresholds, models); idempotent.

    ``cmodel`` replaces the configured complaint model (training and evaluation use it).
    """
    global _state
    key = (*_config_key(cfg), id(cmodel) if cmodel is not None else None)
    with _lock:
        if _state is not None and _state.key == key:
            return
        cache_dir = cfg.data_path() if cfg is not None else None
        segment.init(cache_dir)
        lists = lexicons.load_dirs(lexicons.lexicon_dirs(cfg.analysis.lexicon_dir if cfg else None))
        lex = _build_lexicon(lists)
        brands = _brand_terms(cfg)
        segment.add_terms([t for terms in brands.values() for t in terms])
        segment.add_terms(lex.slang)
        segment.add_terms(lex.words)
        model_path = cfg.analysis.sentiment_model if cfg else None
        mdl = ngram.get_model(model_path)
        if cmodel is None:
            cmodel = complaint_model.get_model(cfg.analysis.complaint_model if cfg else None)
        th = complaint.Thresholds()
        if cfg is not None:
            a = cfg.analysis
            th = complaint.Thresholds(a.big_v_followers, a.viral_engagement, a.complaint_min_risk)
        terms = tuple(sorted({t.lower() for ts in brands.values() for t in ts}, key=len, reverse=True))
        version = f"{mdl.version}+{cmodel.version}+{RULES_VERSION}"[:64]
        _state = _State(
            lex, mdl, cmodel, th, brands, terms, version, key, ngram.JointVocab([mdl, cmodel.sparse])
        )


@contextmanager
def configured(cfg: AppConfig | None, cmodel: complaint_model.ComplaintModel) -> Iterator[_State]:
    """The analyser set up for ``cfg`` with ``cmodel`` for the duration of a ``with`` block, then
    restored as it was (training and evaluation; not meant to run beside live analysis)."""
    global _state
    with _lock:
        saved = _state
        configure(cfg, cmodel=cmodel)
        current = _state
    assert current is not None
    try:
        yield current
    finally:
        with _lock:
            _state = saved


def _config_key(cfg: AppConfig | None) -> tuple[Any, ...]:
    if cfg is None:
        return (None,)
    brands = tuple((b.name, tuple(b.aliases), tuple(b.products)) for b in cfg.brands)
    return (brands, cfg.analysis.model_dump_json(), str(cfg.data_path()))


def _brand_terms(cfg: AppConfig | None) -> dict[str, tuple[str, ...]]:
    if cfg is None:
        return {}
    # texts are read simplified (segment.normalize), so are the names: "鮮果時光" finds 鲜果时光
    return {
        b.name: tuple(dict.fromkeys(segment.to_simplified(t) for t in [b.name, *b.aliases, *b.products]))
        for b in cfg.brands
    }


def _build_lexicon(lists: dict[str, dict[str, lexicons.WordList]]) -> Lexicon:
    def section(name: str) -> lexicons.WordList:
        return lists.get(name, {}).get(lexicons.DEFAULT_SECTION, lexicons.WordList())

    skip = {"categories", "negators", "slang", "stopwords", "words"}
    plain = {
        name: secs.get(lexicons.DEFAULT_SECTION, lexicons.WordList())
        for name, secs in lists.items()
        if name not in skip
    }
    cats = {name: wl for name, wl in lists.get("categories", {}).items() if name}
    negators = tuple(sorted(section("negators").terms, key=len, reverse=True))
    return Lexicon(
        plain,
        cats,
        negators,
        tuple(section("slang").terms),
        frozenset(section("stopwords").terms),
        tuple(section("words").terms),
    )


def state() -> _State:
    if _state is None:
        configure(None)
    assert _state is not None
    return _state


def category_scores(text: str) -> dict[str, float]:
    """Category keyword sums of a short text (e.g. the Heimao 投诉问题 field)."""
    sig = collect(text.lower(), state().lexicon)
    return dict(sig.categories)


def score_sentiment(text: str) -> float:
    """Probability that ``text`` is positive (the shipped model; what the benchmark measures)."""
    st = state()
    norm = segment.normalize((text or "")[:MAX_ANALYSED_CHARS])
    if not norm.strip():
        return 0.5
    return _prob(st.model.margin(ngram.feature_keys(norm, segment.stream(norm))))


def _prob(z: float) -> float:
    z = max(-30.0, min(30.0, z))
    return 1.0 / (1.0 + exp(-z))


_CONTRAST = frozenset(
    ("但是", "但", "可是", "就是", "不过", "只是", "然而", "可惜", "还好", "好在", "幸好", "结果")
)


def _tail(stream: list[str]) -> str | None:
    """Text after the last contrast word ("好吃的，就是受潮了" → "受潮了"), if long enough."""
    for i in range(len(stream) - 1, -1, -1):
        if stream[i] in _CONTRAST:
            tail = "".join("，" if t == segment.BREAK else t for t in stream[i + 1 :])
            return tail if len(tail) >= 4 else None
    return None


def _brand_for(st: _State, brand: str | None) -> tuple[str, ...]:
    if not brand:
        return st.all_brand_terms
    terms = st.brands.get(brand)
    if terms is None:
        simple = segment.to_simplified(brand)
        terms = (simple, simple[:2]) if len(simple) >= 4 else (simple,)
    return tuple(t.lower() for t in terms)


@dataclass(slots=True)
class _Prepared:
    """Everything about one mention except the model's margins (so a batch scores at once)."""

    masked: str
    norm: str
    lower: str
    stream: list[str]
    tail: str | None
    brand_terms: tuple[str, ...]
    platform: str | None
    followers: int
    engagement: int
    author_history: dict[str, Any] | None
    sig: Signals | None = None
    content: list[int] | None = None  # hashes of the words that identify the content (fingerprint)
    words: str | None = None  # the searchable words, space-joined (Analysis.tokens)
    brand_given: bool = False  # the mention came with its brand (every crawled or imported one does)


def _clean(text: Any) -> tuple[str, str]:
    """(PII-masked text, its normalised first MAX_ANALYSED_CHARS characters)."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    masked = pii.mask(raw)
    return masked, segment.normalize(masked[:MAX_ANALYSED_CHARS])  # tokens never hold a phone number


def _prepare(
    st: _State,
    text: Any,
    platform: str | None,
    followers: Any,
    likes: Any,
    comments: Any,
    shares: Any,
    brand: str | None,
    author_history: dict[str, Any] | None,
    cleaned: tuple[str, str] | None = None,
    stream: list[str] | None = None,
) -> _Prepared:
    masked, norm = cleaned or _clean(text)
    brand = (brand.strip() if isinstance(brand, str) else str(brand).strip()) if brand is not None else None
    if stream is None:
        stream = segment.streams_normalized([norm])[0]  # its new Han runs cut in one call
    lower = norm.lower()
    return _Prepared(
        masked,
        norm,
        lower,
        stream,
        _tail(stream),
        _brand_for(st, brand),
        canonical_platform(platform),
        _int(followers),
        _int(likes) + _int(comments) + _int(shares),
        author_history if isinstance(author_history, dict) else None,
        brand_given=bool(brand),
    )


_NOT_WORDS = re.compile(r"(?i)(?:https?://|www\.)\S+|\[[^\[\]\s]{1,8}\]|[^\w]|[\d_]")


# the same scan with one more alternative, a letter, so each position is consumed as by the sub()
_WORDS_SCAN = re.compile(_NOT_WORDS.pattern + r"|([^\W\d_])")


def has_words(text: str) -> bool:
    """Whether a text has something to read: two letters (Han or other) outside links, Weibo
    emoticons ("[微笑]"), emoji, digits and punctuation."""
    letters = 0
    for n, m in enumerate(_WORDS_SCAN.finditer(text)):  # most texts show two letters at once
        if m.lastindex:
            letters += 1
            if letters >= 2:
                return True
        elif n >= 16:
            return len(_NOT_WORDS.sub("", text)) >= 2  # much to skip: the plain way
    return False


# what is left of a short text once its brand names are taken out, if it says anything: a letter,
# a digit, an emoji or a Weibo emoticon (not only punctuation, spaces, @ and #)
_ANYTHING_BUT_MARKS = re.compile(r"[^\W_]|[\U0001F000-\U0001FAFF\u2600-\u27BF]|\[[^\[\]]{1,8}\]")


def _collect(st: _State, prepared: list[_Prepared]) -> None:
    """Lexicon signals of the whole batch (matched at once)."""
    sigs = collect_many([p.lower for p in prepared], st.lexicon, [p.brand_terms for p in prepared])
    for p, sig in zip(prepared, sigs, strict=True):
        seen = has_words(p.norm)
        if seen and p.brand_terms and len(p.lower) <= 64:  # "鲜果时光" alone, "@鲜果时光 #鲜果时光#"
            rest = p.lower
            for term in p.brand_terms:
                if term:
                    rest = rest.replace(term, " ")
            seen = _ANYTHING_BUT_MARKS.search(rest) is not None  # one word ("鲜果时光 坑") or [怒] is enough
        sig.text_seen = seen
        p.sig = sig


@dataclass
class Features:
    """Everything the models read about a batch of mentions (also what training fits on)."""

    prepared: list[_Prepared]
    rows: np.ndarray  # row of every feature occurrence of the main texts
    keys: np.ndarray  # its 32-bit key
    margins: np.ndarray  # sentiment model margin per text
    tails: list[float | None]  # sentiment margin of the contrast tail, if any
    dense: np.ndarray  # complaint_model.DENSE per text
    issues: list[dict[str, float] | None]
    counts: ngram.Counts | None = None  # ngram.count_pairs of the main texts (None: recompute)
    # (model, (position, found) of counts' distinct keys in its vocabulary), when looked up already
    found_keys: tuple[ngram.SentimentModel, tuple[np.ndarray, np.ndarray]] | None = None


def features(
    st: _State, prepared: list[_Prepared], cmodel: complaint_model.ComplaintModel | None = None
) -> Features:
    """Signals, sentiment margins, feature keys and dense rows of a prepared batch."""
    cm = cmodel or st.cmodel
    _collect(st, prepared)
    n = len(prepared)
    texts = [p.norm for p in prepared]
    streams = [p.stream for p in prepared]
    tail_rows: list[int | None] = []
    for p in prepared:
        if p.tail is None:
            tail_rows.append(None)
        else:
            tail_rows.append(len(texts))
            texts.append(p.tail)
    streams += segment.streams_normalized(texts[n:])  # the contrast tails, segmented on their own
    word_hashes, snows = _token_pass(prepared, cm.snow, st.lexicon.stopwords)
    if len(texts) > n:
        tail_hashes = ngram._word_hashes(streams[n:], first_row=n)
        # each of the five lists gets the tails' entries appended (WordHashes: rows continue from n)
        word_hashes = (
            word_hashes[0] + tail_hashes[0],
            word_hashes[1] + tail_hashes[1],
            word_hashes[2] + tail_hashes[2],
            word_hashes[3] + tail_hashes[3],
            word_hashes[4] + tail_hashes[4],
        )
    rows, keys = ngram.keys_batch(texts, streams, word_hashes)
    counts = ngram.count_pairs(rows, keys)
    found = (
        st.joint.lookup(counts[0]) if st.joint is not None and st.joint.serves(st.model, cm.sparse) else None
    )
    hits = st.model.hits(counts, found[0] if found else None)
    m = st.model._combine(st.model.head_margins_counts(counts, len(texts), hits))
    if len(texts) > n:  # drop the contrast tails' rows
        main = rows < n
        rows, keys = rows[main], keys[main]
        counts = ngram.rows_below(counts, n)
    margins = m[:n]
    every = m.tolist()
    tails = [None if r is None else every[r] for r in tail_rows]
    issues: list[dict[str, float] | None] = []
    dense_rows = []
    for i, p in enumerate(prepared):
        assert p.sig is not None
        heimao = p.platform == complaint.HEIMAO
        issue = complaint.heimao_issue(p.lower) if heimao else None
        issue_cats = category_scores(issue) if issue else None
        issues.append(issue_cats)
        dense_rows.append(
            complaint_model.dense_row(
                p.sig,
                every[i],
                tails[i],
                snows[i],
                heimao=heimao,
                text_len=len(p.norm),
                issue_categories=issue_cats,
                text=p.norm,
            )
        )
    dense = np.fromiter(
        chain.from_iterable(dense_rows), dtype=np.float64, count=n * len(complaint_model.DENSE)
    ).reshape(n, len(complaint_model.DENSE))
    return Features(
        prepared, rows, keys, margins, tails, dense, issues, counts, (cm.sparse, found[1]) if found else None
    )


def _token_pass(
    prepared: list[_Prepared], snow: dict[str, float], stop: frozenset[str]
) -> tuple[ngram.WordHashes, list[tuple[float, float]]]:
    """One pass over each text's tokens for what four stages read per token: the word keys'
    hashes, clause starts and negation scopes (exactly as :func:`ngram._word_hashes`), snownlp's
    evidence (as :meth:`ComplaintModel.snow_features`), the content words' hashes for the
    fingerprint (as :func:`fingerprint.content_tokens`, kept in ``p.content``) and the searchable
    words (as :func:`segment.words`, kept joined in ``p.words``)."""
    words: list[int] = []
    wrows: list[int] = []
    starts: list[bool] = []
    negated: list[int] = []
    nrows: list[int] = []
    snows = []
    cached, token_hash = fingerprint._HASHES.get, fingerprint.token_hash
    negators, repost, evidence = ngram.NEGATORS, fingerprint.REPOST_WORDS, snow.get
    known: dict[
        str, tuple[int, float | None, bool, bool, str | None]
    ] = {}  # a batch's tokens, each worked out once
    get_known, add_word, add_start = known.get, words.append, starts.append
    brk = segment.BREAK
    for row, p in enumerate(prepared):
        neg = False
        new_clause = True
        total, k = 0.0, 0
        content: list[int] = []
        searchable: list[str] = []
        for tok in p.stream:
            if tok == brk:
                neg = False
                new_clause = True
                continue
            info = get_known(tok)
            if info is None:
                first = tok[0]
                info = known[tok] = (
                    cached(tok) or token_hash(tok),
                    evidence(tok),
                    tok in negators,
                    first != "@" and first.isalnum() and tok not in repost and tok not in stop,
                    tok if first.isalnum() else (tok[1:] if first == "@" and len(tok) > 1 else None),
                )
            h, v, negator, is_content, word = info
            add_word(h)
            add_start(new_clause)
            new_clause = False
            if neg:
                negated.append(h)
                nrows.append(row)
            elif negator:
                neg = True
            if v is not None:
                total += v
                k += 1
            if is_content:
                content.append(h)
            if word is not None:
                searchable.append(word)
        wrows.extend([row] * (len(words) - len(wrows)))
        snows.append((max(-12.0, min(12.0, total)) / 6.0, total / k if k else 0.0))
        p.content = content
        p.words = " ".join(searchable)
    return (words, wrows, starts, negated, nrows), snows


def prepare(records: Iterable[Any]) -> list[_Prepared]:
    """Mask, normalise and segment records (dicts in the RUBRIC format, or objects with those attributes)."""
    st = state()
    fields = []
    for rec in records:
        get = rec.get if isinstance(rec, dict) else (lambda k, d=None, r=rec: getattr(r, k, d))
        followers = get("author_followers", None)
        if followers is None:
            followers = get("followers", 0)
        fields.append(
            (
                get("text", ""),
                get("platform"),
                followers,
                get("likes", 0),
                get("comments", 0),
                get("shares", 0),
                get("brand"),
                get("author_history"),
            )
        )
    cleaned = [_clean(f[0]) for f in fields]
    streams = segment.streams_normalized([norm for _, norm in cleaned])  # new Han runs cut in one call
    return [_prepare(st, *f, cleaned=c, stream=s) for f, c, s in zip(fields, cleaned, streams, strict=True)]


def model_outputs(
    feats: Features, cmodel: complaint_model.ComplaintModel, explain: bool = True
) -> list[complaint.ModelOutput]:
    """The complaint model's probabilities (and, with ``explain``, its evidence) for every text."""
    n = len(feats.prepared)
    if n == 0:
        return []
    found = None
    if feats.counts is None:
        feats.counts = ngram.count_pairs(feats.rows, feats.keys)
    elif feats.found_keys is not None and feats.found_keys[0] is cmodel.sparse:
        found = feats.found_keys[1]
    hits = cmodel.sparse.hits(feats.counts, found)  # looked up once: margins and reasons
    m = cmodel.margins(feats.rows, feats.keys, n, feats.dense, feats.counts, hits)
    ncat = len(complaint_model.CATEGORIES)
    cats = complaint_model.softmax_rows(m[:, 1 : 1 + ncat]).tolist()
    threshold = cmodel.threshold
    review_threshold = float(cmodel.meta.get("review_threshold", threshold))
    top_threshold = float(cmodel.meta.get("top_threshold", 1.01))
    hard_threshold = float(cmodel.meta.get("hard_threshold", threshold))
    review = complaint_model.is_review
    cuts = [review_threshold if review(prep.platform) else threshold for prep in feats.prepared]
    # complaint, 紧急 and 非常紧急 probabilities, in one pass
    if n == 1:  # one text: the same IEEE operations on plain floats, one np.exp
        e = np.exp([-min(max(x, -30.0), 30.0) for x in m[0, [0, 1 + ncat, 2 + ncat]].tolist()]).tolist()
        probs = [[1.0 / (1.0 + x) for x in e]]
        which = np.zeros(1 if explain and probs[0][0] >= min(cuts[0], hard_threshold) else 0, np.int64)
    else:
        p = 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(m[:, [0, 1 + ncat, 2 + ncat]], -30), 30)))
        bar = np.minimum(np.array(cuts), hard_threshold)
        which = (p[:, 0] >= bar).nonzero()[0] if explain else np.zeros(0, np.int64)
        probs = p.tolist()
    why = cmodel.explain(feats.counts, feats.dense, which, hits=hits)
    out = []
    for i, (p_complaint, p_urgent, p_top) in enumerate(probs):
        evidence, cues = why.get(i) or ([], [])
        out.append(
            complaint.ModelOutput(
                p_complaint,
                cuts[i],
                dict(zip(complaint_model.CATEGORIES, cats[i], strict=True)),
                p_urgent,
                evidence,
                cues,
                p_top,
                top_threshold,
                hard_threshold,
            )
        )
    return out


def untargeted(p: _Prepared) -> bool:
    """Whether a social post has nothing a complaint could be aimed at: it came with no brand,
    names no configured brand and holds no word of a purchase, a business or a service
    (``target.txt``). Such a post (a rant about an exam, a partner, the weather) is no complaint
    whatever its tone; reviews and Heimao posts always have a target, and so does every mention a
    crawl or an import stores (each comes with its brand)."""
    sig = p.sig
    return (
        sig is not None
        and not p.brand_given
        and p.platform in complaint_model.SOCIAL_PLATFORMS
        and p.platform != complaint.HEIMAO
        and not sig.brand_named
        and not sig.score.get("target")
    )


def verdict(
    st: _State,
    p: _Prepared,
    margin: float,
    tail_margin: float | None,
    issue: dict[str, float] | None,
    out: complaint.ModelOutput,
) -> tuple[float, complaint.Verdict]:
    """(sentiment shown, verdict) of one prepared mention given the model's output."""
    assert p.sig is not None
    senti = _prob(margin) if p.norm.strip() else 0.5
    focus = senti if tail_margin is None else _prob(tail_margin)
    if p.sig.score["sarcasm"] >= 1.5 and (p.sig.score["problem"] > 0 or p.sig.score["demand"] > 0):
        senti = min(senti, 1.0 - senti)  # praise words inside sarcasm carry a grievance
    v = complaint.decide(
        p.sig,
        model=out,
        sentiment=focus,
        platform=p.platform,
        followers=p.followers,
        engagement=p.engagement,
        th=st.thresholds,
        author_history=p.author_history,
        courier=p.sig.score.get("harm", 0.0) >= 2.5 and complaint.courier_harm(p.lower),
        issue_categories=issue,
        untargeted=untargeted(p),
    )  # courier: read only when harm fired
    return senti, v


def _fingerprints(st: _State, prepared: list[_Prepared]) -> list[int]:
    if all(p.content is not None for p in prepared):  # hashed by _token_pass already
        return fingerprint.simhash_hashes([p.content for p in prepared])  # type: ignore[misc]
    stop = st.lexicon.stopwords
    return fingerprint.simhash_many([fingerprint.content_tokens(p.stream, stop) for p in prepared])


def _analyses(st: _State, prepared: list[_Prepared]) -> list[Analysis]:
    feats = features(st, prepared)
    outs = model_outputs(feats, st.cmodel)
    fps = _fingerprints(st, prepared)
    result = []
    for i, p in enumerate(prepared):
        senti, v = verdict(st, p, float(feats.margins[i]), feats.tails[i], feats.issues[i], outs[i])
        result.append(
            Analysis(
                sentiment=round(senti, 4),
                is_complaint=v.is_complaint,
                category=v.category,
                urgency=v.urgency,
                risk=v.risk,
                reasons=v.reasons,
                fingerprint=fps[i],
                masked_text=p.masked,
                tokens=p.words if p.words is not None else " ".join(segment.words(p.stream)),
                model_version=st.version,
            )
        )
    return result


def analyze(
    text: str | None,
    *,
    platform: str | None = None,
    followers: int | None = 0,
    likes: int | None = 0,
    comments: int | None = 0,
    shares: int | None = 0,
    brand: str | None = None,
    author_history: dict[str, Any] | None = None,
) -> Analysis:
    """Analyse one mention. Never raises on odd text (empty, huge, control characters).

    ``platform``: where it was posted (any usual spelling); without one of the four the text
    is read as a review of the business, judged at the model's review cut. ``brand``: the brand
    the mention is about (every crawled one has it); a post given none that names no configured
    brand and no purchase, business, product or service (``target.txt``) is no complaint.
    """
    st = state()
    p = _prepare(st, text, platform, followers, likes, comments, shares, brand, author_history)
    return _analyses(st, [p])[0]


def analyze_many(records: Iterable[Any]) -> list[Analysis]:
    """Analyse many mentions at once (the models score the whole batch in one numpy pass).

    Records are dicts (or objects) with ``text`` and optional ``platform``, ``author_followers``
    (or ``followers``), ``likes``, ``comments``, ``shares``, ``brand``, ``author_history``:
    the RUBRIC.md record format and MentionItem rows both work.
    """
    st = state()
    records = records if isinstance(records, list) else list(records)
    enabled = gc.isenabled()
    gc.disable()  # a batch makes many short-lived objects and no cycles: skip the collector's passes
    try:
        out: list[Analysis] = []
        for a, b in _blocks(len(records)):
            out += _analyses(st, prepare(records[a:b]))
        return out
    finally:
        if enabled:
            gc.enable()


BLOCK = 256  # texts scored together: numpy's per-call cost is spread, while the arrays stay in cache


def _blocks(n: int) -> list[tuple[int, int]]:
    """Blocks of at most :data:`BLOCK` texts, never one text alone unless the batch is one text: a
    single text takes the one-text arithmetic (BLAS dot products), a block the batched one, so
    blocking changes no result."""
    bounds = list(range(0, n, BLOCK))
    if len(bounds) > 1 and n - bounds[-1] == 1:
        bounds.pop()
    return list(zip(bounds, [*bounds[1:], n], strict=True)) if n else []


def _int(v: Any) -> int:
    if type(v) is int:  # the usual case, without the try
        return v if v > 0 else 0
    try:
        return max(0, int(v or 0))
    except (TypeError, ValueError, OverflowError):
        return 0
