"""Every relative link and picture in README.md and docs/*.md points at a file that exists
(the README links to docs/ pages for the details; a moved page must not leave a dead link)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:|#|/", t)]
    dead = [t for t in targets if not (page.parent / t.split("#")[0]).exists()]
    assert not dead, f"{page.name} links to missing files: {dead}"


def test_the_readme_links_every_docs_page():
    readme = (REPO / "README.md").read_text()
    unlinked = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
