"""Agreement between the first and the second (independent) annotation of the complaint corpus.

    python scripts/agreement.py

Per field: observed agreement and Cohen's kappa; category and urgency over the texts both
annotators call a complaint. Prints a Markdown table (for the corpus README) and writes the
disagreements to ``work/disagreements.jsonl`` for adjudication.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "sentiment" / "data" / "complaints"


def kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    if not n:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def load(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["id"]] = r
    return out


def main() -> None:
    first = {**load(CORPUS / "real.jsonl"), **load(CORPUS / "written.jsonl")}
    second = load(CORPUS / "second.jsonl")
    adjudicated = load(CORPUS / "adjudicated.jsonl") if (CORPUS / "adjudicated.jsonl").is_file() else {}
    for i, adj in adjudicated.items():  # agreement is measured on the first annotator's own labels
        if i in first:
            first[i] = dict(
                first[i], is_complaint=adj["first"][0], category=adj["first"][1], urgency=adj["first"][2]
            )
    rows = []
    disagreements = []
    written_prefixes = tuple(f"w{n}-" for n in range(1, 10))
    for part, prefix in (
        ("real texts", ("os-", "wm-", "ht-", "wb-")),
        ("written mentions", written_prefixes),
    ):
        ids = [i for i in second if i.startswith(prefix) and i in first]
        a = [str(first[i]["is_complaint"]) for i in ids]
        b = [str(second[i]["is_complaint"]) for i in ids]
        both = [i for i in ids if first[i]["is_complaint"] and second[i]["is_complaint"]]
        for field, xs, ys, n in (
            ("is_complaint", a, b, len(ids)),
            (
                "category",
                [first[i]["category"] for i in both],
                [second[i]["category"] for i in both],
                len(both),
            ),
            ("urgency", [first[i]["urgency"] for i in both], [second[i]["urgency"] for i in both], len(both)),
        ):
            po = sum(x == y for x, y in zip(xs, ys, strict=True)) / n if n else float("nan")
            rows.append((part, field, n, po, kappa(xs, ys)))
        for i in ids:
            f, s = first[i], second[i]
            if (f["is_complaint"], f["category"], f["urgency"]) != (
                s["is_complaint"],
                s["category"],
                s["urgency"],
            ):
                disagreements.append(
                    {
                        "id": i,
                        "text": f["text"],
                        "parent_text": f.get("parent_text"),
                        "platform": f.get("platform"),
                        "author_followers": f.get("author_followers"),
                        "likes": f.get("likes"),
                        "comments": f.get("comments"),
                        "shares": f.get("shares"),
                        "a": [f["is_complaint"], f["category"], f["urgency"]],
                        "b": [s["is_complaint"], s["category"], s["urgency"]],
                    }
                )
    print("| part | field | n | agreement | Cohen's κ |\n|---|---|---:|---:|---:|")
    for part, field, n, po, k in rows:
        print(f"| {part} | {field} | {n} | {po:.3f} | {k:.3f} |")
    pending = [d for d in disagreements if d["id"] not in adjudicated]
    out = CORPUS / "work" / "disagreements_pending.jsonl"
    if out.parent.is_dir():
        with out.open("w", encoding="utf-8") as fh:
            for d in pending:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"\n{len(disagreements)} texts with any disagreement, {len(pending)} not adjudicated yet")


if __name__ == "__main__":
    main()
