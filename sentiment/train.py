"""Train the sentiment model from labelled CSV files (columns ``label,text``; 1 = positive).

Reproducible: the held-out part is chosen by a seeded hash of each text (the same text
is held out in every file that contains it), the feature order is sorted, the solver is
deterministic and the file is written with fixed timestamps, so the same data and seed
give the same model file. Texts that appear in an evaluation file (``dev.csv``,
``test.csv`` next to a ``train.csv``, or ``--exclude``) are never trained on.

scikit-learn is imported only here; scoring (:mod:`sentiment.ngram`) needs numpy only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentiment import analyzer, segment
from sentiment import ngram as sm

DEFAULT_SEED = 20240601
DEFAULT_HOLDOUT = 0.1
DEFAULT_C = 8.0
DEFAULT_FEATURES = 400_000
# datasets that get their own specialist head and domain gate when present (docs/analysis.md, sentiment model card)
DEFAULT_SPECIALISTS: tuple[str, ...] = ("weibo2018", "waimai_10k", "chnsenticorp_htl")
EVAL_NAMES = ("dev.csv", "test.csv")


@dataclass
class Dataset:
    """One labelled CSV: its name (folder or file stem), rows, and whether it is evaluation-only."""

    name: str
    path: Path
    rows: list[tuple[int, str]]
    eval_only: bool = False


@dataclass
class TrainResult:
    path: Path
    version: str
    features: int
    train_rows: int
    accuracy: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def read_csv(path: Path) -> list[tuple[int, str]]:
    """Rows (label, text) of a ``label,text`` CSV; a bad header or label raises ValueError."""
    csv.field_size_limit(10_000_000)
    rows: list[tuple[int, str]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or [h.strip().lower() for h in header[:2]] != ["label", "text"]:
            raise ValueError(f"{path}: the first line must be the header 'label,text'")
        for lineno, rec in enumerate(reader, start=2):
            if len(rec) < 2 or not rec[1].strip():
                continue
            label = rec[0].strip()
            if label not in ("0", "1"):
                raise ValueError(f"{path}:{lineno}: label must be 0 or 1, got {label!r}")
            rows.append((int(label), rec[1].strip()))
    return rows


def discover(paths: Iterable[str | Path]) -> list[Dataset]:
    """CSV files to use: each directory contributes its ``train.csv`` files (and dev/test as evaluation)."""
    found: list[Dataset] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for train in sorted(p.rglob("train.csv")):
                found.append(Dataset(train.parent.name, train, read_csv(train)))
                for name in EVAL_NAMES:
                    ev = train.parent / name
                    if ev.is_file():
                        found.append(
                            Dataset(f"{train.parent.name}/{ev.stem}", ev, read_csv(ev), eval_only=True)
                        )
        elif p.is_file():
            label = p.parent.name if p.name in ("train.csv", *EVAL_NAMES) else p.stem
            found.append(Dataset(label, p, read_csv(p)))
        else:
            raise FileNotFoundError(f"no such file or directory: {p}")
    if not any(not d.eval_only for d in found):
        raise ValueError("no training rows found (expected label,text CSV files or folders with train.csv)")
    return found


def is_heldout(text: str, seed: int = DEFAULT_SEED, ratio: float = DEFAULT_HOLDOUT) -> bool:
    """Whether ``text`` belongs to the seeded held-out part (same answer in every dataset)."""
    if ratio <= 0:
        return False
    digest = hashlib.md5(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < ratio * 10_000


def split(
    datasets: Sequence[Dataset], seed: int, ratio: float, exclude: set[str]
) -> tuple[list[tuple[int, str]], dict[str, list[tuple[int, str]]]]:
    """Training rows (deduplicated, no evaluation text) and the evaluation rows per dataset."""
    eval_texts = set(exclude)
    for d in datasets:
        if d.eval_only:
            eval_texts.update(t for _, t in d.rows)
    train: dict[str, int] = {}
    conflicts: set[str] = set()
    evals: dict[str, list[tuple[int, str]]] = {}
    for d in datasets:
        if d.eval_only:
            evals[d.name] = list(d.rows)
            continue
        held = [(y, t) for y, t in d.rows if is_heldout(t, seed, ratio)]
        if held:
            evals[d.name] = held
        for y, t in d.rows:
            if t in eval_texts or is_heldout(t, seed, ratio):
                continue
            if train.get(t, y) != y:
                conflicts.add(t)
            train[t] = y
    rows = sorted((y, t) for t, y in train.items() if t not in conflicts)
    return [(y, t) for y, t in rows], evals


def complaint_corpus_texts() -> set[str]:
    """Texts of the complaint corpus's real part: never trained on by the sentiment model."""
    path = Path(__file__).with_name("data") / "complaints" / "real.jsonl"
    if not path.is_file():
        return set()
    return {
        json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    }


