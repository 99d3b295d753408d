"""The Markdown handout and the self-contained HTML page of a lecture."""

from __future__ import annotations

import base64
from pathlib import Path

from lecturebuild.model import Figure
from lecturebuild.render.templates import render
from lecturebuild.render.view import LectureView, attach
from lecturebuild.store import Store, write_atomic


def write_markdown(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/markdown/<lecture>.md, with its figures in build/markdown/<lecture>/."""
    attach(view, store, out_dir)
    text = render(view, "markdown", lambda f: f"{view.lecture.name}/{f.file}")
    target = out_dir / f"{view.lecture.name}.md"
    write_atomic(target, text)
    return target


def write_html(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/html/<lecture>.html, one self-contained page (figures embedded)."""
    figures = store.figures_dir(view.lecture.name)

    def embedded(figure: Figure) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / figure.file).read_bytes()).decode("ascii")

    attach(view, store, out_dir, figures=False)
    target = out_dir / f"{view.lecture.name}.html"
    write_atomic(target, render(view, "html", embedded))
    return target
