"""Train and evaluate the complaint model (:mod:`sentiment.complaint_model`).

    python -m sentiment.complaint_train [--extra FILE ...] [--out PATH] [--cv]

The corpus (``sentiment/data/complaints/*.jsonl``, see its README) plus any labelled files
of the customer's (JSON Lines in the RUBRIC record format, or CSV with at least the
columns ``text,is_complaint`` and optionally ``category,urgency,platform,brand,
author_followers,likes,comments,shares``; a row without one of the four platforms is read as
a review, :func:`sentiment.complaint_model.is_review`) are read, analysed exactly as at run time
(:func:`sentiment.analyzer.features`), and four heads are fitted with scikit-learn's
logistic regression. :func:`cross_validate` leaves one domain group out at a time and
measures the whole verdict (the model plus the rubric's rules, :func:`sentiment.complaint.decide`),
so every figure is on text whose domain the complaint model never saw. Two caveats: the
sentiment model it reads was trained on the same public corpora (never on these texts, but
on other texts of the same domains), and C and the thresholds were chosen on this same
cross-validation; both make the figures somewhat optimistic.

scikit-learn and snownlp are imported only here; scoring needs numpy only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crawler.names import canonical_platform
from crawler.paths import package_path
from sentiment import analyzer, complaint_model, ngram
from sentiment import train as strain
from sentiment.complaint_model import CATEGORIES, DENSE, HEADS, URGENCIES, ComplaintModel
from sentiment.evaluate import LabelledFileError, iter_jsonl

if TYPE_CHECKING:
    from crawler.config import AppConfig

CORPUS_DIR = package_path("sentiment", "data", "complaints")
CORPUS_FILES = ("real.jsonl", "written.jsonl")
PLATFORMS = complaint_model.SOCIAL_PLATFORMS
# real review domains grouped into the folds of the leave-one-domain-out evaluation
REAL_GROUPS = {
    "外卖": "外卖",
    "酒店": "酒店",
    "微博": "微博",
    "平板": "数码家电",
    "计算机": "数码家电",
    "手机": "数码家电",
    "热水器": "数码家电",
    "洗发水": "日用服饰",
    "衣服": "日用服饰",
    "水果": "食品生鲜",
    "牛奶": "食品生鲜",
    "书籍": "书籍",
}
WRITTEN_GROUPS = {
    "w1": "写作·食品餐饮",
    "w2": "写作·数码科技",
    "w3": "写作·出行金融",
    "w4": "写作·生活服务",
    "w5": "写作·医美宠物房车",
    "w6": "写作·到家票务零售",
    "w7": "写作·个人生活",
}


class CorpusError(ValueError):
    """A labelled file that cannot be used (the message names the file and line)."""


@dataclass
class Params:
    # chosen by leave-one-domain-out CV on the corpus (never on mentions_dev.jsonl): C in
    # {1, 2, 4, 8}, dense scale in {0.5, 1, 2}, thresholds 0.3-0.5, domain groups balanced or
    # not; lower thresholds help the review domains' recall and cost the social-media domains
    # precision
    c: float = 8.0  # complaint head: inverse regularisation
    balance_groups: bool = True  # complaint head: every domain group weighs the same in total
    # category and urgency heads: C 8 → 128 and 1 → 4 (from {2, 8, 32, 128, 512} and {1, 4, 16},
    # random 5-fold, then confirmed leave-one-domain-out: category 0.629 → 0.633, urgency
    # 0.784 → 0.790); both plateau above these
    c_cat: float = 128.0  # category heads (one against the rest)
    c_urg: float = 4.0  # 紧急 / 非常紧急 heads
    dense_scale: float = 0.5  # dense features' weight against the n-grams (larger: less regularised)
    threshold: float = 0.4  # complaint probability cut
    # the cut for reviews (a text from no social platform, complaint_model.is_review): 0.3 chosen
    # from 0.4 / 0.3 / 0.25 / 0.2 / 0.15; lower helps unseen review domains' recall, category and
    # urgency, but costs the seen ones' precision (docs/analysis.md)
    review_threshold: float = 0.3
    top_threshold: float = 0.8  # the model alone calls 非常紧急 at or above this
    hard_threshold: float = 0.2  # the complaint cut when a rubric hard-row signal fired
    max_features: int = 150_000
    min_df: int = 2
    names: int = 30_000  # n-grams kept with their text for reasons
    written_weight_cat: float = 1.0  # weight of the written mentions in the category heads
    balance_heads: bool = False  # category and urgency heads: every domain group weighs the same


@dataclass
class Record:
    id: str
    text: str
    is_complaint: bool
    category: str | None
    urgency: str | None
    platform: str | None = None
    brand: str | None = None
    author_followers: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    group: str = "custom"
    domain: str = "custom"
    origin: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_input(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "platform": self.platform,
            "brand": self.brand,
            "author_followers": self.author_followers,
            "likes": self.likes,
            "comments": self.comments,
            "shares": self.shares,
        }


# --- reading labelled files ---------------------------------------------------------------


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是", "投诉"):
        return True
    if text in ("0", "false", "no", "n", "否", "非投诉", "误报"):
        return False
    raise CorpusError(f"{where}: is_complaint must be true or false, got {value!r}")


def _int(value: Any) -> int:
    try:
        return max(0, int(float(value or 0)))
    except (TypeError, ValueError, OverflowError):
        return 0


def make_record(obj: dict[str, Any], where: str, *, origin: str, default_id: str) -> Record:
    """One validated record from a dict in the RUBRIC format (extra fields kept)."""
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: text is missing or empty")
    is_c = _bool(obj.get("is_complaint"), where)
    cat = obj.get("category") or None
    urg = obj.get("urgency") or None
    if is_c:
        if cat is not None and cat not in CATEGORIES:
            raise CorpusError(f"{where}: unknown category {cat!r} (one of {' '.join(CATEGORIES)})")
        if urg is not None and urg not in URGENCIES:
            raise CorpusError(f"{where}: unknown urgency {urg!r} (one of {' '.join(URGENCIES)})")
    else:
        cat = urg = None
    platform = canonical_platform(obj.get("platform"))
    if platform is not None and platform not in PLATFORMS:
        platform = None  # a review site or an unknown source: no platform rules apply
    rid = str(obj.get("id") or default_id)
    domain = str(obj.get("domain") or obj.get("industry") or "custom")
    if rid[:3] in ("os-", "wm-", "ht-", "wb-"):
        group = REAL_GROUPS.get(domain, domain)
    elif rid[:2] in WRITTEN_GROUPS and rid[2:3] == "-":
        group = WRITTEN_GROUPS[rid[:2]]
    else:
        group = str(obj.get("group") or "custom")
    known = {
        "id",
        "text",
        "is_complaint",
        "category",
        "urgency",
        "platform",
        "brand",
        "author_followers",
        "likes",
        "comments",
        "shares",
        "domain",
        "industry",
        "group",
    }
    return Record(
        rid,
        text,
        is_c,
        cat,
        urg,
        platform,
        obj.get("brand") or None,
        _int(obj.get("author_followers")),
        _int(obj.get("likes")),
        _int(obj.get("comments")),
        _int(obj.get("shares")),
        group,
        domain,
        origin,
        {k: v for k, v in obj.items() if k not in known},
    )


def read_labelled(path: str | Path) -> list[Record]:
    """Records of one JSONL or CSV file; the first bad line raises CorpusError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    out: list[Record] = []
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(10_000_000)
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"text", "is_complaint"} <= set(reader.fieldnames):
                raise CorpusError(
                    f"{path}: a CSV needs the columns text,is_complaint "
                    "(optional: category,urgency,platform,brand,author_followers,likes,comments,shares)"
                )
            for lineno, row in enumerate(reader, start=2):
                out.append(
                    make_record(
                        dict(row), f"{path}:{lineno}", origin=path.name, default_id=f"{path.stem}-{lineno}"
                    )
                )
        return out

    try:
        for lineno, obj in iter_jsonl(path):
            out.append(
                make_record(obj, f"{path}:{lineno}", origin=path.name, default_id=f"{path.stem}-{lineno}")
            )
    except LabelledFileError as exc:
        raise CorpusError(str(exc)) from exc
    return out


