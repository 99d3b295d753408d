"""Truth checks: drift against accepted outputs, hand-typed numbers in prose."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import cuda_here, doit

from lecturebuild.check.compare import compare_sections, lines_agree, normalise


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


def test_counts_without_separators_and_stated_values_are_claims_and_a_fact_is_not(accepted_sample):
    source = accepted_sample / "lectures" / "01_basics.md"
    lines = source.read_text().splitlines()
    at = lines.index("The model has {{ model.params | thousands }} parameters.")
    lines[at] += (" A wider one has 1455 parameters, and a patch side is 27. In 2017 the batch was 4."
                  " LeNet-5 has {fact}`61,706` parameters.")
    source.write_text("\n".join(lines) + "\n")
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert f"lectures/01_basics.md:{at + 1}: the prose states '1455', which no output" in result.stderr
    assert f"lectures/01_basics.md:{at + 1}: the prose states '27', which no output" in result.stderr
    assert "'2017'" not in result.stderr and "'4'" not in result.stderr  # a year and a single digit
    assert "61,706" not in result.stderr  # a number from outside the run, marked as such
    doit(accepted_sample)
    handout = (accepted_sample / "build" / "markdown" / "01_basics.md").read_text()
    page = (accepted_sample / "build" / "site" / "01_basics.html").read_text()
    assert "LeNet-5 has 61,706 parameters." in handout and "LeNet-5 has 61,706 parameters." in page
    assert "{fact}" not in handout + page


def test_a_hand_typed_number_on_a_slide_is_reported_with_its_line(accepted_sample):
    source = accepted_sample / "lectures" / "01_basics.md"
    lines = source.read_text().splitlines()
    at = lines.index("\\hat y = W x + b")  # inside the {slide} block of the model section
    lines.insert(at + 2, "A bigger model has 2,111,234 parameters.")
    source.write_text("\n".join(lines) + "\n")
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert f"lectures/01_basics.md:{at + 3}: the prose states '2,111,234', which no output" in result.stderr


def test_a_changed_output_is_reported_as_drift_with_a_diff(accepted_sample):
    snippet = accepted_sample / "snippets" / "01_basics" / "model.py"
    snippet.write_text(snippet.read_text().replace("nn.Linear(3, 2)", "nn.Linear(3, 2, bias=False)"))
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert "DRIFT 01_basics: section 'model' no longer prints what was accepted:" in result.stderr
    assert "-model.py stdout: parameters: 8\n+model.py stdout: parameters: 6" in result.stderr
    assert "section 'training'" in result.stderr  # it needs the model, so its numbers moved too
    assert result.stderr.count("-model.py stdout: parameters: 8") == 1  # the diff, once
    assert "DRIFT 01_basics: section 'model'" in result.stdout and "parameters: 8" not in result.stdout  # named
    assert doit(accepted_sample, "accept").returncode == 0  # accepting makes check pass again
    assert doit(accepted_sample, "check").returncode == 0


def test_float_noise_under_the_tolerance_is_not_drift(accepted_sample):
    path = accepted_sample / "snapshots" / "cpu" / "01_basics.json"
    snapshot = json.loads(path.read_text())
    stdout = snapshot["sections"]["training"][0]["outputs"][0]["stdout"]
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
    for lecture in ("01_rnns_lstms", "02_vanilla_to_lstm", "03_practice"):
        assert f"{lecture}.md agrees with its accepted outputs" in result.stderr


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


# ----------------------------------------------------------------------------------------------
# Across platforms: another CPU's kernels, a GPU


def edit_snapshot(course, lecture: str, edit) -> None:
    """Rewrite an accepted snapshot as if it had been accepted elsewhere: `edit(snapshot)` changes it."""
    path = course / "snapshots" / "cpu" / f"{lecture}.json"
    snapshot = json.loads(path.read_text())
    edit(snapshot)
    path.write_text(json.dumps(snapshot))


def from_another_cpu(snapshot) -> None:
    snapshot["platform"].update(name="Another CPU", isa="AVX2")


def scale_losses(factor: float):
    def edit(snapshot) -> None:
        stdout = snapshot["sections"]["training"][0]["outputs"][0]["stdout"]
        for i, line in enumerate(stdout):
            head, value = line.rsplit(" ", 1)
            stdout[i] = f"{head} {float(value) * factor:.4f}"
    return edit


def test_floats_from_another_platform_agree_within_its_tolerance(accepted_sample):
    edit_snapshot(accepted_sample, "01_basics", scale_losses(1.01))  # 1 %: beyond 1e-3, within 0.02
    result = doit(accepted_sample, "check")
    assert result.returncode != 0 and "section 'training'" in result.stderr  # same platform: a change

    edit_snapshot(accepted_sample, "01_basics", from_another_cpu)
    result = doit(accepted_sample, "check")
    assert result.returncode == 0, result.stderr
    assert ("01_basics: accepted on CPU Another CPU (AVX2 kernels), torch " in result.stderr
            and "Compared across platforms: text and integers exactly, floats within 0.02" in result.stderr)

    edit_snapshot(accepted_sample, "01_basics", scale_losses(1.1))  # 11 % in all: a real change anywhere
    result = doit(accepted_sample, "check")
    assert result.returncode != 0 and "DRIFT 01_basics: section 'training'" in result.stderr


def test_a_section_can_declare_its_own_tolerance_across_platforms(accepted_sample):
    edit_snapshot(accepted_sample, "01_basics", lambda s: (from_another_cpu(s), scale_losses(1.1)(s)))
    assert doit(accepted_sample, "check").returncode != 0
    source = accepted_sample / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("{#training needs=model}",
                                                 "{#training needs=model platform_tolerance=0.2}"))
    result = doit(accepted_sample, "check")
    assert result.returncode == 0, result.stderr
    assert "(sections with their own: training 0.2)" in result.stderr
    assert "runs (" not in result.stderr  # a tolerance is not an input of the run


def test_real_changes_are_caught_across_platforms(accepted_sample):
    for lecture in ("01_basics", "02_plots"):
        edit_snapshot(accepted_sample, lecture, from_another_cpu)
    model = accepted_sample / "snippets" / "01_basics" / "model.py"
    model.write_text(model.read_text().replace("nn.Linear(3, 2)", "nn.Linear(3, 2, bias=False)"))
    curve = accepted_sample / "snippets" / "02_plots" / "curve.py"
    curve.write_text(curve.read_text().replace('plt.title("A growing curve")', 'plt.title("A curve")'))
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert "-model.py stdout: parameters: 8\n+model.py stdout: parameters: 6" in result.stderr  # integers: exactly
    assert ("-curve.py figure: axes 1: title 'A growing curve', x 'step' (linear), y 'value' (linear)\n"
            "+curve.py figure: axes 1: title 'A curve', x 'step' (linear), y 'value' (linear)") in result.stderr


def test_figures_are_compared_by_what_they_show_not_by_their_bytes(accepted_sample):
    curve = accepted_sample / "snippets" / "02_plots" / "curve.py"
    figures = accepted_sample / "build" / "results" / "02_plots" / "figures"
    before = set(figures.iterdir())
    curve.write_text(curve.read_text().replace('label="square"', 'label="square", color="tab:red", linewidth=3'))
    result = doit(accepted_sample, "check")
    assert set(figures.iterdir()) != before  # another PNG...
    assert result.returncode == 0, result.stderr  # ...showing the same data, titles and labels

    def nudge_curve(snapshot) -> None:  # the data moved by 0.5 %, as another platform's floats may
        from_another_cpu(snapshot)
        figure = snapshot["sections"]["figure"][0]["outputs"][2]["figure"]
        at = next(i for i, line in enumerate(figure) if "line 1 'square' y:" in line)
        head, values = figure[at].split(": ", 1)
        figure[at] = head + ": " + " ".join(repr(float(v) * 1.005) for v in values.split())

    edit_snapshot(accepted_sample, "02_plots", nudge_curve)
    assert doit(accepted_sample, "check").returncode == 0
    curve.write_text(curve.read_text().replace("steps.float() ** 2", "steps.float() ** 2.1"))
    result = doit(accepted_sample, "check")
    assert result.returncode != 0
    assert "-curve.py figure: axes 1 line 1 'square' y: 0.0 1.005 4.02" in result.stderr


def test_a_snapshot_without_a_platform_is_compared_as_from_another_one(accepted_sample):
    path = accepted_sample / "snapshots" / "cpu" / "01_basics.json"
    path.write_text(json.dumps(json.loads(path.read_text())["sections"]))  # the format before platforms
    result = doit(accepted_sample, "check")
    assert result.returncode == 0, result.stderr
    assert "01_basics: accepted on an unrecorded platform" in result.stderr


@pytest.mark.skipif(cuda_here(), reason="this machine has CUDA")
def test_portability_without_a_gpu_says_so_and_succeeds(built_sample):
    result = doit(built_sample[0], "portability")
    assert result.returncode == 0, result.stderr
    assert "portability: no CUDA device here" in result.stderr and "runs (" not in result.stderr


@pytest.mark.gpu
def test_a_cuda_build_passes_check_against_the_cpu_snapshots_and_portability_compares_both(accepted_sample):
    result = doit(accepted_sample, "device=cuda", "check")
    assert result.returncode == 0, result.stderr
    assert "this build ran on CUDA" in result.stderr and "Compared across platforms" in result.stderr
    result = doit(accepted_sample, "device=cuda", "portability")
    assert result.returncode == 0, result.stderr
    report = (accepted_sample / "build" / "portability.txt").read_text()
    assert "NOTE 01_basics.md: section 'tensors': on cuda, it ran on CUDA but never used the GPU" in report
    assert "8 sections ran on both devices; 0 behave differently" in report


def test_accept_and_check_of_one_lecture_touch_only_that_lecture(accepted_sample):
    snapshots = accepted_sample / "snapshots" / "cpu"
    before = {p.name: p.read_bytes() for p in snapshots.glob("*.json")}
    snippet = accepted_sample / "snippets" / "01_basics" / "model.py"
    snippet.write_text(snippet.read_text().replace("nn.Linear(3, 2)", "nn.Linear(3, 2, bias=False)"))
    result = doit(accepted_sample, "accept:02_plots")
    assert result.returncode == 0, result.stderr
    assert "snapshots/cpu/02_plots.json is unchanged" in result.stderr
    assert {p.name: p.read_bytes() for p in snapshots.glob("*.json")} == before  # nothing written at all
    assert doit(accepted_sample, "check:02_plots").returncode == 0  # the other lecture still agrees
    assert doit(accepted_sample, "check:01_basics").returncode != 0
    result = doit(accepted_sample, "accept:01_basics")
    said = result.stderr
    change = said.index("snapshots/cpu/01_basics.json: section 'model' changes:")
    assert "-model.py stdout: parameters: 8\n+model.py stdout: parameters: 6" in said[change:]
    assert change < said.index("accepted snapshots/cpu/01_basics.json")  # shown before it is written
    assert (snapshots / "02_plots.json").read_bytes() == before["02_plots.json"]
    assert (snapshots / "01_basics.json").read_bytes() != before["01_basics.json"]
    assert doit(accepted_sample, "check").returncode == 0
