"""Publish build/site/: into a folder, or as a commit on a branch of the course's git repository.

A branch is written with git's plumbing and a private index, so the working tree, the index and the
checked-out branch are never touched, and nothing is pushed: the instructor pushes when ready. A
build whose sections failed is not published unless forced, since its pages would be older than the
lectures they claim to show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lecturebuild.errors import PublishError
from lecturebuild.model import Course
from lecturebuild.store import Store

MARKER = ".lecturebuild-site"  # left in a published folder: only such a folder is ever replaced


def unpublishable(course: Course, store: Store) -> list[str]:
    """Why the built site does not show the course as it is: failed sections, missing pages."""
    problems = []
    site = store.build / "site"
    for lecture in course.lectures:
        bad = store.results(lecture).without_good_run
        if bad:
            problems.append(f"{lecture.source.name}: sections without a good run: {', '.join(bad)}")
        if not (site / f"{lecture.name}.html").exists():
            problems.append(f"{lecture.source.name}: no page in {site}")
    if not (site / "index.html").exists():
        problems.append(f"no {site / 'index.html'}: run doit first")
    return problems


def to_folder(site: Path, destination: Path) -> str:
    """Replace `destination` with a copy of the site. An existing folder is replaced only if it is
    empty or was published here before (it holds the marker file), so a mistyped path cannot wipe
    unrelated files."""
    destination = destination.resolve()
    site = site.resolve()
    if destination == site or site in destination.parents or destination in site.parents:
        raise PublishError(f"cannot publish {site} into {destination}: one contains the other")
    if destination.exists():
        if not destination.is_dir():
            raise PublishError(f"{destination} is a file, not a folder")
        if any(destination.iterdir()) and not (destination / MARKER).exists():
            raise PublishError(f"{destination} is not empty and was not published by lecturebuild "
                               f"(it has no {MARKER}); empty it or choose another folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        shutil.copytree(site, staging, dirs_exist_ok=True)
        (staging / MARKER).write_text("Published by lecturebuild; the next publish replaces this folder.\n")
        if destination.exists():
            old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
            destination.rename(old)
            staging.rename(destination)
            shutil.rmtree(old)
        else:
            staging.rename(destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    count = sum(1 for p in destination.rglob("*") if p.is_file())
    return f"published {count} files into {destination}"


def to_branch(site: Path, repository: Path, branch: str, message: str) -> str:
    """Commit the site as the whole tree of `branch` (created if missing, on top of it otherwise)."""
    top = _git(repository, "rev-parse", "--show-toplevel").strip()
    ref = f"refs/heads/{branch}"
    _git(top, "check-ref-format", ref)
    current = subprocess.run(["git", "-C", top, "symbolic-ref", "-q", "HEAD"], capture_output=True, text=True)
    if current.stdout.strip() == ref:
        raise PublishError(f"{branch} is the branch checked out in {top}; publishing would change files "
                           "under your working tree: check out another branch first")
    parent = subprocess.run(["git", "-C", top, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}"],
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(top, "--work-tree", str(site.resolve()), "add", "--all", "--force", ".", env=env)
        tree = _git(top, "write-tree", env=env).strip()
    if parent and _git(top, "rev-parse", f"{parent}^{{tree}}").strip() == tree:
        return f"{branch} already holds this site ({parent[:12]}); nothing committed"
    commit = _git(top, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message).strip()
    _git(top, "update-ref", ref, commit, parent or "0" * 40)
    return (f"committed the site as {commit[:12]} on {branch} in {top} (not pushed: "
            f"git push <remote> {branch} publishes it)")


def _git(cwd: Path | str, *args: str, env: dict | None = None) -> str:
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise PublishError("publishing to a branch needs git, which is not installed") from None
    if done.returncode != 0:
        command = " ".join(a for a in args if not a.startswith("/"))
        raise PublishError(f"git {command} failed in {cwd}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout
