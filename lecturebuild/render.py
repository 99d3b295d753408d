"""Render a lecture and its results into a Markdown handout and an HTML page.

Both formats share one view of the lecture (`LectureView`: a flat list of items: headings, prose with
its quoted values filled in, and code cells with their outputs) and one template skeleton,
templates/base.j2, whose leaf blocks each format's template fills. A course's own templates/ folder
comes first in the loader, so it overrides any built-in template by name.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable

from jinja2 import (ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError,
                    TemplateSyntaxError, meta)

from . import TEMPLATES_DIR, mathml, quote
from .errors import Problem, RenderError
from .model import SETUP_ID, Course, Device, Figure, File, Lecture, Output, Prose, SectionResult, Snippet
from .store import Store, write_atomic

FORMATS = {"markdown": "markdown/lecture.md.j2", "html": "html/lecture.html.j2", "site": "site/lecture.html.j2",
           "slides": "slides/deck.html.j2"}


# ----------------------------------------------------------------------------------------------
# The view every format renders


@dataclass(frozen=True)
class Heading:
    title: str
    id: str
    result: SectionResult | None  # the section's run, for its time and device
    kind: str = "heading"


@dataclass(frozen=True)
class Text:
    markdown: str  # prose with quoted values filled in
    slide: bool = False  # from a {slide} block: only slide decks show it
    kind: str = "prose"


@dataclass(frozen=True)
class Cell:
    snippet: Snippet
    outputs: tuple[Output, ...]
    seconds: float
    setup: bool  # the lecture's setup code
    kind: str = "cell"

    @property
    def code(self) -> str:
        return self.snippet.code.rstrip("\n")


@dataclass(frozen=True)
class LectureView:
    course: Course
    lecture: Lecture
    items: tuple[Heading | Text | Cell, ...]
    device: Device
    built: str  # when the newest result was produced, ISO 8601
    previous: Lecture | None
    next: Lecture | None

    @property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(i for i in self.items if isinstance(i, Cell))

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(o for c in self.cells for o in c.outputs if isinstance(o, Figure))

    @property
    def files(self) -> tuple[File, ...]:
        return tuple(o for c in self.cells for o in c.outputs if isinstance(o, File))


def copy_figures(view: LectureView, store: Store, out_dir: Path) -> None:
    """Put the lecture's figures in <out_dir>/<lecture>/, where its Markdown and site pages link them."""
    figures = store.figures_dir(view.lecture.name)
    for figure in view.figures:
        write_atomic(out_dir / view.lecture.name / figure.file, (figures / figure.file).read_bytes())


def copy_files(view: LectureView, store: Store, out_dir: Path) -> None:
    """Put the lecture's declared files beside its rendered file, where its links point."""
    source = store.results_dir(view.lecture.name) / "files"
    for output in view.files:
        write_atomic(out_dir / view.lecture.name / "files" / output.file, (source / output.file).read_bytes())


def lecture_view(course: Course, lecture: Lecture, results: dict[str, SectionResult],
                 slides: bool = False) -> LectureView:
    """Fill the prose's quoted values from `results` (every runnable section's result, and the setup's).
    The text of {slide} blocks is in the view only for a slide deck (`slides`)."""
    context = {sid: quote.SectionValues(sid, r.values) for sid, r in results.items() if sid != SETUP_ID}
    items: list = []

    def prose(block: Prose) -> Text:
        return Text(markdown=quote.render_prose(lecture.source, block, context), slide=block.slide)

    def cells(snippets: tuple[Snippet, ...], result: SectionResult, setup: bool) -> list[Cell]:
        runs = {run.snippet: run for run in result.runs}
        return [Cell(snippet=s, outputs=runs[s.name].outputs if s.name in runs else (),
                     seconds=runs[s.name].seconds if s.name in runs else 0.0, setup=setup) for s in snippets]

    items += [prose(p) for p in lecture.intro if slides or not p.slide]
    if lecture.setup is not None:
        items += cells((lecture.setup,), results[SETUP_ID], setup=True)
    for section in lecture.sections:
        result = results.get(section.id)
        items.append(Heading(title=section.title, id=section.id, result=result))
        for block in section.blocks:
            if isinstance(block, Prose):
                if slides or not block.slide:
                    items.append(prose(block))
            else:
                items += cells((block,), result, setup=False)
    index = course.lectures.index(lecture)
    ordered = sorted(results.values(), key=lambda r: r.finished)
    return LectureView(
        course=course, lecture=lecture, items=tuple(items),
        device=ordered[-1].device if ordered else Device("none", "", "", ""),
        built=ordered[-1].finished if ordered else "",
        previous=course.lectures[index - 1] if index > 0 else None,
        next=course.lectures[index + 1] if index + 1 < len(course.lectures) else None,
    )


# ----------------------------------------------------------------------------------------------
# Text helpers shared by the formats

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Output text as a terminal would leave it: colours dropped, '\\r' overwrites, controls made visible."""
    text = ANSI.sub("", text.replace("\r\n", "\n"))
    text = "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n"))
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def fence(text: str, info: str = "") -> str:
    """A Markdown code fence that no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip(chr(10))}\n{ticks}"


def css_string(text: str):
    """`text` as a quoted CSS string, safe inside a <style> element: quotes, backslashes, markup and
    control characters become CSS escapes."""
    from markupsafe import Markup

    escaped = "".join(f"\\{ord(c):x} " if c in '"\\<>&' or ord(c) < 32 else c for c in str(text))
    return Markup(f'"{escaped}"')


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC") if iso else "never"


# ----------------------------------------------------------------------------------------------
# Environments and the formats


