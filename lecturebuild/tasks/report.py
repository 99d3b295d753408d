"""How the build speaks: every failure of an action as a message (never a traceback), Ctrl-C in one line,
doit's configuration, and the summary of every failure at the end of the build."""

from __future__ import annotations

import errno
import functools
import os
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from pathlib import Path

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter

from lecturebuild.errors import LectureBuildError, os_problem, say


def reported(action):
    """Every failure of an action becomes a message: the course's own problems as they are, a file the
    build cannot write with its path and what to do, and anything else as a bug of lecturebuild, with
    its traceback kept in build/logs/internal-errors.log. The previous outputs are never damaged: every
    file is replaced by rename, and only once it is complete."""

    @functools.wraps(action)
    def run(*args, **kwargs):
        try:
            return action(*args, **kwargs)
        except LectureBuildError as exc:
            message = f"lecturebuild: {exc}"
        except OSError as exc:
            message = f"lecturebuild: {os_problem(exc)}; the previous outputs are kept"
        except Exception:  # noqa: BLE001 - our own bug: say so, keep the traceback
            message = f"lecturebuild: internal error in {action.__name__} (a bug in lecturebuild, not in your course): " \
                      f"{traceback.format_exc().strip().splitlines()[-1]}; the traceback is in {_internal_log()}"
        say(message)
        return TaskFailed(message)

    return run


def _internal_log() -> str:
    """Append the current traceback to build/logs/internal-errors.log (or a temporary file where build/
    cannot be written) and return where it went."""
    text = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{traceback.format_exc()}\n"
    for path in (Path("build") / "logs" / "internal-errors.log",
                 Path(tempfile.gettempdir()) / f"lecturebuild-internal-errors-{os.getuid()}.log"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as log:
                log.write(text)
            return str(path)
        except OSError:
            continue
    return "(nowhere: no folder could be written)"


def _survive_a_lost_dependency_file() -> None:
    """doit keeps its record of what was built in build/.doit.db; if build/ is deleted, made read-only or
    fills up while a build runs, doit would print a traceback. Say it in one line and fail the run instead:
    the results and outputs already written are intact, and the next doit rebuilds what it must."""
    from doit import runner

    original = runner.Runner.run_all
    if getattr(original, "lecturebuild", False):
        return

    def run_all(self, task_dispatcher):
        try:
            return original(self, task_dispatcher)
        except sqlite3.Error as exc:
            say(f"lecturebuild: doit could not save its record of what was built (build/.doit.db: {exc}): was build/ "
                "deleted, made read-only or filled up while the build ran? Run doit again; it rebuilds what it must")
            return runner.ERROR

    run_all.lecturebuild = True
    runner.Runner.run_all = run_all


def interrupted(signum, frame) -> None:
    """Ctrl-C: one line instead of a traceback. The results of finished sections are on disk already."""
    if os.getpid() == _MAIN_PID:
        say("\nlecturebuild: interrupted; the sections that finished are kept, and the next doit runs the rest")
    raise SystemExit(130)


_MAIN_PID = os.getpid()


def doit_config(root: Path) -> dict:
    signal.signal(signal.SIGINT, interrupted)
    _survive_a_lost_dependency_file()
    build = Path(root) / "build"
    try:
        build.mkdir(exist_ok=True)
        if not os.access(build, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(build))
    except OSError as exc:
        print(f"lecturebuild: {os_problem(exc)}; nothing was built", file=sys.stderr)
        raise SystemExit(2) from None
    return {
        "backend": "sqlite3",
        "dep_file": str(build / ".doit.db"),
        "continue": True,  # a failing lecture does not stop the others
        "verbosity": 2,
        "reporter": BuildReporter,
        "default_tasks": ["execute", "markdown", "html", "notebook", "site", "claims"],
    }


COURSE_PAGES = "site:course"


def _done_anyway(name: str) -> bool:
    """Tasks whose action runs even where a lecture's sections failed (it copes with that itself)."""
    return name.startswith(("site:", "claims:"))


class BuildReporter(ConsoleReporter):
    """doit's console output, ending with a summary of every failure of the build."""

    def _write_failure(self, result, write_exception=True):
        if result["task"].executed:  # one line for a task that failed; none for those it held back
            self.write(f"!! {result['task'].name} failed\n")  # the details were printed as they happened

    def complete_run(self):
        for result in self.failures:
            task = result["task"]
            if _done_anyway(task.name) and not task.executed:
                # doit skips the course pages, a lecture's page and its claims report when its sections failed:
                # bring the others' parts up to date anyway, give a lecture never built a page saying so (the
                # others link it), and report the claims of the sections that ran.
                action = task.actions[0]
                action.py_callable(*action.args, **action.kwargs)
        super().complete_run()
        failed = [r for r in self.failures if r["task"].executed]  # not those skipped for a failed dependency
        held = [r for r in self.failures if not r["task"].executed and r["task"].actions
                and not _done_anyway(r["task"].name)]
        if failed:
            count = len(failed)
            self.write(f"\nlecturebuild: {count} task{'s' if count != 1 else ''} failed"
                       + (f", and {len(held)} that need {'its' if count == 1 else 'their'} output did not run"
                          if held else "") + "; everything else is up to date:\n")
            shown: dict[str, str] = {}
            for result in failed:
                message = getattr(result["exception"], "message", "") or str(result["exception"])
                if message in shown:
                    self.write(f"- {result['task'].name}\n    (as {shown[message]})\n")
                    continue
                shown[message] = result["task"].name
                lines = message.splitlines()
                if result["task"].name.split(":")[0] in REPORTS:  # its report was printed whole above
                    kept = [line for line in lines if not line.startswith((" ", "-", "+", "@"))]
                    lines = kept + (["(the differences are printed above)"] if len(kept) < len(lines) else [])
                self.write(f"- {result['task'].name}\n" + "".join(f"    {line}\n" for line in lines))


# Tasks whose failure is a report (a diff for each drift): the summary names each problem, once.
REPORTS = {"check", "accept", "reproduce", "portability", "claims"}


def report(problems: list[str], success: str) -> bool | TaskFailed:
    """Print the problems (doit's summary repeats them at the end), or the success line."""
    for problem in problems:
        say(problem)
    if not problems and success:
        say(f"lecturebuild: {success}")
    return TaskFailed("\n".join(problems)) if problems else True
