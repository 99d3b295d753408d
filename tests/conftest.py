"""Shared fixtures: the sample course under tests/sample_course, copied and built with the real doit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "sample_course"
GOLDEN = Path(__file__).resolve().parent / "golden"


# Builds in tests get a private worker that ends with them; test_daemon.py tests the warm daemon.
os.environ.setdefault("LECTUREBUILD_WORKER_IDLE", "0")
# The golden files and snapshots are CPU runs: on a GPU machine `auto` would pick CUDA. Tests of CUDA
# builds are marked `gpu` and ask for device=cuda themselves.
os.environ.setdefault("LECTUREBUILD_DEVICE", "cpu")


def cuda_here() -> bool:
    from lecturebuild.cache import cuda_present

    return cuda_present()


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU and a CUDA build of torch; skipped without")


def pytest_collection_modifyitems(config, items):
    if not cuda_here():
        skip = pytest.mark.skip(reason="no CUDA device here")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current build instead of comparing with it")


def doit(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real doit on `course` with this repository's dodo.py."""
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args, f"course={course}"]
    return subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def copy_course(destination: Path) -> Path:
    shutil.copytree(SAMPLE, destination, ignore=shutil.ignore_patterns("build"))
    return destination


@pytest.fixture
def sample_course(tmp_path) -> Path:
    """A fresh, unbuilt copy of the sample course."""
    return copy_course(tmp_path / "course")


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory):
    """The sample course built once, cold, with `doit`; (course folder, completed process)."""
    course = copy_course(tmp_path_factory.mktemp("built") / "course")
    result = doit(course)
    assert result.returncode == 0, result.stdout + result.stderr
    return course, result


@pytest.fixture(scope="session")
def built_course(tmp_path_factory):
    """The shipped course (lectures/, snippets/, course.yml, templates/) built cold in a copy."""
    course = tmp_path_factory.mktemp("shipped") / "course"
    course.mkdir()
    for name in ("lectures", "snippets", "templates", "snapshots"):
        shutil.copytree(REPO / name, course / name)
    shutil.copy(REPO / "course.yml", course / "course.yml")
    result = doit(course)
    assert result.returncode == 0, result.stdout + result.stderr
    return course


def as_if_the_worker_wrote(course: Path, lecture: str, section: str) -> None:
    """Record a result file edited by a test in the build's manifest, as the worker records what it stores
    (otherwise the build discards the edit as a forgery and runs the section again)."""
    import json

    from lecturebuild.store import Store, file_digest

    store = Store(course / "build")
    entries = json.loads(store.manifest_path.read_text())
    path = store.result_path(lecture, section)
    entries[f"{lecture}/{section}"] = {"digest": file_digest(path), "mtime": path.stat().st_mtime_ns}
    store.manifest_path.write_text(json.dumps(entries))
