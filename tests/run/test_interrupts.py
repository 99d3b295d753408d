"""Interrupting builds and running two at once: nothing finished is lost, nothing is corrupted."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, doit, sleeping_course


def start_build(course: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"course={course}", *args]
    return subprocess.Popen(command, cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def processes_in(folder: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and os.readlink(proc / "cwd").startswith(str(folder)):
                found.append(proc.name)
    return found


def test_ctrl_c_stops_everything_and_the_next_build_finishes_the_rest(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=5)
    build = start_build(course, "jobs=1")
    results = course / "build" / "results" / "slow"
    deadline = time.monotonic() + 120
    while len(list(results.glob("step*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(build.pid, signal.SIGINT)  # what the terminal sends to the whole foreground group
    build.communicate(timeout=60)
    assert build.returncode != 0
    time.sleep(0.5)
    assert processes_in(course) == []
    finished = {p.stem for p in results.glob("step*.json")}
    assert 2 <= len(finished) < 5
    again = doit(course, "jobs=1")
    assert again.returncode == 0, again.stderr
    assert set(re.findall(r"slow/(step\d): runs", again.stderr)) == {f"step{i}" for i in range(5)} - finished


def test_two_builds_at_once_share_the_work_and_both_succeed(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=3)
    first, second = start_build(course, "jobs=1"), start_build(course, "jobs=1")
    out_first, err_first = first.communicate(timeout=300)
    out_second, err_second = second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, err_first + err_second
    runs = re.findall(r"slow/(step\d): runs", err_first + err_second)
    assert sorted(runs) == ["step0", "step1", "step2"]  # each section ran once, in one of the two builds
    assert "another build is running sections in" in err_first + err_second
    handout = (course / "build" / "markdown" / "slow.md").read_text()
    assert all(f"\n{i}\n" in handout for i in range(3))


def test_a_worker_that_dies_does_not_hang_the_build(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=3)
    build = start_build(course, "jobs=1")
    deadline = time.monotonic() + 120
    worker = None
    while worker is None and time.monotonic() < deadline:
        for pid in processes_in(course / "build"):
            with contextlib.suppress(OSError):
                if b"lecturebuild.run.worker" in Path(f"/proc/{pid}/cmdline").read_bytes() and \
                        os.readlink(f"/proc/{pid}/cwd") == str(course / "build"):
                    worker = int(pid)
        time.sleep(0.05)
    while not list((course / "build" / "logs" / "slow").glob("step*.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    out, err = build.communicate(timeout=60)  # must end, not hang
    assert build.returncode != 0
    assert "the worker stopped before the section finished" in err
    time.sleep(0.5)
    assert processes_in(course) == []


def test_ctrl_c_says_so_in_one_line_instead_of_a_traceback(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=2)
    build = start_build(course, "jobs=1")
    results = course / "build" / "results" / "slow"
    deadline = time.monotonic() + 120
    while not list(results.glob("step*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(build.pid, signal.SIGINT)
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 130
    assert "lecturebuild: interrupted; the sections that finished are kept, and the next doit runs the rest" in stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
