"""Quoting run values in prose."""

from __future__ import annotations

from pathlib import Path

import pytest

from lecturebuild import quote
from lecturebuild.errors import RenderError
from lecturebuild.model import Prose

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
