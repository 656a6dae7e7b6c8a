"""The learned complaint model: is it a complaint, its category, 紧急 versus 一般.

Linear heads over two kinds of evidence, trained on the labelled corpus in
``sentiment/data/complaints/`` (see its README and ``complaint_train``):

* **sparse**: character 1–3-grams, words, word bigrams and negation-scoped words of the
  text (the sentiment model's feature keys, :func:`sentiment.ngram.keys_batch`), sublinear
  tf-idf, L2-normalised, over the corpus vocabulary;
* **dense** (:data:`DENSE`): the sentiment model's margin of the whole text and of its
  contrast tail ("好吃，就是送太慢了" → "送太慢了"), the log-likelihood ratio of snownlp's
  shipped Bayes sentiment classifier over the text's words (its word statistics, stored in
  the model file, so snownlp is not imported at run time), every word-list signal
  (problem, demand, emotion, harm, escalation, bulk, sarcasm, ads, news, praise, fixed
  problem, own fault, joke, competitor, negated problem) and the ten category keyword sums,
  the Heimao flag and the Heimao 投诉问题 field's category sums, and the text's length.

Heads: ``complaint`` (binary), ``cat:<category>`` (ten, softmax), ``urg:紧急`` (紧急
versus 一般 among complaints) and ``urg:非常紧急`` (a second opinion on the rubric's top row,
used only above a high bar, ``meta["top_threshold"]``). The rubric's hard rows
(escalation, harm, spread, group complaints) stay rules in :mod:`sentiment.complaint`.
Scoring needs numpy only.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from math import log1p
from operator import add
from pathlib import Path
from typing import Any

import numpy as np

from crawler.names import PLATFORMS
from crawler.paths import package_path
from sentiment import ngram
from sentiment.segment import BREAK

SHIPPED = package_path("sentiment", "complaint_model.npz")
CATEGORIES: tuple[str, ...] = (
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
URGENCIES: tuple[str, ...] = ("非常紧急", "紧急", "一般")
SIGNAL_KINDS: tuple[str, ...] = (
    "problem",
    "demand",
    "emotion",
    "harm",
    "escalation",
    "bulk",
    "sarcasm",
    "ads",
    "news",
    "praise",
    "resolved",
    "ownfault",
    "joke",
    "personal",
)
DENSE: tuple[str, ...] = (
    "senti_margin",
    "senti_tail",
    "senti_min",
    "snow_llr",
    "snow_mean",
    *(f"sig:{k}" for k in SIGNAL_KINDS),
    "competitor",
    "negated",
    "brand_named",
    *(f"catkw:{c}" for c in CATEGORIES),
    *(f"issue:{c}" for c in CATEGORIES),
    "heimao",
    "length",
    "question",
    "exclaim",
)
_DENSE_INDEX = {name: i for i, name in enumerate(DENSE)}
# Platforms whose texts are social-media posts; a text from anywhere else (no platform: a
# review, a pasted text, a customer's review export) is read as a review of the business.
SOCIAL_PLATFORMS = frozenset(PLATFORMS)


def is_review(platform: str | None) -> bool:
    """Whether a text is read as a review of the business (it comes from no social platform).

    A review's target is the business reviewed, so a mild concrete problem in it is a
    complaint (the rubric); a post is often about the author's own life. The model file's
    ``review_threshold`` is the complaint cut for reviews.
    """
    return platform not in SOCIAL_PLATFORMS


HEADS: tuple[str, ...] = ("complaint", *(f"cat:{c}" for c in CATEGORIES), "urg:紧急", "urg:非常紧急")

# Reason labels for the dense features (Chinese, shown to complaint staff)
DENSE_LABELS = {
    "senti_margin": "整体情绪",
    "senti_tail": "转折后情绪",
    "senti_min": "最负面部分情绪",
    "snow_llr": "snownlp 情感词",
    "snow_mean": "snownlp 情感词",
    "sig:problem": "问题词",
    "sig:demand": "诉求词",
    "sig:emotion": "情绪词",
    "sig:harm": "健康安全词",
    "sig:escalation": "升级投诉词",
    "sig:bulk": "群体问题词",
    "sig:sarcasm": "反讽",
    "sig:ads": "广告词",
    "sig:news": "新闻词",
    "sig:praise": "好评词",
    "sig:resolved": "问题已解决",
    "sig:ownfault": "作者自身原因",
    "sig:joke": "玩笑",
    "sig:personal": "亲身经历",
    "competitor": "针对其他品牌或无关的事",
    "negated": "否定的问题",
    "heimao": "黑猫投诉",
    "question": "提问",
    "exclaim": "感叹",
}


def dense_row(
    sig: Any,
    margin: float,
    tail_margin: float | None,
    snow: tuple[float, float],
    *,
    heimao: bool,
    text_len: int,
    issue_categories: dict[str, float] | None,
    text: str,
) -> list[float]:
    """The dense feature vector of one mention, in :data:`DENSE` order (``sig``: signals.Signals)."""
    m = max(-8.0, min(8.0, margin)) / 4.0
    t = m if tail_margin is None else max(-8.0, min(8.0, tail_margin)) / 4.0
    row = [m, t, min(m, t), snow[0], snow[1]]
    row += _squash(sig.score, _SIGNAL_INDEX)
    row.append(1.0 if sig.competitor_terms else 0.0)
    row.append(log1p(min(len(sig.negated), 4)))
    row.append(1.0 if sig.brand_named else 0.0)
    row += _squash(sig.categories, _CATEGORY_INDEX)
    row += _squash(issue_categories, _CATEGORY_INDEX) if issue_categories else _ZEROS
    row.append(1.0 if heimao else 0.0)
    row.append(log1p(text_len) / 6.0)
    row.append(1.0 if ("?" in text or "？" in text or "吗" in text) else 0.0)
    row.append(1.0 if ("!" in text or "！" in text) else 0.0)
    return row


def _squash(scores: dict[str, float], index: dict[str, int]) -> list[float]:
    """log1p of each indexed score clipped to [0, 8], in index order. A text has few scores, so
    only those are visited; an absent one is 0.0 (which log1p(0.0) is)."""
    out = [0.0] * len(index)
    for name, value in scores.items():
        i = index.get(name)
        if i is not None:
            out[i] = log1p(min(max(value, 0.0), 8.0))
    return out


_ZEROS = [0.0] * len(CATEGORIES)
_SIGNAL_INDEX = {k: i for i, k in enumerate(SIGNAL_KINDS)}
_CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORIES)}


@dataclass
class ComplaintModel:
    """Sparse heads (a :class:`ngram.SentimentModel` reused as a multi-head linear scorer) plus dense heads."""

    sparse: ngram.SentimentModel
    dense_w: np.ndarray  # (len(DENSE), len(HEADS)) float32, on standardised features
    dense_mean: np.ndarray  # (len(DENSE),)
    dense_scale: np.ndarray  # (len(DENSE),)
    bias: np.ndarray  # (len(HEADS),)
    snow: dict[str, float]  # snownlp word → log P(w|pos)/P(w|neg)
    names: dict[int, str] = field(default_factory=dict)  # feature key → its text, for reasons
    meta: dict[str, Any] = field(default_factory=dict)
    _contrib: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _snow_words: dict[str, float] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    @property
    def threshold(self) -> float:
        """Complaint probability at or above which a mention is a complaint."""
        return float(self.meta.get("threshold", 0.5))

    def snow_features(self, stream: Sequence[str]) -> tuple[float, float]:
        """(clipped sum, mean) of snownlp's word log-likelihood ratios over the words of a stream."""
        if self._snow_words is None:
            self._snow_words = {w: v for w, v in self.snow.items() if w != BREAK}  # a clause break is no word
        vals = [v for v in map(self._snow_words.get, stream) if v is not None]
        total = reduce(add, vals, 0.0)  # left to right, as a loop would (sum() may compensate)
        return max(-12.0, min(12.0, total)) / 6.0, (total / len(vals) if vals else 0.0)

    def margins(
        self,
        rows: np.ndarray,
        keys: np.ndarray,
        n: int,
        dense: np.ndarray,
        counts: ngram.Counts | None = None,
        hits: ngram.Hits | None = None,
    ) -> np.ndarray:
        """Margins of every head, (n, len(HEADS)), from feature (row, key) pairs (or their
        :func:`ngram.count_pairs`, shared with the sentiment model, and its ``hits`` in this
        model's vocabulary, shared with :meth:`explain`) and dense rows."""
        out = (
            self.sparse.head_margins_counts(counts, n, hits)
            if counts is not None
            else self.sparse.head_margins_flat(rows, keys, n)
        )
        if n:
            z = (dense - self.dense_mean) / self.dense_scale
            for a, b in _blocks(n):
                out[a:b] += z[a:b] @ self.dense_w + self.bias
        return out

    def explain(
        self,
        counts: ngram.Counts,
        dense: np.ndarray,
        which: np.ndarray,
        k: int = 3,
        k_dense: int = 2,
        hits: ngram.Hits | None = None,
    ) -> dict[int, tuple[list[str], list[str]]]:
        """For the texts ``which`` of a batch: the named n-grams that push the complaint head up most,
        and the labels of the dense signals that do (both for the reasons), in one pass over the
        batch's distinct (text, feature) pairs this model knows (``hits``: ``self.sparse.hits(counts)``)."""
        out: dict[int, tuple[list[str], list[str]]] = {int(i): ([], []) for i in which}
        if not len(which):
            return out
        if self.names and len(counts[1]) and len(self.sparse.keys):
            r, col, _ = self.sparse.hits(counts) if hits is None else hits
            contrib = self.contributions.take(col)
            if len(dense) == 1:  # one text: the pairs are its features, in key order
                sel = (contrib > 0).nonzero()[0]
                kk, contrib = self.sparse.keys.take(col.take(sel)), contrib.take(sel)
                kk = kk[np.argsort(-contrib, kind="stable")[: 4 * k]]
                r = np.zeros(len(kk), dtype=np.int64)
            else:
                wanted = np.zeros(len(dense), dtype=bool)
                wanted[which] = True
                sel = (wanted.take(r) & (contrib > 0)).nonzero()[0]
                r, kk, contrib = r.take(sel), self.sparse.keys.take(col.take(sel)), contrib.take(sel)
                # by row, then strongest first, ties in key order (= np.lexsort((-contrib, r))): a positive
                # float32's bits rise with its value, so one stable sort of packed integers does it
                packed = (r << 31) | (0x7FFFFFFF - contrib.view(np.int32).astype(np.int64))
                order = np.argsort(packed, kind="stable")
                r, kk = r.take(order), kk.take(order)
                if len(r):  # only the strongest few of each text reach Python
                    keep = (np.arange(len(r)) - np.searchsorted(r, r) < 4 * k).nonzero()[0]
                    r, kk = r.take(keep), kk.take(keep)
            names = self.names
            for row, key in zip(r.tolist(), kk.tolist(), strict=True):
                found = out[row][0]
                if len(found) >= k:
                    continue
                name = names.get(key)
                if name and name.isalnum():  # "，我" or "!!" may weigh, but reads as noise in a reason
                    for o in found:
                        if name in o or o in name:
                            break
                    else:
                        found.append(name)
        z = (dense[which] - self.dense_mean) / self.dense_scale * self.dense_w[:, 0]
        top = np.argsort(-z, axis=1)[:, :6]
        zs = np.take_along_axis(z, top, axis=1).tolist()
        for i, fs, zrow in zip(which.tolist(), top.tolist(), zs, strict=True):
            cues = out[i][1]
            for f, zf in zip(fs, zrow, strict=True):
                label = DENSE_LABELS.get(DENSE[f])
                if zf > 0.3 and label and label not in cues:
                    cues.append(label)
                if len(cues) >= k_dense:
                    break
        return out

    @property
    def contributions(self) -> np.ndarray:
        """Per vocabulary key, how much one occurrence pushes the complaint head (weight × idf, float32)."""
        if self._contrib is None or len(self._contrib) != len(self.sparse.keys):
            self._contrib = self.sparse.weights[:, 0] * self.sparse.idf
        return self._contrib


