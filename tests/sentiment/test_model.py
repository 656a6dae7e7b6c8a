"""The shipped model file, its version, and reproducible retraining."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import sentiment
from sentiment import analyzer, ngram, train

POS = [
    "质量很好，很满意，推荐",
    "味道不错，下次还买",
    "服务热情，物流很快",
    "超级好用，五星好评",
    "包装精美，性价比高",
    "非常喜欢，颜色好看",
    "店员热情周到",
    "送货及时，东西新鲜",
]
NEG = [
    "质量太差，很失望",
    "味道难吃，再也不买",
    "客服态度恶劣",
    "物流太慢，东西坏了",
    "包装破损，要求退款",
    "完全不好用，后悔",
    "颜色很丑，不推荐",
    "送货晚了三天，东西都馊了",
]


def write_csv(path: Path, rows: list[tuple[int, str]]) -> Path:
    path.write_text("label,text\n" + "".join(f"{y},{t}\n" for y, t in rows), encoding="utf-8")
    return path


def test_shipped_model_loads_small_and_records_its_version() -> None:
    assert ngram.SHIPPED_MODEL.is_file()
    assert ngram.SHIPPED_MODEL.stat().st_size < 8 * 2**20
    model = ngram.load()
    assert model.version and model.meta["sources"] and model.meta["accuracy"]
    a = sentiment.analyze("很好")
    assert a.model_version.startswith(model.version) and len(a.model_version) <= 64
    assert "weibo2018" in model.meta["sources"]


def test_shipped_model_ranks_obvious_texts() -> None:
    sentiment.configure(None)
    pos = [analyzer.score_sentiment(t) for t in POS]
    neg = [analyzer.score_sentiment(t) for t in NEG]
    assert min(pos) > 0.5 > max(neg)


def test_training_is_reproducible_and_the_model_works(tmp_path: Path) -> None:
    data = write_csv(
        tmp_path / "train.csv",
        [(1, t) for t in POS * 3]
        + [(0, t) for t in NEG * 3]
        + [(1, t + "！") for t in POS]
        + [(0, t + "！") for t in NEG],
    )
    prm = train.Params(c=4.0, max_features=5_000)
    a = train.train([data], tmp_path / "a.npz", holdout=0.0, params=prm)
    b = train.train([data], tmp_path / "b.npz", holdout=0.0, params=prm)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a.path, b.path)]
    assert digest[0] == digest[1] and a.version == b.version
    m = ngram.load(a.path)
    assert len(m.keys) <= 5_000 and m.meta["train_rows"] == a.train_rows and m.heads == ["general"]
    from sentiment import segment

    def prob(t: str) -> float:
        n = segment.normalize(t)
        return m.score(n, segment.stream(n))

    assert prob("质量很好，推荐") > 0.5 > prob("质量太差，失望")


def test_heldout_split_is_seeded_and_shared_across_files() -> None:
    texts = [f"文本{i}" for i in range(2000)]
    held = [t for t in texts if train.is_heldout(t, seed=7, ratio=0.1)]
    assert 120 < len(held) < 280
    assert held == [t for t in texts if train.is_heldout(t, seed=7, ratio=0.1)]
    assert held != [t for t in texts if train.is_heldout(t, seed=8, ratio=0.1)]


def test_eval_texts_are_never_trained_on(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    write_csv(folder / "train.csv", [(1, "好"), (0, "差"), (1, "共同文本")])
    write_csv(folder / "dev.csv", [(1, "共同文本")])
    rows, evals = train.split(train.discover([tmp_path]), seed=1, ratio=0.0, exclude=set())
    assert "共同文本" not in {t for _, t in rows}
    assert evals["set/dev"] == [(1, "共同文本")]


def test_bad_training_files_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n好,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        train.read_csv(bad)
    bad.write_text("label,text\n2,好\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label must be 0 or 1"):
        train.read_csv(bad)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a yuqing sentiment model"):
        ngram.load(broken)
