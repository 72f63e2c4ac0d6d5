"""axe-core (npm, node_modules/axe-core) run inside Chromium on a page as it stands: every
WCAG 2.0 and 2.1 rule at levels A and AA. Evaluated through the DevTools protocol, which the
pages' Content-Security-Policy (our own scripts only) does not govern, so the pages are checked
exactly as they are served."""

from __future__ import annotations

from functools import cache

from playwright.sync_api import Page

from devtools.dynamodb_local import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def _source() -> str:
    assert AXE.exists(), "axe-core is missing: `make test` installs it (npm ci)"
    return AXE.read_text(encoding="utf-8")


def violations(page: Page) -> list[str]:
    """Each violation as `rule (impact): the elements it found`, none when the page passes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(n['html'][:120] for n in v['nodes'])}"
        for v in result["violations"]
    ]


def assert_accessible(page: Page, what: str) -> None:
    found = violations(page)
    assert found == [], f"{what} ({page.url}) breaks WCAG 2.1 AA:\n" + "\n".join(found)
