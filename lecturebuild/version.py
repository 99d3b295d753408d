"""Which lecturebuild this is: its version, the commit where it runs from a git checkout, and digests of its
code, which the caches take as inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lecturebuild import __version__

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent  # the source tree, where the package is not installed


def commit() -> str:
    """HEAD's commit where the package is imported from its own git checkout (a clone, an editable install),
    read from .git without starting git; "" for an installed wheel. Read anew on each call: a warm worker
    outlives commits."""
    git = CHECKOUT / ".git"
    if not (CHECKOUT / "pyproject.toml").is_file():
        return ""
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            git = (CHECKOUT / git.read_text(encoding="utf-8").split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head  # a detached HEAD
        ref = head[4:].strip()
        common = git / "commondir"
        folders = [git] + ([(git / common.read_text(encoding="utf-8").strip()).resolve()] if common.is_file() else [])
        for folder in folders:
            if (folder / ref).is_file():
                return (folder / ref).read_text(encoding="utf-8").strip()
        for folder in folders:
            if (folder / "packed-refs").is_file():
                for line in (folder / "packed-refs").read_text(encoding="utf-8").splitlines():
                    if line.endswith(f" {ref}"):
                        return line.split()[0]
    except (OSError, IndexError):
        pass
    return ""


def version() -> str:
    return __version__


# What runs a section and records its result: a change here re-runs every section.
RUN_CODE = ("run", "model.py", "prelude.py")
# What turns results into pages: a change here re-renders every lecture and runs nothing.
RENDER_CODE = ("render", "model.py", "prelude.py")


def code_files(*parts: str) -> list[Path]:
    """The package's Python files under `parts` (subpackages or modules of lecturebuild; none: all of them),
    found on disk, so that a module added or moved is covered without a list to keep up to date."""
    found: set[Path] = set()
    for part in parts or (".",):
        path = PACKAGE / part
        found.update(path.rglob("*.py") if path.is_dir() else [path])
    return sorted(found)


def code_digest(*parts: str) -> str:
    """One digest of the code under `parts`, by path and content."""
    h = hashlib.sha256()
    for path in code_files(*parts):
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]
