"""Scoring labelled mention files (RUBRIC.md JSON Lines) against the analyser.

``read_jsonl`` reads records (a bad line is an error naming the line); ``evaluate``
runs the analyser and returns accuracy, precision/recall/F1 for ``is_complaint`` and
confusion tables for ``is_complaint``, ``category`` and ``urgency``. Category and
urgency are scored on the labelled complaints (a missed complaint counts as wrong).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.config import CATEGORIES, URGENCIES
from sentiment.analyzer import Analysis, analyze_many

NONE_LABEL = "—"


class LabelledFileError(ValueError):
    """A labelled file that cannot be read."""


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of a JSON Lines file; a bad line is a
    :class:`LabelledFileError` naming it."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledFileError(f"{p}: cannot read: {exc}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledFileError(f"{p}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(rec, dict):
            raise LabelledFileError(f"{p}:{n}: each line must be a JSON object")
        yield n, rec


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON Lines file; every record needs a ``text``."""
    out: list[dict[str, Any]] = []
    for n, rec in iter_jsonl(path):
        if not isinstance(rec.get("text"), str):
            raise LabelledFileError(f'{path}:{n}: each line must be an object with a "text" string')
        out.append(rec)
    return out


@dataclass
class Confusion:
    """Counts of (gold, predicted) pairs with the label order to print them in."""

    labels: list[str]
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def accuracy(self) -> float:
        total = sum(self.counts.values())
        hits = sum(v for (g, p), v in self.counts.items() if g == p)
        return hits / total if total else float("nan")

    def rows(self) -> list[list[int]]:
        return [[self.counts[(g, p)] for p in self.labels] for g in self.labels]


@dataclass
class Report:
    n: int
    complaint: Confusion
    category: Confusion
    urgency: Confusion
    precision: float
    recall: float
    f1: float
    errors: list[dict[str, Any]] = field(default_factory=list)


def _label(v: Any) -> str:
    return NONE_LABEL if v in (None, "") else str(v)


def evaluate(records: Iterable[dict[str, Any]], analyses: list[Analysis] | None = None) -> Report:
    """Score the analyser on labelled records (those without ``is_complaint`` are skipped)."""
    recs = [r for r in records if "is_complaint" in r]
    if analyses is None:
        analyses = analyze_many(recs)
    comp = Confusion(["是", "否"])
    cat = Confusion([*CATEGORIES, NONE_LABEL])
    urg = Confusion([*URGENCIES, NONE_LABEL])
    errors: list[dict[str, Any]] = []
    for rec, a in zip(recs, analyses, strict=True):
        gold = bool(rec["is_complaint"])
        comp.counts[("是" if gold else "否", "是" if a.is_complaint else "否")] += 1
        if gold:
            cat.counts[(_label(rec.get("category")), _label(a.category))] += 1
            urg.counts[(_label(rec.get("urgency")), _label(a.urgency))] += 1
        wrong = gold != a.is_complaint or (
            gold and (rec.get("category") != a.category or rec.get("urgency") != a.urgency)
        )
        if wrong:
            errors.append(
                {
                    "id": rec.get("id"),
                    "gold": [gold, rec.get("category"), rec.get("urgency")],
                    "pred": [a.is_complaint, a.category, a.urgency],
                    "risk": a.risk,
                    "reasons": a.reasons,
                    "text": rec["text"],
                }
            )
    tp = comp.counts[("是", "是")]
    fp = comp.counts[("否", "是")]
    fn = comp.counts[("是", "否")]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Report(len(recs), comp, cat, urg, precision, recall, f1, errors)
