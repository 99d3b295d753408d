"""`lecturebuild import`: the seeds, notebooks with stored outputs, a round trip, and bad input."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import nbformat
import pytest
import seeds
from conftest import doit, import_, new_course
from nbformat import v4

from lecturebuild.importer import fences, plan, read


def test_the_markdown_seed_builds_and_its_wrong_outputs_are_reported(tmp_path):
    course = new_course(tmp_path)
    source = shutil.copy(seeds.seed(seeds.MARKDOWN_LECTURE), tmp_path / "rnn_lecture.md")
    imported = import_(course, source)
    assert imported.returncode == 0, imported.stderr
    assert "joined with the block at line 96 (a page break had split it)" in imported.stdout
    lecture = (course / "lectures" / "01_rnn_lecture.md").read_text()
    assert "title: RNNs, LSTMs, and Sequence Modeling" in lecture and "setup: setup.py" in lecture
    assert "import torch.nn as nn" in (course / "snippets" / "01_rnn_lecture" / "setup.py").read_text()

    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    report = (course / "build" / "claims" / "01_rnn_lecture.txt").read_text()
    assert report in build.stderr  # the first build prints it
    for section in ("rnn_basics", "pytorch_rnn", "lstm_architecture", "pytorch_lstm", "lstm_text_classifier"):
        assert f"section {section!r}" in report
    assert report.count("\n-=====\n") == 5  # every separator line the document shows is wrong
    assert "\n+" + "=" * 140 + "\n" in report and "\n+" + "=" * 70 + "\n" in report
    assert "-Parameters: 2,111,234\n+Parameters: 2,071,554" in report
    assert "Input: torch.Size([32, 100])" in report  # shown as agreeing context, not as a difference
    assert "-Input: torch.Size([32, 100])" not in report


def test_the_notebook_seed_imports_as_text_and_builds_except_its_broken_last_cell(tmp_path):
    course = new_course(tmp_path)
    nbformat.write(seeds.notebook_from_text(), tmp_path / "rnns.ipynb")
    assert import_(course, tmp_path / "rnns.ipynb", "--name", "from_notebook").returncode == 0
    done = import_(course, seeds.seed(seeds.NOTEBOOK_TEXT), "--name", "rnns")
    assert done.returncode == 0, done.stderr
    assert "sequential: true" in done.stdout  # it seeds once at the top and trains later
    # The text export gives the code cells the notebook has: the same snippets, line for line.
    snippets = {p.name: p.read_text() for p in (course / "snippets" / "rnns").iterdir()}
    assert snippets == {p.name: p.read_text() for p in (course / "snippets" / "from_notebook").iterdir()}
    assert len(snippets) == 7  # the setup and six cells
    (course / "lectures" / "01_from_notebook.md").unlink(missing_ok=True)
    (course / "lectures" / "from_notebook.md").unlink()
    build = doit(course)
    assert build.returncode != 0
    out = build.stdout + build.stderr
    assert "input.size(-1) must be equal to input_size. Expected 32, got 1" in out
    failed = [line for line in build.stderr.splitlines() if ": FAILED in" in line]
    assert len(failed) == 1 and "rnn_vs_lstm_vs_gru" in failed[0]  # every other section built


def test_a_pdf_shaped_lecture_builds_and_its_pasted_outputs_are_reported(tmp_path):
    """What the Markdown seed proves, on a document of its shape written here: pasted outputs that no run
    printed, a block cut by a page break, a parameter count typed by hand."""
    course = new_course(tmp_path)
    imported = import_(course, seeds.write(tmp_path, "pdf_lecture.md", seeds.PDF_LECTURE))
    assert imported.returncode == 0, imported.stderr
    assert "the block at line 28, joined with the block at line 37 (a page break had split it)" in imported.stdout
    assert "uses 'super'" not in imported.stdout  # a builtin, in a method: no section defines it, none must
    lecture = (course / "lectures" / "01_pdf_lecture.md").read_text()
    assert "title: Tensors and Recurrent Layers" in lecture and "setup: setup.py" in lecture
    assert "## 1.2 A recurrent layer {#a_recurrent_layer needs=shapes}" in lecture
    joined = (course / "snippets" / "01_pdf_lecture" / "a_recurrent_layer.py").read_text()
    assert "rnn = nn.RNN(\n    input_size=32,\n    hidden_size=64,\n    num_layers=2," in joined  # dedented to fit

    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    report = (course / "build" / "claims" / "01_pdf_lecture.txt").read_text()
    assert report in build.stderr  # the first build prints it
    assert report.startswith("01_pdf_lecture: 3 of 3 code blocks print otherwise")
    assert report.count("\n-=====\n") == 3  # every separator line the document shows is wrong
    assert "\n+" + "=" * 60 + "\n" in report and "\n+" + "=" * 40 + "\n" in report
    assert "\n-Parameters: 2,111,234\n" in report and "\n+Parameters: 2,071,554\n" in report  # PyTorch's count
    assert "\n x: torch.Size([4, 10, 32])" in report  # shown as agreeing context, not as a difference
    handout = (course / "build" / "markdown" / "01_pdf_lecture.md").read_text()
    assert "h_n: torch.Size([2, 4, 64])" in handout and "Parameters: 2,071,554" in handout


def test_a_text_exported_notebook_imports_as_its_notebook_does_and_builds_except_its_broken_last_cell(tmp_path):
    """What the notebook seed proves, on an export of its shape written here."""
    course = new_course(tmp_path)
    export = seeds.write(tmp_path, "rnns.txt", seeds.NOTEBOOK_EXPORT)
    nbformat.write(seeds.notebook_from_text(export), tmp_path / "rnns.ipynb")
    assert import_(course, tmp_path / "rnns.ipynb", "--name", "from_notebook").returncode == 0
    done = import_(course, export, "--name", "rnns")
    assert done.returncode == 0, done.stderr
    assert "sequential: true" in done.stdout  # it seeds once at the top and trains later
    snippets = {p.name: p.read_text() for p in (course / "snippets" / "rnns").iterdir()}
    assert snippets == {p.name: p.read_text() for p in (course / "snippets" / "from_notebook").iterdir()}
    assert len(snippets) == 5  # the setup, the rest of the first cell (seeds, device) and three cells
    (course / "lectures" / "from_notebook.md").unlink()
    build = doit(course)
    assert build.returncode != 0
    assert "input.size(-1) must be equal to input_size. Expected 32, got 1" in build.stdout + build.stderr
    failed = [line for line in build.stderr.splitlines() if ": FAILED in" in line]
    assert len(failed) == 1 and "rnns/gradient_flow" in failed[0]  # every other section built
    results = course / "build" / "results" / "rnns"
    assert json.loads((results / "training.json").read_text())["failure"] == ""


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def test_a_notebook_with_stored_figures_and_errors(tmp_path):
    course = new_course(tmp_path)
    cells = [
        v4.new_markdown_cell("# Plots and errors\n\nA figure and an error."),
        v4.new_code_cell("import matplotlib.pyplot as plt\n%matplotlib inline"),
        v4.new_markdown_cell("## Plot"),
        v4.new_code_cell("values = [1, 4, 9]\nplt.plot(values)\nplt.show()\nprint(len(values))", outputs=[
            v4.new_output("display_data", data={"image/png": PNG}),
            v4.new_output("stream", name="stdout", text="3\n")]),
        v4.new_markdown_cell("## Mistake"),
        v4.new_code_cell("print(values[1])\nvalues[7]", outputs=[
            v4.new_output("stream", name="stdout", text="5\n"),
            v4.new_output("error", ename="IndexError", evalue="list index out of range", traceback=[])]),
    ]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "plots.ipynb")
    done = import_(course, tmp_path / "plots.ipynb", "--name", "plots")
    assert done.returncode == 0, done.stderr
    assert "section 'mistake' needs 'plot': it uses values" in done.stdout
    lecture = (course / "lectures" / "plots.md").read_text()
    assert "## Mistake {#mistake needs=plot}" in lecture and ":raises: IndexError" in lecture
    assert "%matplotlib" not in (course / "snippets" / "plots" / "setup.py").read_text()

    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    report = (course / "build" / "claims" / "plots.txt").read_text()
    assert report.startswith("plots: 1 of 2 code blocks print otherwise")  # the figure and the 3 agree
    assert "-5\n+4" in report and "section 'mistake'" in report


def section_outputs(course: Path, lecture: str) -> list[list[str]]:
    """Each section's printed lines, in lecture order, without the names of sections or snippets."""
    from lecturebuild.course.load import load_course

    loaded = load_course(course).lecture(lecture)
    results = course / "build" / "results" / lecture
    outputs = []
    for section in loaded.runnable:
        data = json.loads((results / f"{section.id}.json").read_text())
        outputs.append([o.get("text", o.get("evalue", "")) for run in data["runs"] for o in run["outputs"]
                        if o["kind"] in ("stream", "value", "error")])
    return outputs


