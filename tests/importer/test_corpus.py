"""Real-shaped material imported the way a user does it (`lecturebuild import`, then `doit`): a
sphinx-gallery script, notebooks with stored outputs from a real kernel, a notebook exported as text.
What the build prints must equal what a plain `python` run of the original prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import built_streams, doit, import_, new_course
from nbformat import v4

CORPUS = Path(__file__).parent / "corpus"
MARK = "\x1e-- next cell --\x1e"

SEEDED_NOTEBOOK = [  # seeds once at the top; training changes the model in place
    ("markdown", "# Training a tiny classifier\n\nA notebook that seeds once, then trains and evaluates."),
    ("markdown", "## Setup"),
    ("code", "import torch\nimport torch.nn as nn\n\ntorch.manual_seed(1)\nprint('seeded')"),
    ("markdown", "## Data\n\nPoints labelled by the sign of their sum."),
    ("code", "x = torch.randn(128, 4)\ny = (x.sum(dim=1) > 0).long()\nprint(x.shape, round(y.float().mean().item(), 4))"),
    ("markdown", "## Model"),
    ("code", "model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))\n"
             "optimizer = torch.optim.SGD(model.parameters(), lr=0.5)\n"
             "print(sum(p.numel() for p in model.parameters()), 'parameters')"),
    ("markdown", "## Train"),
    ("code", "model.train()\nfor epoch in range(30):\n    optimizer.zero_grad()\n"
             "    loss = nn.functional.cross_entropy(model(x), y)\n    loss.backward()\n    optimizer.step()\n"
             "print(f'loss {loss.item():.4f}')\nloss.grad_fn"),
    ("markdown", "## Evaluate"),
    ("code", "model.eval()\nwith torch.no_grad():\n    accuracy = (model(x).argmax(1) == y).float().mean().item()\n"
             "print(f'accuracy {accuracy:.3f}')\ntry:\n    model(torch.zeros(3))\nexcept RuntimeError as e:\n"
             "    print('a vector of 3 does not fit:', type(e).__name__)"),
]

UNSEEDED_NOTEBOOK = [  # no randomness at all: only the needs decide what Evaluate sees
    ("markdown", "# Weights that train in place"),
    ("markdown", "## Setup"),
    ("code", "import torch\n\ntorch.set_printoptions(precision=3)\nprint('printing 3 decimals')"),
    ("markdown", "## Model"),
    ("code", "model = torch.nn.Linear(2, 1, bias=False)\nwith torch.no_grad():\n    model.weight.fill_(0.0)\n"
             "opt = torch.optim.SGD(model.parameters(), lr=0.02)\n"
             "x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])\ntarget = torch.tensor([[1.0], [2.0]])\nprint(model.weight)"),
    ("markdown", "## Train"),
    ("code", "for _ in range(20):\n    opt.zero_grad()\n    loss = ((model(x) - target) ** 2).mean()\n"
             "    loss.backward()\n    opt.step()\nprint(round(loss.item(), 4))"),
    ("markdown", "## Evaluate"),
    ("code", "print(model(x).detach())"),
]


def plain_run(cells: list[str], tmp_path: Path) -> list[str]:
    """What each code cell prints when the cells run one after another in one plain Python process."""
    driver = ("import json, sys\nnamespace = {'__name__': '__main__'}\n"
              "for code in json.load(open(sys.argv[1])):\n"
              "    exec(compile(code, '<cell>', 'exec'), namespace)\n"
              f"    print({MARK!r}, flush=True)\n")
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    done = subprocess.run([sys.executable, "-c", driver, str(tmp_path / "cells.json")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    return done.stdout.split(MARK + "\n")[:-1]


def executed_notebook(cells: list[tuple[str, str]], path: Path) -> Path:
    """The notebook as Jupyter leaves it after running it: outputs stored by a real kernel."""
    from nbclient import NotebookClient

    notebook = v4.new_notebook(cells=[v4.new_markdown_cell(text) if kind == "markdown" else v4.new_code_cell(text)
                                      for kind, text in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    nbformat.write(notebook, path)
    return path


def imported_and_built(tmp_path: Path, source: Path, name: str) -> tuple[Path, subprocess.CompletedProcess, str]:
    course = new_course(tmp_path)
    done = import_(course, source, "--name", name)
    assert done.returncode == 0, done.stdout + done.stderr
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    return course, build, done.stdout


def code_of(cells):
    return [text for kind, text in cells if kind == "code"]


def test_a_notebook_seeded_once_runs_as_one_stream_and_prints_what_python_prints(tmp_path):
    source = executed_notebook(SEEDED_NOTEBOOK, tmp_path / "tiny_classifier.ipynb")
    course, build, said = imported_and_built(tmp_path, source, "tiny")
    assert "sequential: true" in said
    assert "which no earlier code defines" not in said  # `except RuntimeError as e` defines e
    lecture = (course / "lectures" / "tiny.md").read_text()
    assert "sequential: true" in lecture
    assert "## Setup {#setup_section}" in lecture  # not `setup`: setup.py is the lecture's imports
    assert built_streams(course, "tiny") == plain_run(code_of(SEEDED_NOTEBOOK), tmp_path)
    report = (course / "build" / "claims" / "tiny.txt").read_text()
    assert report.startswith("tiny: 0 of 5 code blocks print otherwise"), report  # values shown as IPython does

    # The downloadable notebook and script keep the one random stream: they run to the same numbers.
    reproduce = doit(course, "reproduce")
    assert reproduce.returncode == 0, reproduce.stdout + reproduce.stderr
    script = subprocess.run([sys.executable, str(course / "build" / "site" / "tiny.py")], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert script.stdout == "".join(plain_run(code_of(SEEDED_NOTEBOOK), tmp_path)), script.stderr


def test_in_place_changes_make_later_sections_need_the_section_that_made_them(tmp_path):
    source = executed_notebook(UNSEEDED_NOTEBOOK, tmp_path / "in_place.ipynb")
    course, build, said = imported_and_built(tmp_path, source, "in_place")
    lecture = (course / "lectures" / "in_place.md").read_text()
    assert "sequential" not in lecture  # nothing random: no reason to run as one stream
    assert "## Evaluate {#evaluate needs=setup_section,model,train}" in lecture
    assert "section 'evaluate' needs 'train': it uses model" in said
    assert built_streams(course, "in_place") == plain_run(code_of(UNSEEDED_NOTEBOOK), tmp_path)
    assert (course / "build" / "claims" / "in_place.txt").read_text().startswith("in_place: 0 of 4 code blocks")


def text_export(cells: list[tuple[str, str]]) -> str:
    """A notebook as text, the way it reads when copied out of Jupyter: `In [n]:` before each code cell."""
    parts = []
    for number, (kind, text) in enumerate(cells):
        prompt = ["In [ ]:", "In [None]:", f"In [{number}]:"][number % 3]
        parts.append(f"{prompt}\n{text}" if kind == "code" else text)
    return "\n\n".join(parts) + "\n"


def test_a_notebook_exported_as_text_imports_every_cell(tmp_path):
    source = tmp_path / "exported.txt"
    source.write_text(text_export(SEEDED_NOTEBOOK))
    course, build, said = imported_and_built(tmp_path, source, "exported")
    snippets = sorted((course / "snippets" / "exported").glob("*.py"))
    assert len(snippets) == 6  # setup.py and one file for each of the five sections
    lecture = (course / "lectures" / "exported.md").read_text()
    assert "## Data {#data}" in lecture and "Points labelled by the sign" in lecture
    assert "In [" not in lecture
    assert built_streams(course, "exported") == plain_run(code_of(SEEDED_NOTEBOOK), tmp_path)


def test_a_sphinx_gallery_script_keeps_every_block_and_its_rest_becomes_markdown(tmp_path):
    source = CORPUS / "fit_a_line.py"
    course, build, said = imported_and_built(tmp_path, source, "fit")
    lecture = (course / "lectures" / "fit.md").read_text()
    assert "title: Fitting a line with autograd" in lecture
    assert "sequential: true" in lecture
    assert "summary: This tutorial fits y = w x + b to noisy points" in lecture
    for heading in ("## Data {#data}", "## Parameters by hand {#", "## The same with nn.Linear {#"):
        assert heading in lecture, lecture
    assert "> **Note**" in lecture and "```text\nx = torch.linspace(-1, 1, n)\n" in lecture
    assert "$y = w x + b$" in lecture and "$$" in lecture and "\\frac{1}{n}" in lecture
    assert "[PyTorch tutorials](https://pytorch.org/tutorials/)" in lecture
    assert "`torch.autograd.backward`" in lecture and "``n = 64``" not in lecture
    assert "```{snippet}" in lecture and lecture.count("```{snippet}") == 6
    assert "~~~" not in lecture and ":math:" not in lecture and "####" not in lecture
    printed = "".join(built_streams(course, "fit"))
    python = subprocess.run([sys.executable, str(source)], capture_output=True, text=True, timeout=300)
    assert printed == python.stdout
    html = (course / "build" / "html" / "fit.html").read_text()
    assert "<math" in html and "{snippet}" not in html


@pytest.mark.parametrize("title", ["Setup", "Torch", "Class", "Lecture"])
def test_section_titles_never_name_a_reserved_file_or_a_module(tmp_path, title):
    source = tmp_path / "titles.md"
    source.write_text(f"# Titles\n\n## {title}\n\n```python\nimport torch\nx = torch.ones(2)\nprint(x.sum())\n```\n")
    course = new_course(tmp_path)
    assert import_(course, source, "--name", "titles").returncode == 0
    files = {p.name for p in (course / "snippets" / "titles").iterdir()}
    assert len(files) == 2 and "setup.py" in files and "torch.py" not in files
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    assert built_streams(course, "titles") == ["tensor(2.)\n"]


HELPERS_NOTEBOOK = [  # the lecture's own functions read and change the global model
    ("markdown", "# Helpers that work on a global model"),
    ("markdown", "## Helpers"),
    ("code", "import torch\n\nmodel = torch.nn.Linear(1, 1)\nwith torch.no_grad():\n    model.weight.fill_(0.0)\n"
             "    model.bias.fill_(0.0)\nX = torch.tensor([[1.0], [2.0]])\ny = 2 * X\n\n"
             "def mse():\n    return round(((model(X) - y) ** 2).mean().item(), 4)\n\n"
             "def shrink(factor):\n    with torch.no_grad():\n        model.weight.mul_(factor)\n\n"
             "def train(steps):\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n    for _ in range(steps):\n"
             "        opt.zero_grad()\n        ((model(X) - y) ** 2).mean().backward()\n        opt.step()"),
    ("markdown", "## Training"), ("code", "train(50)"),
    ("markdown", "## Evaluation"), ("code", "print('after training', mse())"),
    ("markdown", "## Shrinking"), ("code", "shrink(0.5)"),
    ("markdown", "## Evaluation again"), ("code", "print('after shrinking', mse())"),
]


def test_calling_lecture_functions_that_read_and_change_globals_makes_needs(tmp_path):
    source = executed_notebook(HELPERS_NOTEBOOK, tmp_path / "helpers.ipynb")
    course, build, said = imported_and_built(tmp_path, source, "helpers")
    lecture = (course / "lectures" / "helpers.md").read_text()
    assert "{#evaluation needs=helpers,training}" in lecture
    assert "{#evaluation_again needs=helpers,training,shrinking}" in lecture
    assert [s for s in built_streams(course, "helpers") if s] == [s for s in plain_run(code_of(HELPERS_NOTEBOOK), tmp_path) if s]
