"""Prose that quotes values from a run, so no number in a lecture is typed by hand.

A section's run records the names its snippets defined (see `capture.summarise`); the prose of any
section of the same lecture quotes them as Jinja expressions::

    The classifier has {{ classifier.params | thousands }} parameters and its output has shape
    `{{ classifier.out.shape }}`; the model object itself counts {{ classifier.model.parameters }}.

Snippets stay plain Python: the values are whatever their own variables hold. Unknown sections
are caught by validation before anything runs; unknown names when rendering, with the line.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import traceback
from pathlib import Path
from typing import Any, Iterable, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from lecturebuild.errors import Problem, RenderError
from lecturebuild.model import FACT, Prose, value_from_data

TEMPLATE_NAME = "<template>"  # the file name Jinja gives templates made from strings
# A prose block that takes longer than this to render loops without end (LECTUREBUILD_PROSE_SECONDS).
PROSE_SECONDS = float(os.environ.get("LECTUREBUILD_PROSE_SECONDS", 10))
NOT_IN_PROSE = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)  # prose has no templates to name


class QuoteError(TemplateError):
    pass


class SectionValues:
    """The values one section's run defined, as the prose sees them: ``{{ <section>.<name> }}``."""

    def __init__(self, section: str, data: Mapping[str, Any]):
        self.section = section
        self.values = {name: value_from_data(value) for name, value in data.items()}

    def lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        known = ", ".join(sorted(self.values)) or "none"
        raise QuoteError(f"section {self.section!r} defined no value {name!r} (it defined: {known})")


class _ProseEnvironment(SandboxedEnvironment):
    def getattr(self, obj, attribute):
        if isinstance(obj, SectionValues):
            return obj.lookup(attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        if isinstance(obj, SectionValues) and isinstance(argument, str):
            return obj.lookup(argument)
        return super().getitem(obj, argument)


def thousands(value: Any) -> str:
    """2071554 -> '2,071,554'."""
    return f"{int(value):,}"


def percent(value: Any, digits: int = 1) -> str:
    """0.9731 -> '97.3%'."""
    return f"{float(value) * 100:.{digits}f}%"


MARKDOWN_SYNTAX = re.compile(r"([\\`*<>&|]|~~|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")  # what makes markup in running text
LINK_SYNTAX = re.compile(r"\]\(|\]:|\]\[|!\[")  # brackets matter only where they would make a link or image
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)|\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)  # code, and math
VALUE = re.compile("\x00(\\d+)\x00")  # where a quoted value stands until the prose around it is known


def markdown_text(text: str, brackets: bool = False) -> str:
    """`text` as literal Markdown: what Markdown or HTML would read as markup is escaped; a shape such as
    torch.Size([4, 10]) or a name such as hidden_size stays as it is. `brackets`: escape every bracket
    (inside a link's or image's own text, where an unbalanced one ends it)."""
    text = MARKDOWN_SYNTAX.sub(lambda m: "".join("\\" + c for c in m.group()), str(text))
    if brackets or LINK_SYNTAX.search(text):
        text = text.replace("[", "\\[").replace("]", "\\]")
    return text.replace("\n", " ")


def _environment() -> SandboxedEnvironment:
    env = _ProseEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
                            finalize=_hold)
    env.filters.update(thousands=thousands, percent=percent)
    return env


_held: list[str] = []  # the values of the prose being rendered, in order (one render at a time per process)


def _hold(value: Any) -> str:
    """Every {{ }} becomes a placeholder; `_place` puts the value in, escaped for where it stands."""
    _held.append(str(value))
    return f"\x00{len(_held) - 1}\x00"


def _place(text: str) -> str:
    """A value inside a `code span` or $math$ is shown as it is (both are shown literally); anywhere else it is
    escaped, so a run's string such as "<b>" or "[0, 1)" is text, never markup or a link."""
    spans = [m.span() for m in CODE_SPAN.finditer(text)]

    def value(match: re.Match) -> str:
        raw = _held[int(match.group(1))]
        inside = any(start <= match.start() < end for start, end in spans)
        return raw if inside else markdown_text(raw)

    return VALUE.sub(value, text)


ENVIRONMENT = _environment()


def check_prose(source: Path, prose: Prose, section_ids: Iterable[str]) -> list[Problem]:
    """Problems in a prose block's expressions that can be found before anything runs."""
    if "{" not in prose.text:
        return []  # no Jinja syntax at all: nothing to check
    try:
        ast = ENVIRONMENT.parse(prose.text)
        undeclared = meta.find_undeclared_variables(ast)  # compiles it: an unknown filter is found here
    except TemplateSyntaxError as exc:
        return [Problem(source, prose.line + (exc.lineno or 1) - 1, f"template error in the prose: {exc.message}")]
    known = set(section_ids)
    problems = [Problem(source, prose.line + node.lineno - 1, "{% include %}, {% import %} and {% extends %} are not "
                        "available in prose, which only quotes values; layout belongs in templates/")
                for node in ast.find_all(NOT_IN_PROSE)]
    for name in sorted(undeclared - known):
        line = prose.line + _line_of(prose.text, name)
        problems.append(Problem(source, line, f"unknown section {name!r} in a quoted value; the sections with "
                                f"code are: {', '.join(sorted(known)) or 'none'}"))
    return problems


def _line_of(text: str, name: str) -> int:
    match = re.search(r"\{\{[^}]*\b" + re.escape(name) + r"\b", text)
    return text.count("\n", 0, match.start()) if match else 0


def render_prose(source: Path, prose: Prose, context: Mapping[str, SectionValues]) -> str:
    """The prose with its quoted values filled in; RenderError naming file and line otherwise. Whatever
    the prose's expressions raise (a filter given the wrong type, a division by zero) is the prose's
    error, as is taking longer than PROSE_SECONDS."""
    try:
        with _time_limit(PROSE_SECONDS):
            _held.clear()
            return _place(ENVIRONMENT.from_string(FACT.sub(r"\1", prose.text)).render(context))
    except _TookTooLong as exc:
        line = prose.line + _template_line(exc) - 1
        raise RenderError(Problem(source, line, f"the prose took longer than {PROSE_SECONDS:g} s to render and was "
                                  "stopped: a loop that never ends?")) from None
    except Exception as exc:  # noqa: BLE001 - an expression of the prose failed
        line = prose.line + _template_line(exc) - 1
        message = exc.message if isinstance(exc, TemplateError) and exc.message else f"{type(exc).__name__}: {exc}"
        raise RenderError(Problem(source, line, f"cannot quote a value: {message}")) from None


class _TookTooLong(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _TookTooLong in the block after `seconds` (in the main thread, where signals arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _TookTooLong()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _template_line(exc: BaseException) -> int:
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    lines = [lineno for frame, lineno in traceback.walk_tb(exc.__traceback__)
             if frame.f_code.co_filename == TEMPLATE_NAME]
    return lines[-1] if lines else 1
