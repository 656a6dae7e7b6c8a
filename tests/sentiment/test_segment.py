"""Segmentation: brand dictionary, slang, emoticons, search tokens, the jieba cache location."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jieba

from crawler.config import AppConfig
from sentiment import segment

ROOT = Path(__file__).resolve().parents[2]


def test_brand_names_aliases_and_products_stay_whole(nlp_cfg: AppConfig) -> None:
    tokens = segment.tokenize("鲜果时光的芒果冰沙不错，XY手机也行，云途快递很快")
    for term in ("鲜果时光", "芒果冰沙", "xy手机", "云途快递"):
        assert term in tokens


def test_slang_stays_whole_and_ascii_is_lowercased(nlp_cfg: AppConfig) -> None:
    tokens = segment.tokenize("这个真的YYDS，栓Q了，蚌埠住了")
    assert "yyds" in tokens and "栓q" in tokens and "蚌埠住了" in tokens


def test_emoticons_and_emoji_are_tokens_but_not_search_words(nlp_cfg: AppConfig) -> None:
    tokens = segment.tokenize("气死了[怒]😡")
    assert "[怒]" in tokens and "😡" in tokens
    words = segment.search_tokens("气死了[怒]😡").split()
    assert "[怒]" not in words and "😡" not in words and words


def test_search_tokens_are_the_same_for_index_and_query(nlp_cfg: AppConfig) -> None:
    indexed = segment.search_tokens("鲜果时光的鲜榨橙汁喝出异物，要求退款").split()
    query = segment.search_tokens("鲜榨橙汁 异物").split()
    assert set(query) <= set(indexed)


def test_breaks_mark_clause_ends(nlp_cfg: AppConfig) -> None:
    stream = segment.stream("不好吃。下次不买")
    assert segment.BREAK in stream
    assert segment.BREAK not in segment.tokenize("不好吃。下次不买")


SAMPLES = [
    "鲜果时光的芒果冰沙里喝出一根头发，客服一直不回复",
    "我今天不高兴[怒]，转发微博 //@小王: 太差了",
    "星耀X7升级系统后一直连不上蓝牙，重启也没用，怎么办？",
    "家人们谁懂啊，YYDS的快递员把包裹扔驿站了😡",
]
_SCRIPT = """
import json, sys
import sentiment
from sentiment import segment
sentiment.configure(None)
print(json.dumps({"engine": segment.engine(), "tokens": [segment.tokenize(t) for t in json.loads(sys.argv[1])]}))
"""


def _segment_in(tmp_path: Path, engine: str) -> dict:
    env = dict(
        os.environ, YUQING_SEGMENTER=engine, YUQING_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT)
    )
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(SAMPLES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_python_fallback_keeps_the_jieba_cache_in_the_data_dir_and_cuts_like_jieba_rs(tmp_path: Path) -> None:
    py = _segment_in(tmp_path, "python")
    assert py["engine"] == "python"
    assert (tmp_path / "data" / "jieba.cache").is_file()
    rust = _segment_in(tmp_path, "rust")
    assert rust["engine"] == "rust" and rust["tokens"] == py["tokens"]
    assert py["tokens"][1][:4] == jieba.lcut("我今天不高兴", HMM=False)


def test_without_jieba_rs_the_python_engine_takes_over(tmp_path: Path) -> None:
    # rjieba is a compiled wheel: where it cannot be imported, segmentation still works (and the
    # read side, which imports this module, does not load either engine until it cuts).
    code = (
        "import sys, json; sys.modules['rjieba'] = None\n"
        "import crawler.analytics.query\n"
        "loaded = [m for m in ('rjieba', 'jieba') if sys.modules.get(m) is not None]\n"
        "from sentiment import segment\n"
        "print(json.dumps({'loaded': loaded, 'engine': segment.engine(), 'cut': segment.tokenize('鲜果时光橙汁')}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YUQING_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == []
    assert out["engine"] == "python"
    assert "橙汁" in out["cut"]
