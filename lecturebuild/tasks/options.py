"""What a build asks for: the course (validated before anything runs), the device, the number of sections
run at once, where they run and whether processes are reused; from doit's command line, the environment,
then course.yml."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from doit import get_var

from lecturebuild.course.load import load_course
from lecturebuild.errors import LectureBuildError, os_problem
from lecturebuild.model import Course
from lecturebuild.run.device import resolve_device
from lecturebuild.run.execute import Executor


def load_or_exit(root: Path) -> Course:
    """The validated course; on any problem, print them all and exit before anything runs."""
    try:
        return load_course(root, memo=Path(root) / "build" / ".validated.json")
    except LectureBuildError as exc:
        print(f"lecturebuild: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"lecturebuild: {os_problem(exc)}; nothing was built", file=sys.stderr)
        raise SystemExit(2) from None


def requested_device() -> str:
    """`doit device=cpu` on the command line, else $LECTUREBUILD_DEVICE, else auto."""
    return get_var("device") or os.environ.get("LECTUREBUILD_DEVICE") or "auto"


def requested_jobs(device: str) -> int:
    """Sections run at once: `doit jobs=N`, else $LECTUREBUILD_JOBS, else every core on CPU and one on a GPU."""
    value = get_var("jobs") or os.environ.get("LECTUREBUILD_JOBS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            print(f"lecturebuild: jobs={value!r}: say how many sections run at once, a whole number (jobs=4)",
                  file=sys.stderr)
            raise SystemExit(2) from None
    return 1 if device == "cuda" else (os.cpu_count() or 1)


def requested_executor(course: Course):
    """Where sections run: `doit executor=dask scheduler=ADDRESS`, else $LECTUREBUILD_EXECUTOR and
    $LECTUREBUILD_SCHEDULER, else course.yml's `executor:` and `scheduler:`, else this machine."""
    kind = get_var("executor") or os.environ.get("LECTUREBUILD_EXECUTOR") or course.executor
    if kind not in ("local", "dask"):
        print(f"lecturebuild: unknown executor {kind!r}: use executor=local or executor=dask", file=sys.stderr)
        raise SystemExit(2)
    scheduler = get_var("scheduler") or os.environ.get("LECTUREBUILD_SCHEDULER") or course.scheduler
    return Executor(kind, scheduler if kind == "dask" else "")


def requested_reuse() -> bool:
    """`doit reuse=no` (or $LECTUREBUILD_REUSE=no): every section replays what it needs in a fresh process
    instead of going on from the process that ran it; the results are the same, only slower."""
    value = (get_var("reuse") or os.environ.get("LECTUREBUILD_REUSE") or "yes").lower()
    if value not in ("yes", "no", "1", "0", "true", "false", "on", "off"):
        print(f"lecturebuild: reuse={value!r}: use reuse=yes or reuse=no", file=sys.stderr)
        raise SystemExit(2)
    return value not in ("no", "0", "false", "off")


def device_or_exit(request: str, course: Course) -> str:
    try:
        return resolve_device(request, remote=requested_executor(course).kind == "dask")
    except LectureBuildError as exc:
        print(f"lecturebuild: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_id() -> str:
    """Names this build run; `doit -n` worker processes inherit it from the process that loaded dodo.py."""
    return os.environ.setdefault("LECTUREBUILD_RUN", f"{os.getpid()}-{time.time_ns()}")


def course_formats(course: Course) -> list[str]:
    """The formats course.yml adds to a plain `doit`: `slides: true`, `pdf: true`."""
    return [fmt for fmt, wanted in (("slides", course.slides), ("pdf", course.pdf)) if wanted]
