"""The execute tasks: one per lecture, so that one lecture's failure does not hold back the rendering of the
others; the first that runs sends every lecture's stale sections to the worker as one batch."""

from __future__ import annotations

import contextlib
import fcntl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from lecturebuild.errors import say
from lecturebuild.model import Course, Lecture
from lecturebuild.render.formats import render_ahead
from lecturebuild.run.execute import Executor, execute, lecture_failures
from lecturebuild.run.plan import RunEnvironment
from lecturebuild.store import Store, reads_unchanged, results_untouched, write_atomic
from lecturebuild.tasks.options import requested_executor, requested_reuse, run_id
from lecturebuild.tasks.report import reported


def execute_tasks(course: Course, device: str, jobs: int = 1):
    """A task per lecture, so one lecture's failure does not hold back the rendering of the others."""
    store = Store(course.root / "build")
    env = RunEnvironment.detect(device)
    for lecture in course.lectures:
        yield {
            "name": lecture.name,
            "doc": f"run the stale sections of {lecture.name}",
            "actions": [(run_action, [lecture, course, str(store.build), device, jobs, run_id(), requested_reuse(),
                                      requested_executor(course)])],
            "file_dep": [str(lecture.source)] + _snippet_files(lecture),
            "targets": store.result_files(lecture),
            "uptodate": [config_changed({"device": env.device, "torch": env.torch, "executor": env.executor}),
                         (reads_unchanged, [str(store.reads_path(lecture.name)), str(course.root)], {}),
                         (results_untouched, [str(store.manifest_path), lecture.name, store.result_files(lecture)], {})],
            "clean": True,
        }


@reported
def run_action(lecture: Lecture, course: Course, build: str, device: str, jobs: int, run: str,
               reuse: bool = True, executor: Executor = Executor()) -> bool | TaskFailed:
    """The first execute action of a build (`run` names the build) runs the stale sections of every lecture
    in one batch, scheduled together across lectures, and renders each lecture as soon as its sections are
    done, in a thread beside the sections still running; each lecture's action then reports that lecture's
    failures."""
    store = Store(Path(build))
    marker = store.build / ".executed-by"
    with execution_lock(store.build):
        if not marker.exists() or marker.read_text() != run:
            with ThreadPoolExecutor(max_workers=1) as renderer:
                ahead = [(done.lecture, renderer.submit(render_ahead, course, done, store))
                         for done in execute(course.lectures, store.build, device, jobs, root=course.root, reuse=reuse,
                                             executor=executor)]
            write_atomic(marker, run)
            for name, rendering in ahead:
                if rendering.exception() is not None:  # said once: its render tasks fail with the same message
                    say(f"lecturebuild: {rendering.exception()}")
    messages = lecture_failures(lecture, store, RunEnvironment.detect(device))
    for message in messages:
        say(message)
    return TaskFailed("\n".join(messages)) if messages else True


@contextlib.contextmanager
def execution_lock(build: Path):
    """One process executes sections for a build folder at a time (`doit -n`, or two builds at once)."""
    build.mkdir(parents=True, exist_ok=True)
    with open(build / ".execute.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"lecturebuild: another build is running sections in {build}; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _snippet_files(lecture: Lecture) -> list[str]:
    snippets = [s for section in lecture.sections for s in section.snippets]
    if lecture.setup:
        snippets.append(lecture.setup)
    return [str(s.path) for s in snippets]
