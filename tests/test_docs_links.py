"""The README and docs/ stay navigable: every relative link resolves inside the repository
(anchors included), nothing points at the project's private notes outside it, the README's
table of contents matches its sections, and every docs page is reachable from the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Notes that live beside the repository, not in it: users of a clone never have them.
OUTSIDE_NOTES = ("PLATFORMS.md", "RUBRIC.md", "CHANNELS.md", "IMPORT_FORMATS.md", "DESIGN.md", "STYLE.md")

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped,
    spaces turned into hyphens."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        line = _CODE_SPAN.sub("", line)
        found.extend((number, m.group(1)) for m in _LINK.finditer(line))
    return found


def broken_links(path: Path, root: Path) -> list[str]:
    """Every problem with the relative links of ``path``: a missing file, a missing anchor,
    a target outside ``root``."""
    problems = []
    for number, target in links(path):
        where = f"{path.relative_to(root)}:{number}: {target}"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if "shared/" in file_part or not resolved.is_relative_to(root):
            problems.append(f"{where}: points outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{where}: no such file")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            problems.append(f"{where}: no heading with the anchor #{fragment}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page, ROOT) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_to_notes_outside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    offenders = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if "../shared" in line or any(name in line for name in OUTSIDE_NOTES)
    ]
    assert offenders == []


def unclosed_code_blocks(text: str) -> list[int]:
    """Lines where a fenced block goes wrong: a closing fence with text after it (Markdown
    then keeps the block open and the rest of the page renders as code), or a block never closed."""
    problems, opened = [], 0
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"^\s*(```|~~~)(.*)$", line)
        if not match:
            continue
        if not opened:
            opened = number
        elif match.group(2).strip():
            problems.append(number)
        else:
            opened = 0
    return problems + ([opened] if opened else [])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_are_closed(page: Path) -> None:
    assert unclosed_code_blocks(page.read_text(encoding="utf-8")) == []


def test_the_block_checker_finds_a_fence_with_text_after_it() -> None:
    assert unclosed_code_blocks("```text\nhello\n``` and more\nprose\n```\n") == [3]
    assert unclosed_code_blocks("```\ncode\n") == [1]


def test_the_readme_has_a_table_of_contents_of_its_sections() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    sections = [
        m.group(2) for _, line in prose_lines(text) if (m := _HEADING.match(line)) and m.group(1) == "##"
    ]
    assert sections and sections[0] == "Contents", "the first section of the README is its contents"
    body = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    toc = [target[1:] for _, target in links_in(body) if target.startswith("#")]
    assert toc == [slug(s) for s in sections[1:]], "the contents list every section, in order"
    assert set(toc) <= anchors(readme)


def links_in(text: str) -> list[tuple[int, str]]:
    return [(0, m.group(1)) for m in _LINK.finditer(text)]


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(ROOT / "README.md")}
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert missing == []


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Some `code` here\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[fine](docs/a.md#some-code-here) [web](https://example.com) [self](#title)\n"
        "[gone](docs/b.md) [bad anchor](docs/a.md#nowhere) [out](../shared/RUBRIC.md)\n"
        "`[in code](nowhere.md)`\n\n```\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    problems = broken_links(page, tmp_path)
    assert [p.split(": ", 2)[1:] for p in problems] == [
        ["docs/b.md", "no such file"],
        ["docs/a.md#nowhere", "no heading with the anchor #nowhere"],
        ["../shared/RUBRIC.md", "points outside the repository"],
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Is this machine ready? (`yuqing doctor`)", "is-this-machine-ready-yuqing-doctor"),
        ("快速上手", "快速上手"),
        ("Pacing: no backfill floods, an hourly budget", "pacing-no-backfill-floods-an-hourly-budget"),
        ("What breaks, and how often", "what-breaks-and-how-often"),
    ],
)
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