def featurize(texts: Sequence[str]) -> list[np.ndarray]:
    """Feature keys of each text (the same function the model scores with)."""
    out = []
    for text in texts:
        norm = segment.normalize(text[: segment.MAX_CHARS])
        out.append(sm.feature_keys(norm, segment.stream(norm)))
    return out


def build_vocab(
    key_lists: Sequence[np.ndarray], *, min_df: int = 2, max_features: int = DEFAULT_FEATURES
) -> np.ndarray:
    """Sorted keys of the features in at least ``min_df`` texts, the ``max_features`` most frequent."""
    per_text = np.concatenate([np.unique(k) for k in key_lists]) if key_lists else np.zeros(0, np.int64)
    keys, df = np.unique(per_text, return_counts=True)
    keep = df >= min_df
    keys, df = keys[keep], df[keep]
    if len(keys) > max_features:
        order = np.lexsort((keys, -df))[:max_features]  # most frequent first, ties by key
        keys = keys[order]
    return np.sort(keys)


def design(
    key_lists: Sequence[np.ndarray], vocab: np.ndarray, idf: np.ndarray | None = None
) -> tuple[Any, np.ndarray]:
    """The L2-normalised sublinear tf-idf matrix over ``vocab``; returns (matrix, idf used)."""
    from scipy.sparse import csr_matrix

    n = len(key_lists)
    lens = np.fromiter((len(a) for a in key_lists), dtype=np.int64, count=n)
    rows = np.repeat(np.arange(n, dtype=np.int64), lens)
    keys = np.concatenate(key_lists) if n else np.zeros(0, np.int64)
    pos = np.searchsorted(vocab, keys)
    pos[pos >= len(vocab)] = 0
    hit = vocab[pos] == keys if len(vocab) else np.zeros(len(keys), bool)
    x = csr_matrix((np.ones(int(hit.sum())), (rows[hit], pos[hit])), shape=(n, len(vocab)))
    x.sum_duplicates()
    if idf is None:
        df = np.bincount(x.indices, minlength=len(vocab))
        raw = np.log((1.0 + n) / (1.0 + df)) + 1.0
        idf = sm.quantize_idf(raw).astype(np.float64) / sm.IDF_SCALE  # train on what ships
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return csr_matrix(x.multiply(1.0 / norms[:, None])), idf