@lru_cache(maxsize=None)
def _markdown_parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # Raw HTML in prose is shown as text: a quoted value can never inject markup into the page.
    # $...$ and $$...$$ are taken out before Markdown sees them (it would eat LaTeX backslashes) and
    # become MathML, which the browser draws itself.
    parser = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    return parser.use(dollarmath_plugin, double_inline=True,
                      renderer=lambda tex, options: mathml.to_mathml(tex, options["display_mode"]))


def markdown_to_html(text: str) -> str:
    return _markdown_parser().render(text)


def highlight(code: str) -> str:
    from pygments import highlight as pygmentize
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return pygmentize(code, PythonLexer(), HtmlFormatter(nowrap=True))


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter().get_style_defs(".highlight")


@lru_cache(maxsize=None)
def environment(course_root: Path, html: bool) -> Environment:
    """One environment per course and escaping mode per process: templates compile once."""
    loader = ChoiceLoader([FileSystemLoader(str(Path(course_root) / "templates")), FileSystemLoader(str(TEMPLATES_DIR))])
    env = Environment(loader=loader, undefined=StrictUndefined, autoescape=html, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(clean=clean, fence=fence, seconds=seconds, when=when, markdown=markdown_to_html, css_string=css_string,
                       highlight=highlight, thousands=quote.thousands, markdown_text=quote.markdown_text)
    env.globals.update(pygments_css=pygments_css)
    return env


# Names a lecture template may use without defining them: the render context, the environment's
# globals, and the loop variables of base.j2 that its scoped blocks hand to the leaves.
TEMPLATE_NAMES = {"view", "lecture", "course", "figure_src", "file_href", "pygments_css", "item", "output", "site",
                  "deck", "slide"}


def check_templates(course_root: Path) -> list[Problem]:
    """Syntax errors and unknown names in every template a course would use, found before anything runs."""
    env = environment(Path(course_root), html=False)  # its filters: compiling checks that they exist
    problems = []
    seen: set[str] = set()
    for folder in (Path(course_root) / "templates", TEMPLATES_DIR):
        for path in sorted(folder.rglob("*.j2")) if folder.is_dir() else []:
            name = path.relative_to(folder).as_posix()
            if name in seen:
                continue  # overridden by the course's own template of that name
            seen.add(name)
            text = path.read_text(encoding="utf-8")
            try:
                ast = env.parse(text, name, str(path))
            except TemplateSyntaxError as exc:
                problems.append(Problem(path, exc.lineno or 0, f"template error: {exc.message}"))
                continue
            for unknown in sorted(meta.find_undeclared_variables(ast) - TEMPLATE_NAMES):
                match = re.search(rf"\b{re.escape(unknown)}\b", text)
                line = text.count("\n", 0, match.start()) + 1 if match else 0
                problems.append(Problem(path, line, f"template uses unknown variable {unknown!r} "
                                        f"(known: {', '.join(sorted(TEMPLATE_NAMES))})"))
    return problems


def render(view: LectureView, fmt: str, figure_src: Callable[[Figure], str], site=None, deck=None) -> str:
    """The lecture in format `fmt` ("markdown", "html", "site" or "slides"); RenderError names the template
    file and line. Declared files are linked as <lecture>/files/<section>/<name>, beside the rendered file."""
    context = dict(view=view, lecture=view.lecture, course=view.course, figure_src=figure_src, site=site, deck=deck,
                   file_href=lambda f: f"{view.lecture.name}/files/{f.file}")
    return render_template(view.course.root, FORMATS[fmt], context, html=fmt != "markdown",
                           source=view.lecture.source)


def render_template(course_root: Path, name: str, context: dict, html: bool = True,
                    source: Path | None = None) -> str:
    """Template `name` (a course's own first) rendered with `context`; errors name the file and line:
    the template's, or for unreadable math the lecture `source`'s."""
    env = environment(Path(course_root), html=html)
    try:
        return env.get_template(name).render(**context)
    except TemplateSyntaxError as exc:
        raise RenderError(Problem(Path(exc.filename or name), exc.lineno or 0, f"template error: {exc.message}")) from None
    except mathml.MathError as exc:
        where = source or Path(name)
        raise RenderError(Problem(where, _line_of(where, exc.tex) if source else 0, str(exc))) from None
    except TemplateError as exc:
        file, line = _template_frame(exc)
        raise RenderError(Problem(Path(file or name), line, f"template error: {exc.message or exc}")) from None


def _line_of(source: Path, text: str) -> int:
    """The line of `source` where `text` (or its first line) starts; 0 when it is not found."""
    content = source.read_text(encoding="utf-8")
    at = content.find(text.strip().splitlines()[0] if text.strip() else text)
    return content.count("\n", 0, at) + 1 if at >= 0 else 0


def _template_frame(exc: BaseException) -> tuple[str, int]:
    import traceback

    frames = [(f.f_code.co_filename, n) for f, n in traceback.walk_tb(exc.__traceback__)
              if f.f_code.co_filename.endswith(".j2")]
    return frames[-1] if frames else ("", 0)


def write_markdown(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/markdown/<lecture>.md, with its figures in build/markdown/<lecture>/."""
    copy_figures(view, store, out_dir)
    copy_files(view, store, out_dir)
    text = render(view, "markdown", lambda f: f"{view.lecture.name}/{f.file}")
    target = out_dir / f"{view.lecture.name}.md"
    write_atomic(target, text)
    return target


def write_html(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/html/<lecture>.html, one self-contained page (figures embedded)."""
    figures = store.figures_dir(view.lecture.name)

    def embedded(figure: Figure) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / figure.file).read_bytes()).decode("ascii")

    copy_files(view, store, out_dir)
    target = out_dir / f"{view.lecture.name}.html"
    write_atomic(target, render(view, "html", embedded))
    return target


