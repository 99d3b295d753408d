"""Claims of imported sources against the real run: whole outputs past the output limit, values shown as
IPython shows them, short printed reports, and the note on random state."""

from __future__ import annotations

import builtins
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, doit
from nbformat import v4

from lecturebuild.check.claims import CLAIMS_PRINTED, RANDOM_STATE_NOTE, UNSEEDED_NOTE, random_state_note
from lecturebuild.check.compare import tolerant_diff
from lecturebuild.course.load import load_course
from lecturebuild.model import Figure, Snippet, Stream, Value
from lecturebuild.run import capture

LOG_LINES = 3000
DRAWS = 400


def log(scale: float) -> str:
    return "".join(f"step {i:05d} loss {scale / (i + 1):.6f}\n" for i in range(LOG_LINES))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A notebook imported and built: a grad_fn shown by IPython, a log far past the output limit that
    the run prints alike, and random draws the run prints otherwise. (course, doit's output, report)"""
    tmp = tmp_path_factory.mktemp("claims")
    cells = [
        v4.new_markdown_cell("# Claims\n\nWhat the notebook showed."),
        v4.new_markdown_cell("## Difference"),
        v4.new_code_cell("import torch\na = torch.ones(2, requires_grad=True)\nb = a - 1\nb.grad_fn", outputs=[
            v4.new_output("execute_result", data={"text/plain": "<SubBackward0 at 0x7f00deadbeef>"},
                          execution_count=1)]),
        v4.new_markdown_cell("## Training log"),
        v4.new_code_cell(f"for i in range({LOG_LINES}):\n    print(f'step {{i:05d}} loss {{1 / (i + 1):.6f}}')",
                         outputs=[v4.new_output("stream", name="stdout", text=log(1.0))]),
        v4.new_markdown_cell("## Draws"),
        v4.new_code_cell(f"for i in range({DRAWS}):\n    print(f'draw {{i}}: {{torch.randn(1).item():.4f}}')",
                         outputs=[v4.new_output("stream", name="stdout",
                                                text="".join(f"draw {i}: 0.{i:04d}\n" for i in range(DRAWS)))]),
    ]
    nbformat.write(v4.new_notebook(cells=cells), tmp / "claims.ipynb")
    course = tmp / "course"
    (course / "lectures").mkdir(parents=True)
    imported = subprocess.run([sys.executable, "-m", "lecturebuild", "import", str(tmp / "claims.ipynb"),
                               "--course", str(course)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    lecture = course / "lectures" / "01_claims.md"
    # The log (75 kB) is far past a lecture's output limit of 2,000 bytes.
    lecture.write_text(lecture.read_text().replace("\norder: 1\n", "\norder: 1\noutput_limit: 2000\n", 1))
    build = doit(course)
    assert build.returncode == 0, build.stdout + build.stderr
    return course, build.stdout + build.stderr, (course / "build" / "claims" / "01_claims.txt").read_text()


def test_values_are_shown_as_ipython_shows_them_and_addresses_agree(imported):
    course, out, report = imported
    handout = (course / "build" / "markdown" / "01_claims.md").read_text()
    assert re.search(r"<SubBackward0 at 0x[0-9a-f]+>", handout) and "SubBackward0 object" not in handout
    assert "difference.py" not in report  # the notebook's own address agrees with the run's


def test_claims_are_compared_with_the_whole_output_past_the_limit(imported):
    course, out, report = imported
    handout = (course / "build" / "markdown" / "01_claims.md").read_text()
    assert "output cut here, past 2,000 bytes" in handout  # the rendered log is cut...
    assert "step 02999" not in handout
    assert "1 of 3 code blocks print otherwise" in report  # ...and yet the log agrees with the notebook
    assert "training_log.py" not in report and "output cut here" not in report


def test_the_printed_report_is_short_and_says_where_the_rest_is(imported):
    course, out, report = imported
    printed = out[out.index("01_claims: 1 of 3 code blocks"):].splitlines()
    assert len(printed) <= 2 + 2 + CLAIMS_PRINTED[0] + 2  # heading, block heading and note, diff, notes
    target = course / "build" / "claims" / "01_claims.txt"
    shown = sum(1 for line in printed if line.startswith(("-draw", "+draw")))
    assert f"[... {2 * DRAWS - shown:,} more lines of this diff left out here, see {target}]" in printed
    assert report.count("\n-draw ") == DRAWS and report.count("\n+draw ") == DRAWS  # the file has it all
    assert "-draw 0: 0.0000\n+draw 0: " in report  # each line beside the one it differs from


def test_a_section_that_draws_random_numbers_gets_the_note(imported):
    course, out, report = imported
    block = report[report.index("section 'draws'"):]
    assert block.splitlines()[1] == UNSEEDED_NOTE  # the notebook never seeds: no run repeats its numbers
    assert UNSEEDED_NOTE in out


def write_lecture(root: Path, front: str, sections: dict[str, tuple[str, str]], setup: str = "") -> None:
    """sections: id -> (needs, code)."""
    snippets = root / "snippets" / "lec"
    snippets.mkdir(parents=True)
    body = ""
    for sid, (needs, code) in sections.items():
        body += f"## {sid} {{#{sid}{' needs=' + needs if needs else ''}}}\n```{{snippet}} {sid}.py\n```\n\n"
        (snippets / f"{sid}.py").write_text(code)
    if setup:
        (snippets / "setup.py").write_text(setup)
        front += "setup: setup.py\n"
    (root / "lectures").mkdir()
    (root / "lectures" / "lec.md").write_text(f"---\ntitle: L\norder: 1\nsummary: S\n{front}---\n{body}")


NUMBERS_DIFFER = "--- a\n+++ b\n@@ -1 +1 @@\n-loss 0.51\n+loss 0.49"


def test_the_random_state_note_names_sections_whose_code_or_needs_draw(tmp_path):
    write_lecture(tmp_path, "", {
        "model": ("", "import torch\nimport torch.nn as nn\ntorch.manual_seed(3)\nmodel = nn.Linear(3, 2)\n"),
        "uses": ("model", "print(model.weight.sum())\n"),
        "plain": ("", "print(sum(range(10)) / 7)\n"),
    })
    (lecture,) = load_course(tmp_path).lectures
    assert random_state_note(lecture, "model", NUMBERS_DIFFER) == RANDOM_STATE_NOTE
    assert random_state_note(lecture, "uses", NUMBERS_DIFFER) == RANDOM_STATE_NOTE  # its weights come from 'model'
    assert random_state_note(lecture, "plain", NUMBERS_DIFFER) == ""
    assert random_state_note(lecture, "model", "--- a\n+++ b\n@@ -1 +1 @@\n-done\n+finished") == ""  # no numbers
    write_lecture(tmp_path / "unseeded", "", {"model": ("", "import torch.nn as nn\nmodel = nn.Linear(3, 2)\n")})
    (lecture,) = load_course(tmp_path / "unseeded").lectures
    assert random_state_note(lecture, "model", NUMBERS_DIFFER) == UNSEEDED_NOTE


def test_the_random_state_note_counts_the_setup_and_not_sequential_lectures(tmp_path):
    write_lecture(tmp_path / "seeded", "", {"plain": ("", "print(noise.mean())\n")},
                  setup="import numpy as np\nnp.random.seed(0)\nnoise = np.random.rand(5)\n")
    (lecture,) = load_course(tmp_path / "seeded").lectures
    assert random_state_note(lecture, "plain", NUMBERS_DIFFER) == RANDOM_STATE_NOTE
    write_lecture(tmp_path / "in_order", "sequential: true\n",
                  {"draw": ("", "import torch\ntorch.manual_seed(1)\nprint(torch.rand(2))\n")})
    (lecture,) = load_course(tmp_path / "in_order").lectures
    assert random_state_note(lecture, "draw", NUMBERS_DIFFER) == ""  # the build keeps the source's stream
    write_lecture(tmp_path / "unseeded_stream", "sequential: true\n", {"draw": ("", "import torch\nprint(torch.rand(2))\n")})
    (lecture,) = load_course(tmp_path / "unseeded_stream").lectures
    assert random_state_note(lecture, "draw", NUMBERS_DIFFER) == UNSEEDED_NOTE  # a stream no run can repeat


def run_snippet(code: str, budget=None, figures: Path | None = None):
    snippet = Snippet(name="s.py", file="snippets/lec/s.py", path=Path("/nowhere/s.py"), code=code, line=1)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    return capture.run_snippet(snippet, namespace, capture.FigureSink(figures), budget)


def test_a_cut_run_is_put_back_whole_in_order_with_its_figures(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401 - plt.show() then emits the figure where it is called, as in a build

    capture.install_show()
    code = ("import sys\nimport matplotlib.pyplot as plt\n"
            "for i in range(300):\n    print(f'out {i}')\n    print(f'err {i}', file=sys.stderr)\n"
            "plt.plot([1, 2])\nplt.show()\nprint('after the figure')\nlist(range(50))\n")
    whole = run_snippet(code, figures=tmp_path / "a")
    budget = capture.OutputBudget(500, tmp_path / "s.output.txt")
    cut = run_snippet(code, budget, tmp_path / "b")
    budget.close()
    assert len(cut.outputs) < len(whole.outputs) and any(capture.CUT_NOTE in o.text for o in cut.outputs[:-1])
    (uncut,) = capture.uncut_runs((cut,), tmp_path / "s.output.txt")
    assert uncut.outputs == whole.outputs
    assert isinstance(whole.outputs[-3], Figure) and whole.outputs[-2] == Stream("stdout", "after the figure\n")
    assert whole.outputs[-1] == Value("[0,\n 1,\n 2,\n" + "".join(f" {i},\n" for i in range(3, 49)) + " 49]")


def test_past_the_limit_streams_taking_turns_are_tracked_only_so_far(tmp_path):
    code = f"import sys\nfor i in range({capture.MAX_OUTPUTS}):\n    print(i)\n    print(i, file=sys.stderr)\n"
    budget = capture.OutputBudget(100, tmp_path / "s.output.txt")
    cut = run_snippet(code, budget)
    budget.close()
    assert (tmp_path / "s.output.txt").read_text().count("\n") == 2 * capture.MAX_OUTPUTS  # all of it is kept
    assert not budget.whole and not capture.layout_path(tmp_path / "s.output.txt").exists()
    assert capture.uncut_runs((cut,), tmp_path / "s.output.txt") is None  # compared as cut, not wrongly


def test_a_diff_of_a_long_log_whose_numbers_all_differ_is_quick_and_pairs_the_lines():
    old = log(1.0).splitlines()
    new = log(1.5).splitlines()
    started = time.perf_counter()
    diff = tolerant_diff(old, new, ("source", "run"), 1e-3).splitlines()
    assert time.perf_counter() - started < 20  # aligning by agreement itself took about 2 minutes
    assert diff[:6] == ["--- source", "+++ run", f"@@ -1,{LOG_LINES} +1,{LOG_LINES} @@",
                        "-step 00000 loss 1.000000", "+step 00000 loss 1.500000", "-step 00001 loss 0.500000"]
    inserted = tolerant_diff(old, old[:10] + ["extra"] + old[10:], ("source", "run"), 1e-3)
    assert inserted.splitlines() == ["--- source", "+++ run", "@@ -10,2 +10,3 @@", " step 00009 loss 0.100000",
                                     "+extra", " step 00010 loss 0.090909"]


def test_the_value_of_a_final_expression_is_shown_as_a_notebook_shows_it():
    grad = run_snippet("import torch\na = torch.ones(2, requires_grad=True)\n(a - 1).grad_fn").outputs
    assert len(grad) == 1 and re.fullmatch(r"<SubBackward0 at 0x[0-9a-f]+>", grad[0].text)
    assert run_snippet("{3, 1, 2}").outputs == (Value("{1, 2, 3}"),)
    assert run_snippet("print('x')\n'text'").outputs == (Stream("stdout", "x\n"), Value("'text'"))
