"""The README is a landing page, and every relative link in it and in docs/ leads somewhere."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)}


def test_readme_is_short_and_links_every_doc():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    for doc in sorted((REPO / "docs").glob("*.md")):
        assert f"](docs/{doc.name}" in text, f"README does not link docs/{doc.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: {target} does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{page.name}: no heading #{anchor} in {dest.name}"


def test_slug_follows_github():
    assert slug("Does dataset conditioning help?") == "does-dataset-conditioning-help"
    assert slug("Meta-training: `train.py`") == "meta-training-trainpy"
