"""lecturebuild as an instructor meets it: built into an sdist and a wheel, installed into a fresh venv outside
this repository, `lecturebuild new`, then `doit` in that course folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


def run(command: list[str], cwd: Path, venv: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """A command as a user's shell runs it: the venv's bin/ first on the PATH, nothing of this source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def tracked_files(destination: Path) -> Path:
    """This repository's files as a fresh clone has them (no build/, no .venv, nothing generated)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.split("\0"):
            if name and (REPO / name).is_file():
                (destination / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, destination / name)
    else:  # an unpacked archive rather than a checkout
        shutil.copytree(REPO, destination, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("build", ".venv", "*.egg-info", "__pycache__", ".git"))
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with lecturebuild installed from the wheel that was built from the sdist."""
    work = tmp_path_factory.mktemp("install")
    source = tracked_files(work / "source")
    built = run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], cwd=work)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [sdist] = (work / "dist").glob("lecturebuild-*.tar.gz")
    [wheel] = (work / "dist").glob("lecturebuild-*.whl")
    listing = subprocess.run(["tar", "tzf", str(sdist)], capture_output=True, text=True).stdout
    assert "/lecturebuild/templates/site/lecture.html.j2" in listing and "/lecturebuild/templates/slides/reveal/reveal.js" in listing
    venv = work / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)], cwd=work).returncode == 0
    done = run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=work, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(source)  # nothing may depend on the tree it was built from
    return venv


def test_a_new_course_builds_from_the_installed_wheel_and_its_templates_override_the_built_in_ones(installed, tmp_path):
    where = run([str(installed / "bin" / "python"), "-c", "import lecturebuild; print(lecturebuild.__file__)"],
                cwd=tmp_path, venv=installed)
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr  # not this source tree

    made = run(["lecturebuild", "new", "course"], cwd=tmp_path, venv=installed)
    assert made.returncode == 0, made.stderr
    course = tmp_path / "course"
    assert (course / "templates").is_dir() and not any((course / "templates").iterdir())
    assert "/build/" in (course / ".gitignore").read_text().splitlines()

    first = run(["doit"], cwd=course, venv=installed)
    assert first.returncode == 0, first.stdout + first.stderr
    handout = (course / "build" / "markdown" / "01_first_steps.md").read_text()
    assert "The layer has 68 parameters" in handout  # nn.Linear(16, 4): 16 * 4 weights and 4 biases, quoted
    assert "output shape: torch.Size([8, 4])" in handout
    assert list((course / "build" / "markdown" / "01_first_steps").glob("*.png"))  # the figure
    notebook = json.loads((course / "build" / "notebooks" / "01_first_steps.ipynb").read_text())
    assert notebook["metadata"]["lecturebuild"]["commit"] == ""  # an installed wheel is no checkout
    for page in ("html/01_first_steps.html", "site/index.html", "site/01_first_steps.html"):
        assert (course / "build" / page).is_file(), page

    version = run(["lecturebuild", "--version"], cwd=tmp_path, venv=installed).stdout.split()[-1]
    result = json.loads((course / "build" / "results" / "01_first_steps" / "layer.json").read_text())
    assert result["device"]["lecturebuild"] == version and result["device"]["commit"] == ""
    assert f"Built with lecturebuild {version}." in (course / "build" / "site" / "index.html").read_text()

    again = run(["doit"], cwd=course, venv=installed)
    assert again.returncode == 0, again.stdout + again.stderr
    ran = [line for line in again.stdout.splitlines() if line.startswith(".  ")]
    assert ran == [], again.stdout  # a second doit runs nothing

    # The course's own templates/markdown/lecture.md.j2 wins over the package's, by name.
    site_packages = Path(where.stdout.strip()).parent
    own = course / "templates" / "markdown" / "lecture.md.j2"
    own.parent.mkdir(parents=True)
    own.write_text("Handout of our own course.\n\n" + (site_packages / "templates" / "markdown" / "lecture.md.j2").read_text())
    third = run(["doit"], cwd=course, venv=installed)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "execute:01_first_steps" not in [line[3:] for line in third.stdout.splitlines() if line.startswith(".  ")]
    assert (course / "build" / "markdown" / "01_first_steps.md").read_text().startswith("Handout of our own course.")
    assert not (course / "build" / "html" / "01_first_steps.html").read_text().startswith("Handout")


def test_lecturebuild_build_runs_every_task_where_the_course_has_no_dodo_py(installed, tmp_path):
    assert run(["lecturebuild", "new", "course"], cwd=tmp_path, venv=installed).returncode == 0
    course = tmp_path / "course"
    (course / "dodo.py").unlink()
    listed = run(["lecturebuild", "build", "list"], cwd=course, venv=installed)
    assert listed.returncode == 0, listed.stderr
    assert {"execute", "markdown", "site", "check", "publish"} <= {line.split()[0] for line in listed.stdout.splitlines()}
    built = run(["lecturebuild", "build", "--course", str(course), "device=cpu"], cwd=tmp_path, venv=installed)
    assert built.returncode == 0, built.stdout + built.stderr
    assert (course / "build" / "site" / "01_first_steps.html").is_file()
    assert not (tmp_path / "build").exists()  # the course's build/, not the folder it was started from
    missing = run(["lecturebuild", "build"], cwd=tmp_path, venv=installed)
    assert missing.returncode == 2 and "has no lectures/ folder: not a course" in missing.stderr
