"""Word lists: file format, operator extensions on top of the built-in lists, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import sentiment
from sentiment import lexicons
from tests.sentiment.conftest import make_config


def test_parse_weights_sections_regex_and_removals() -> None:
    secs = lexicons.parse(
        "# comment\n退款 2.5\n避雷\nre:抽\\d+位 3\n[怒] -2\n-避雷\n[产品质量]\n异物 3  # inline\n"
    )
    top = secs[lexicons.DEFAULT_SECTION]
    assert top.terms == {"退款": 2.5, "[怒]": -2.0}  # an emoticon entry carries its weight
    assert top.patterns[0][0].pattern == "抽\\d+位" and top.patterns[0][1] == 3.0
    assert secs["产品质量"].terms == {"异物": 3.0}


def test_bad_regex_names_file_and_line() -> None:
    with pytest.raises(ValueError, match="x.txt:2: bad regular expression"):
        lexicons.parse("好\nre:(unclosed\n", "x.txt")


def test_operator_directory_extends_and_removes_builtin_terms(tmp_path: Path) -> None:
    extra = tmp_path / "lex"
    extra.mkdir()
    (extra / "escalation.txt").write_text("找领导 3\n", encoding="utf-8")
    (extra / "ads.txt").write_text("-抽奖\n", encoding="utf-8")
    lists = lexicons.load_dirs(lexicons.lexicon_dirs(extra))
    assert "找领导" in lists["escalation"][""].terms and "消协" in lists["escalation"][""].terms
    assert "抽奖" not in lists["ads"][""].terms
    sentiment.configure(make_config(tmp_path, lexicon_dir=str(extra)))
    try:
        a = sentiment.analyze("鲜果时光的果汁坏了，再不处理我就去找领导", brand="鲜果时光")
        assert a.urgency == "非常紧急" and any("找领导" in r for r in a.reasons)
    finally:
        sentiment.configure(None)


def test_first_chars_lets_the_matcher_skip_patterns() -> None:
    import re

    assert lexicons.first_chars(re.compile(r"(?:叫了?|打)\s*120")) == frozenset("叫打")
    assert lexicons.first_chars(re.compile(r"[?？]{2,}")) == frozenset("?？")
    assert lexicons.first_chars(re.compile(r".*坏")) is None


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a yuqing sentiment model"):
        sentiment.configure(make_config(tmp_path, sentiment_model=str(tmp_path / "nope.npz")))
    sentiment.configure(None)


def test_built_in_word_lists_ship_in_the_package_and_their_absence_is_loud(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    import sentiment
    from sentiment import lexicons

    assert lexicons.BUILTIN_DIR.parent == Path(sentiment.__file__).resolve().parent  # inside the package
    assert (lexicons.BUILTIN_DIR / "harm.txt").is_file()
    monkeypatch.setattr(lexicons, "BUILTIN_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="built-in word lists are missing"):
        lexicons.load_dirs(lexicons.lexicon_dirs(None))
