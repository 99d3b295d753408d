"""The Jinja templates every format renders with: one skeleton, templates/base.j2, whose leaf blocks each
format's template fills, and a course's own templates/ folder first in the loader, so that it overrides any
built-in template by name. Template errors become messages naming the template's file and line.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    meta,
)

from lecturebuild import TEMPLATES_DIR
from lecturebuild.errors import MathError, Problem, RenderError
from lecturebuild.model import Figure
from lecturebuild.render import quote
from lecturebuild.render.text import clean, css_string, fence, highlight, markdown_to_html, pygments_css, seconds, when
from lecturebuild.render.view import LectureView


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
                undeclared = meta.find_undeclared_variables(ast)  # compiles it: an unknown filter is found here
            except TemplateSyntaxError as exc:
                problems.append(Problem(path, exc.lineno or 0, f"template error: {exc.message}"))
                continue
            for unknown in sorted(undeclared - TEMPLATE_NAMES):
                match = re.search(rf"\b{re.escape(unknown)}\b", text)
                line = text.count("\n", 0, match.start()) + 1 if match else 0
                problems.append(Problem(path, line, f"template uses unknown variable {unknown!r} "
                                        f"(known: {', '.join(sorted(TEMPLATE_NAMES))})"))
    return problems


def render(view: LectureView, fmt: str, figure_src: Callable[[Figure], str], site=None, deck=None) -> str:
    """The lecture in format `fmt` (one of formats.FORMATS with a template); RenderError names the template
    file and line. Declared files are linked as <lecture>/files/<section>/<name>, beside the rendered file."""
    from lecturebuild.render.formats import FORMATS

    context = dict(view=view, lecture=view.lecture, course=view.course, figure_src=figure_src, site=site, deck=deck,
                   file_href=lambda f: f"{view.lecture.name}/files/{f.file}")
    return render_template(view.course.root, FORMATS[fmt].template, context, html=fmt != "markdown",
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
    except MathError as exc:
        where = source or Path(name)
        raise RenderError(Problem(where, _line_of(where, exc.tex) if source else 0, str(exc))) from None
    except TemplateError as exc:
        file, line = _template_frame(exc)
        # "'lecturebuild.render.view.Heading object' has no attribute ...": the type as templates know it
        message = re.sub(r"'lecturebuild(?:\.\w+)*\.(\w+) object'", r"'\1 object'", str(exc.message or exc))
        raise RenderError(Problem(Path(file or name), line, f"template error: {message}")) from None


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


