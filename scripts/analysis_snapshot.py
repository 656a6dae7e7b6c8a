"""Snapshot every output of the text analysis over a few thousand varied texts, and compare snapshots.

    python scripts/analysis_snapshot.py dump OUT.json [--limit N] [--exact]
    python scripts/analysis_snapshot.py compare BEFORE.json AFTER.json

Used to prove that a change meant to be behaviour-neutral (a speed-up) changes no output.
``dump`` analyses the labelled corpus (``sentiment/data/complaints/*.jsonl``), the
development mentions (``/work/shared/data/mentions_dev.jsonl``, when present) and a set of
odd inputs (empty, None, control characters, PII, emoji only, very long text), with their
metadata varied (Heimao, viral, big-V, repeat escalator, no brand) from a fixed seed. It
runs twice: with the default analyser and with ``config/yuqing.toml``'s brands, and each
time records

* ``batch``: every field of ``analyze_many`` (in batches of mixed sizes),
* ``single``: every field of ``analyze`` one call at a time,
* ``model``: the models' raw outputs (sentiment margins, complaint, category, urgency
  probabilities, evidence) rounded to 1e-9 (``--exact``: bit for bit), and ``score_sentiment``.

``compare`` prints the first differences per section and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "sentiment" / "data" / "complaints"
MENTIONS = Path("/work/shared/data/mentions_dev.jsonl")
CONFIG = ROOT / "config" / "yuqing.toml"
FIELDS = (
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
)


EXACT = False  # --exact: keep the models' raw outputs bit for bit instead of rounding to 1e-9


def _r(x: float | None) -> float | None:
    if x is None:
        return None
    return float(x) if EXACT else round(float(x), 9)


def odd_inputs() -> list[dict[str, Any]]:
    """Inputs at the edges: nothing to read, hostile characters, PII, huge texts."""
    long_text = "鲜果时光的橙汁喝出异物，肚子疼了一晚上，要求退款并赔偿！" * 400
    texts: list[Any] = [
        "",
        None,
        "   ",
        "1",
        "👍",
        "[微笑]",
        "http://t.cn/abc",
        "。。。！！！",
        "\x00\x01控制\x7f字符\u200b",
        "联系我 13812345678 或 138-1234-5678，邮箱 someone@example.com，订单号：AB1234567890",
        "身份证 110101199003071234 银行卡 6222 0212 3456 7890 123 电话 010-12345678",
        "ＡＢＣ全角１２３鲜果时光ＸＧＳＧ太难喝了！！",
        "😡😡😡😡",
        "小鹿宝贝奶粉吃了过敏，宝宝住院了，已经报警并联系媒体曝光",
        "不是说好的吗？为什么还没发货？？",
        "好吃的，就是受潮了",
        "XGSG yyds!!! 绝绝子",
        long_text,
        "黑猫投诉【投诉对象】鲜果时光【投诉问题】虚假宣传｜【投诉要求】退款",
        "a" * 30_000,
        "转发微博 //@小王: 鲜果时光的橙汁有股怪味，别买了",
        12345,
        "𠀀𠀁 surrogate-range Han \ud800 lone",
        "“如遇问题，投诉24小时内必回”",
        "#消费维权# 鲜果时光 拒不退款",
    ]
    return [{"id": f"odd{i}", "text": t, "platform": "weibo"} for i, t in enumerate(texts)]


def records(limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    files = [*sorted(CORPUS.glob("*.jsonl"))] + ([MENTIONS] if MENTIONS.exists() else [])
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            text = rec.get("text")
            if not isinstance(text, str) or text in seen:
                continue
            seen.add(text)
            out.append(
                {
                    k: rec.get(k)
                    for k in (
                        "id",
                        "text",
                        "platform",
                        "brand",
                        "author_followers",
                        "likes",
                        "comments",
                        "shares",
                    )
                    if k in rec
                }
            )
    rng = random.Random(20240611)
    rng.shuffle(out)
    out = out[:limit] if limit else out
    for rec in out:  # vary the metadata the rules read
        roll = rng.random()
        if roll < 0.05:
            rec["platform"] = "heimao"
        elif roll < 0.10:
            rec["likes"], rec["comments"], rec["shares"] = 900, 80, 40
        elif roll < 0.15:
            rec["author_followers"] = 250_000
        elif roll < 0.20:
            rec["author_history"] = {"escalation_count": 2, "complaint_count": 4}
        elif roll < 0.25:
            rec.pop("brand", None)
        elif roll < 0.28:
            rec["likes"] = "not a number"
    return odd_inputs() + out


def _fields(a: Any) -> dict[str, Any]:
    d = {name: getattr(a, name) for name in FIELDS}
    d["sentiment"] = _r(d["sentiment"])
    return d


def model_rows(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The models' raw outputs through the analyser's batch internals, plus ``score_sentiment``."""
    from sentiment import analyzer

    st = analyzer.state()
    out: list[dict[str, Any]] = []
    for i in range(0, len(recs), 700):
        chunk = recs[i : i + 700]
        prepared = analyzer.prepare(chunk)
        feats = analyzer.features(st, prepared)
        outs = analyzer.model_outputs(feats, st.cmodel)
        for j, o in enumerate(outs):
            out.append(
                {
                    "margin": _r(feats.margins[j]),
                    "tail": _r(feats.tails[j]),
                    "dense": [_r(v) for v in feats.dense[j].tolist()],
                    "p_complaint": _r(o.p_complaint),
                    "p_urgent": _r(o.p_urgent),
                    "p_top": _r(o.p_top),
                    "categories": {k: _r(v) for k, v in o.categories.items()},
                    "evidence": o.evidence,
                    "cues": o.cues,
                    "score_sentiment": _r(
                        analyzer.score_sentiment(chunk[j].get("text") or "")
                        if isinstance(chunk[j].get("text"), str)
                        else None
                    ),
                }
            )
    return out


