"""The learned complaint model: corpus, model file, features, training, grouped evaluation, retraining."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import sentiment
from crawler.names import canonical_platform
from sentiment import analyzer, complaint_model, complaint_train, ngram, segment
from sentiment.complaint_model import CATEGORIES, URGENCIES
from tests.sentiment.conftest import make_config

CORPUS = complaint_train.CORPUS_DIR


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_has_the_promised_size_spread_and_valid_labels() -> None:
    real = _jsonl(CORPUS / "real.jsonl")
    written = _jsonl(CORPUS / "written.jsonl")
    assert len(real) >= 3000 and len(written) >= 1500
    assert {r["source"] for r in real} == {
        "online_shopping_10_cats",
        "waimai_10k",
        "chnsenticorp_htl",
        "weibo2018",
    }
    assert len({r["industry"] for r in written}) >= 20
    assert {r["platform"] for r in written} == {"weibo", "xiaohongshu", "douyin", "heimao"}
    for r in real + written:
        if r["is_complaint"]:
            assert r["category"] in CATEGORIES and r["urgency"] in URGENCIES, r["id"]
        else:
            assert r["category"] is None and r["urgency"] is None, r["id"]
    # both ends and the middle: complaints and non-complaints in every real source
    by_source = Counter((r["source"], r["is_complaint"]) for r in real)
    assert all(by_source[(s, flag)] >= 10 for s in {r["source"] for r in real} for flag in (True, False))
    assert all(
        r["is_complaint"] and r["urgency"] in ("紧急", "非常紧急")
        for r in written
        if r["platform"] == "heimao"
    )
    texts = [r["text"] for r in real + written]
    assert len(set(texts)) == len(texts)


def test_the_check_set_is_apart_from_everything_the_model_learns_from() -> None:
    check = _jsonl(CORPUS / "check" / "check.jsonl")
    assert len(check) >= 300
    learned = {r["text"] for r in _jsonl(CORPUS / "real.jsonl") + _jsonl(CORPUS / "written.jsonl")}
    assert not learned & {r["text"] for r in check}
    assert not {r.text for r in complaint_train.load_corpus()} & {r["text"] for r in check}
    assert all(r["platform"] is None for r in check)  # reviews: judged at the review cut


def test_at_least_ten_percent_is_labelled_twice() -> None:
    first = {r["id"] for r in _jsonl(CORPUS / "real.jsonl") + _jsonl(CORPUS / "written.jsonl")}
    second = [r for r in _jsonl(CORPUS / "second.jsonl") if r["id"] in first]
    assert len(second) >= 0.1 * len(first) * 0.95  # 10 % drawn by hash, give or take the draw


def test_corpus_files_read_through_the_training_loader() -> None:
    records = complaint_train.load_corpus()
    groups = Counter(r.group for r in records)
    assert len(groups) >= 8 and min(groups.values()) >= 50
    assert "custom" not in groups


# --- the model file ---------------------------------------------------------------------------


def test_shipped_model_loads_and_the_analyser_uses_it() -> None:
    m = complaint_model.get_model()
    assert m.version.startswith("clr-") and len(m.sparse.keys) > 10_000
    assert m.meta["records"] >= 4500 and m.meta["cv"], (
        "the model card records what it was trained on and its CV"
    )
    sentiment.configure(None)
    assert m.version in analyzer.state().version
    a = sentiment.analyze("鲜果时光的外卖送了两个小时才到，汤洒了一半")
    assert a.is_complaint and a.category == "物流配送"
    assert any(r.startswith("模型判定投诉") for r in a.reasons)


def test_a_broken_or_foreign_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a yuqing complaint model"):
        complaint_model.load(bad)
    with pytest.raises(ValueError, match="not a yuqing complaint model"):
        complaint_model.load(ngram.SHIPPED_MODEL)  # a sentiment model is no complaint model
    with pytest.raises(ValueError):
        complaint_model.load(tmp_path / "missing.npz")


def test_save_and_load_round_trip_gives_the_same_scores(tmp_path: Path) -> None:
    m = complaint_model.get_model()
    path = tmp_path / "copy.npz"
    complaint_model.save(path, m)
    again = complaint_model.load(path)
    assert again.version == m.version and again.names == m.names and len(again.snow) == len(m.snow)
    complaint_model.save(tmp_path / "copy2.npz", again)
    assert (tmp_path / "copy2.npz").read_bytes() == path.read_bytes()  # reproducible bytes


@pytest.mark.parametrize(
    "text", ["鲜果时光的橙汁里有头发，恶心！", "Hello 世界 [怒]  😡 外卖 送了3小时", "不 好 吃 也 不 便宜"]
)
def test_feature_strings_line_up_with_the_hashed_keys(text: str) -> None:
    sentiment.configure(None)
    norm = segment.normalize(text)
    stream = segment.stream(norm)
    strings = complaint_model.feature_strings(norm, stream)
    _, keys = ngram.keys_batch([norm], [stream])
    assert len(strings) == len(keys) and len(keys) > len(norm)
    # a key always names the same text (a character bigram and a word may share a text, not a key)
    seen: dict[int, str] = {}
    for s, k in zip(strings, keys.tolist(), strict=True):
        assert seen.setdefault(k, s) == s


# --- behaviour the issue named (real-text failures of the word-list model) ---------------------


@pytest.mark.parametrize(
    "text",
    ["房间小，早餐一般", "下单两小时才到", "外卖送得有点慢，饮料都不冰了", "等了一个半小时，汤还洒了一半"],
)
def test_mild_grievances_without_keywords_are_complaints(text: str) -> None:
    a = sentiment.analyze(text)
    assert a.is_complaint and a.urgency == "一般", (text, a.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "宝宝之前对普通奶粉过敏，换了这款以后湿疹全好了，太感谢了",
        "上周出了车祸受了点伤，保险公司理赔员第二天就上门，流程特别顺，真心感谢",
        "【官方提醒】近期有不法分子冒充我司客服以维权退款为名诈骗，请认准官方渠道",
    ],
)
def test_alarming_words_in_praise_and_notices_are_not_complaints(text: str) -> None:
    a = sentiment.analyze(text)
    assert not a.is_complaint, (text, a.reasons)


def test_empty_text_is_never_a_complaint() -> None:
    for text in ("", "   ", None):
        assert sentiment.analyze(text).is_complaint is False  # type: ignore[arg-type]


# --- training and grouped evaluation on a small labelled set -----------------------------------


def _small_set(tmp_path: Path) -> tuple[Path, Path]:
    real = _jsonl(CORPUS / "real.jsonl")
    pick = [r for r in real if r["source"] == "waimai_10k"][:80] + [
        r for r in real if r["source"] == "chnsenticorp_htl"
    ][:80]
    jl = tmp_path / "mine.jsonl"
    with jl.open("w", encoding="utf-8") as fh:
        for r in pick[:120]:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    csv_path = tmp_path / "mine.csv"
    lines = ["text,is_complaint,category,urgency"]
    for r in pick[120:]:
        text = r["text"].replace('"', '""')
        lines.append(f'"{text}",{str(r["is_complaint"]).lower()},{r["category"] or ""},{r["urgency"] or ""}')
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return jl, csv_path


def test_train_on_own_files_writes_a_working_model_and_a_grouped_report(tmp_path: Path) -> None:
    jl, csv_path = _small_set(tmp_path)
    out = tmp_path / "model.npz"
    res = complaint_train.train(
        out, extra=[jl, csv_path], shipped_corpus=False, cv=True, snow_cache=tmp_path / "snow.json"
    )
    assert out.is_file() and res.records == 160
    # the real ids keep their domain groups; the CSV rows (no ids, no domain) are the customer's group
    assert {f.group: f.ours.n for f in res.folds} == {"外卖": 80, "酒店": 40, "custom": 40}
    assert all(0.0 <= f.ours.f1 <= 1.0 for f in res.folds)
    m = complaint_model.load(out)
    assert m.meta["records"] == 160 and set(m.meta["cv"]) == {"外卖", "酒店", "custom"}
    fz = complaint_train.featurize(
        complaint_train.load_corpus([jl, csv_path], shipped=False), complaint_train.snownlp_table()
    )
    preds = complaint_train.predict(m, fz, np.arange(len(fz.records)))
    acc = np.mean([p.is_complaint == r.is_complaint for p, r in zip(preds, fz.records, strict=True)])
    assert acc >= 0.85  # it learned its training data
    complaint_model.clear_cache()
    sentiment.configure(None)


def test_bad_labelled_files_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "好", "is_complaint": false}\n{oops\n', encoding="utf-8")
    with pytest.raises(complaint_train.CorpusError, match=r"bad\.jsonl:2: not JSON"):
        complaint_train.read_labelled(bad)
    bad.write_text('{"text": "坏了", "is_complaint": true, "category": "质量"}\n', encoding="utf-8")
    with pytest.raises(complaint_train.CorpusError, match=r"bad\.jsonl:1: unknown category '质量'"):
        complaint_train.read_labelled(bad)
    bad.write_text('{"text": "坏了", "is_complaint": "maybe"}\n', encoding="utf-8")
    with pytest.raises(complaint_train.CorpusError, match="is_complaint must be true or false"):
        complaint_train.read_labelled(bad)
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text("label,text\n1,好\n", encoding="utf-8")
    with pytest.raises(complaint_train.CorpusError, match="text,is_complaint"):
        complaint_train.read_labelled(csv_bad)
    with pytest.raises(complaint_train.CorpusError, match="no such file"):
        complaint_train.read_labelled(tmp_path / "none.jsonl")


def test_scores_count_a_missed_complaint_wrong_for_category_and_urgency() -> None:
    R = complaint_train.Record
    gold = [
        R("a", "x", True, "产品质量", "一般"),
        R("b", "y", True, "物流配送", "紧急"),
        R("c", "z", False, None, None),
    ]
    s = complaint_train.score(gold, [True, False, True], ["产品质量", None, "其他"], ["一般", None, "一般"])
    assert (s.precision, s.recall) == (0.5, 0.5)
    assert s.category == 0.5 and s.urgency == 0.5  # b was missed: wrong in both


@pytest.mark.parametrize("text", ["1", "👍", "😀😀", "[微笑]", "。。。", "？？？", "http://t.cn/abc", "好"])
def test_text_with_nothing_to_read_is_not_a_complaint(text: str) -> None:
    a = sentiment.analyze(text)
    assert not a.is_complaint and a.risk == 0 and a.reasons == ["没有可分析的文字"]


@pytest.mark.parametrize(
    ("text", "brand"),
    [("鲜果时光", "鲜果时光"), ("@鲜果时光 #鲜果时光#", "鲜果时光"), ("小鹿宝贝！！！", "小鹿宝贝")],
)
def test_the_brands_name_alone_is_not_a_complaint(text: str, brand: str) -> None:
    a = sentiment.analyze(text, brand=brand)
    assert not a.is_complaint and a.reasons == ["没有可分析的文字"]
    assert sentiment.analyze(text + "的橙汁坏了，要求退款", brand=brand).is_complaint
    # one word, or an emoticon, beside the name is something to judge (the model decides)
    for more in (" 坑", "[怒][怒]", " 1星"):
        assert sentiment.analyze(text + more, brand=brand).reasons != ["没有可分析的文字"], more


def test_training_leaves_the_analyser_as_it_was(tmp_path: Path) -> None:
    sentiment.configure(None)
    before = analyzer.state()
    probe = sentiment.analyze("今天天气很好，心情不错")
    jl, _ = _small_set(tmp_path)
    fz = complaint_train.featurize(
        complaint_train.load_corpus([jl], shipped=False), complaint_train.snownlp_table()
    )
    assert analyzer.state() is before
    complaint_train.train(
        tmp_path / "m.npz", extra=[jl], shipped_corpus=False, cv=True, snow_cache=tmp_path / "snow.json"
    )
    assert analyzer.state() is before
    after = sentiment.analyze("今天天气很好，心情不错")
    assert (after.is_complaint, after.risk) == (probe.is_complaint, probe.risk)
    assert len(fz.records) == 120


def test_pooled_figures_keep_the_false_positives_of_a_fold_without_hits() -> None:
    R = complaint_train.Record
    gold_a = [R("a1", "x", True, "产品质量", "一般")]
    gold_b = [R(f"b{i}", "y", False, None, None) for i in range(4)]
    s_a = complaint_train.score(gold_a, [True], ["产品质量"], ["一般"])
    s_b = complaint_train.score(gold_b, [True] * 4, ["其他"] * 4, ["一般"] * 4)  # precision 0
    folds = [complaint_train.Fold("a", s_a, s_a, s_a), complaint_train.Fold("b", s_b, s_b, s_b)]
    assert complaint_train.pooled(folds)["precision"] == pytest.approx(1 / 5)


def test_a_model_file_with_wrong_array_lengths_is_refused(tmp_path: Path) -> None:
    m = complaint_model.get_model()
    bad = complaint_model.ComplaintModel(
        m.sparse, m.dense_w, m.dense_mean[:-3], m.dense_scale, m.bias, m.snow, m.names, dict(m.meta)
    )
    complaint_model.save(tmp_path / "bad.npz", bad)
    with pytest.raises(ValueError, match="does not match"):
        complaint_model.load(tmp_path / "bad.npz")


def test_cross_validation_skips_a_fold_that_would_leave_one_label(tmp_path: Path) -> None:
    real = _jsonl(CORPUS / "real.jsonl")
    mixed = [r for r in real if r["source"] == "waimai_10k"][:60]
    only_complaints = [
        dict(r, id=f"mine-{i}", domain="mine")
        for i, r in enumerate(x for x in real if x["source"] == "chnsenticorp_htl" and x["is_complaint"])
    ][:20]
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in mixed + only_complaints) + "\n", encoding="utf-8"
    )
    # the waimai fold would train on complaints only: it is skipped, the customer's fold is scored
    records = complaint_train.load_corpus([path], shipped=False)
    snow = complaint_train.snownlp_table()
    fz = complaint_train.featurize(records, snow)
    folds = complaint_train.cross_validate(fz, snow)
    assert [f.group for f in folds] == ["custom"]


def test_reviews_have_their_own_complaint_cut() -> None:
    assert (
        complaint_model.is_review(None)
        and complaint_model.is_review("")
        and complaint_model.is_review("taobao")
    )
    assert not any(complaint_model.is_review(p) for p in ("weibo", "xiaohongshu", "douyin"))
    assert not complaint_model.is_review("heimao")  # a complaint site: its own rules
    shipped = complaint_model.get_model()
    assert shipped.meta["review_threshold"] < shipped.meta["threshold"]  # reviews: mild problems count
    text = "房间有点小，早餐一般，前台办入住等了很久"
    recs = [
        complaint_train.Record(f"r{i}", text, True, "服务态度", "一般", platform=p)
        for i, p in enumerate((None, "weibo", "xiaohongshu", "taobao"))
    ]
    fz = complaint_train.featurize(recs, shipped.snow)
    idx = np.arange(len(recs))
    p = complaint_train.predict(shipped, fz, idx)[0].p
    model = complaint_model.ComplaintModel(
        shipped.sparse,
        shipped.dense_w,
        shipped.dense_mean,
        shipped.dense_scale,
        shipped.bias,
        shipped.snow,
        shipped.names,
        {
            **shipped.meta,
            "threshold": (1.0 + p) / 2,  # posts: above this text's probability
            "review_threshold": p / 2,  # reviews: below it
            "hard_threshold": (1.0 + p) / 2,
        },
    )
    review, weibo, xhs, other = complaint_train.predict(model, fz, idx)
    assert review.p == weibo.p == xhs.p == other.p == pytest.approx(p)  # the same evidence, another cut
    assert review.is_complaint and other.is_complaint
    assert not weibo.is_complaint and not xhs.is_complaint
    with analyzer.configured(None, model):
        a = analyzer.analyze(text)
        b = analyzer.analyze(text, platform="weibo")
        c = analyzer.analyze(text, platform=" Weibo")  # a post, however it is spelled
    assert a.is_complaint and a.risk >= 30 and "模型判定投诉" in a.reasons[0]
    assert not b.is_complaint and b.risk < 30
    assert not c.is_complaint and c.risk == b.risk


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Weibo", "weibo"),
        (" xhs ", "xiaohongshu"),
        ("小红书", "xiaohongshu"),
        ("DY", "douyin"),
        ("黑猫投诉", "heimao"),
        ("", None),
        (None, None),
        (3, None),
        ("taobao", "taobao"),
    ],
)
def test_platform_names_are_read_as_the_rules_know_them(given: object, canonical: str | None) -> None:
    assert canonical_platform(given) == canonical
    if canonical == "heimao":  # the Heimao rule fires whatever the spelling
        a = analyzer.analyze("下单后一直不发货，客服不处理", platform=given)  # type: ignore[arg-type]
        assert a.is_complaint and "黑猫投诉平台" in a.reasons


def test_a_labelled_file_spells_platforms_as_the_analyser_does(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    f.write_text("text,is_complaint,platform\n快递太慢了,1,Weibo\n房间小,1,点评\n", encoding="utf-8")
    a, b = complaint_train.read_labelled(f)
    assert a.platform == "weibo" and b.platform is None  # a platform yuqing does not crawl: a review


def test_a_post_with_nothing_to_aim_at_is_no_complaint(tmp_path: Path) -> None:
    """The rubric: a grievance about an unrelated thing is no complaint. A social post that came
    with no brand, names no configured brand and holds no word of a purchase, a business or a
    service (target.txt) has no target; every other mention is judged by the model as before."""
    rant = "考试又挂了，气死我了，什么破老师！！！真的服了"
    untargeted = analyzer.analyze(rant, platform="weibo")
    assert not untargeted.is_complaint and untargeted.risk < 30
    assert untargeted.reasons[0].startswith("未指向任何品牌、商家、商品或服务")
    for kw in ({}, {"platform": "weibo", "brand": "某教育"}, {"platform": "heimao"}):
        a = analyzer.analyze(rant, **kw)  # a review, a post with its brand, a Heimao complaint
        assert not any(r.startswith("未指向") for r in a.reasons), kw
    assert analyzer.analyze(rant, platform="heimao").is_complaint
    # one word of a service gives the post a target, and the model judges it
    late = analyzer.analyze("外卖送了两个小时，饭都凉了，气死我了！！！", platform="weibo")
    assert late.is_complaint and not any(r.startswith("未指向") for r in late.reasons)
    # a configured brand named in the text is a target too, brand given or not
    text = "鲜果时光的橙汁一股怪味，气死了，再也不喝了"
    sentiment.configure(make_config(tmp_path))
    try:
        named = sentiment.analyze(text, platform="weibo")
        assert named.is_complaint and not any(r.startswith("未指向") for r in named.reasons)
    finally:
        sentiment.configure(None)
    # a product is a target too, in traditional characters as well; the batch path agrees
    for text in (
        "宝宝奶粉里喝出虫子了！！！气死了",
        "外賣送了兩個小時，飯都涼了，氣死我了",
        "the refund never came, terrible",
    ):
        assert not analyzer.analyze(text, platform="weibo").reasons[0].startswith("未指向"), text
    batch = analyzer.analyze_many(
        [
            {"text": rant, "platform": "weibo"},
            {"text": rant, "platform": "weibo", "brand": "   "},  # a blank brand is no brand
            {"text": rant, "platform": "weibo", "brand": 123},  # any value names a brand
            {"text": rant, "platform": "Weibo"},
        ]
    )
    assert [a.reasons[0].startswith("未指向") for a in batch] == [True, True, False, True]
    # the rule comes before the hard rows: a harm word alone gives no target
    diary = analyzer.analyze("发烧三天了，今天住院了，难受死了，什么破天气", platform="weibo")
    assert not diary.is_complaint and diary.reasons[0].startswith("未指向")
    # the target words are a word list: an operator's directory extends it
    extra = tmp_path / "lex"
    extra.mkdir()
    (extra / "target.txt").write_text("老师\n", encoding="utf-8")
    sentiment.configure(make_config(tmp_path, lexicon_dir=str(extra)))
    try:
        assert not sentiment.analyze(rant, platform="weibo").reasons[0].startswith("未指向")
    finally:
        sentiment.configure(None)


def test_a_brand_named_in_a_text_without_any_listed_word_still_counts(tmp_path: Path) -> None:
    """brand_named is read even when no word list fires at all (it once was only with a hit)."""
    from sentiment.signals import collect

    sentiment.configure(make_config(tmp_path))
    try:
        lex = analyzer.state().lexicon
        assert collect("鲜果时光今天", lex, ("鲜果时光",)).brand_named
        assert not collect("今天", lex, ("鲜果时光",)).brand_named
        a = sentiment.analyze("鲜果时光今天这杯喝起来怪怪的", platform="weibo")
        assert not any(r.startswith("未指向") for r in a.reasons)
    finally:
        sentiment.configure(None)


def test_training_says_when_your_posts_have_no_brand(tmp_path: Path) -> None:
    """The target rule judges brandless posts; a customer's file of them is told so."""
    f = tmp_path / "mine.jsonl"
    rows = [
        {
            "text": f"外卖送了{i}个小时，饭都凉了",
            "platform": "weibo",
            "is_complaint": True,
            "category": "物流配送",
            "urgency": "一般",
        }
        for i in range(2, 6)
    ] + [
        {
            "text": f"今天天气真好，出去玩了{i}个小时",
            "platform": "weibo",
            "brand": "某品牌",
            "is_complaint": False,
        }
        for i in range(2, 6)
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    said: list[str] = []
    complaint_train.train(tmp_path / "m.npz", extra=[f], shipped_corpus=False, cv=False, log=said.append)
    assert any(line.startswith("4 of your 8 posts have no brand") for line in said), said
    complaint_model.clear_cache()
    sentiment.configure(None)


def test_the_version_names_what_was_fitted_not_only_the_data(tmp_path: Path) -> None:
    """The same labels fitted over other word lists are another model, with another version
    (it once hashed only the records and parameters, so a word-list change kept the old name)."""
    jl, _ = _small_set(tmp_path)
    extra = tmp_path / "lex"
    extra.mkdir()
    (extra / "emotion.txt").write_text("米饭 3\n送餐 3\n", encoding="utf-8")
    first = complaint_train.train(tmp_path / "a.npz", extra=[jl], shipped_corpus=False, cv=False)
    again = complaint_train.train(tmp_path / "b.npz", extra=[jl], shipped_corpus=False, cv=False)
    other = complaint_train.train(
        tmp_path / "c.npz",
        extra=[jl],
        shipped_corpus=False,
        cv=False,
        cfg=make_config(tmp_path, lexicon_dir=str(extra)),
    )
    assert first.version == again.version  # a fit is reproducible
    assert other.version != first.version
    complaint_model.clear_cache()
    sentiment.configure(None)


def test_traditional_characters_are_read_as_simplified(tmp_path: Path) -> None:
    """Segmentation, word lists, brand names and models read 繁体 as 简体: the same complaint
    written both ways gets the same verdict, category, tokens and fingerprint."""
    simp = "鲜果时光的外卖送了两个小时，饭都凉了，汤也洒了，气死我了，要求退款！"
    trad = "鮮果時光的外賣送了兩個小時，飯都涼了，湯也灑了，氣死我了，要求退款！"
    assert segment.normalize(trad) == segment.normalize(simp)
    sentiment.configure(make_config(tmp_path))
    try:
        a, b = sentiment.analyze(simp, platform="weibo"), sentiment.analyze(trad, platform="weibo")
        assert (a.is_complaint, a.category, a.urgency, a.tokens, a.fingerprint) == (
            b.is_complaint,
            b.category,
            b.urgency,
            b.tokens,
            b.fingerprint,
        )
        assert b.is_complaint and b.category == "物流配送" and "外卖" in b.tokens.split()
        assert b.masked_text == trad  # shown as written
    finally:
        sentiment.configure(None)


def test_simplified_reading_leaves_simplified_text_and_rare_characters_alone() -> None:
    # characters simplified text uses as they are stay; a character whose simplified form the
    # segmenter would not read as Han (鮰 → 𫚔) stays too, so no word is lost
    assert segment.normalize("乾隆 哪吒 蒜薹 什麽 鮰魚") == "乾隆 哪吒 蒜薹 什么 鮰鱼"
    assert "鮰" in segment.search_tokens("鮰鱼很好吃")
    from crawler.analytics.search_index import parse

    (group,) = parse("外賣*").required  # a prefix query is read simplified, as the tokens are
    assert group[0].prefix == "外卖"
