"""LaTeX in prose becomes MathML at build time: rows and columns of aligned equations, errors with a line."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest
from conftest import doit

from lecturebuild.errors import MathError
from lecturebuild.render.mathml import to_mathml
from lecturebuild.render.text import markdown_to_html

M = "{http://www.w3.org/1998/Math/MathML}"


def test_inline_and_display_math_become_mathml_not_text():
    html = markdown_to_html("Inline $h_{t-1}$ here.\n\n$$\n\\tanh(W x_t)\n$$\n")
    assert html.count("<math") == 2
    assert 'display="inline"' in html and 'display="block"' in html
    assert "h_{t-1}" not in html and "\\tanh" not in html  # no LaTeX source is left for the reader


def test_aligned_rows_and_columns_become_a_table():
    tree = ET.fromstring(to_mathml("\\begin{aligned} a &= b && \\text{first} \\\\ c &< d \\end{aligned}", True))
    rows = tree.findall(f"{M}mtable/{M}mtr")
    assert len(rows) == 2
    assert [len(row.findall(f"{M}mtd")) for row in rows] == [4, 4]
    first = rows[0].findall(f"{M}mtd")
    assert "text-align:right" in first[0].get("style") and "text-align:left" in first[1].get("style")
    assert first[3].find(f".//{M}mtext").text == "first"
    assert "&" not in "".join(tree.itertext())  # no column mark is left as text


@pytest.mark.parametrize("tex, reason", [("x^", "MissingSuperScript"), ("\\sigmoid(x)", "unknown command \\\\sigmoid"),
                                         ("{x + 1", "unbalanced braces"), ("x}", "unbalanced braces")])
def test_unreadable_math_is_an_error_naming_it(tex, reason):
    with pytest.raises(MathError, match=reason) as caught:
        to_mathml(tex, False)
    assert tex in str(caught.value)


def test_bad_math_fails_the_page_with_file_and_line_and_keeps_the_old_one(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    page = course / "build" / "html" / "01_basics.html"
    before = page.read_text()
    lecture = course / "lectures" / "01_basics.md"
    lines = lecture.read_text().splitlines()
    lines.insert(2 + lines.index("## Tensors {#tensors}"), "Broken: $\\frac{1}{x$.")
    lecture.write_text("\n".join(lines) + "\n")
    result = doit(course, "html")
    assert result.returncode != 0
    line = lines.index("Broken: $\\frac{1}{x$.") + 1
    assert f"01_basics.md:{line}: cannot render the math $\\frac{{1}}{{x$" in result.stdout + result.stderr
    assert page.read_text() == before
