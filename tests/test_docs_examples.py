"""Every ```python block of the documentation pages (docs/*.md) runs.

A page's blocks run in order in one namespace (a later block may use an earlier one's names), in a
temporary working directory. A block preceded by the line ``<!-- skip -->`` is not run: keep that
for long runs, and rare. Blocks indented under a list item count too. The README's blocks run one
by one, each in a fresh namespace as a reader would paste it, in the slow suite.
"""

import pathlib
import re
import textwrap

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^(?P<skip>[ ]*<!-- skip -->\n)?(?P<indent>[ ]*)```python\n(?P<code>.*?)^(?P=indent)```\s*$",
                   re.MULTILINE | re.DOTALL)


def blocks(page: pathlib.Path) -> list[tuple[int, str, bool]]:
    """``(line, code, skipped)`` of each python block of ``page``."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start("code")) + 1, textwrap.dedent(m.group("code")), bool(m.group("skip")))
            for m in BLOCK.finditer(text)]


PAGES = sorted(p for p in DOCS.rglob("*.md") if any(not skip for _, _, skip in blocks(p)))


def test_pages_have_examples():
    assert len(PAGES) >= 10, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for line, code, skipped in blocks(page):
        if skipped:
            continue
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"the block at {page.relative_to(DOCS.parent)}:{line} failed: {e!r}") from e


def test_skip_marker_and_collection():
    page = "text\n<!-- skip -->\n```python\nraise SystemExit\n```\n\n```python\nx = 1\n```\n"
    page += "* item\n\n  ```python\n  y = 2\n  ```\n"
    found = [(textwrap.dedent(m.group("code")), bool(m.group("skip"))) for m in BLOCK.finditer(page)]
    assert found == [("raise SystemExit\n", True), ("x = 1\n", False), ("y = 2\n", False)]


README = DOCS.parent / "README.md"
README_BLOCKS = [(line, code) for line, code, skipped in blocks(README) if not skipped]


def test_readme_has_examples():
    assert len(README_BLOCKS) >= 8, README_BLOCKS


@pytest.mark.slow
@pytest.mark.parametrize("line,code", README_BLOCKS, ids=[f"README.md:{line}" for line, _ in README_BLOCKS])
def test_readme_example_runs_as_written(line, code, tmp_path, monkeypatch):
    """Each README block runs on its own, as a reader would paste it (its own imports, its sizes)."""
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(code, f"{README}:{line}", "exec"), {"__name__": "readme"})
    except Exception as e:
        raise AssertionError(f"the block at README.md:{line} failed: {e!r}") from e
