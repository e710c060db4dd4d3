"""docs/theory.md, read by section: the dashboard's Learn page shows the theory's own text.

The document ships inside the package (stabviz/data/theory.md is the same file, so an installed copy
has it too). Sections are addressed by their number ("3", "8.2") or by their GitHub anchor
("3-conditions-i-to-iv"); both are stable names that docstrings and help texts cite.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

DOC = Path(__file__).with_name("data") / "theory.md"
_HEADING = re.compile(r"^(#{2,3}) (.+)$")


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation except '-' dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


@functools.lru_cache(maxsize=1)
def sections() -> dict[str, tuple[str, str]]:
    """number -> (title, markdown body up to the next heading of the same or a higher level)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    heads = [(i, m.group(1), m.group(2)) for i, line in enumerate(lines) if (m := _HEADING.match(line))]
    out = {}
    for k, (i, level, title) in enumerate(heads):
        number = title.split(" ", 1)[0].rstrip(".")
        if not re.fullmatch(r"\d+(\.\d+)?", number):
            continue
        end = next((j for j, lv, _ in heads[k + 1 :] if len(lv) <= len(level)), len(lines))
        out[number] = (title, "\n".join(lines[i + 1 : end]).strip())
    return out


def section(key: str) -> tuple[str, str]:
    """(title, body) of a section by number or anchor; KeyError names the known numbers."""
    found = sections()
    if key in found:
        return found[key]
    for title, body in found.values():
        if anchor(title) == key:
            return title, body
    raise KeyError(f"docs/theory.md has no section {key!r}; sections: {', '.join(found)}")
