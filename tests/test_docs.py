"""The documents' claims point at tests that exist: every `test_...` a page names as the test
of a property is a test of the suite (a renamed or deleted test would leave a promise behind)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_docs_name_exists():
    defined = set()
    for path in (ROOT / "tests").rglob("*.py"):
        defined |= set(re.findall(r"def (test_\w+)", path.read_text(encoding="utf-8")))
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {
        (page.name, name)
        for page in pages
        for name in re.findall(r"`(test_\w+)`", page.read_text(encoding="utf-8"))
    }
    assert len(named) > 10  # the pages do name their tests
    assert sorted((page, name) for page, name in named if name not in defined) == []


def test_no_merge_conflict_marker_is_left_in_a_file():
    """A merge resolved in a hurry once left its markers in the README's prose, where no
    parser notices them."""
    marker = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)
    suffixes = {".py", ".md", ".json", ".html", ".css", ".js", ".mjs", ".txt", ".toml", ".cfg"}
    found = [
        str(path.relative_to(ROOT))
        for folder in ("chalicelib", "devtools", "docs", "tests", "bench", "examples")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in suffixes and "node_modules" not in path.parts and path.is_file()
        if marker.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    found += [
        name for name in ("README.md", "Makefile") if marker.search((ROOT / name).read_text())
    ]
    assert found == []