def test_round_trip_through_a_notebook_builds_to_the_same_outputs(built_course, tmp_path):
    course = new_course(tmp_path)
    notebook = built_course / "build" / "notebooks" / "01_rnns_lstms.ipynb"
    done = import_(course, notebook, "--name", "again")
    assert done.returncode == 0, done.stderr
    assert doit(course).returncode == 0
    assert section_outputs(course, "again") == section_outputs(built_course, "01_rnns_lstms")
    report = (course / "build" / "claims" / "again.txt").read_text()
    assert report.startswith("again: 0 of ")  # the notebook's stored outputs are the real ones


def test_scripts_in_percent_and_sphinx_gallery_formats(tmp_path):
    course = new_course(tmp_path)
    percent = tmp_path / "percent.py"
    percent.write_text("# %% [markdown]\n# # Percent\n# ## Tensors\n# %%\nimport torch\n"
                       "x = torch.zeros(2, 3)\n# %%\nprint(tuple(x.shape))\n")
    gallery = tmp_path / "gallery.py"
    gallery.write_text('"""\nGallery\n=======\n\nIntro.\n"""\nimport torch\n\n' + "#" * 40
                       + "\n# Ones\n# ----\n# Some prose.\n\nprint(torch.ones(4).sum().item())\n")
    for source in (percent, gallery):
        assert import_(course, source).returncode == 0
    assert "## Tensors {#tensors}" in (course / "lectures" / "01_percent.md").read_text()
    second = (course / "lectures" / "02_gallery.md").read_text()
    assert "title: Gallery" in second and "## Ones {#ones}" in second and "order: 2" in second
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "(2, 3)" in (course / "build" / "markdown" / "01_percent.md").read_text()
    assert "4.0" in (course / "build" / "markdown" / "02_gallery.md").read_text()


