"""Incremental builds: what re-runs after each kind of edit, kill -9 resume, parallel equals serial."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import OUTPUTS, REPO, copy_course, doit, normalise, sleeping_course


def ran(messages: str) -> dict[str, str]:
    return dict(re.findall(r"  \w+/(\w+): runs \((.*)\)", messages))


def test_kill_9_of_the_build_keeps_finished_sections(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=6)
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"course={course}", "jobs=1"]
    build = subprocess.Popen(command, cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = course / "build" / "results" / "slow"
    deadline = time.monotonic() + 120
    while len(list(results.glob("step*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    build.send_signal(signal.SIGKILL)
    build.wait()
    finished = {p.stem for p in results.glob("step*.json")}
    assert 2 <= len(finished) < 6
    again = doit(course, "jobs=1")
    assert again.returncode == 0, again.stderr
    rerun = set(re.findall(r"slow/(step\d): runs", again.stderr))
    assert rerun == {f"step{i}" for i in range(6)} - finished
    assert {p.stem for p in results.glob("step*.json")} == {f"step{i}" for i in range(6)}


def test_no_worker_outlives_a_killed_build(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=3)
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"course={course}", "jobs=1"]
    build = subprocess.Popen(command, cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((course / "build" / "logs" / "slow").glob("step*.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    build.send_signal(signal.SIGKILL)
    build.wait()
    time.sleep(1.0)
    alive = []  # the worker runs in build/, each section in build/scratch/...: none may be left
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and os.readlink(proc / "cwd").startswith(str(course)):
                alive.append((proc.name, (proc / "cmdline").read_bytes()))
    assert alive == []


def test_parallel_builds_produce_the_same_outputs_as_serial(tmp_path):
    serial = copy_course(tmp_path / "serial")
    parallel = copy_course(tmp_path / "parallel")
    assert doit(serial, "jobs=1").returncode == 0
    result = doit(parallel, "-n", "2", "jobs=2")
    assert result.returncode == 0, result.stderr
    for relative in OUTPUTS:
        assert normalise(relative, (parallel / "build" / relative).read_text()) == \
               normalise(relative, (serial / "build" / relative).read_text()), relative


def reading_course(root: Path) -> Path:
    """A lecture whose sections read a data file and import a helper module next to their snippets."""
    (root / "lectures").mkdir(parents=True)
    (root / "lectures" / "d.md").write_text(
        "---\ntitle: D\norder: 1\nsummary: S\n---\n## Reads {#reads}\n```{snippet} reads.py\n```\n"
        "## Uses {#uses}\n```{snippet} uses.py\n```\n")
    snippets = root / "snippets" / "d"
    snippets.mkdir(parents=True)
    (snippets / "reads.py").write_text("print('sum', sum(int(n) for n in open('data/numbers.txt').read().split()))\n")
    (snippets / "uses.py").write_text("import helpers\nprint('double', helpers.double(21))\n")
    (snippets / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "data").mkdir()
    (root / "data" / "numbers.txt").write_text("1 2 3\n")
    return root


def test_doit_reruns_what_read_a_changed_data_file_or_module_and_says_which(tmp_path):
    course = reading_course(tmp_path / "course")
    handout = course / "build" / "markdown" / "d.md"
    assert doit(course).returncode == 0 and "sum 6" in handout.read_text()
    result = doit(course)
    assert result.returncode == 0 and "runs (" not in result.stderr

    (course / "data" / "numbers.txt").write_text("10 20 30\n")
    result = doit(course)
    assert result.returncode == 0, result.stderr
    assert ran(result.stderr) == {"reads": "changed: data/numbers.txt"}
    assert "sum 60" in handout.read_text() and "sum 6\n" not in handout.read_text()

    (course / "snippets" / "d" / "helpers.py").write_text("def double(x):\n    return 3 * x\n")
    result = doit(course)
    assert ran(result.stderr) == {"uses": "changed: snippets/d/helpers.py"}
    assert "double 63" in handout.read_text()

    (course / "data" / "numbers.txt").unlink()  # a file a section read is gone: it runs, and fails
    result = doit(course)
    assert result.returncode != 0 and ran(result.stderr) == {"reads": "changed: data/numbers.txt"}
    assert "FileNotFoundError at snippets/d/reads.py:1" in result.stderr
    assert "sum 60" in handout.read_text()  # the last good handout stays