_BLOCK = 256


def _blocks(n: int) -> list[tuple[int, int]]:
    """Row blocks for the dense product: small enough that OpenBLAS computes each on the calling
    thread (a whole batch at once wakes its worker threads, whose spinning costs more CPU time
    than the product itself), never a one-row block unless the batch is one row (numpy would
    take another BLAS routine for it)."""
    bounds = list(range(0, n, _BLOCK))
    if n > 1 and n - bounds[-1] == 1 and len(bounds) > 1:
        bounds.pop()
    return list(zip(bounds, [*bounds[1:], n], strict=True)) if n else []


def empty(snow: dict[str, float] | None = None) -> ComplaintModel:
    """A model with no weights (every probability 0.5): the start of training."""
    keys = np.zeros(0, np.int64)
    sparse = ngram.SentimentModel(
        keys,
        np.zeros(0, np.float32),
        np.zeros((0, len(HEADS)), np.float32),
        np.zeros(len(HEADS)),
        list(HEADS),
        {},
        {},
    )
    return ComplaintModel(
        sparse,
        np.zeros((len(DENSE), len(HEADS))),
        np.zeros(len(DENSE)),
        np.ones(len(DENSE)),
        np.zeros(len(HEADS)),
        dict(snow or {}),
        {},
        {"version": "untrained"},
    )


def save(path: str | Path, model: ComplaintModel) -> None:
    """Write the model file (zip of .npy arrays with fixed timestamps: same model → same bytes)."""
    names = sorted(model.names.items())
    snow = sorted(model.snow.items())
    meta = dict(model.meta, heads=list(HEADS), dense=list(DENSE))
    arrays = {
        "keys": np.asarray(model.sparse.keys, dtype=np.uint32),
        "idf": ngram.quantize_idf(model.sparse.idf),
        "weights": np.asarray(model.sparse.weights, dtype=np.float16),
        "dense_w": np.asarray(model.dense_w, dtype=np.float32),
        "dense_mean": np.asarray(model.dense_mean, dtype=np.float32),
        "dense_scale": np.asarray(model.dense_scale, dtype=np.float32),
        "bias": np.asarray(model.bias, dtype=np.float64),
        "name_keys": np.asarray([k for k, _ in names], dtype=np.uint32),
        "name_text": _utf8("\n".join(v.replace("\n", " ") for _, v in names)),
        "snow_words": _utf8("\n".join(w.replace("\n", " ") for w, _ in snow)),
        "snow_llr": np.asarray([v for _, v in snow], dtype=np.float16),
        "meta": _utf8(json.dumps(meta, ensure_ascii=False, sort_keys=True)),
    }
    ngram.write_arrays(path, arrays)