@pytest.mark.parametrize("name, content, message", [
    ("notes.rst", "Notes\n=====\n", "unknown format '.rst'"),
    ("notes.txt", "# Notes\n\nProse, and no code at all.\n", "found no Python code fence"),
    ("empty.py", "", "found no code: nothing to run"),
    ("prose.ipynb", json.dumps(v4.new_notebook(cells=[v4.new_markdown_cell("# Only prose")])), "found no code cell"),
    ("broken.ipynb", '{"cells": [', "not a notebook: invalid JSON"),
    ("list.ipynb", "[1, 2]", "not a notebook: the JSON has no 'cells'"),
])
def test_bad_input_is_a_clear_error(tmp_path, name, content, message):
    course = new_course(tmp_path)
    (tmp_path / name).write_text(content)
    result = import_(course, tmp_path / name)
    assert result.returncode == 2 and message in result.stderr and name in result.stderr
    assert not list((course / "lectures").iterdir())


def test_a_notebook_cell_that_does_not_parse_is_named(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_code_cell("x = 1"), v4.new_markdown_cell("## Two"), v4.new_code_cell("def f(:\n    pass")]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "bad.ipynb")
    result = import_(course, tmp_path / "bad.ipynb")
    assert result.returncode == 2 and "bad.ipynb: cell 3, line 1 of the cell: the code does not parse" in result.stderr


def test_import_refuses_to_overwrite_unless_forced(tmp_path):
    course = new_course(tmp_path)
    source = tmp_path / "one.md"
    source.write_text("# One\n\n## A\n\n```python\nprint(1)\n```\n")
    assert import_(course, source, "--name", "one").returncode == 0
    (course / "lectures" / "one.md").write_text("edited by hand")
    refused = import_(course, source, "--name", "one")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert (course / "lectures" / "one.md").read_text() == "edited by hand"
    assert import_(course, source, "--name", "one", "--force").returncode == 0
    assert "## A {#a}" in (course / "lectures" / "one.md").read_text()


