"""Shared fixtures: the sample course under tests/sample_course, copied and built with the real doit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lecturebuild import TEMPLATES_DIR

REPO = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "sample_course"
GOLDEN = Path(__file__).resolve().parent / "golden"


# Builds in tests get a private worker that ends with them; test_daemon.py tests the warm daemon.
os.environ.setdefault("LECTUREBUILD_WORKER_IDLE", "0")
# The golden files and snapshots are CPU runs: on a GPU machine `auto` would pick CUDA. Tests of CUDA
# builds are marked `gpu` and ask for device=cuda themselves.
os.environ.setdefault("LECTUREBUILD_DEVICE", "cpu")


def cuda_here() -> bool:
    from lecturebuild.run.device import cuda_present

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


def sleeping_course(root: Path, sections: int) -> Path:
    body = "".join(f"## Step {i} {{#step{i}}}\n```{{snippet}} step{i}.py\n```\n" for i in range(sections))
    (root / "lectures").mkdir(parents=True)
    (root / "lectures" / "slow.md").write_text("---\ntitle: Slow\norder: 1\nsummary: S\n---\n" + body)
    (root / "snippets" / "slow").mkdir(parents=True)
    for i in range(sections):
        (root / "snippets" / "slow" / f"step{i}.py").write_text(f"import time\ntime.sleep(1.0)\nprint({i})\n")
    return root


OUTPUTS = ["markdown/01_basics.md", "markdown/02_plots.md", "html/01_basics.html", "html/02_plots.html",
           "notebooks/01_basics.ipynb", "notebooks/02_plots.ipynb", "site/02_plots.html", "site/index.html",
           "slides/01_basics.html", "slides/02_plots.html"]


PARENS = r"\((?:[^()]|\([^()]*\))*\)"  # "(...)", with parentheses inside: "(Intel(R) Xeon(R) Processor, ...)"


NORMALISE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?(\+00:00| UTC)"), "<time>"),
    (re.compile(r"real run on (\w+) " + PARENS), r"real run on \1 (<device>)"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0x<address>"),
    (re.compile(r"[0-9a-f]{20}\.png"), "<figure>.png"),
    (re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+"), "data:image/png;base64,<png>"),
    (re.compile(r"ran in [\d.]+ m?s"), "ran in <seconds>"),
    (re.compile(r"on CPU " + PARENS), "on CPU (<device>)"),
    (re.compile(r"(of its code: CPU), [^;]*;"), r"\1, <device>;"),
    (re.compile(r"lecturebuild \d+(\.\d+)+( \(commit [0-9a-f]+\))?"), "lecturebuild <version>"),
    (re.compile(r"\d+ ms of compute|[\d.]+ s of compute"), "<seconds> of compute"),
    (re.compile(r"took [\d.]+ m?s"), "took <seconds>"),
    (re.compile(r"on\n<strong>CPU</strong> " + PARENS + r" with\n<strong>torch [^<]*</strong>,\nPython \d+(?:\.\d+)*"),
     "on <device>"),
]


def normalise(relative: str, text: str) -> str:
    if relative.endswith(".ipynb"):
        notebook = json.loads(text)
        notebook["metadata"]["lecturebuild"].update(device_name="<device>", torch="<torch>", python="<python>",
                                                    version="<version>", commit="<commit>")
        notebook["metadata"]["language_info"]["version"] = "<python>"
        for cell in notebook["cells"]:
            cell.get("metadata", {}).get("lecturebuild", {}).pop("seconds", None)
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    output["data"]["image/png"] = "<png>"
        text = json.dumps(notebook, indent=1, sort_keys=True) + "\n"
    for name in ("reveal/reveal.css", "reveal/reveal.js", "reveal/notes.js", "deck.css"):  # what a deck inlines
        text = text.replace((TEMPLATES_DIR / "slides" / name).read_text(), f"<{name}>")
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def import_(course: Path, source: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lecturebuild", "import", str(source), "--course", str(course), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def new_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "lectures").mkdir(parents=True)
    return course


def built_streams(course: Path, lecture: str) -> list[str]:
    """What each snippet printed in the build, in lecture order."""
    from lecturebuild.course.load import load_course

    loaded = load_course(course).lecture(lecture)
    printed = []
    for section in loaded.runnable:
        data = json.loads((course / "build" / "results" / lecture / f"{section.id}.json").read_text())
        printed += ["".join(o["text"] for o in run["outputs"] if o["kind"] == "stream") for run in data["runs"]]
    return printed
