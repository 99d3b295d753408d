"""Quoting run values in prose."""

from __future__ import annotations

from pathlib import Path

import pytest

from lecturebuild.errors import RenderError
from lecturebuild.model import Prose
from lecturebuild.render import quote

VALUES = {
    "classifier": quote.SectionValues("classifier", {
        "params": 2071554,
        "out": {"__tensor__": {"shape": [32, 2], "dtype": "float32", "device": "cpu"}},
        "loss": {"__tensor__": {"shape": [], "dtype": "float32", "device": "cpu", "item": 0.25}},
        "model": {"__module__": {"cls": "LSTMClassifier", "parameters": 2071554, "trainable": 2071554}},
        "shape": {"__shape__": [4, 10, 64]},
        "accs": [0.5, 0.75, 0.971],
    }),
}


def render(text: str, line: int = 10) -> str:
    return quote.render_prose(Path("lec.md"), Prose(text, line), VALUES)


@pytest.mark.parametrize("text, expected", [
    ("{{ classifier.params | thousands }}", "2,071,554"),
    ("{{ classifier.out.shape }}", "torch.Size([32, 2])"),
    ("{{ classifier.out.shape[-1] }}", "2"),
    ("{{ classifier.shape | join(' x ') }}", "4 x 10 x 64"),
    ("{{ classifier.loss.item }}", "0.25"),
    ("{{ classifier.model.parameters | thousands }} in a {{ classifier.model }}", "2,071,554 in a LSTMClassifier"),
    ("{{ classifier.accs[-1] | percent }}", "97.1%"),
    ("{{ '%.2f' | format(classifier.accs[1]) }}", "0.75"),
])
def test_values_are_quoted_and_formatted(text, expected):
    assert render(text) == expected


def test_an_unknown_value_names_the_section_its_values_and_the_line():
    with pytest.raises(RenderError) as info:
        render("First line.\nSecond {{ classifier.parms }}.", line=10)
    assert str(info.value).startswith("lec.md:11: cannot quote a value: section 'classifier' defined no value "
                                      "'parms' (it defined: accs, loss, model, out, params, shape)")


def test_the_sandbox_refuses_to_reach_into_python():
    with pytest.raises(RenderError, match="lec.md:10"):
        render("{{ classifier.__class__.__init__.__globals__ }}")


# ----------------------------------------------------------------------------------------------
# Through doit: prose that fails while it is rendered


@pytest.fixture
def built_copy(built_sample, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    return course


def plant(course: Path, text: str) -> int:
    """Add `text` as a paragraph after the model section's prose; return its line in the lecture."""
    source = course / "lectures" / "01_basics.md"
    lines = source.read_text().splitlines()
    at = lines.index("The model has {{ model.params | thousands }} parameters.") + 1
    lines[at:at] = ["", text]
    source.write_text("\n".join(lines) + "\n")
    return at + 2


@pytest.mark.parametrize("text, message", [
    ('Its dtype is {{ "%.3f" | format(tensors.x.dtype) }}.', "TypeError: must be real number, not str"),
    ("A ratio: {{ 1 / 0 }}.", "ZeroDivisionError: division by zero"),
    ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
     "the prose took longer than 1 s to render and was stopped: a loop that never ends?"),
])
def test_prose_that_fails_when_rendered_names_its_line_and_keeps_the_old_handout(built_copy, text, message):
    from conftest import doit

    handout = built_copy / "build" / "markdown" / "01_basics.md"
    before = handout.read_text()
    line = plant(built_copy, text)
    result = doit(built_copy, "markdown", env={"LECTUREBUILD_PROSE_SECONDS": "1"})
    assert result.returncode != 0
    assert f"lectures/01_basics.md:{line}: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr and "PythonAction Error" not in result.stderr
    assert handout.read_text() == before
    result = doit(built_copy, env={"LECTUREBUILD_PROSE_SECONDS": "1"})  # every format of the lecture fails alike
    said = [said for said in result.stderr.splitlines() if f"lectures/01_basics.md:{line}: " in said]
    assert len(said) == 1 and message in said[0], result.stderr  # and the instructor reads it once
    assert "(as markdown:01_basics)" in result.stdout  # the summary names the others without repeating it


def test_include_in_prose_is_refused_before_anything_runs(built_copy):
    from conftest import doit

    line = plant(built_copy, '{% include "secrets.txt" %}')
    result = doit(built_copy)
    assert result.returncode == 2
    assert f"lectures/01_basics.md:{line}: {{% include %}}, {{% import %}} and {{% extends %}} are not available" \
        in result.stderr