def test_code_and_pasted_output_in_one_fence_are_split():
    code, output = fences.split_code_and_output("x = 2\nprint(x)\n\n2\nInput: 3 things\n")
    assert code == "x = 2\nprint(x)\n" and output == "2\nInput: 3 things"
    assert fences.split_code_and_output("a = 1\n\nb = 2\n") == ("a = 1\n\nb = 2\n", "")


def test_a_block_cut_by_a_page_break_is_joined_and_dedented():
    first = "m = dict(\n    a=1,"
    continuation = "\n        b=2,\n    )\n    print('m is', m)\n\n    2 keys in m\n"
    code, output = fences.join_continuation(first, continuation)
    assert code == "m = dict(\n    a=1,\n    b=2,\n)\nprint('m is', m)\n" and output.strip() == "2 keys in m"


def test_names_used_from_earlier_sections_become_needs():
    sections = [plan.DraftSection("A", "a", [read.Block("code", "model = 1\ndef f(x):\n    return x\n", 1)]),
                plan.DraftSection("B", "b", [read.Block("code", "import os\ny = f(model) + len(os.sep)\n", 2)]),
                plan.DraftSection("C", "c", [read.Block("code", "print(y, unknown)\n", 3)])]
    notes = plan.infer_needs(sections, "import torch\n")
    assert [s.needs for s in sections] == [[], ["a"], ["b"]]
    assert "section 'b' needs 'a': it uses f, model" in notes
    assert "section 'c' uses 'unknown', which no earlier code defines" in notes


def test_a_write_error_leaves_nothing_half_imported(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_markdown_cell("## Sum"), v4.new_code_cell("print(1 + 1)", outputs=[
        v4.new_output("stream", name="stdout", text="2\n")])]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "sum.ipynb")
    (course / "claims").write_text("a file where the claims folder goes")
    result = import_(course, tmp_path / "sum.ipynb", "--name", "sum")
    assert result.returncode == 2 and "claims: is a file" in result.stderr and "nothing was written" in result.stderr
    assert not list((course / "lectures").iterdir()) and not (course / "snippets").exists()

    (course / "claims").unlink()
    assert import_(course, tmp_path / "sum.ipynb", "--name", "sum").returncode == 0
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    (course / "claims" / "sum.json").unlink()
    (course / "claims" / "sum.json").mkdir()  # a folder where the claims file goes
    again = import_(course, tmp_path / "sum.ipynb", "--name", "sum", "--force")
    assert again.returncode == 2 and "sum.json: is a folder" in again.stderr
    (course / "claims" / "sum.json").rmdir()
    (course / "claims" / "sum.json").write_bytes(before[course / "claims" / "sum.json"])
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before

    # Replacing the lecture keeps its place in the course.
    assert import_(course, tmp_path / "sum.ipynb", "--name", "sum", "--force").returncode == 0
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before


def test_ipython_magics_keep_the_statements_they_time(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_code_cell("import math\n%matplotlib inline\n!pip install nothing", outputs=[
                 v4.new_output("stream", name="stdout", text="Collecting nothing\nERROR: no such package\n")]),
             v4.new_markdown_cell("## Timing"),
             v4.new_code_cell("%time total = sum(range(10))\n%timeit -n 3 math.sqrt(2)\nprint(total)"),
             v4.new_code_cell("%%time\nprint(total * 2)", outputs=[v4.new_output(
                 "stream", name="stdout", text="90\nCPU times: user 3 us, sys: 0 ns, total: 3 us\nWall time: 5.2 us\n")]),
             v4.new_code_cell("%%bash\necho not python")]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "magics.ipynb")
    assert import_(course, tmp_path / "magics.ipynb", "--name", "magics").returncode == 0
    code = (course / "snippets" / "magics" / "timing.py").read_text()
    assert "total = sum(range(10))  # %time in the source" in code.splitlines()
    assert "math.sqrt(2)  # %timeit in the source" in code.splitlines()
    assert "```bash\necho not python\n```" in (course / "lectures" / "magics.md").read_text()  # shown, not run
    assert sorted(p.name for p in (course / "snippets" / "magics").iterdir()) == ["setup.py", "timing.py", "timing_2.py"]
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    from conftest import built_streams

    assert built_streams(course, "magics") == ["45\n", "90\n"]
    # The timings and the pip log are not claims: the import runs neither.
    assert (course / "build" / "claims" / "magics.txt").read_text().startswith("magics: 0 of 1 code blocks")


