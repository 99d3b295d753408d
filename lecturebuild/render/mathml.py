"""LaTeX in lecture prose rendered as MathML when the HTML is built.

Browsers draw MathML natively, so the pages need no script, font or server to show an equation, and
printing keeps it sharp. latex2mathml converts the expressions; it does not lay out `aligned`
environments (their `&` would come out as text), so those are split into rows and columns here and
each cell is converted on its own into a MathML table.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lecturebuild.errors import MathError

ALIGNED = re.compile(r"\\begin\{(aligned|align\*?|split)\}(.*?)\\end\{\1\}", re.S)
ROW_BREAK = re.compile(r"\\\\(?:\[[^\]]*\])?")
CELL_BREAK = re.compile(r"(?<!\\)&")
BRACES = re.compile(r"(?<!\\)[{}]")
UNKNOWN_COMMAND = re.compile(r"<m[io][^>]*>(\\[A-Za-z]+)</m[io]>")  # what latex2mathml leaves of a command it lacks
MATH_TAG = re.compile(r"^<math[^>]*>(.*)</math>$", re.S)


@lru_cache(maxsize=4096)
def to_mathml(tex: str, display: bool) -> str:
    """A <math> element for `tex`; `display` makes it a block equation."""
    mode = "block" if display else "inline"
    tex = tex.strip()
    match = ALIGNED.search(tex)
    if match and not (tex[:match.start()].strip() or tex[match.end():].strip()):
        body = _aligned_table(match.group(2))
    else:
        body = _inner(tex)
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{mode}">{body}</math>'


def _inner(tex: str) -> str:
    """The MathML inside the <math> element latex2mathml makes for `tex`."""
    from latex2mathml.converter import convert

    if not tex.strip():
        return "<mrow></mrow>"
    depth = 0
    for brace in BRACES.findall(tex):
        depth += 1 if brace == "{" else -1
        if depth < 0:
            break
    if depth:
        raise MathError(tex, "unbalanced braces")
    try:
        converted = convert(tex)
    except Exception as exc:  # latex2mathml raises its own and plain errors for TeX it cannot read
        raise MathError(tex, str(exc) or type(exc).__name__) from None
    unknown = UNKNOWN_COMMAND.search(converted)
    if unknown:
        raise MathError(tex, f"unknown command {unknown.group(1)}")
    match = MATH_TAG.match(converted.strip())
    return match.group(1) if match else converted


def _aligned_table(body: str) -> str:
    """Rows split at `\\\\`, columns at `&`; columns alternate right and left aligned as in LaTeX, so
    `x &= y` lines up at its `=` sign."""
    rows = [row for row in ROW_BREAK.split(body) if row.strip()]
    cells = [CELL_BREAK.split(row) for row in rows]
    width = max(len(row) for row in cells)
    html_rows = []
    for row in cells:
        tds = []
        for column in range(width):
            tex = row[column].strip() if column < len(row) else ""
            # TeX's `&=`: the operator starts the left-aligned column, so an empty group in front keeps
            # it spaced as a binary operator.
            if column % 2 == 1 and tex[:1] in "=<>+-" and tex:
                tex = "{}" + tex
            side = "right" if column % 2 == 0 else "left"
            pad = "padding-right:0" if side == "right" else "padding-left:0;padding-right:2em"
            tds.append(f'<mtd style="text-align:{side};{pad}">{_inner(tex)}</mtd>')
        html_rows.append("<mtr>" + "".join(tds) + "</mtr>")
    return '<mtable displaystyle="true">' + "".join(html_rows) + "</mtable>"
