"""The checks as tasks: `doit check` and `doit accept` (snapshots), `doit portability` (CPU against GPU),
`doit reproduce` (the notebooks in a fresh kernel) and the claims of imported lectures."""

from __future__ import annotations

from pathlib import Path

from doit.exceptions import TaskFailed

from lecturebuild.errors import say
from lecturebuild.model import Course
from lecturebuild.run.device import cuda_present, torch_version
from lecturebuild.run.execute import execute_lectures
from lecturebuild.store import Store, write_atomic
from lecturebuild.tasks.execute import execution_lock
from lecturebuild.tasks.options import requested_jobs
from lecturebuild.tasks.report import report, reported


def check_tasks(course: Course, build: Path):
    """`doit check`, or `doit check:<lecture>` for one: each lecture after its sections ran."""
    yield from _per_lecture("check", check_action, course, build,
                            "compare the outputs with the accepted snapshots, and the prose with the outputs "
                            "(check:<lecture> for one lecture)",
                            "compare {} with its accepted snapshot, and its prose with its outputs")


def accept_tasks(course: Course, build: Path):
    """`doit accept`, or `doit accept:<lecture>`: only that lecture's snapshot is written."""
    yield from _per_lecture("accept", accept_action, course, build,
                            "accept the current outputs as the snapshots in snapshots/<device>/ "
                            "(accept:<lecture> for one lecture); review the diff, then commit it",
                            "accept the current outputs of {} as its snapshot")


def _per_lecture(basename: str, action, course: Course, build: Path, doc: str, lecture_doc: str):
    """A task per lecture, each after that lecture's sections ran, under one name for them all."""
    yield {"basename": basename, "name": None, "doc": doc}
    for lecture in course.lectures:
        yield {"basename": basename, "name": lecture.name, "task_dep": [f"execute:{lecture.name}"], "verbosity": 2,
               "doc": lecture_doc.format(lecture.name), "actions": [(action, [course, lecture.name, str(build)])]}


@reported
def check_action(course: Course, name: str, build: str) -> bool | TaskFailed:
    from lecturebuild.check.snapshots import check_lecture

    lecture = course.lecture(name)
    problems = check_lecture(course, lecture, Store(Path(build)), say)
    return report(problems, f"{lecture.source.name} agrees with its accepted outputs")


@reported
def accept_action(course: Course, name: str, build: str) -> bool | TaskFailed:
    from lecturebuild.check.snapshots import accept_lecture

    return report(accept_lecture(course, course.lecture(name), Store(Path(build)), say), "")


def portability_task(course: Course, build: Path, device: str) -> dict:
    return {"actions": [(portability_action, [course, str(build), device])], "verbosity": 2, "uptodate": [False]}


@reported
def portability_action(course: Course, build: str, device: str) -> bool | TaskFailed:
    """Run every section on the CPU and on the GPU and report what prints otherwise. The build's own
    device uses the build's results; the other device's results live in build/portability/<device>/."""
    from lecturebuild.check.portability import portability_report

    if not cuda_present():
        say(f"lecturebuild: portability: no CUDA device here (torch {torch_version()}), so there is no GPU "
            "to compare the CPU with; run `doit portability` on a machine with an NVIDIA GPU")
        return True
    folders = {kind: Path(build) if kind == device else Path(build) / "portability" / kind for kind in ("cpu", "cuda")}
    for kind, folder in folders.items():
        say(f"lecturebuild: portability: running the course on {kind} ({folder})")
        with execution_lock(folder):
            execute_lectures(course.lectures, folder, kind, requested_jobs(kind), root=course.root)
    problems, notes, compared = portability_report(course, {k: Store(f) for k, f in folders.items()})
    report = problems + notes + [f"lecturebuild: portability: {compared} sections ran on both devices; "
                                 f"{len(problems)} behave differently"]
    write_atomic(Path(build) / "portability.txt", "\n".join(report) + "\n")
    for note in notes:
        say(note)
    return report(problems, f"every section prints the same on cpu and cuda, within its tolerance "
                   f"({compared} compared; report in {Path(build) / 'portability.txt'})")


def reproduce_task(course: Course, build: Path) -> dict:
    return {"actions": [(reproduce_action, [course, str(build)])], "task_dep": ["notebook"], "verbosity": 2}


@reported
def reproduce_action(course: Course, build: str) -> bool | TaskFailed:
    from lecturebuild.check.reproduce import reproduce_course

    problems = reproduce_course(course, Store(Path(build)), say)
    return report(problems, ("the notebook reproduces its outputs in a fresh kernel" if len(course.lectures) == 1 else
                                f"all {len(course.lectures)} notebooks reproduce their outputs in a fresh kernel"))


def claims_tasks(course: Course):
    """For each lecture imported with the outputs its source showed (claims/<lecture>.json): compare them
    with the real run once, print where they disagree and keep the report in build/claims/."""
    from lecturebuild.check.claims import claims_path

    store = Store(course.root / "build")
    yield {"basename": "claims", "name": None, "doc": "compare imported lectures with what their sources showed"}
    for lecture in course.lectures:
        path = claims_path(course.root, lecture.name)
        if path.exists():
            yield {
                "name": lecture.name,
                "actions": [(claims_action, [course, lecture.name, str(store.build)])],
                "file_dep": [str(path)] + store.result_files(lecture),
                "targets": [str(store.build / "claims" / f"{lecture.name}.txt")],
                "verbosity": 2,
                "clean": True,
            }


@reported
def claims_action(course: Course, name: str, build: str) -> bool:
    """Keep the claims report in build/claims/<lecture>.txt and print a shorter one."""
    from lecturebuild.check.claims import CLAIMS_KEPT, CLAIMS_PRINTED, claims_report

    store = Store(Path(build))
    report = claims_report(course, course.lecture(name), store)
    target = store.build / "claims" / f"{name}.txt"
    kept = (f"left out: this report keeps {CLAIMS_KEPT[0]:,} diff lines of each block and {CLAIMS_KEPT[1]:,} "
            f"lines in all; the real outputs are in the built lecture")
    write_atomic(target, report.render(CLAIMS_KEPT, kept))
    say(report.render(CLAIMS_PRINTED, f"left out here, see {target}").rstrip("\n"))
    if report.blocks:
        say(f"lecturebuild: the real outputs are in the built lecture; this report stays in {target}")
    return True