def test_a_script_docstring_is_prose_not_code(tmp_path):
    course = new_course(tmp_path)
    source = tmp_path / "poly.py"
    source.write_text('"""Fit a polynomial.\n\nUses ``numpy`` only.\n"""\nimport numpy as np\n\nprint(np.ones(3).sum())\n')
    assert import_(course, source, "--name", "poly").returncode == 0
    lecture = (course / "lectures" / "poly.md").read_text()
    assert "Uses `numpy` only." in lecture and lecture.count("{snippet}") == 1
    assert "Fit a polynomial" not in (course / "snippets" / "poly" / "start.py").read_text()


def test_links_before_the_title_stay_prose_and_the_summary_is_a_sentence(tmp_path):
    course = new_course(tmp_path)
    source = tmp_path / "autograd.py"
    source.write_text('"""\n`Basics <intro.html>`_ || **Autograd** || `Optimization <optim.html>`_\n\n'
                      "Autograd in ``torch``\n=====================\n\n"
                      "Training uses **back propagation**. It needs gradients.\n\n"
                      "Reasons to stop tracking:\n  - frozen layers\n  - speed\n\"\"\"\n"
                      "import torch\n\nx = torch.ones(2, requires_grad=True)\nprint(x.sum().item())\n")
    assert import_(course, source, "--name", "autograd").returncode == 0
    lecture = (course / "lectures" / "autograd.md").read_text()
    assert "title: Autograd in torch\n" in lecture
    assert "summary: Training uses back propagation.\n" in lecture
    assert "[Basics](intro.html) || **Autograd**" in lecture  # kept in the introduction
    assert "* **Reasons to stop tracking:**\n" in lecture  # one colon


def test_a_text_export_with_out_prompts_makes_claims_and_plain_ids(tmp_path):
    course = new_course(tmp_path)
    source = tmp_path / "out.txt"
    source.write_text("# Tensors\n\nIn [1]:\nimport torch\nx = torch.arange(4)\nx.sum()\n\nOut[1]:\ntensor(6)\n\n"
                      "## Données\n\nIn [2]:\ny = x + 1\ny\nOut[2]: tensor([1, 2, 3, 5])\n\nThe end.\n")
    assert import_(course, source, "--name", "out").returncode == 0
    lecture = (course / "lectures" / "out.md").read_text()
    assert "## Données {#donnees needs=start}" in lecture and lecture.rstrip().endswith("The end.")
    assert "Out[" not in (course / "snippets" / "out" / "donnees.py").read_text()
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    report = (course / "build" / "claims" / "out.txt").read_text()
    assert report.startswith("out: 1 of 2 code blocks print otherwise")  # the 5 that should be a 4
    assert "-tensor([1, 2, 3, 5])\n+tensor([1, 2, 3, 4])" in report


def test_a_file_named_claims_does_not_stop_an_import_without_claims(tmp_path):
    course = new_course(tmp_path)
    (course / "claims").write_text("notes of mine")
    source = tmp_path / "plain.py"
    source.write_text("# %%\nprint(6 * 7)\n")
    done = import_(course, source, "--name", "plain")
    assert done.returncode == 0, done.stderr
    assert (course / "claims").read_text() == "notes of mine" and (course / "lectures" / "plain.md").is_file()


