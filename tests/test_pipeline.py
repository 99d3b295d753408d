"""The sample course built end to end with the real doit, compared with golden files.

Regenerate the golden files after an intended change with:

    python -m pytest tests/test_pipeline.py --update-golden

What legitimately varies between runs and machines is normalised first: times, the device and
version line, memory addresses, figure file names and embedded image data.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import GOLDEN, OUTPUTS, REPO, cuda_here, doit, normalise


@pytest.mark.parametrize("relative", OUTPUTS)
def test_build_matches_golden(built_sample, request, relative):
    course, _ = built_sample
    actual = normalise(relative, (course / "build" / relative).read_text())
    golden = GOLDEN / relative
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual)
    assert golden.exists(), f"no golden file {golden}: run pytest with --update-golden"
    assert actual == golden.read_text()


def test_cold_build_runs_every_section_and_reports_why(built_sample):
    _, result = built_sample
    assert result.stderr.count("runs (not run before)") == 8  # 2 setups + 6 sections with code
    assert re.search(r"\[\d/8\] 01_basics/training: ok in [\d.]+ s on cpu", result.stderr)  # progress, all lectures


def test_second_build_does_nothing(built_sample):
    course, _ = built_sample
    again = doit(course)
    assert again.returncode == 0
    tasks = [line for line in again.stdout.splitlines() if line.strip()]
    assert tasks and all(line.startswith("-- ") for line in tasks), again.stdout
    assert "runs (" not in again.stderr


def test_prose_edit_rerenders_without_running_code(sample_course):
    assert doit(sample_course).returncode == 0
    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("A batch of inputs:", "A batch of four inputs:"))
    result = doit(sample_course)
    assert result.returncode == 0
    assert "runs (" not in result.stderr and "[1/" not in result.stderr
    assert "A batch of four inputs:" in (sample_course / "build" / "markdown" / "01_basics.md").read_text()


def test_failing_snippet_fails_its_lecture_and_the_build_but_not_the_other_lecture(sample_course):
    (sample_course / "snippets" / "01_basics" / "model.py").write_text("model = nn.Linear(3, 2)\nmodel(torch.ones(4))\n")
    result = doit(sample_course)
    assert result.returncode != 0
    assert ("FAILED 01_basics.md: section 'model': RuntimeError at snippets/01_basics/model.py:2: "
            "mat1 and mat2 shapes cannot be multiplied") in result.stderr
    # training needs model, so it cannot run either; the other lecture is built in full
    assert "section 'training', which this one needs" not in result.stderr
    assert "section 'model', which this one needs, failed when replayed" in result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("!! ")]
    assert failed == ["!! execute:01_basics failed"]  # the tasks it held back are not listed one by one
    summary = result.stdout[result.stdout.index("lecturebuild: 1 task failed, and "):]
    assert "that need its output did not run; everything else is up to date:" in summary.splitlines()[0]
    assert "- execute:01_basics\n    FAILED 01_basics.md: section 'model': RuntimeError at " in summary
    assert "    FAILED 01_basics.md: section 'training': section 'model', which this one needs" in summary
    build = sample_course / "build"
    assert not (build / "markdown" / "01_basics.md").exists()
    assert (build / "markdown" / "02_plots.md").exists() and (build / "notebooks" / "02_plots.ipynb").exists()


def test_course_errors_stop_the_build_before_anything_runs(sample_course):
    source = sample_course / "lectures" / "02_plots.md"
    source.write_text(source.read_text().replace("{#markup ", "{#markup needs=nowhere ").replace("curve.py", "curves.py"))
    result = doit(sample_course)
    assert result.returncode != 0
    assert "lecturebuild: the course has 2 problems:" in result.stderr
    assert "  lectures/02_plots.md:13: snippet file snippets/02_plots/curves.py does not exist" in result.stderr
    assert "  lectures/02_plots.md:29: section 'markup' needs unknown section 'nowhere'" in result.stderr
    assert not (sample_course / "build" / "results").exists()


@pytest.mark.skipif(cuda_here(), reason="this machine has CUDA")
def test_device_cuda_without_a_gpu_is_a_clear_error(sample_course):
    result = doit(sample_course, "device=cuda")
    assert result.returncode != 0
    assert "device 'cuda' was asked for, but this machine has no CUDA device" in result.stderr


def test_doit_list_shows_documented_tasks(sample_course):
    result = doit(sample_course, "list")
    names = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
    assert set(names) == {"execute", "markdown", "html", "notebook", "site", "claims", "publish", "check",
                          "accept", "reproduce", "portability", "slides", "pdf"}
    assert all(doc.strip() for doc in names.values())


def test_loading_dodo_imports_neither_torch_numpy_nor_matplotlib(sample_course):
    code = ("import sys; from doit.doit_cmd import DoitMain; "
            "DoitMain().run(['-f', %r, 'list', 'course=%s']); "
            "print(sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules))"
            % (str(REPO / "dodo.py"), sample_course))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=sample_course)
    assert result.returncode == 0, result.stderr
    assert "execute" in result.stdout and result.stdout.splitlines()[-1] == "[]"


def test_dependency_file_uses_sqlite(built_sample):
    course, _ = built_sample
    assert (course / "build" / ".doit.db").read_bytes()[:15] == b"SQLite format 3"
