"""Huge inputs cost no more per unit than normal ones: the analysis and the Xiaohongshu parser.

    python bench/huge_inputs.py [--repeat 5]

1. **Analysis of a huge text.** ``sentiment.analyze`` on 220,000 characters (the hostile-input
   test's ``"这家店的东西真的不行，" * 20_000``) against a baseline measured in the same run:
   200 ordinary mentions of 1,100 characters each (the same sentence, numbered so no cache
   helps), analysed one call at a time. Targets: the huge text within 5 s, and at most the
   baseline's cost per character (ratio ≤ 1: no blow-up on long input).
2. **A huge Xiaohongshu search page.** ``parse_search_page`` on one page of 5,000 notes (the real
   capture's note, repeated with distinct ids) against the same 5,000 notes in ordinary pages of
   20. Targets: the huge page within 5 s, and at most 4× the baseline's cost per note (linear:
   a quadratic step would be hundreds of times slower).

Each figure is the median of ``--repeat`` runs, after one warm-up run.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sentiment  # noqa: E402
from crawler.config import config_from_dict  # noqa: E402
from spiders import _xhs_api  # noqa: E402

SENTENCE = "这家店的东西真的不行，"
CAPTURE = ROOT / "tests" / "fixtures" / "xiaohongshu" / "xhs_search_notes.json"
SECONDS_TARGET = 5.0
ANALYSIS_RATIO_TARGET = 1.0
PARSE_RATIO_TARGET = 4.0


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: imports, lazy loads, first-call caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def analysis(repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sentiment.configure(
            config_from_dict({"project": {"data_dir": f"{tmp}/data"}, "brands": [{"name": "鲜果时光"}]})
        )
        huge = SENTENCE * 20_000
        pieces = [f"第{i}条：" + SENTENCE * 100 for i in range(200)]
        t_huge = median_seconds(lambda: sentiment.analyze(huge), repeat)
        t_base = median_seconds(lambda: [sentiment.analyze(p) for p in pieces], repeat)
    per_char_huge = t_huge / len(huge)
    per_char_base = t_base / sum(len(p) for p in pieces)
    return {"seconds": t_huge, "baseline": t_base, "ratio": per_char_huge / per_char_base}


def search_page(repeat: int) -> dict[str, float]:
    data = json.loads(CAPTURE.read_text(encoding="utf-8"))
    payload = data[0] if isinstance(data, list) else data
    template = payload["data"]["items"][0]
    notes = [dict(copy.deepcopy(template), id=f"{i:024x}") for i in range(5000)]

    def page(items: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(payload["data"], items=items)

    huge = page(notes)
    pages = [page(notes[i : i + 20]) for i in range(0, len(notes), 20)]

    def parse_huge() -> None:
        result = _xhs_api.parse_search_page(huge, brand="b", keyword="k")
        assert len({h.note_id for h in result.hits}) == len(notes)

    def parse_pages() -> None:
        found = {h.note_id for p in pages for h in _xhs_api.parse_search_page(p, brand="b", keyword="k").hits}
        assert len(found) == len(notes)

    t_huge = median_seconds(parse_huge, repeat)
    t_base = median_seconds(parse_pages, repeat)
    return {"seconds": t_huge, "baseline": t_base, "ratio": t_huge / t_base}


def report(label: str, r: dict[str, float], what: str, ratio_target: float) -> bool:
    met = r["seconds"] <= SECONDS_TARGET and r["ratio"] <= ratio_target
    print(
        f"{label}: {r['seconds'] * 1000:,.1f} ms (target ≤ {SECONDS_TARGET:g} s); baseline {what} "
        f"{r['baseline'] * 1000:,.1f} ms; cost per unit huge / baseline {r['ratio']:.2f} "
        f"(target ≤ {ratio_target:g})  met: {'yes' if met else 'NO'}"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (the median is shown)")
    args = parser.parse_args()
    ok = report(
        "analysis of 220,000 characters",
        analysis(args.repeat),
        "(200 mentions of 1,100 characters, one call each)",
        ANALYSIS_RATIO_TARGET,
    )
    ok &= report(
        "Xiaohongshu search page of 5,000 notes",
        search_page(args.repeat),
        "(the same notes in 250 pages of 20)",
        PARSE_RATIO_TARGET,
    )
    print("all targets met" if ok else "some targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
