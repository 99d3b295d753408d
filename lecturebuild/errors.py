"""Every error a user can see, in one hierarchy. Each carries a message, never our stack frames."""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from pathlib import Path


def say(message: str) -> None:
    """A message for the instructor, on stderr as the build goes (doit's own output is on stdout). A problem
    said once is not said again by this process: one bad quote in the prose fails every format of its
    lecture, and the instructor reads it once."""
    if message.startswith("lecturebuild: "):
        if message in _said:
            return
        _said.add(message)
    print(message, file=sys.stderr, flush=True)


_said: set[str] = set()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the course, located in a file."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        path = display_path(self.file)
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.message}"


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (as editors and terminals link it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


class LectureBuildError(Exception):
    """An error whose message is meant for the instructor."""


class CourseError(LectureBuildError):
    """The course failed validation; `problems` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"the course has {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class RenderError(LectureBuildError):
    """A template or a quoted value in the prose could not be rendered."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


class DeviceError(LectureBuildError):
    """The requested device cannot be used on this machine."""


class MathError(LectureBuildError):
    """An expression latex2mathml cannot read; the renderer adds the lecture file and line."""

    def __init__(self, tex: str, reason: str):
        super().__init__(f"cannot render the math ${tex}$: {reason}")
        self.tex = tex


class PdfError(LectureBuildError):
    """A handout could not be printed; the message says why and what to do."""


class PublishError(LectureBuildError):
    """The site could not be published where it was asked to go; the message says why."""


class ImportProblem(LectureBuildError):
    """A source that `lecturebuild import` cannot read, located in it."""

    def __init__(self, source: Path, line: int, message: str):
        super().__init__(str(Problem(source, line, message)))



def os_problem(exc: OSError) -> str:
    """What went wrong with a file, said for a person: the path (relative to the course), the system's
    reason and what to do."""
    path = exc.filename
    where = display_path(Path(path)) if isinstance(path, str) else "a file"
    advice = {errno.ENOSPC: "the disk is full: free some space and run doit again",
              errno.EDQUOT: "the disk quota is used up: free some space and run doit again",
              errno.EFBIG: "the file is larger than this process may write (ulimit -f)",
              errno.EACCES: "this user may not write there: check the folder's owner and permissions",
              errno.EPERM: "this user may not write there: check the folder's owner and permissions",
              errno.EROFS: "the file system is read-only",
              errno.ENOENT: "it is missing: was part of build/ deleted while the build ran? Run doit again",
              errno.ENOTDIR: "a file stands where a folder should be: remove it and run doit again",
              errno.EEXIST: "a file stands where a folder should be: remove it and run doit again"}
    return f"{where}: {exc.strerror or exc}" + (f" ({advice[exc.errno]})" if exc.errno in advice else "")