def load_corpus(
    extra: Sequence[str | Path] = (), *, corpus_dir: Path | None = None, shipped: bool = True
) -> list[Record]:
    """The shipped corpus (unless ``shipped`` is false) plus extra files; later files win on a text."""
    files = [(corpus_dir or CORPUS_DIR) / name for name in CORPUS_FILES] if shipped else []
    records: dict[str, Record] = {}
    for f in [*files, *map(Path, extra)]:
        for rec in read_labelled(f):
            records[rec.text.strip()] = rec
    if not records:
        raise CorpusError("no labelled records")
    return list(records.values())


# --- features -------------------------------------------------------------------------------


def snownlp_table() -> dict[str, float]:
    """snownlp's shipped Bayes sentiment statistics: log P(word|pos) − log P(word|neg) per word."""
    from snownlp import sentiment as snow

    bayes = snow.classifier.classifier
    pos, neg = bayes.d["pos"], bayes.d["neg"]
    out = {}
    for word in set(pos.d) | set(neg.d):
        if not isinstance(word, str) or not word.strip() or "\n" in word:
            continue
        v = float(np.log(pos.freq(word)) - np.log(neg.freq(word)))
        if abs(v) >= 0.05:
            out[word] = round(v, 3)
    return out


@dataclass
class Featurized:
    records: list[Record]
    feats: analyzer.Features
    key_lists: list[np.ndarray]
    mark_keys: np.ndarray | None = None
    cfg: AppConfig | None = None  # the configuration the features were computed for
    stub: ComplaintModel | None = None


