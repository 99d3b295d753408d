"""The doit tasks: one execute task per lecture, one render task per lecture and format.

dodo.py only calls these. Actions are module-level functions with plain arguments, so they work
with every doit runner, parallel ones included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from doit import get_var
from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter
from doit.tools import config_changed

from . import TEMPLATES_DIR, cache
from .course import load_course
from .errors import LectureBuildError, os_problem
from .execute import Executor, execute_lectures, lecture_failures, load_results, reads_unchanged, results_untouched, say
from .model import SETUP_ID, Course, Lecture, SectionResult
from .render import lecture_view, write_html, write_markdown
from .store import Store, file_digest, write_atomic

PACKAGE = Path(__file__).resolve().parent
RENDER_CODE = [PACKAGE / name for name in ("render.py", "quote.py", "notebook.py", "script.py", "model.py", "site.py",
                                           "mathml.py", "slides.py")]
OUTPUTS = {"markdown": ("markdown", ".md"), "html": ("html", ".html"), "notebook": ("notebooks", ".ipynb"),
           "slides": ("slides", ".html")}


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


def course_formats(course: Course) -> list[str]:
    """The formats course.yml adds to a plain `doit`: `slides: true`, `pdf: true`."""
    return [fmt for fmt, wanted in (("slides", course.slides), ("pdf", course.pdf)) if wanted]


COURSE_PAGES = "site:course"


class BuildReporter(ConsoleReporter):
    """doit's console output, ending with a summary of every failure of the build."""

    def _write_failure(self, result, write_exception=True):
        self.write(f"!! {result['task'].name} failed\n")  # the details were printed as they happened

    def complete_run(self):
        for result in self.failures:
            task = result["task"]
            if task.name == COURSE_PAGES and not task.executed:
                # doit skips the course pages when a lecture failed; bring the others' parts up to date anyway.
                action = task.actions[0]
                action.py_callable(*action.args, **action.kwargs)
        super().complete_run()
        failed = [r for r in self.failures if r["task"].executed]  # not those skipped for a failed dependency
        if failed:
            count = len(failed)
            self.write(f"\nlecturebuild: {count} task{'s' if count != 1 else ''} failed; the rest of the course "
                       "was built:\n")
            for result in failed:
                message = getattr(result["exception"], "message", "") or str(result["exception"])
                self.write(f"- {result['task'].name}\n" + "".join(f"    {line}\n" for line in message.splitlines()))


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
        return max(1, int(value))
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
        return cache.resolve_device(request, remote=requested_executor(course).kind == "dask")
    except LectureBuildError as exc:
        print(f"lecturebuild: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _result_files(store: Store, lecture: Lecture) -> list[str]:
    ids = ([SETUP_ID] if lecture.setup else []) + [s.id for s in lecture.runnable]
    return [str(store.result_path(lecture.name, sid)) for sid in ids]


def _snippet_files(lecture: Lecture) -> list[str]:
    snippets = [s for section in lecture.sections for s in section.snippets]
    if lecture.setup:
        snippets.append(lecture.setup)
    return [str(s.path) for s in snippets]


def _template_files(root: Path) -> list[str]:
    folders = {Path(root) / "templates", TEMPLATES_DIR}
    return sorted(str(p) for folder in folders if folder.is_dir() for p in folder.rglob("*.j2"))


def execute_tasks(course: Course, device: str, jobs: int = 1):
    """A task per lecture, so one lecture's failure does not hold back the rendering of the others."""
    store = Store(course.root / "build")
    env = cache.RunEnvironment.detect(device)
    for lecture in course.lectures:
        yield {
            "name": lecture.name,
            "doc": f"run the stale sections of {lecture.name}",
            "actions": [(run_action, [lecture, course, str(store.build), device, jobs, run_id(), requested_reuse(),
                                      requested_executor(course)])],
            "file_dep": [str(lecture.source)] + _snippet_files(lecture),
            "targets": _result_files(store, lecture),
            "uptodate": [config_changed({"device": env.device, "torch": env.torch, "executor": env.executor}),
                         (reads_unchanged, [str(store.reads_path(lecture.name)), str(course.root)], {}),
                         (results_untouched, [str(store.manifest_path), lecture.name, _result_files(store, lecture)], {})],
            "clean": True,
        }


@functools.lru_cache(maxsize=None)  # templates do not change while one doit run renders
def _renderer_digest(root: Path) -> str:
    """One digest of every template and of the rendering code: editing any of them re-renders everything."""
    from .site import site_assets
    from .slides import asset_files

    files = _template_files(root) + [str(p) for p in RENDER_CODE + site_assets() + asset_files(root)]
    own_assets = Path(root) / "templates" / "site" / "assets"
    files += sorted(str(p) for p in own_assets.glob("*")) if own_assets.is_dir() else []
    return cache.key_of({path: file_digest(Path(path)) for path in files})


def render_tasks(course: Course, fmt: str):
    store = Store(course.root / "build")
    folder, suffix = OUTPUTS[fmt]
    renderer = _renderer_digest(course.root)
    for lecture in course.lectures:
        if fmt == "slides" and not lecture.in_deck:
            continue
        target = store.build / folder / f"{lecture.name}{suffix}"
        yield {
            "name": lecture.name,
            "doc": f"render {lecture.name} as {fmt}",
            "actions": [(render_action, [course, lecture.name, fmt, str(store.build)])],
            "file_dep": [str(lecture.source)] + _result_files(store, lecture),
            "uptodate": [config_changed({"renderer": renderer})],
            "targets": [str(target)],
            "clean": True,
        }


def check_task(course: Course, build: Path) -> dict:
    return {"actions": [(check_action, [course, str(build)])], "task_dep": ["execute"], "verbosity": 2}


def accept_task(course: Course, build: Path) -> dict:
    return {"actions": [(accept_action, [course, str(build)])], "task_dep": ["execute"], "verbosity": 2}


@reported
def check_action(course: Course, build: str) -> bool | TaskFailed:
    from . import check

    problems = check.check_course(course, Store(Path(build)), say)
    return _report(problems, f"all {len(course.lectures)} lectures agree with their accepted outputs")


@reported
def accept_action(course: Course, build: str) -> bool | TaskFailed:
    from . import check

    return _report(check.accept_course(course, Store(Path(build)), say), "")


def portability_task(course: Course, build: Path, device: str) -> dict:
    return {"actions": [(portability_action, [course, str(build), device])], "verbosity": 2, "uptodate": [False]}


@reported
def portability_action(course: Course, build: str, device: str) -> bool | TaskFailed:
    """Run every section on the CPU and on the GPU and report what prints otherwise. The build's own
    device uses the build's results; the other device's results live in build/portability/<device>/."""
    from . import check

    if not cache.cuda_present():
        say(f"lecturebuild: portability: no CUDA device here (torch {cache.torch_version()}), so there is no GPU "
            "to compare the CPU with; run `doit portability` on a machine with an NVIDIA GPU")
        return True
    folders = {kind: Path(build) if kind == device else Path(build) / "portability" / kind for kind in ("cpu", "cuda")}
    for kind, folder in folders.items():
        say(f"lecturebuild: portability: running the course on {kind} ({folder})")
        with _execution_lock(folder):
            execute_lectures(course.lectures, folder, kind, requested_jobs(kind), root=course.root)
    problems, notes, compared = check.portability_report(course, {k: Store(f) for k, f in folders.items()})
    report = problems + notes + [f"lecturebuild: portability: {compared} sections ran on both devices; "
                                 f"{len(problems)} behave differently"]
    write_atomic(Path(build) / "portability.txt", "\n".join(report) + "\n")
    for note in notes:
        say(note)
    return _report(problems, f"every section prints the same on cpu and cuda, within its tolerance "
                   f"({compared} compared; report in {Path(build) / 'portability.txt'})")


def reproduce_task(course: Course, build: Path) -> dict:
    return {"actions": [(reproduce_action, [course, str(build)])], "task_dep": ["notebook"], "verbosity": 2}


@reported
def reproduce_action(course: Course, build: str) -> bool | TaskFailed:
    from . import check

    problems = check.reproduce_course(course, Store(Path(build)), say)
    return _report(problems, f"all {len(course.lectures)} notebooks reproduce their outputs in a fresh kernel")


def _report(problems: list[str], success: str) -> bool | TaskFailed:
    """Print the problems (doit's summary repeats them at the end), or the success line."""
    for problem in problems:
        say(problem)
    if not problems and success:
        say(f"lecturebuild: {success}")
    return TaskFailed("\n".join(problems)) if problems else True


def run_id() -> str:
    """Names this build run; `doit -n` worker processes inherit it from the process that loaded dodo.py."""
    return os.environ.setdefault("LECTUREBUILD_RUN", f"{os.getpid()}-{time.time_ns()}")


@reported
def run_action(lecture: Lecture, course: Course, build: str, device: str, jobs: int, run: str,
               reuse: bool = True, executor: Executor = Executor()) -> bool | TaskFailed:
    """The first execute action of a build runs the stale sections of every lecture in one batch,
    scheduled together across lectures, and renders each lecture as soon as its sections are done, in a
    thread beside the sections still running; each lecture's action then reports that lecture's failures."""
    store = Store(Path(build))
    marker = store.build / ".executed-by"
    with _execution_lock(store.build):
        if not marker.exists() or marker.read_text() != run:
            with ThreadPoolExecutor(max_workers=1) as renderer:
                execute_lectures(course.lectures, store.build, device, jobs, root=course.root, reuse=reuse,
                                 done=lambda name, digests: renderer.submit(render_done_lecture, course, name, build,
                                                                            digests), executor=executor)
            write_atomic(marker, run)
    messages = lecture_failures(lecture, store, cache.RunEnvironment.detect(device))
    for message in messages:
        say(message)
    return TaskFailed("\n".join(messages)) if messages else True


@contextlib.contextmanager
def _execution_lock(build: Path):
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


def good_results(store: Store, lecture: Lecture, what: str) -> dict[str, SectionResult] | TaskFailed:
    """Every result of the lecture when all are good; else a failure that says the previous `what` is kept."""
    results = load_results(store, lecture)
    missing = [sid for sid, r in results.items() if r is None or not r.ok]
    if missing:
        message = (f"lecturebuild: {lecture.source.name}: not rendered as {what}, the previous output is kept: "
                   f"sections without a good run: {', '.join(missing)}")
        say(message)
        return TaskFailed(message)
    return results


@reported
def render_action(course: Course, name: str, fmt: str, build: str) -> bool | TaskFailed:
    store = Store(Path(build))
    lecture = course.lecture(name)
    results = good_results(store, lecture, fmt)
    if isinstance(results, TaskFailed):
        return results
    _render(course, lecture, fmt, store, results)
    return True


def _render(course: Course, lecture: Lecture, fmt: str, store: Store, results: dict[str, SectionResult]) -> None:
    """Write the lecture in `fmt`, unless it was written from the same inputs already (while sections ran)."""
    folder, suffix = OUTPUTS[fmt] if fmt in OUTPUTS else ("site", ".html")
    target = store.build / folder / f"{lecture.name}{suffix}"
    key = _render_key(course, lecture, fmt, store, _site_inputs(lecture, store) if fmt == "site" else [])
    stamp = store.build / ".rendered" / f"{fmt}-{lecture.name}"
    if target.exists() and stamp.exists() and stamp.read_text() == key:
        return
    stamp.unlink(missing_ok=True)
    view = lecture_view(course, lecture, results, slides=fmt == "slides")
    if fmt == "site":
        from .site import write_lecture_page

        write_lecture_page(view, {lecture.name: results}, store, store.build / "site")
    else:
        from .notebook import write_notebook  # nbformat is slow to import: only where a notebook is written
        from .slides import write_deck

        writer = {"markdown": write_markdown, "html": write_html, "notebook": write_notebook, "slides": write_deck}[fmt]
        writer(view, store, store.build / folder)
    stamp.parent.mkdir(exist_ok=True)
    write_atomic(stamp, key)


def _site_inputs(lecture: Lecture, store: Store) -> list[Path]:
    """The build outputs a lecture's site page copies: its handout and notebook (its deck and PDF put
    themselves in the site, so a deck that fails to render never holds the page back)."""
    return [store.build / OUTPUTS[fmt][0] / f"{lecture.name}{OUTPUTS[fmt][1]}" for fmt in ("markdown", "notebook")]


_course_digests: dict[int, tuple[Course, str]] = {}


def _render_key(course: Course, lecture: Lecture, fmt: str, store: Store, outputs: list[Path]) -> str:
    """What a rendering of the lecture depends on: the course as loaded, the lecture's results, the
    templates and rendering code, and for a site page the handout and notebook it offers."""
    if id(course) not in _course_digests:
        _course_digests[id(course)] = (course, cache.key_of({"course": repr(course)}))
    files = [Path(p) for p in _result_files(store, lecture)] + outputs
    return cache.key_of({"fmt": fmt, "renderer": _renderer_digest(course.root), "course": _course_digests[id(course)][1],
                         **{str(p): file_digest(p) if p.exists() else "" for p in files}})


def render_done_lecture(course: Course, name: str, build: str, digests: dict[str, str]) -> None:
    """Render a lecture whose sections all ran well, in every format, while other lectures' sections still
    run; the render tasks that follow find it done. Only results exactly as the worker stored them (their
    `digests`) are rendered; anything that goes wrong is left to those tasks."""
    store = Store(Path(build))
    lecture = course.lecture(name)

    def as_stored() -> bool:
        return all(file_digest(store.result_path(name, sid)) == digest for sid, digest in digests.items())

    results = load_results(store, lecture) if as_stored() else {}
    if not results or not as_stored() or any(r is None or not r.ok for r in results.values()):
        return
    with contextlib.suppress(Exception):
        for fmt in ("markdown", "html", "notebook", *(["slides"] if course.slides and lecture.in_deck else []), "site"):
            _render(course, lecture, fmt, store, results)


def site_tasks(course: Course):
    """A page per lecture (after its handout and notebook, which it offers as downloads), then the
    pages about the whole course: index, execution report, search index and assets."""
    store = Store(course.root / "build")
    site = store.build / "site"
    renderer = _renderer_digest(course.root)
    for lecture in course.lectures:
        yield {
            "name": lecture.name,
            "doc": f"the course site's page for {lecture.name}",
            "actions": [(site_lecture_action, [course, lecture.name, str(store.build)])],
            "file_dep": [str(lecture.source)] + _result_files(store, lecture)
            + [str(path) for path in _site_inputs(lecture, store)],
            "uptodate": [config_changed({"renderer": renderer})],
            "targets": [str(site / f"{lecture.name}.html")],
            "clean": True,
        }
    yield {
        "name": "course",
        "doc": "the course site's index, execution report, search index and assets",
        "actions": [(site_course_action, [course, str(store.build)])],
        "file_dep": [str(lecture.source) for lecture in course.lectures]
        + [path for lecture in course.lectures for path in _result_files(store, lecture)],
        "uptodate": [config_changed({"renderer": renderer, "lectures": [lec.name for lec in course.lectures]})],
        "targets": [str(site / name) for name in ("index.html", "report.html", "search-index.js")],
        "clean": True,
    }


@reported
def site_lecture_action(course: Course, name: str, build: str) -> bool | TaskFailed:
    store = Store(Path(build))
    lecture = course.lecture(name)
    results = good_results(store, lecture, "a site page")
    if isinstance(results, TaskFailed):
        return results
    _render(course, lecture, "site", store, results)
    return True


@reported
def site_course_action(course: Course, build: str) -> bool | TaskFailed:
    from .site import remove_stale, write_course_pages

    store = Store(Path(build))
    results, failed = {}, []
    for lecture in course.lectures:
        loaded = load_results(store, lecture)
        results[lecture.name] = {sid: r for sid, r in loaded.items() if r is not None and r.ok}
        if any(r is None or not r.ok for r in loaded.values()):
            failed.append(lecture)
    # A lecture whose sections failed keeps its previous page and search entries; the index, report and
    # search are still brought up to date for the others.
    views = [lecture_view(course, lecture, results[lecture.name]) for lecture in course.lectures
             if lecture not in failed]
    write_course_pages(course, views, results, store, store.build / "site", kept=[lec.name for lec in failed])
    remove_stale(store.build / "site", course)
    if failed:
        message = ("lecturebuild: the site's index, report and search are up to date, but "
                   + ", ".join(lec.source.name for lec in failed) + " kept its previous page and search "
                   "entries: some of its sections have no good run")
        say(message)
        return TaskFailed(message)
    return True


def pdf_tasks(course: Course):
    """A PDF per lecture, printed from its site page (so after it): the page, not the sections, is its input."""
    store = Store(course.root / "build")
    site = store.build / "site"
    printer = cache.key_of({"renderer": _renderer_digest(course.root), "pdf": file_digest(PACKAGE / "pdf.py")})
    for lecture in course.lectures:
        yield {
            "name": lecture.name,
            "doc": f"print {lecture.name} as a PDF handout",
            "actions": [(pdf_action, [course, lecture.name, str(store.build)])],
            "file_dep": [str(site / f"{lecture.name}.html")] + _result_files(store, lecture),
            "uptodate": [config_changed({"printer": printer})],
            "targets": [str(store.build / "pdf" / f"{lecture.name}.pdf")],
            "clean": True,
        }


@reported
def pdf_action(course: Course, name: str, build: str) -> bool | TaskFailed:
    """Print the lecture's site page; where the course asks for PDFs (`pdf: true`) the site offers it too."""
    from .pdf import print_page
    from .site import copy_assets

    store = Store(Path(build))
    lecture = course.lecture(name)
    results = good_results(store, lecture, "a PDF")
    if isinstance(results, TaskFailed):
        return results
    site = store.build / "site"
    copy_assets(course.root, site / "assets")  # the stylesheets the page prints with, whatever built it
    target = print_page(site / f"{name}.html", store.build / "pdf" / f"{name}.pdf", lecture.source.name)
    if course.pdf:
        write_atomic(site / f"{name}.pdf", target.read_bytes())
    return True


def publish_task(course: Course, build: Path) -> dict:
    """`doit publish to=FOLDER` or `doit publish branch=NAME`; `force=1` publishes a build with failed
    sections as it stands (without building it first)."""
    force = (get_var("force") or "") not in ("", "0", "no", "false")
    return {"actions": [(publish_action, [course, str(build), get_var("to") or "", get_var("branch") or "", force])],
            "task_dep": [] if force else ["site", *course_formats(course)], "verbosity": 2,
            "uptodate": [False]}


@reported
def publish_action(course: Course, build: str, to: str, branch: str, force: bool) -> bool | TaskFailed:
    from . import publish
    from .render import when
    from .site import newest

    store = Store(Path(build))
    if bool(to) == bool(branch):
        return _report(["lecturebuild: say where to publish: doit publish to=FOLDER, or doit publish branch=NAME "
                        "(a commit on that branch of the course's git repository, never pushed)"], "")
    problems = publish.unpublishable(course, store)
    if problems and not force:
        return _report([f"lecturebuild: not published: {p}" for p in problems]
                       + ["lecturebuild: fix the build, or publish the site as it stands with force=1"], "")
    for problem in problems:
        say(f"lecturebuild: publishing anyway (force=1): {problem}")
    if to:
        done = publish.to_folder(store.build / "site", Path(to).expanduser())
    else:
        latest = newest({lec.name: {k: r for k, r in load_results(store, lec).items() if r}
                         for lec in course.lectures})
        message = f"Publish {course.title}" + (f", outputs of {when(latest.finished)}" if latest else "")
        done = publish.to_branch(store.build / "site", course.root, branch, message)
    say(f"lecturebuild: {done}")
    return True


def claims_tasks(course: Course):
    """For each lecture imported with the outputs its source showed (claims/<lecture>.json): compare them
    with the real run once, print where they disagree and keep the report in build/claims/."""
    from .check import claims_path

    store = Store(course.root / "build")
    yield {"basename": "claims", "name": None, "doc": "compare imported lectures with what their sources showed"}
    for lecture in course.lectures:
        path = claims_path(course.root, lecture.name)
        if path.exists():
            yield {
                "name": lecture.name,
                "actions": [(claims_action, [course, lecture.name, str(store.build)])],
                "file_dep": [str(path)] + _result_files(store, lecture),
                "targets": [str(store.build / "claims" / f"{lecture.name}.txt")],
                "verbosity": 2,
                "clean": True,
            }


@reported
def claims_action(course: Course, name: str, build: str) -> bool:
    """Keep the claims report in build/claims/<lecture>.txt and print a shorter one."""
    from .check import CLAIMS_KEPT, CLAIMS_PRINTED, claims_report

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
