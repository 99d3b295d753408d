"""Truth checks: drift against accepted outputs, hand-typed numbers in prose."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import doit
from lecturebuild.check import compare_sections, lines_agree, normalise


@pytest.mark.parametrize("accepted, built, agree", [
    ("Parameters: 2,071,554", "Parameters: 2,071,554", True),
    ("Parameters: 2,071,554", "Parameters: 2,111,234", False),  # counts: exactly
    ("h_n: torch.Size([2, 4, 64])", "h_n: torch.Size([2, 4, 128])", False),  # shapes: exactly
    ("loss 0.693147", "loss 0.693150", True),  # float noise within the relative tolerance
    ("loss 0.6931", "loss 0.7931", False),
    ("difference 1.2e-07", "difference 1.4e-07", True),  # below the absolute floor
    ("=====", "=" * 70, False),  # the source documents' separators
])
def test_lines_compare_by_kind(accepted, built, agree):
    assert lines_agree(accepted, built, tolerance=1e-3) is agree


def test_addresses_timings_and_the_device_line_are_normalised():
    assert normalise("<Foo object at 0x7f3a2b1c9d80>") == normalise("<Foo object at 0x7f00000a1b22>")
    assert normalise("Using device: cuda:0") == normalise("Using device: cpu")
    assert normalise("epoch took 1.27 s") == normalise("epoch took 0.98 s")


def test_compare_reports_the_section_and_a_readable_diff():
    accepted = {"model": [{"snippet": "model.py", "outputs": [{"stdout": ["parameters: 8", "loss 0.5000"]}]}]}
    built = {"model": [{"snippet": "model.py", "outputs": [{"stdout": ["parameters: 9", "loss 0.5001"]}]}]}
    (drift,) = compare_sections("01_basics", accepted, built, tolerance=1e-3)
    assert drift.where == "section 'model'"
    assert "-model.py stdout: parameters: 8" in drift.diff and "+model.py stdout: parameters: 9" in drift.diff


@pytest.fixture
def accepted_sample(built_sample, tmp_path):
    """A copy of the built sample course whose current outputs have been accepted."""
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    result = doit(course, "accept")
    assert result.returncode == 0, result.stderr
    assert doit(course, "check").returncode == 0
    return course


def test_a_planted_wrong_number_in_the_prose_is_reported_with_its_line(accepted_sample):
    source = accepted_sample / "lectures" / "01_basics.md"
    lines = source.read_text().splitlines()
    at = lines.index("The model has {{ model.params | thousands }} parameters.")
    lines[at] += " A bigger one has 2,111,234, and the batch is torch.Size([4, 3]); its loss is 0.4321."
    source.write_text("\n".join(lines) + "\n")
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert f"lectures/01_basics.md:{at + 1}: the prose states '2,111,234', which no output" in result.stderr
    assert f"lectures/01_basics.md:{at + 1}: the prose states '0.4321'" in result.stderr
    assert "torch.Size([4, 3])" not in result.stderr  # the tensors section does print that shape
    assert "runs (" not in result.stderr  # a prose edit runs no code


def test_a_changed_output_is_reported_as_drift_with_a_diff(accepted_sample):
    snippet = accepted_sample / "snippets" / "01_basics" / "model.py"
    snippet.write_text(snippet.read_text().replace("nn.Linear(3, 2)", "nn.Linear(3, 2, bias=False)"))
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert "DRIFT 01_basics: section 'model' no longer prints what was accepted:" in result.stderr
    assert "-model.py stdout: parameters: 8\n+model.py stdout: parameters: 6" in result.stderr
    assert "section 'training'" in result.stderr  # it needs the model, so its numbers moved too
    assert doit(accepted_sample, "accept").returncode == 0  # accepting makes check pass again
    assert doit(accepted_sample, "check").returncode == 0


def test_float_noise_under_the_tolerance_is_not_drift(accepted_sample):
    path = accepted_sample / "snapshots" / "cpu" / "01_basics.json"
    snapshot = json.loads(path.read_text())
    stdout = snapshot["training"][0]["outputs"][0]["stdout"]
    value = float(stdout[0].split()[-1])
    stdout[0] = stdout[0].replace(f"{value:.4f}", f"{value * 1.0004:.6f}")  # 0.04 %: noise
    path.write_text(json.dumps(snapshot))
    assert doit(accepted_sample, "check").returncode == 0
    stdout[0] = stdout[0].rsplit(" ", 1)[0] + f" {value * 1.01:.6f}"  # 1 %: a real change
    path.write_text(json.dumps(snapshot))
    result = doit(accepted_sample, "check")
    assert result.returncode != 0 and "section 'training'" in result.stderr


def test_the_shipped_course_as_committed_passes_check(built_course):
    result = doit(built_course, "check")
    assert result.returncode == 0, result.stderr
    assert "all 3 lectures agree with their accepted outputs" in result.stderr


def up_to_date_copy(built_sample, tmp_path):
    """A copy of the built sample course whose notebooks doit considers current in their new place."""
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    assert doit(course, "notebook").returncode == 0
    return course


def test_built_notebooks_reproduce_in_a_fresh_kernel(built_sample, tmp_path):
    result = doit(up_to_date_copy(built_sample, tmp_path), "reproduce")
    assert result.returncode == 0, result.stderr
    assert "all 2 notebooks reproduce their outputs in a fresh kernel" in result.stderr


def test_a_notebook_whose_stored_output_lies_is_caught(built_sample, tmp_path):
    import nbformat

    course = up_to_date_copy(built_sample, tmp_path)  # so reproduce renders nothing anew
    path = course / "build" / "notebooks" / "01_basics.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "parameters:" in "".join(
        o.get("text", "") for o in c.outputs))
    cell.outputs[0].text = cell.outputs[0].text.replace("parameters: 8", "parameters: 9")
    nbformat.write(notebook, path)
    result = doit(course, "reproduce")
    assert result.returncode != 0
    assert "DRIFT 01_basics: notebook cell 'snippets/01_basics/model.py' no longer prints" in result.stderr
    assert "-stdout: parameters: 9\n+stdout: parameters: 8" in result.stderr