def featurize(
    records: Sequence[Record], snow: dict[str, float], *, cfg: AppConfig | None = None, batch: int = 2_000
) -> Featurized:
    """Run the analyser's feature stage over every record (in batches), exactly as at run time for
    ``cfg`` (its brands, word lists and sentiment model); the analyser is restored afterwards."""
    stub = complaint_model.empty(snow)
    parts: list[analyzer.Features] = []
    with analyzer.configured(cfg, stub) as st:
        for i in range(0, len(records), batch):
            prepared = analyzer.prepare([r.as_input() for r in records[i : i + batch]])
            parts.append(analyzer.features(st, prepared, stub))
    rows, keys, offset = [], [], 0
    for part in parts:
        rows.append(part.rows + offset)
        keys.append(part.keys)
        offset += len(part.prepared)
    feats = analyzer.Features(
        [p for part in parts for p in part.prepared],
        np.concatenate(rows),
        np.concatenate(keys),
        np.concatenate([part.margins for part in parts]),
        [t for part in parts for t in part.tails],
        np.vstack([part.dense for part in parts]),
        [x for part in parts for x in part.issues],
    )
    order = np.argsort(feats.rows, kind="stable")
    bounds = np.searchsorted(feats.rows[order], np.arange(len(records) + 1))
    sorted_keys = feats.keys[order]
    key_lists = [sorted_keys[bounds[i] : bounds[i + 1]] for i in range(len(records))]
    return Featurized(list(records), feats, key_lists, cfg=cfg, stub=stub)


def subset(fz: Featurized, idx: np.ndarray) -> analyzer.Features:
    """The analyser features of the records at ``idx`` (rows renumbered)."""
    f = fz.feats
    kl = [fz.key_lists[i] for i in idx]
    lens = np.fromiter((len(k) for k in kl), dtype=np.int64, count=len(kl))
    return analyzer.Features(
        [f.prepared[i] for i in idx],
        np.repeat(np.arange(len(idx)), lens),
        np.concatenate(kl) if kl else np.zeros(0, np.int64),
        f.margins[idx],
        [f.tails[i] for i in idx],
        f.dense[idx],
        [f.issues[i] for i in idx],
    )


# --- fitting ----------------------------------------------------------------------------------


