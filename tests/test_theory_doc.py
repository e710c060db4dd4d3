"""docs/theory.md: shipped with the package, cited with anchors that exist, readable by section."""

import re
from pathlib import Path

import pytest

from stabviz import theory_doc

ROOT = Path(__file__).resolve().parents[1]


def test_the_packaged_copy_is_the_document():
    assert theory_doc.DOC.read_text() == (ROOT / "docs" / "theory.md").read_text()


def test_sections_by_number_and_anchor():
    title, body = theory_doc.section("3")
    assert title.startswith("3. Conditions I to IV") and "Condition III" in body
    assert theory_doc.section("3-conditions-i-to-iv") == (title, body)
    sub_title, sub_body = theory_doc.section("8.2")
    assert sub_title.startswith("8.2") and sub_body in theory_doc.section("8")[1]
    with pytest.raises(KeyError, match="no section '42'"):
        theory_doc.section("42")


def _cited_anchors():
    pattern = re.compile(r"docs/theory\.md#([a-z0-9\-]+)")
    for path in [
        *ROOT.glob("stabviz/**/*.py"),
        *ROOT.glob("stabviz/**/*.js"),
        *ROOT.glob("*.md"),
        *ROOT.glob("tests/*.py"),
        *ROOT.glob("benchmarks/*.py"),
        *ROOT.glob("scripts/*.py"),
    ]:
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            yield path.relative_to(ROOT), m.group(1)


def test_every_cited_anchor_exists():
    headings = [
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "theory.md").read_text().splitlines()
        if line.startswith("#")
    ]
    known = {theory_doc.anchor(h) for h in headings}
    missing = [(str(p), a) for p, a in _cited_anchors() if a not in known]
    assert not missing


def test_math_is_katex_friendly():
    text = (ROOT / "docs" / "theory.md").read_text()
    assert text.count("$$") % 2 == 0
    for macro in (r"\label", r"\eqref", r"\begin{align}", r"\tag"):
        assert macro not in text


def test_nothing_outside_docs_points_at_the_private_theory_file():
    tracked = [
        p
        for p in ROOT.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and "docs" not in p.parts
        and p.suffix in {".py", ".md", ".js", ".toml", ".txt", ".cfg", ".ini"}
        and p != Path(__file__).resolve()
    ]
    hits = [
        str(p.relative_to(ROOT))
        for p in tracked
        if any(word in p.read_text(encoding="utf-8", errors="ignore") for word in ("THEORY" + ".md", "../" + "shared"))
    ]
    assert not hits


def test_the_shipped_documents_hold_no_control_characters():
    # A tab or carriage return in a formula (a "\t" or "\r" read as an escape) breaks tables and KaTeX.
    for path in (ROOT / "docs" / "theory.md", ROOT / "README.md", ROOT / "CONTRIBUTING.md"):
        text = path.read_text(encoding="utf-8")
        bad = sorted({repr(c) for c in text if ord(c) < 32 and c != "\n"})
        assert not bad, f"{path.name}: {bad}"