def nb_ratio(x: Any, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratio per feature (Wang & Manning's NBSVM scaling)."""
    p = np.asarray(x[y == 1].sum(axis=0)).ravel() + alpha
    q = np.asarray(x[y == 0].sum(axis=0)).ravel() + alpha
    ratio: np.ndarray = np.log((p / p.sum()) / (q / q.sum()))
    return ratio


def fit_head(x: Any, y: np.ndarray, *, c: float, nb: bool, seed: int) -> tuple[np.ndarray, float]:
    """One linear head (NB scaling folded into the weights); returns (weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        raise ValueError("training data needs both labels (0 and 1)")
    r = nb_ratio(x, y) if nb else np.ones(x.shape[1])
    xs = x.copy()
    xs.data = xs.data * r[xs.indices]
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=300, random_state=seed)
    clf.fit(xs, y)
    return clf.coef_[0] * r, float(clf.intercept_[0])


def fit(
    rows: Sequence[tuple[int, str]],
    *,
    seed: int,
    domains: dict[str, np.ndarray] | None = None,
    params: Params | None = None,
    keys: list[np.ndarray] | None = None,
    log: Any = None,
) -> sm.SentimentModel:
    """Fit the general head, and a specialist + gate for each domain (a boolean row mask)."""
    prm = params or Params()
    if keys is None:
        keys = featurize([t for _, t in rows])
    vocab = build_vocab(keys, max_features=prm.max_features)
    x, idf = design(keys, vocab)
    y = np.asarray([lab for lab, _ in rows])
    heads, cols, biases = ["general"], [], []
    w, b = fit_head(x, y, c=prm.c, nb=prm.nb, seed=seed)
    cols.append(w)
    biases.append(b)
    for name, mask in sorted((domains or {}).items()):
        if mask.sum() < 50 or mask.all():
            continue
        if log:
            log(f"domain {name}: {int(mask.sum()):,} texts")
        w, b = fit_head(x[mask], y[mask], c=prm.c_specialist, nb=True, seed=seed)
        gw, gb = fit_head(x, mask.astype(int), c=prm.c_gate, nb=False, seed=seed)
        heads += ["spec:" + name, "gate:" + name]
        cols += [w, gw]
        biases += [b, gb]
    weights = np.stack(cols, axis=1).astype(np.float16).astype(np.float32)  # train on what ships
    blends = {
        h.split(":", 1)[1]: dict(prm.blends).get(h.split(":", 1)[1], prm.blend)
        for h in heads
        if h.startswith("spec:")
    }
    return sm.SentimentModel(vocab, idf.astype(np.float32), weights, np.asarray(biases), heads, blends)


@dataclass(frozen=True)
class Params:
    c: float = DEFAULT_C
    nb: bool = True
    c_specialist: float = 16.0
    c_gate: float = 4.0
    blend: float = 0.5
    max_features: int = DEFAULT_FEATURES
    # how much a domain's specialist is trusted; the gates of the review domains are less
    # sure (short food-delivery and hotel reviews look like shopping reviews)
    blends: tuple[tuple[str, float], ...] = (("waimai_10k", 0.7), ("chnsenticorp_htl", 0.7))


def evaluate(model: sm.SentimentModel, rows: Sequence[tuple[int, str]]) -> float:
    if not rows:
        return float("nan")
    margins = model.margins(featurize([t for _, t in rows]))
    labels = np.asarray([y for y, _ in rows], dtype=bool)
    return float(np.mean((margins > 0) == labels))


def domain_masks(
    rows: Sequence[tuple[int, str]], datasets: Sequence[Dataset], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Boolean row mask per named dataset (the rows whose text that dataset holds)."""
    out = {}
    for name in names:
        texts = {t for d in datasets if d.name == name and not d.eval_only for _, t in d.rows}
        if texts:
            out[name] = np.fromiter((t in texts for _, t in rows), dtype=bool, count=len(rows))
    return out


def train(
    data: Sequence[str | Path],
    out: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    holdout: float = DEFAULT_HOLDOUT,
    exclude: Sequence[str | Path] = (),
    specialists: Sequence[str] | None = None,
    params: Params | None = None,
    log: Any = None,
) -> TrainResult:
    """Build a model file from CSVs/folders; evaluate it on the held-out rows and eval files."""
    started = time.monotonic()

    analyzer.configure(None)  # the segmenter with the built-in word lists, as at inference
    prm = params or Params()
    datasets = discover(data)
    excluded = {t for p in exclude for _, t in read_csv(Path(p))}
    excluded |= complaint_corpus_texts()  # keeps the complaint model's sentiment evidence out-of-sample
    rows, evals = split(datasets, seed, holdout, excluded)
    if not rows:
        raise ValueError("no training rows left after the held-out split and exclusions")
    names = DEFAULT_SPECIALISTS if specialists is None else tuple(specialists)
    if log:
        log(
            f"{len(rows):,} training texts from {len([d for d in datasets if not d.eval_only])} file(s); fitting …"
        )
    model = fit(rows, seed=seed, domains=domain_masks(rows, datasets, names), params=prm, log=log)
    digest = hashlib.sha256()
    for y, t in rows:
        digest.update(f"{y}\t{t}\n".encode())
    digest.update(
        json.dumps([seed, holdout, list(names), sorted((k, str(v)) for k, v in vars(prm).items())]).encode()
    )
    model.meta = {
        "version": f"nblr-{digest.hexdigest()[:10]}",
        "seed": seed,
        "holdout": holdout,
        "params": {k: (dict(v) if k == "blends" else v) for k, v in vars(prm).items()},
        "train_rows": len(rows),
        "features": len(model.keys),
        "sources": sorted({d.name for d in datasets if not d.eval_only}),
    }
    model.meta["accuracy"] = {name: round(evaluate(model, ev), 4) for name, ev in sorted(evals.items())}
    sm.save(out, model)
    return TrainResult(
        Path(out),
        model.version,
        len(model.keys),
        len(rows),
        model.meta["accuracy"],
        time.monotonic() - started,
    )


if __name__ == "__main__":  # python -m sentiment.train DIR... OUT
    res = train(sys.argv[1:-1], sys.argv[-1], log=print)
    print(res)