def test_printed_output_pasted_under_a_text_export_cell_is_a_claim_not_code(tmp_path):
    course = new_course(tmp_path)
    source = tmp_path / "printed.txt"
    source.write_text("# Printed\n\nIn [1]:\nimport torch\nx = torch.arange(6).reshape(2, 3)\n"
                      "print(x.sum())\nprint(x.shape)\n\ntensor(15)\ntorch.Size([2, 3])\n\n## Next\n\n"
                      "In [2]:\nprint(x.max())\n")
    assert import_(course, source, "--name", "printed").returncode == 0
    assert "tensor(15)" not in (course / "snippets" / "printed" / "start.py").read_text()
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    assert (course / "build" / "claims" / "printed.txt").read_text().startswith("printed: 0 of 1 code blocks")


def test_a_notebook_without_headings_becomes_sections_and_keeps_its_comment_cells(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_markdown_cell("A notebook of cells, with no headings at all."),
             v4.new_code_cell("import torch\nx = torch.arange(6)\nprint(x.sum())"),
             v4.new_markdown_cell("Now we **reshape** it into a matrix. Then we look at it."),
             v4.new_code_cell("m = x.reshape(2, 3)\nprint(m.shape)"),
             v4.new_code_cell("# a note to myself: the rows are the samples\n# and the columns the features"),
             v4.new_markdown_cell("Finally, a sum over the rows."),
             v4.new_code_cell("print(m.sum(dim=1))")]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "cells.ipynb")
    done = import_(course, tmp_path / "cells.ipynb", "--name", "cells")
    assert done.returncode == 0, done.stderr
    assert "no headings: it became 3 sections" in done.stdout and "kept 1 code cell that holds only comments" in done.stdout
    lecture = (course / "lectures" / "cells.md").read_text()
    assert "## Getting started {#start}" in lecture
    assert "## Now we reshape it into a matrix {#now_we_reshape_it_into needs=start}" in lecture
    assert "## Finally, a sum over the rows {#finally_a_sum_over_the" in lecture
    kept = "".join(p.read_text() for p in (course / "snippets" / "cells").glob("*.py"))
    assert "# a note to myself: the rows are the samples\n# and the columns the features" in kept
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    handout = (course / "build" / "markdown" / "cells.md").read_text()
    assert "a note to myself" in handout and "torch.Size([2, 3])" in handout and "tensor([ 3, 12])" in handout


def test_the_files_a_notebook_reads_beside_it_come_along_and_are_read_as_beside_it(tmp_path):
    course = new_course(tmp_path)
    source_dir = tmp_path / "material"
    (source_dir / "res").mkdir(parents=True)
    (source_dir / "names.txt").write_text("ada grace alan\n")
    (source_dir / "res" / "table.csv").write_text("x,y\n1,2\n")
    (source_dir / "helpers.py").write_text('def first_row():\n    with open("res/table.csv") as table:\n'
                                           '        return table.readline().strip()\n')
    cells = [v4.new_code_cell('from helpers import first_row\nnames = open("names.txt").read().split()\n'
                              'print(len(names), names[0])'),
             v4.new_markdown_cell("The table's header, read by a local module relative to the working folder."),
             v4.new_code_cell("print(first_row())")]
    nbformat.write(v4.new_notebook(cells=cells), source_dir / "reads.ipynb")
    done = import_(course, source_dir / "reads.ipynb", "--name", "reads")
    assert done.returncode == 0, done.stderr
    assert "brought along 1 local module the source imports, into snippets/reads/: helpers.py" in done.stdout
    assert "brought along 2 files the source reads beside it, into data/: data/names.txt, data/res/table.csv" \
        in done.stdout
    assert (course / "data" / "names.txt").read_text() == "ada grace alan\n"
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    handout = (course / "build" / "markdown" / "reads.md").read_text()
    assert "3 ada" in handout and "x,y" in handout
    (course / "data" / "names.txt").write_text("barbara\n")
    again = doit(course)
    assert "runs (changed: data/names.txt)" in again.stderr and "1 barbara" in (
        course / "build" / "markdown" / "reads.md").read_text()
    fresh = doit(course, "reproduce")  # the notebook finds its module and files in a fresh kernel too
    assert fresh.returncode == 0 and "the notebook reproduces its outputs in a fresh kernel" in fresh.stderr, \
        fresh.stdout + fresh.stderr