def run(recs: list[dict[str, Any]]) -> dict[str, Any]:
    import sentiment

    batch: list[dict[str, Any]] = []
    sizes = [1, 2, 7, 64, 500, 3000]
    i, k = 0, 0
    while i < len(recs):
        n = sizes[k % len(sizes)]
        batch += [_fields(a) for a in sentiment.analyze_many(recs[i : i + n])]
        i, k = i + n, k + 1
    single = []
    for r in recs:
        single.append(
            _fields(
                sentiment.analyze(
                    r.get("text"),
                    platform=r.get("platform"),
                    followers=r.get("author_followers", 0),
                    likes=r.get("likes", 0),
                    comments=r.get("comments", 0),
                    shares=r.get("shares", 0),
                    brand=r.get("brand"),
                    author_history=r.get("author_history"),
                )
            )
        )
    return {"batch": batch, "single": single, "model": model_rows(recs)}


def dump(path: Path, limit: int) -> None:
    import sentiment
    from crawler.config import load_config

    recs = records(limit)
    snap: dict[str, Any] = {"ids": [str(r.get("id")) for r in recs]}
    sentiment.configure(None)
    snap["default"] = run(recs)
    sentiment.configure(load_config(CONFIG))
    snap["configured"] = run(recs)
    path.write_text(json.dumps(snap, sort_keys=True), encoding="utf-8")
    print(f"{len(recs)} inputs × 2 configurations written to {path}")


def compare(a_path: Path, b_path: Path, show: int = 5) -> int:
    a = json.loads(a_path.read_text(encoding="utf-8"))
    b = json.loads(b_path.read_text(encoding="utf-8"))
    if a["ids"] != b["ids"]:
        print("the snapshots are of different inputs")
        return 1
    ids = a["ids"]
    total = 0
    for conf in ("default", "configured"):
        for section in ("batch", "single", "model"):
            ra, rb = a[conf][section], b[conf][section]
            diffs = [
                (i, key)
                for i, (x, y) in enumerate(zip(ra, rb, strict=True))
                for key in x
                if x[key] != y.get(key)
            ]
            total += len(diffs)
            print(f"{conf:10} {section:6} {len(ra):>6} rows, {len(diffs)} differing fields")
            for i, key in diffs[:show]:
                print(f"    {ids[i]} {key}: {ra[i][key]!r} → {rb[i][key]!r}")
    print("identical" if total == 0 else f"{total} differences")
    return 0 if total == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--limit", type=int, default=0, help="At most this many corpus texts (0: all).")
    d.add_argument("--exact", action="store_true", help="Raw model outputs bit for bit (no rounding).")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        global EXACT
        EXACT = args.exact
        dump(args.out, args.limit)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
