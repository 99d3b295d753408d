"""`doit publish`: the built site to a folder, or as a commit on a branch of the course's repository."""

from __future__ import annotations

from pathlib import Path

from doit import get_var
from doit.exceptions import TaskFailed

from lecturebuild.errors import say
from lecturebuild.model import Course
from lecturebuild.store import Store
from lecturebuild.tasks.options import course_formats
from lecturebuild.tasks.report import report, reported


def publish_task(course: Course, build: Path) -> dict:
    """`doit publish to=FOLDER` or `doit publish branch=NAME`; `force=1` publishes a build with failed
    sections as it stands (without building it first)."""
    force = (get_var("force") or "") not in ("", "0", "no", "false")
    return {"actions": [(publish_action, [course, str(build), get_var("to") or "", get_var("branch") or "", force])],
            "task_dep": [] if force else ["site", *course_formats(course)], "verbosity": 2,
            "uptodate": [False]}


@reported
def publish_action(course: Course, build: str, to: str, branch: str, force: bool) -> bool | TaskFailed:
    from lecturebuild import publish
    from lecturebuild.render.site import newest
    from lecturebuild.render.text import when

    store = Store(Path(build))
    if bool(to) == bool(branch):
        return report(["lecturebuild: say where to publish: doit publish to=FOLDER, or doit publish branch=NAME "
                        "(a commit on that branch of the course's git repository, never pushed)"], "")
    problems = publish.unpublishable(course, store)
    if problems and not force:
        return report([f"lecturebuild: not published: {p}" for p in problems]
                       + ["lecturebuild: fix the build, or publish the site as it stands with force=1"], "")
    for problem in problems:
        say(f"lecturebuild: publishing anyway (force=1): {problem}")
    if to:
        done = publish.to_folder(store.build / "site", Path(to).expanduser())
    else:
        latest = newest({lec.name: store.results(lec).stored()
                         for lec in course.lectures})
        message = f"Publish {course.title}" + (f", outputs of {when(latest.finished)}" if latest else "")
        done = publish.to_branch(store.build / "site", course.root, branch, message)
    say(f"lecturebuild: {done}")
    return True