def test_a_generator_of_its_own_is_no_seed_and_unseeded_draws_get_their_note(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_code_cell("import torch\ng = torch.Generator().manual_seed(0)\nprint(torch.rand(2, generator=g).shape)"),
             v4.new_markdown_cell("Numbers from the global generator, which nothing seeded."),
             v4.new_code_cell("print(torch.randn(3))", outputs=[
                 v4.new_output("stream", name="stdout", text="tensor([ 0.1000, -0.2000,  0.3000])\n")])]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "gen.ipynb")
    done = import_(course, tmp_path / "gen.ipynb", "--name", "gen")
    assert done.returncode == 0, done.stderr
    assert "sequential" not in (course / "lectures" / "gen.md").read_text()  # it does not seed its generators once
    assert doit(course).returncode == 0
    report = (course / "build" / "claims" / "gen.txt").read_text()
    assert "the source sets no seed" in report


def test_a_warning_banner_a_list_introduction_and_math_do_not_make_weak_metadata(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_markdown_cell("# Warning: this notebook needs a GPU to run fast"),  # a banner, not the title
             v4.new_markdown_cell("# Gates of the $\\sigma$ LSTM\n\nPackages that are being used in this notebook:\n\n"
                                  "- torch\n- numpy\n\nThe gates decide what the cell state $c_t$ keeps. More follows."),
             v4.new_code_cell("import torch\nprint(torch.sigmoid(torch.zeros(1)))")]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "gates.ipynb")
    assert import_(course, tmp_path / "gates.ipynb", "--name", "gates").returncode == 0
    lecture = (course / "lectures" / "gates.md").read_text()
    assert "title: Gates of the σ LSTM\n" in lecture
    assert "summary: The gates decide what the cell state c_t keeps.\n" in lecture
    assert "> **Warning: this notebook needs a GPU to run fast**" in lecture  # kept, as a quote
    assert doit(course).returncode == 0


def test_a_failing_cell_fails_its_section_and_the_claims_of_the_others_are_still_reported(tmp_path):
    course = new_course(tmp_path)
    cells = [v4.new_code_cell("import torch\nprint(torch.ones(2).sum())",
                              outputs=[v4.new_output("stream", name="stdout", text="tensor(2.)\n")]),
             v4.new_markdown_cell("Then a cell that fails."),
             v4.new_code_cell("print(undefined_name)"),
             v4.new_markdown_cell("And one after it."),
             v4.new_code_cell("print(3 * 3)", outputs=[v4.new_output("stream", name="stdout", text="10\n")])]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "fails.ipynb")
    assert import_(course, tmp_path / "fails.ipynb", "--name", "fails").returncode == 0
    build = doit(course)
    assert build.returncode != 0
    assert "FAILED fails.md: section 'then_a_cell_that_fails': NameError" in build.stderr
    report = (course / "build" / "claims" / "fails.txt").read_text()
    assert report.startswith("fails: 1 of 2 code blocks print otherwise") and "-10\n+9" in report



def test_a_title_that_starts_like_a_banner_word_is_still_the_title(tmp_path):
    course = new_course(tmp_path)
    for name, heading in (("t1", "Attention Is All You Need"), ("t2", "Important results on $x^2$ and $\\alpha_{ij}$"),
                          ("t3", "Notes on RNNs")):
        cells = [v4.new_markdown_cell(f"# {heading}\n\nWe read the data first."),
                 v4.new_code_cell("import torch"),
                 v4.new_markdown_cell("Now we sum a tensor."),
                 v4.new_code_cell("print(torch.ones(3).sum())")]
        nbformat.write(v4.new_notebook(cells=cells), tmp_path / f"{name}.ipynb")
        assert import_(course, tmp_path / f"{name}.ipynb", "--name", name).returncode == 0
    lectures = {name: (course / "lectures" / f"{name}.md").read_text() for name in ("t1", "t2", "t3")}
    assert "title: Attention Is All You Need\n" in lectures["t1"]
    assert "title: Important results on x^2 and α_ij\n" in lectures["t2"]
    assert "title: Notes on RNNs\n" in lectures["t3"]
    # the prose after the imports-only first cell titles the section of the code it introduces
    assert "## Now we sum a tensor {#now_we_sum_a_tensor}" in lectures["t1"] and "Getting started" not in lectures["t1"]
