"""Assemble the complaint corpus from the annotators' files.

    python scripts/build_corpus.py [--work sentiment/data/complaints/work] [--partial]

``real.jsonl``: every drawn text (``work/sources.jsonl``) with its first annotator's labels
(``work/labels_batch*.jsonl``), in the RUBRIC record format plus ``source``, ``domain`` and
``source_polarity`` (the public corpus's own label, kept for analysis, never trained on).
``written.jsonl``: the written mentions (``work/written_w*.jsonl``), validated.
``adjudicated.jsonl``: the third readings of the disagreements (``work*/adjudicated*.jsonl``).
``second.jsonl`` (the second annotator's labels of a 10 % sample) is not built here: each round's
``second_labels*.jsonl`` is appended to it as that round is done.
Without ``--partial`` a text without a label is an error.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment.complaint_model import CATEGORIES, URGENCIES  # noqa: E402

FIELDS = (
    "id",
    "platform",
    "brand",
    "text",
    "author_followers",
    "likes",
    "comments",
    "shares",
    "is_complaint",
    "category",
    "urgency",
)


def check(rec: dict, where: str) -> None:
    c = rec.get("is_complaint")
    if not isinstance(c, bool):
        raise SystemExit(f"{where}: is_complaint must be a boolean")
    if c and (rec.get("category") not in CATEGORIES or rec.get("urgency") not in URGENCIES):
        raise SystemExit(f"{where}: bad category/urgency {rec.get('category')!r}/{rec.get('urgency')!r}")
    if not c and (rec.get("category") is not None or rec.get("urgency") is not None):
        raise SystemExit(f"{where}: a non-complaint has category/urgency")


def read(path: str) -> list[dict]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: {exc}") from exc
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--work",
        type=Path,
        nargs="+",
        default=sorted(
            (ROOT / "sentiment/data/complaints").glob("work*"), key=lambda p: int(p.name[4:] or 1)
        ),  # work, work2, … in round order
    )
    ap.add_argument("--out", type=Path, default=ROOT / "sentiment/data/complaints")
    ap.add_argument("--partial", action="store_true")
    a = ap.parse_args()
    labels: dict[str, dict] = {}
    works = [w for w in a.work if w.is_dir()]
    for f in sorted(f for w in works for f in glob.glob(str(w / "labels_batch*.jsonl"))):
        for rec in read(f):
            check(rec, f"{f}:{rec.get('id')}")
            labels[rec["id"]] = rec
    real = []
    platforms = {"weibo2018": "weibo"}
    seen_real: set[str] = set()
    for src in (r for w in works if (w / "sources.jsonl").is_file() for r in read(str(w / "sources.jsonl"))):
        if src["text"] in seen_real:  # the same review in two public corpora: keep the first
            continue
        seen_real.add(src["text"])
        lab = labels.get(src["id"])
        if lab is None:
            if a.partial:
                continue
            raise SystemExit(f"no label for {src['id']}")
        real.append(
            {
                "id": src["id"],
                "platform": platforms.get(src["source"]),
                "brand": None,
                "text": src["text"],
                "author_followers": 0,
                "likes": 0,
                "comments": 0,
                "shares": 0,
                "is_complaint": lab["is_complaint"],
                "category": lab["category"],
                "urgency": lab["urgency"],
                "source": src["source"],
                "domain": lab["domain"],
                "source_polarity": src["source_polarity"],
            }
        )
    # third readings of the texts the two annotators disagreed on (scripts/agreement.py lists them)
    adjudicated: dict[str, dict] = {}
    for adj_file in sorted(Path(f) for w in works for f in glob.glob(str(w / "adjudicated*.jsonl"))):
        suffix = adj_file.name[len("adjudicated") :]
        disagreements = {d["id"]: d for d in read(str(adj_file.with_name("disagreements" + suffix)))}
        for rec in read(str(adj_file)):
            check(rec, f"{adj_file}:{rec.get('id')}")
            d = disagreements[rec["id"]]
            adjudicated[rec["id"]] = {
                "id": rec["id"],
                "first": d["a"],
                "second": d["b"],
                "final": [rec["is_complaint"], rec["category"], rec["urgency"]],
                "why": rec.get("why"),
            }
    for r in real:
        if r["id"] in adjudicated:
            r["is_complaint"], r["category"], r["urgency"] = adjudicated[r["id"]]["final"]
    written, seen = [], set()
    for f in sorted(f for w in works for f in glob.glob(str(w / "written_w*.jsonl"))):
        for rec in read(f):
            check(rec, f"{f}:{rec.get('id')}")
            if rec["text"] in seen:
                continue
            seen.add(rec["text"])
            if rec["id"] in adjudicated:
                rec["is_complaint"], rec["category"], rec["urgency"] = adjudicated[rec["id"]]["final"]
            written.append(rec)
    outputs = [("real.jsonl", real), ("written.jsonl", written)]
    if adjudicated:
        outputs.append(("adjudicated.jsonl", list(adjudicated.values())))
    for name, rows in outputs:
        with (a.out / name).open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(name, len(rows), "records")


if __name__ == "__main__":
    main()
