"""Draw the real texts of the complaint corpus from the sentiment training sets.

    python scripts/sample_corpus.py --data ../shared/data/sentiment --out sentiment/data/complaints/work
    # third round (Weibo posts only, rows the shipped sentiment model was trained without):
    python scripts/sample_corpus.py --data ../shared/data/sentiment --out sentiment/data/complaints/work4 \
        --only weibo2018 --scale 1.0667 --sentiment-heldout --seed 20261205 \
        --exclude sentiment/data/complaints/work/sources.jsonl sentiment/data/complaints/work2/sources.jsonl
    # sixth round (every remaining Weibo post that names a business or a purchase; they are rows the
    # sentiment model was trained on, the held-out ones being used up):
    python scripts/sample_corpus.py ... --out sentiment/data/complaints/work6 --only weibo2018 --all \
        --match '客服|快递|外卖|退款|…' --seed 20261209 --exclude sentiment/data/complaints/work*/sources.jsonl
    # fifth round (product reviews of the domains the corpus had fewest of): two draws, books
    # (200 rows, seed 20261206, --scale 0.16) and then devices and milk (400 rows, seed 20261207,
    # --scale 0.32, the books draw excluded), each --only online_shopping_10_cats --sentiment-heldout
    # --batches 1 with its --match pattern (devices and milk: '电脑|笔记本|平板|屏幕|系统|键盘|电池|
    # 机器|热水器|牛奶|蒙牛|开机|驱动|散热'); their sources.jsonl were merged, shuffled (random.Random(20261208)) and cut into four batches of 150:
    python scripts/sample_corpus.py ... --out /tmp/w5books --only online_shopping_10_cats \
        --match '书|作者|读|印刷|小说|译' --scale 0.16 --sentiment-heldout --seed 20261206 --batches 1 \
        --exclude sentiment/data/complaints/work{,2,4}/sources.jsonl

The check set was drawn the same way (its own --out, so it excluded only the rounds before it):
    python scripts/sample_corpus.py --data ../shared/data/sentiment --out sentiment/data/complaints/check \
        --only online_shopping_10_cats waimai_10k chnsenticorp_htl --sentiment-heldout --scale 0.12 \
        --seed 20261210 --batches 2 --exclude sentiment/data/complaints/work*/sources.jsonl
Every other draw leaves the check set's texts out on its own.

Deterministic (seeded). Per source: half of the rows the source calls negative, the rest
positive, with positives that contain a contrast word (但, 不过, 就是, 可惜 …) drawn more
often, because mixed reviews are where the complaint boundary is hard. The source's own
polarity label is kept in ``sources.jsonl`` for analysis only; the files handed to the
annotators carry the text alone, so every label comes from reading it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

SOURCES = {  # folder -> (id prefix, rows drawn)
    "online_shopping_10_cats": ("os", 1250),
    "waimai_10k": ("wm", 750),
    "chnsenticorp_htl": ("ht", 600),
    "weibo2018": ("wb", 600),
}
# the check set (sentiment/data/complaints/README.md): excluded from every other draw
CHECK_SOURCES = Path(__file__).resolve().parent.parent / "sentiment/data/complaints/check/sources.jsonl"
CONTRAST = re.compile(r"但|不过|就是|可惜|只是|唯一|美中不足|缺点|除了")


def read(path: Path) -> list[tuple[int, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(int(r["label"]), r["text"].strip()) for r in csv.DictReader(fh) if r["text"].strip()]


def draw(rows: list[tuple[int, str]], n: int, rng: random.Random) -> list[tuple[int, str]]:
    rows = [r for r in rows if 4 <= len(r[1]) <= 400]
    neg = [r for r in rows if r[0] == 0]
    pos_mixed = [r for r in rows if r[0] == 1 and CONTRAST.search(r[1])]
    pos_plain = [r for r in rows if r[0] == 1 and not CONTRAST.search(r[1])]
    n_neg, n_mixed = n // 2, int(n * 0.3)
    out = rng.sample(neg, n_neg) + rng.sample(pos_mixed, min(n_mixed, len(pos_mixed)))
    out += rng.sample(pos_plain, n - len(out))
    rng.shuffle(out)
    return out


def _sentiment_heldout() -> Callable[[str], bool]:
    """Whether a text is in the seeded held-out part the shipped sentiment model was trained without."""
    from sentiment import analyzer, train

    meta = analyzer.state().model.meta
    seed = int(meta.get("seed", train.DEFAULT_SEED))
    ratio = float(meta.get("holdout", train.DEFAULT_HOLDOUT))
    return lambda text: train.is_heldout(text, seed, ratio)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--scale", type=float, default=1.0, help="Draw this multiple of the per-source counts.")
    ap.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=[],
        help="sources.jsonl files of earlier draws: their texts are not drawn again.",
    )
    ap.add_argument(
        "--only",
        nargs="*",
        default=None,
        choices=list(SOURCES),
        help="Draw from these sources only (folder names).",
    )
    ap.add_argument(
        "--match",
        default=None,
        help="Draw only rows whose text matches this regular expression (to aim a round at a "
        "domain the corpus has few texts of, e.g. book reviews; the labels still come from reading).",
    )
    ap.add_argument(
        "--all",
        action="store_true",
        help="Take every remaining row (after --exclude, --match and --sentiment-heldout) instead of "
        "drawing a polarity-balanced sample.",
    )
    ap.add_argument(
        "--sentiment-heldout",
        action="store_true",
        help="Draw only rows the shipped sentiment model was trained without (its seeded held-out part), "
        "so the sentiment score the complaint model reads stays out-of-sample on them.",
    )
    args = ap.parse_args()
    if args.match:
        try:
            re.compile(args.match)
        except re.error as exc:
            ap.error(f"--match: not a regular expression: {exc}")
    rng = random.Random(args.seed)
    keep = _sentiment_heldout() if args.sentiment_heldout else None
    exclude = list(args.exclude)
    if CHECK_SOURCES.is_file() and args.out.resolve() != CHECK_SOURCES.parent.resolve():
        exclude.append(CHECK_SOURCES)  # the check set's texts are never drawn for training
    taken = {
        json.loads(line)["text"]
        for f in exclude
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    records = []
    for folder, (prefix, n) in SOURCES.items():
        if args.only is not None and folder not in args.only:
            continue
        rows = [r for r in read(args.data / folder / "train.csv") if r[1] not in taken]
        if keep is not None:
            rows = [r for r in rows if keep(r[1])]
        if args.match:
            rows = [r for r in rows if re.search(args.match, r[1])]
        chosen = (
            sorted(r for r in rows if 4 <= len(r[1]) <= 400)
            if args.all
            else draw(rows, int(n * args.scale), rng)
        )
        for label, text in chosen:
            rid = f"{prefix}-{hashlib.md5(text.encode()).hexdigest()[:8]}"
            records.append({"id": rid, "source": folder, "source_polarity": label, "text": text})
    rng.shuffle(records)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "sources.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    size = -(-len(records) // args.batches)
    for b in range(args.batches):
        with (args.out / f"batch{b + 1}.jsonl").open("w", encoding="utf-8") as fh:
            for r in records[b * size : (b + 1) * size]:
                fh.write(
                    json.dumps({"id": r["id"], "source": r["source"], "text": r["text"]}, ensure_ascii=False)
                    + "\n"
                )
    # 10 % of every batch, shuffled, for a second independent annotator
    second = [r for r in records if int(hashlib.md5(r["id"].encode()).hexdigest(), 16) % 10 == 0]
    with (args.out / "second_real.jsonl").open("w", encoding="utf-8") as fh:
        for r in second:
            fh.write(
                json.dumps({"id": r["id"], "source": r["source"], "text": r["text"]}, ensure_ascii=False)
                + "\n"
            )
    print(len(records), "records;", len(second), "for the second annotator")


if __name__ == "__main__":
    main()
