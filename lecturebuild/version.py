"""Which lecturebuild produced a result: its version and, where it runs from a git checkout, the commit."""

from __future__ import annotations

from pathlib import Path

from . import __version__

CHECKOUT = Path(__file__).resolve().parent.parent  # the source tree, where the package is not installed


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