def _lr(x: Any, y: np.ndarray, c: float, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One binary logistic regression (liblinear, dual: fast when features outnumber rows)."""

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=1_000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y, sample_weight=weights)
    return clf.coef_[0], float(clf.intercept_[0])


def _group_weights(recs: Sequence[Record]) -> np.ndarray:
    """Sample weights that give every domain group the same total weight (mean weight 1).

    Without them the complaint head learns mostly what the two largest review domains'
    complaints look like; with them a domain it has not seen is judged more evenly (chosen
    by the leave-one-domain-out cross-validation: pooled F1 0.839 -> 0.850 for this head).
    """
    counts = Counter(r.group for r in recs)
    share = len(recs) / len(counts)
    return np.array([share / counts[r.group] for r in recs])


_EMOTION_MARK = re.compile(r"[\[\]]|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50]")


def _emotion_mark_keys(fz: Featurized, idx: np.ndarray) -> np.ndarray:
    """Keys of the n-grams that contain a Weibo emoticon bracket or an emoji.

    The complaint heads leave them out: how angry a text sounds reaches them through the
    sentiment score and the anger signal, while the marks themselves mostly tell which
    platform a text came from (in the corpus, Weibo posts about the author's own life),
    which would teach "[怒] means no complaint".
    """
    if fz.mark_keys is None:
        marked: set[int] = set()
        for p in fz.feats.prepared:
            if not _EMOTION_MARK.search(p.norm):
                continue
            strings = complaint_model.feature_strings(p.norm, p.stream)
            _, keys = ngram.keys_batch([p.norm], [p.stream])
            marked.update(k for k, s in zip(keys.tolist(), strings, strict=True) if _EMOTION_MARK.search(s))
        fz.mark_keys = np.array(sorted(marked), dtype=np.int64)
    return fz.mark_keys


def fit(
    fz: Featurized,
    idx: np.ndarray,
    snow: dict[str, float],
    prm: Params | None = None,
    log: Callable[[str], None] | None = None,
) -> ComplaintModel:
    """Fit every head on the records at ``idx``."""
    from scipy.sparse import csr_matrix, hstack

    prm = prm or Params()
    recs = [fz.records[i] for i in idx]
    kl = [fz.key_lists[i] for i in idx]
    vocab = strain.build_vocab(kl, min_df=prm.min_df, max_features=prm.max_features)
    vocab = np.setdiff1d(vocab, _emotion_mark_keys(fz, idx), assume_unique=True)
    xs, idf = strain.design(kl, vocab)
    dense = fz.feats.dense[idx]
    mean, scale = dense.mean(axis=0), dense.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xd = csr_matrix((dense - mean) / scale * prm.dense_scale)
    x = hstack([xs, xd]).tocsr()
    nv = len(vocab)
    w_sparse = np.zeros((nv, len(HEADS)))
    w_dense = np.zeros((len(DENSE), len(HEADS)))
    bias = np.zeros(len(HEADS))

    def put(col: int, coef: np.ndarray, b: float) -> None:
        w_sparse[:, col] = coef[:nv]
        w_dense[:, col] = coef[nv:] * prm.dense_scale
        bias[col] = b

    y = np.array([r.is_complaint for r in recs], dtype=int)
    put(0, *_lr(x, y, prm.c, _group_weights(recs) if prm.balance_groups else None))
    comp = np.flatnonzero(y == 1)
    xc = x[comp]
    cats = np.array([r.category or "其他" for r in recs])[comp]
    classes = sorted(set(cats.tolist()))
    cat_weights = _group_weights([recs[i] for i in comp]) if prm.balance_heads else None
    if prm.written_weight_cat != 1.0:
        cat_weights = np.array(
            [prm.written_weight_cat if r.id[:1] == "w" and r.id[1:2].isdigit() else 1.0 for r in recs]
        )[comp]
    for cname in CATEGORIES:  # one against the rest; softmax over their margins at run time
        col = 1 + CATEGORIES.index(cname)
        if cname not in classes:
            bias[col] = -30.0  # a category never seen in training is never predicted
        elif len(classes) == 1:
            bias[col] = 30.0
        else:
            put(col, *_lr(xc, (cats == cname).astype(int), prm.c_cat, cat_weights))
    ncat = len(CATEGORIES)
    urg = np.array([r.urgency or "一般" for r in recs])[comp]
    mid = np.flatnonzero(urg != "非常紧急")
    yu = (urg[mid] == "紧急").astype(int)
    urg_weights = _group_weights([recs[i] for i in comp]) if prm.balance_heads else None
    if len(set(yu.tolist())) == 2:
        put(1 + ncat, *_lr(xc[mid], yu, prm.c_urg, None if urg_weights is None else urg_weights[mid]))
    yt = (urg == "非常紧急").astype(int)
    if len(set(yt.tolist())) == 2:
        put(2 + ncat, *_lr(xc, yt, prm.c_urg, urg_weights))
    else:
        bias[2 + ncat] = -30.0
    # ship what is scored: float16 weights, quantised idf
    w16 = w_sparse.astype(np.float16).astype(np.float32)

    sparse = ngram.SentimentModel(
        vocab, idf.astype(np.float32), w16, np.zeros(len(HEADS)), list(HEADS), {}, {}
    )
    model = ComplaintModel(
        sparse,
        w_dense,
        mean,
        scale,
        bias,
        dict(snow),
        {},
        {
            "threshold": prm.threshold,
            "review_threshold": prm.review_threshold,
            "top_threshold": prm.top_threshold,
            "hard_threshold": prm.hard_threshold,
        },
    )
    if log:
        log(f"fitted on {len(recs):,} records ({int(y.sum()):,} complaints), {nv:,} n-gram features")
    return model


def name_features(model: ComplaintModel, fz: Featurized, idx: Iterable[int], limit: int) -> None:
    """Attach the text of the n-grams that weigh most towards a complaint (for the reasons)."""

    w = model.sparse.weights[:, 0]
    if not len(w):
        return
    keep = set(model.sparse.keys[np.argsort(-w)[:limit]].tolist())
    names: dict[int, str] = {}
    for i in idx:
        p = fz.feats.prepared[i]
        strings = complaint_model.feature_strings(p.norm, p.stream)
        _, keys = ngram.keys_batch([p.norm], [p.stream])
        if len(strings) != len(keys):
            continue
        for k, s in zip(keys.tolist(), strings, strict=True):
            if k in keep and k not in names and len(s.strip()) >= 2:
                names[k] = s
    model.names = names


# --- prediction and scoring --------------------------------------------------------------------


@dataclass
class Prediction:
    is_complaint: bool
    category: str | None
    urgency: str | None
    p: float


def predict(model: ComplaintModel, fz: Featurized, idx: np.ndarray) -> list[Prediction]:
    """The product's verdict (model + rules) for the records at ``idx``."""
    with analyzer.configured(fz.cfg, fz.stub or model) as st:
        return _predict(st, model, fz, idx)


def _predict(st: Any, model: ComplaintModel, fz: Featurized, idx: np.ndarray) -> list[Prediction]:
    feats = subset(fz, idx)
    outs = analyzer.model_outputs(feats, model, explain=False)
    preds = []
    for i, out in enumerate(outs):
        _, v = analyzer.verdict(
            st, feats.prepared[i], float(feats.margins[i]), feats.tails[i], feats.issues[i], out
        )
        preds.append(Prediction(v.is_complaint, v.category, v.urgency, out.p_complaint))
    return preds


@dataclass
class Scores:
    n: int
    complaints: int
    precision: float
    recall: float
    f1: float
    category: float  # over all gold complaints; a missed complaint counts wrong
    urgency: float
    tp: int = 0
    fp: int = 0
    fn: int = 0
    category_ok: int = 0
    urgency_ok: int = 0

    def row(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def score(
    gold: Sequence[Record],
    pred_c: Sequence[bool],
    pred_cat: Sequence[str | None],
    pred_urg: Sequence[str | None],
) -> Scores:
    tp = sum(1 for g, p in zip(gold, pred_c, strict=True) if g.is_complaint and p)
    fp = sum(1 for g, p in zip(gold, pred_c, strict=True) if not g.is_complaint and p)
    fn = sum(1 for g, p in zip(gold, pred_c, strict=True) if g.is_complaint and not p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    gold_c = [i for i, g in enumerate(gold) if g.is_complaint]
    cat_ok = sum(1 for i in gold_c if pred_c[i] and pred_cat[i] == gold[i].category)
    urg_ok = sum(1 for i in gold_c if pred_c[i] and pred_urg[i] == gold[i].urgency)
    cat = cat_ok / len(gold_c) if gold_c else float("nan")
    urg = urg_ok / len(gold_c) if gold_c else float("nan")
    return Scores(len(gold), len(gold_c), prec, rec, f1, cat, urg, tp, fp, fn, cat_ok, urg_ok)


def snownlp_negative(texts: Sequence[str], cache: Path | None = None) -> list[float]:
    """Stock snownlp's positive probability per text (the baseline), cached by text hash."""
    from snownlp import SnowNLP

    known: dict[str, float] = {}
    if cache and cache.is_file():
        known = json.loads(cache.read_text(encoding="utf-8"))
    out = []
    for t in texts:
        h = hashlib.md5(t.encode()).hexdigest()
        if h not in known:
            try:
                known[h] = float(SnowNLP(t).sentiments) if t.strip() else 0.5
            except ZeroDivisionError:
                known[h] = 0.5
        out.append(known[h])
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known), encoding="utf-8")
    return out


@dataclass
class Fold:
    group: str
    ours: Scores
    snownlp: Scores
    majority: Scores
    errors: list[dict[str, Any]] = field(default_factory=list)
    confusion: dict[str, Counter[str]] = field(default_factory=dict)


def cross_validate(
    fz: Featurized,
    snow: dict[str, float],
    prm: Params | None = None,
    *,
    snow_pos: Sequence[float] | None = None,
    groups: Sequence[str] | None = None,
    fold_of: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Fold]:
    """Leave one domain group out: fit on the rest, score the held-out group (model + rules).

    ``fold_of`` replaces the domain groups by any fold assignment (e.g. a random k-fold split,
    which measures the model on domains it has seen).
    """
    prm = prm or Params()
    all_groups = np.array(list(fold_of) if fold_of is not None else [r.group for r in fz.records])
    folds = []
    for g in groups or sorted(set(all_groups.tolist())):
        test = np.flatnonzero(all_groups == g)
        train_idx = np.flatnonzero(all_groups != g)
        if not len(test) or not len(train_idx):
            continue
        train_labels = {fz.records[i].is_complaint for i in train_idx}
        if len(train_labels) < 2:  # e.g. a customer's file of complaints only, held out from the rest
            if log:
                log(f"{g}: skipped (without it the training part has only one label)")
            continue
        model = fit(fz, train_idx, snow, prm)
        preds = predict(model, fz, test)
        gold = [fz.records[i] for i in test]
        ours = score(
            gold, [p.is_complaint for p in preds], [p.category for p in preds], [p.urgency for p in preds]
        )
        train_recs = [fz.records[i] for i in train_idx if fz.records[i].is_complaint]
        top_cat = Counter(r.category for r in train_recs).most_common(1)[0][0]
        top_urg = Counter(r.urgency for r in train_recs).most_common(1)[0][0]
        if snow_pos is not None:
            sn = [snow_pos[int(i)] < 0.5 or fz.records[i].platform == "heimao" for i in test]
        else:
            sn = [False] * len(test)
        base_sn = score(gold, sn, [None] * len(test), [None] * len(test))
        base_major = score(gold, [True] * len(test), [top_cat] * len(test), [top_urg] * len(test))
        fold = Fold(g, ours, base_sn, base_major)
        for r, p in zip(gold, preds, strict=True):
            if r.is_complaint:
                fold.confusion.setdefault(str(r.category), Counter())[
                    str(p.category if p.is_complaint else "(非投诉)")
                ] += 1
            wrong = (
                (r.is_complaint != p.is_complaint)
                + (r.is_complaint and p.is_complaint and r.category != p.category)
                + (r.is_complaint and p.is_complaint and r.urgency != p.urgency)
            )
            if wrong:
                severity = abs(p.p - (1.0 if r.is_complaint else 0.0)) + (
                    1.0 if r.is_complaint != p.is_complaint else 0.0
                )
                fold.errors.append(
                    {
                        "id": r.id,
                        "group": g,
                        "severity": round(severity, 3),
                        "text": r.text,
                        "gold": [r.is_complaint, r.category, r.urgency],
                        "pred": [p.is_complaint, p.category, p.urgency],
                        "p": round(p.p, 3),
                    }
                )
        folds.append(fold)
        if log:
            log(
                f"{g:<10} n={ours.n:>4}  F1 {ours.f1:.3f} (snownlp {base_sn.f1:.3f})  "
                f"category {ours.category:.3f}  urgency {ours.urgency:.3f}"
            )
    return folds


def pooled(folds: Sequence[Fold], which: str = "ours") -> dict[str, float]:
    """Micro-averaged figures over every held-out record of the folds (summed counts)."""
    scores: list[Scores] = [getattr(f, which) for f in folds]
    tp, fp, fn = sum(s.tp for s in scores), sum(s.fp for s in scores), sum(s.fn for s in scores)
    gold_c = sum(s.complaints for s in scores)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "category": sum(s.category_ok for s in scores) / gold_c if gold_c else float("nan"),
        "urgency": sum(s.urgency_ok for s in scores) / gold_c if gold_c else float("nan"),
    }


# --- the whole training run ----------------------------------------------------------------------


@dataclass
class TrainResult:
    path: Path
    version: str
    records: int
    complaints: int
    features: int
    folds: list[Fold]
    seconds: float


def train(
    out: str | Path | None = None,
    *,
    extra: Sequence[str | Path] = (),
    shipped_corpus: bool = True,
    prm: Params | None = None,
    cv: bool = True,
    log: Callable[[str], None] | None = None,
    snow_cache: Path | None = None,
    cfg: AppConfig | None = None,
) -> TrainResult:
    """Fit the complaint model on the corpus plus ``extra`` files, report grouped CV, write the file."""
    started = time.monotonic()
    prm = prm or Params()
    records = load_corpus(extra, shipped=shipped_corpus)
    if len({r.is_complaint for r in records}) < 2:
        raise CorpusError("the labelled data needs both complaints and non-complaints")
    if log:
        log(
            f"{len(records):,} labelled records from {len({r.origin for r in records})} file(s); featurising …"
        )
    if log:
        extra_names = {Path(e).name for e in extra}
        custom_posts = [
            r for r in records if r.origin in extra_names and r.platform in complaint_model.SOCIAL_PLATFORMS
        ]
        brandless = sum(1 for r in custom_posts if not r.brand)
        if brandless:
            log(
                f"{brandless:,} of your {len(custom_posts):,} posts have no brand: the scores below judge them "
                "as brandless texts (no target word → no complaint; a crawl's posts always have one)"
            )
    snow = snownlp_table()
    fz = featurize(records, snow, cfg=cfg)
    folds: list[Fold] = []
    if cv and len({r.group for r in records}) >= 2:
        pos = snownlp_negative([r.text for r in records], snow_cache)
        folds = cross_validate(fz, snow, prm, snow_pos=pos, log=log)
    idx = np.arange(len(records))
    model = fit(fz, idx, snow, prm, log=log)
    name_features(model, fz, idx, prm.names)
    digest = hashlib.sha256()
    for r in sorted(records, key=lambda r: r.id):
        digest.update(f"{r.id}\t{r.text}\t{r.is_complaint}\t{r.category}\t{r.urgency}\n".encode())
    digest.update(json.dumps(sorted(vars(prm).items())).encode())
    digest.update(json.dumps(DENSE, ensure_ascii=False).encode())  # the features are part of the model
    # and what was fitted: word lists, the sentiment model and the segmenter shape the features
    # without being named above, so two fits that differ anywhere get different versions
    digest.update(np.ascontiguousarray(model.sparse.keys).tobytes())
    # as stored (float16 weights), not float64 noise that could differ across machines
    for arr in (model.sparse.weights, model.dense_w, model.bias, model.dense_mean):
        digest.update(np.asarray(arr, dtype=np.float16).tobytes())
    counts: dict[str, Any] = defaultdict(int)
    for r in records:
        counts[r.origin] += 1
    model.meta.update(
        {
            "version": f"clr-{digest.hexdigest()[:10]}",
            "params": vars(prm),
            "records": len(records),
            "complaints": sum(r.is_complaint for r in records),
            "files": dict(counts),
            "features": len(model.sparse.keys),
            "cv": {f.group: f.ours.row() for f in folds},
            "cv_pooled": {k: round(v, 4) for k, v in pooled(folds).items()} if folds else {},
        }
    )
    target = Path(out) if out else complaint_model.SHIPPED
    complaint_model.save(target, model)
    complaint_model.clear_cache()
    return TrainResult(
        target,
        model.version,
        len(records),
        int(model.meta["complaints"]),
        len(model.sparse.keys),
        folds,
        time.monotonic() - started,
    )


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-cv", action="store_true")
    a = ap.parse_args()
    res = train(
        a.out,
        extra=a.extra,
        cv=not a.no_cv,
        log=print,
        snow_cache=Path(__file__).resolve().parent.parent / "bench" / "out" / "snownlp_cache.json",
    )
    print(res.path, res.version, res.records, res.features, f"{res.seconds:.0f}s")
