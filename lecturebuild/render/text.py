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

    # Raw HTML in prose (<img>, <table>, <br>, as book notebooks have it) is kept, and sanitised where it
    # is rendered (markdown_to_html); a quoted value is escaped before it reaches the prose, so it is
    # always text. $...$ and $$...$$ are taken out before Markdown sees them (it would eat LaTeX
    # backslashes) and become MathML, which the browser draws itself.
    parser = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")
    return parser.use(dollarmath_plugin, double_inline=True,
                      renderer=lambda tex, options: mathml.to_mathml(tex, options["display_mode"]))


def markdown_to_html(text: str) -> str:
    """Prose as HTML. Where it holds raw HTML, the page gets that HTML sanitised (nh3, the ammonia
    sanitiser): the tags and attributes of ordinary documents stay, scripts, styles, event handlers and
    javascript: links go."""
    parser = markdown_parser()
    tokens = parser.parse(text)
    html = parser.renderer.render(tokens, parser.options, {})
    raw = any(t.type == "html_block" or any(c.type == "html_inline" for c in t.children or ()) for t in tokens)
    return _sanitised(html) if raw else html


# MathML, as latex2mathml writes it, on top of the tags and attributes nh3 allows by default.
MATHML = {"math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot", "msub", "msup",
          "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
          "menclose", "semantics", "annotation"}
MATHML_ATTRIBUTES = {"display", "xmlns", "mathvariant", "stretchy", "fence", "form", "accent", "accentunder",
                     "separator", "lspace", "rspace", "width", "height", "depth", "minsize", "maxsize",
                     "columnalign", "columnspacing", "rowspacing", "displaystyle", "scriptlevel", "notation",
                     "encoding"}


def _sanitised(html: str) -> str:
    import nh3

    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in MATHML:
        attributes[tag] = MATHML_ATTRIBUTES
    for tag in ("th", "td"):  # a table's column alignment
        attributes.setdefault(tag, set()).add("style")
    for tag in ("code", "pre", "span", "div"):
        attributes.setdefault(tag, set()).add("class")
    return nh3.clean(html, tags=nh3.ALLOWED_TAGS | MATHML, attributes=attributes, link_rel=None,
                     url_schemes={"http", "https", "mailto"}, filter_style_properties={"text-align"})


def highlight(code: str) -> str:
    from pygments import highlight as pygmentize
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return pygmentize(code, PythonLexer(), HtmlFormatter(nowrap=True))


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter().get_style_defs(".highlight")
