"""Text helpers the formats share: terminal output made readable, code fences, CSS strings, times, prose
Markdown to HTML (with math as MathML) and highlighted code."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from lecturebuild.render import mathml

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


@lru_cache(maxsize=None)
def markdown_parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # Raw HTML in prose is shown as text: a quoted value can never inject markup into the page.
    # $...$ and $$...$$ are taken out before Markdown sees them (it would eat LaTeX backslashes) and
    # become MathML, which the browser draws itself.
    parser = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    return parser.use(dollarmath_plugin, double_inline=True,
                      renderer=lambda tex, options: mathml.to_mathml(tex, options["display_mode"]))


def markdown_to_html(text: str) -> str:
    return markdown_parser().render(text)


def highlight(code: str) -> str:
    from pygments import highlight as pygmentize
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return pygmentize(code, PythonLexer(), HtmlFormatter(nowrap=True))


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter().get_style_defs(".highlight")
