"""The course's source documents in ../shared/seeds/, as the import tests use them."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"  # ../shared beside the checkout
MARKDOWN_LECTURE = SEEDS / "000_3b580d8ec4033c98.txt"
NOTEBOOK_TEXT = SEEDS / "004_9f0a767d8d5e15e5.txt"


def seed(path: Path) -> Path:
    """A seed document; a missing one fails the test with where it was looked for."""
    assert path.is_file(), f"the import tests read the course's source documents from {SEEDS}, which lacks {path.name}"
    return path


def notebook_from_text(path: Path = NOTEBOOK_TEXT) -> nbformat.NotebookNode:
    """The notebook behind the text export: `In [None]:` opens a code cell, which runs until the next
    Markdown heading (`## `, `### `) or the next `In [None]:`; the rest is Markdown."""
    cells, kind, lines = [], "markdown", []

    def flush():
        text = "\n".join(lines).strip("\n")
        if text.strip():
            cells.append(v4.new_code_cell(text) if kind == "code" else v4.new_markdown_cell(text))

    for line in seed(path).read_text(encoding="utf-8").splitlines():
        if line.strip() == "In [None]:":
            flush()
            kind, lines = "code", []
        elif kind == "code" and line.startswith(("## ", "### ", "#### ")):
            flush()
            kind, lines = "markdown", [line]
        else:
            lines.append(line)
    flush()
    return v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
