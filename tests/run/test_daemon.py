"""The warm worker daemon: reused across builds, replaced when stale, and safe when a build dies."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, doit, sleeping_course

from lecturebuild.errors import LectureBuildError
from lecturebuild.run import daemon

WARM = {"LECTUREBUILD_WORKER_IDLE": "60"}


def daemon_pids(course: Path) -> list[int]:
    """The daemons serving `course` (not the spare section processes they forked, which share their command line)."""
    path = str(daemon.socket_path(course / "build"))
    parents = {}
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and path.encode() in (proc / "cmdline").read_bytes():
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return [pid for pid, parent in parents.items() if parent not in parents]


@pytest.fixture
def warm_course(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=3)
    for i in range(3):
        (course / "snippets" / "slow" / f"step{i}.py").write_text(f"print({i})\n")
    yield course
    for pid in daemon_pids(course):
        os.kill(pid, signal.SIGTERM)


def test_the_daemon_outlives_a_build_and_serves_the_next(warm_course):
    assert doit(warm_course, env=WARM).returncode == 0
    (first,) = daemon_pids(warm_course)
    (warm_course / "snippets" / "slow" / "step1.py").write_text("print('edited')\n")
    again = doit(warm_course, env=WARM)
    assert again.returncode == 0
    assert re.findall(r"slow/(\w+): runs", again.stderr) == ["step1"]
    assert daemon_pids(warm_course) == [first]


def test_a_daemon_never_serves_a_build_with_other_code(warm_course, monkeypatch):
    assert doit(warm_course, env=WARM).returncode == 0
    (first,) = daemon_pids(warm_course)
    monkeypatch.setenv("LECTUREBUILD_WORKER_IDLE", "60")
    monkeypatch.setattr(daemon, "identity", lambda: "another version of lecturebuild")
    # Both the old daemon and the fresh one it is replaced by run this checkout's code, not the
    # client's: each refuses and exits, and the client says so instead of running stale code.
    with pytest.raises(LectureBuildError, match="could not reach a worker"):
        daemon.connect(warm_course / "build")
    deadline = time.monotonic() + 30
    while daemon_pids(warm_course) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon_pids(warm_course) == []


def test_killing_a_build_stops_its_sections_but_not_the_daemon(tmp_path):
    course = sleeping_course(tmp_path / "course", sections=4)
    try:
        command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"course={course}", "jobs=1"]
        build = subprocess.Popen(command, cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**os.environ, **WARM})
        results = course / "build" / "results" / "slow"
        deadline = time.monotonic() + 120
        while not list(results.glob("step*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        build.send_signal(signal.SIGKILL)
        build.wait()
        time.sleep(1.5)
        sections = []  # processes still running in a section's scratch folder
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if proc.name.isdigit() and "scratch" in os.readlink(proc / "cwd") and \
                        os.readlink(proc / "cwd").startswith(str(course)):
                    sections.append(proc.name)
        assert sections == []
        assert len(daemon_pids(course)) == 1
        finished = {p.stem for p in results.glob("step*.json")}
        again = doit(course, "jobs=1", env=WARM)
        assert set(re.findall(r"slow/(step\d): runs", again.stderr)) == {f"step{i}" for i in range(4)} - finished
    finally:
        for pid in daemon_pids(course):
            os.kill(pid, signal.SIGTERM)
