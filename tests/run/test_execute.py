"""Running sections in real worker processes: failures of every kind are reported and contained."""

from __future__ import annotations

from pathlib import Path

import pytest

from lecturebuild.course.load import load_course
from lecturebuild.run.execute import execute_lecture
from lecturebuild.store import Store

FRONT = "---\ntitle: Faults\norder: 1\nsummary: Everything that can go wrong.\nsetup: setup.py\n---\n"
SECTIONS = {
    "ok": "x = torch.ones(2, 3)\nprint(x.shape)\n",
    "raises": "y = 1\n\nraise ValueError('bad value')\n",
    "needs_raises": "print(y)\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "exits": "import os\nos._exit(3)\n",
    "sys_exit": "import sys\nsys.exit(4)\n",
    "hangs": "import time\nwhile True:\n    time.sleep(0.1)\n",
    "after": "print('still runs')\n",
}


def make_fault_course(root: Path) -> Path:
    body = ""
    for sid, code in SECTIONS.items():
        needs = " needs=raises" if sid == "needs_raises" else ""
        body += f"## {sid} {{#{sid}{needs}}}\n```{{snippet}} {sid}.py\n```\n"
        path = root / "snippets" / "faults" / f"{sid}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    (root / "snippets" / "faults" / "setup.py").write_text("import torch\n")
    (root / "lectures").mkdir()
    (root / "lectures" / "faults.md").write_text(FRONT + body)
    return root


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    root = make_fault_course(tmp_path_factory.mktemp("faults"))
    lecture = load_course(root).lectures[0]
    import contextlib
    import io

    messages = io.StringIO()
    with contextlib.redirect_stderr(messages):
        failures = execute_lecture(lecture, root / "build", "cpu", jobs=2, time_limit=3)
    return lecture, root, failures, messages.getvalue()


def test_the_build_fails_but_every_other_section_ran(fault_run):
    lecture, root, failures, _ = fault_run
    assert len(failures) == 6  # every failing section is reported, none twice
    results = Store(root / "build").results(lecture)
    assert {sid for sid, r in results.items() if r.ok} == {"_setup", "ok", "after"}
    assert results["after"].runs[0].outputs[0].text == "still runs\n"


def failure_line(messages: str, sid: str) -> str:
    return next(line for line in messages.splitlines() if f"section {sid!r}" in line)


def test_exception_names_lecture_section_file_and_line(fault_run):
    line = failure_line(fault_run[3], "raises")
    assert line == "FAILED faults.md: section 'raises': ValueError at snippets/faults/raises.py:3: bad value"


def test_a_section_needing_a_failed_one_says_so(fault_run):
    line = failure_line(fault_run[3], "needs_raises")
    assert "section 'raises', which this one needs, failed when replayed, at snippets/faults/raises.py:3" in line


def test_segmentation_fault_names_the_signal_and_the_snippet_line(fault_run):
    line = failure_line(fault_run[3], "segfault")
    assert "killed by SIGSEGV" in line and "at snippets/faults/segfault.py:2" in line


def test_os_exit_is_reported_with_its_status(fault_run):
    assert "exited with status 3 before the section finished" in failure_line(fault_run[3], "exits")


def test_sys_exit_is_an_exception_of_the_snippet(fault_run):
    assert "SystemExit at snippets/faults/sys_exit.py:2: 4" in failure_line(fault_run[3], "sys_exit")


def test_a_hang_is_stopped_at_the_time_limit(fault_run):
    line = failure_line(fault_run[3], "hangs")
    assert "ran past the time limit of 3 s and was stopped" in line


def test_second_run_retries_only_failed_sections(fault_run, capsys):
    lecture, root, _, _ = fault_run
    before = Store(root / "build").results(lecture)
    execute_lecture(lecture, root / "build", "cpu", jobs=2, time_limit=3)
    after = Store(root / "build").results(lecture)
    rerun = {sid for sid in before if before[sid].finished != after[sid].finished or before[sid] != after[sid]}
    assert rerun <= {"raises", "needs_raises", "segfault", "exits", "sys_exit", "hangs"}
    assert after["ok"] == before["ok"] and after["after"] == before["after"]
    assert "runs (its last run failed)" in capsys.readouterr().err


def test_sections_run_in_their_own_scratch_folder(tmp_path):
    root = tmp_path
    (root / "lectures").mkdir()
    (root / "lectures" / "w.md").write_text("---\ntitle: W\norder: 1\nsummary: S\n---\n## W {#w}\n```{snippet} w.py\n```\n")
    (root / "snippets" / "w").mkdir(parents=True)
    (root / "snippets" / "w" / "w.py").write_text("open('out.txt', 'w').write('x')\nimport os\nprint(os.getcwd())\n")
    assert execute_lecture(load_course(root).lectures[0], root / "build", "cpu") == []
    assert not (root / "out.txt").exists() and not (root / "snippets" / "w" / "out.txt").exists()
    assert (root / "build" / "scratch" / "w" / "w" / "out.txt").read_text() == "x"


def test_each_result_records_its_own_peak_memory_and_wall_time(fault_run):
    lecture, root, _, _ = fault_run
    result = Store(root / "build").results(lecture)["ok"]
    assert 20 < result.memory["rss"] < 4000  # megabytes: a forked child with torch imported
    assert result.wall >= result.seconds > 0


def test_running_out_of_gpu_memory_is_explained(sample_course):
    """The error a section raises when the GPU lacks memory (torch.OutOfMemoryError, which cannot be
    produced without a GPU) is reported with its line and what to do about it; other errors are not."""
    from lecturebuild.model import Device, Error, SectionResult, SnippetRun
    from lecturebuild.run.execute import failure_messages

    lecture = load_course(sample_course).lectures[0]

    def result(ename: str) -> SectionResult:
        error = Error(ename=ename, evalue="CUDA out of memory. Tried to allocate 80.00 GiB", traceback="...",
                      file="snippets/01_basics/model.py", line=3, expected=False)
        return SectionResult(lecture=lecture.name, section="model", key="k", inputs={},
                             runs=(SnippetRun("model.py", (error,), 0.1),), values={},
                             device=Device("cuda", "NVIDIA H100", "2.11", "3.11", "13.0"), seconds=0.1, finished="")

    [oom] = failure_messages(lecture, {"model": result("OutOfMemoryError")}, {"model": "k"})
    assert "OutOfMemoryError at snippets/01_basics/model.py:3: CUDA out of memory" in oom
    assert "needs more GPU memory than was free" in oom
    [other] = failure_messages(lecture, {"model": result("RuntimeError")}, {"model": "k"})
    assert "GPU memory" not in other