def _utf8(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-8"), dtype=np.uint8)


def _text(arr: np.ndarray) -> str:
    return arr.tobytes().decode("utf-8")


def load(path: str | Path | None = None) -> ComplaintModel:
    """Load a complaint model file (the shipped one by default); a broken or missing file raises ValueError."""
    path = Path(path) if path else SHIPPED
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"].astype(np.int64)
            idf = data["idf"].astype(np.float32) / ngram.IDF_SCALE
            weights = data["weights"].astype(np.float32)
            dense_w = data["dense_w"].astype(np.float64)
            mean = data["dense_mean"].astype(np.float64)
            scale = data["dense_scale"].astype(np.float64)
            bias = data["bias"].astype(np.float64)
            name_keys = data["name_keys"].astype(np.int64)
            name_text = _text(data["name_text"]).split("\n") if len(data["name_text"]) else []
            snow_words = _text(data["snow_words"]).split("\n") if len(data["snow_words"]) else []
            snow_llr = data["snow_llr"].astype(np.float64)
            meta = json.loads(_text(data["meta"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a yuqing complaint model ({exc})") from exc
    if (
        list(meta.get("heads", [])) != list(HEADS)
        or list(meta.get("dense", [])) != list(DENSE)
        or weights.shape != (len(keys), len(HEADS))
        or dense_w.shape != (len(DENSE), len(HEADS))
        or mean.shape != (len(DENSE),)
        or scale.shape != (len(DENSE),)
        or bias.shape != (len(HEADS),)
        or len(idf) != len(keys)
        or len(name_keys) != len(name_text)
        or len(snow_words) != len(snow_llr)
        or (len(keys) > 1 and np.any(np.diff(keys) <= 0))
    ):
        raise ValueError(
            f"{path}: complaint model does not match this version of yuqing (retrain with 'yuqing train')"
        )
    sparse = ngram.SentimentModel(keys, idf, weights, np.zeros(len(HEADS)), list(HEADS), {}, {})
    scale[scale == 0] = 1.0
    return ComplaintModel(
        sparse,
        dense_w,
        mean,
        scale,
        bias,
        dict(zip(snow_words, snow_llr.tolist(), strict=True)),
        dict(zip(name_keys.tolist(), name_text, strict=True)),
        meta,
    )


_lock = threading.Lock()
_cache: dict[str, ComplaintModel] = {}


def get_model(path: str | Path | None = None) -> ComplaintModel:
    """The loaded model for ``path`` (shipped by default), loaded once per process."""
    key = str(Path(path).resolve()) if path else ""
    with _lock:
        if key not in _cache:
            _cache[key] = load(path)
        return _cache[key]


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def softmax_rows(m: np.ndarray) -> np.ndarray:
    m = m - m.max(axis=1, keepdims=True)
    e = np.exp(m)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def feature_strings(text: str, stream: Sequence[str]) -> list[str]:
    """The text of every feature occurrence, in the order :func:`ngram.keys_batch` emits their keys."""
    compact = ngram.compact(text)
    out = list(compact)
    out += [compact[i : i + 2] for i in range(len(compact) - 1)]
    out += [compact[i : i + 3] for i in range(len(compact) - 2)]
    words: list[str] = []
    starts: list[bool] = []
    negated: list[str] = []
    neg, new_clause = False, True
    for tok in stream:
        if tok == BREAK:
            neg, new_clause = False, True
            continue
        words.append(tok)
        starts.append(new_clause)
        new_clause = False
        if neg:
            negated.append("不…" + tok)
        elif tok in ngram.NEGATORS:
            neg = True
    out += words
    out += [words[i - 1] + words[i] for i in range(1, len(words)) if not starts[i]]
    out += negated
    return out
