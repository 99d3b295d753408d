"""The render tasks: each lecture in each format, its site page, the pages about the whole course, and PDFs.

A lecture whose sections did not all run well is not rendered: its previous outputs are kept, and the task
says which sections have no good run. A rendering made while the sections ran (render/formats.py) is found
done and not written again.
"""

from __future__ import annotations

from pathlib import Path

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from lecturebuild.errors import LectureBuildError, say
from lecturebuild.model import Course, Lecture, SectionResult
from lecturebuild.render.formats import (
    FORMATS,
    course_outline,
    remove_gone,
    render_lecture,
    renderer_digest,
    site_inputs,
)
from lecturebuild.render.view import lecture_view
from lecturebuild.store import Store, key_of, write_atomic
from lecturebuild.tasks.report import reported

WHAT = {"site": "a site page", "pdf": "a PDF"}  # how messages name an output, where its format's name does not


def render_tasks(course: Course, fmt: str):
    """A task per lecture for `fmt` (markdown, html, notebook, slides or site); a site page also takes the
    handout and notebook it offers as downloads."""
    store = Store(course.root / "build")
    renderer = {"renderer": renderer_digest(course.root), "course": course_outline(course)}
    for lecture in course.lectures:
        if fmt == "slides" and not lecture.in_deck:
            continue
        offers = [str(path) for path in site_inputs(lecture, store)] if fmt == "site" else []
        yield {
            "name": lecture.name,
            "doc": f"the course site's page for {lecture.name}" if fmt == "site" else f"render {lecture.name} as {fmt}",
            "actions": [(render_action, [course, lecture.name, fmt, str(store.build)])],
            "file_dep": [str(lecture.source)] + store.result_files(lecture) + offers,
            "uptodate": [config_changed(renderer)],
            "targets": [str(FORMATS[fmt].target(store.build, lecture.name))],
            "clean": True,
        }


def good_results(store: Store, lecture: Lecture, what: str) -> dict[str, SectionResult] | TaskFailed:
    """Every result of the lecture when all are good; else a failure that says the previous `what` is kept."""
    results = store.results(lecture)
    if not results.all_good:
        message = (f"lecturebuild: {lecture.source.name}: not rendered as {what}, the previous output is kept: "
                   f"sections without a good run: {', '.join(results.without_good_run)}")
        say(message)
        return TaskFailed(message)
    return results.good()


@reported
def render_action(course: Course, name: str, fmt: str, build: str) -> bool | TaskFailed:
    store = Store(Path(build))
    lecture = course.lecture(name)
    results = good_results(store, lecture, WHAT.get(fmt, fmt))
    if isinstance(results, TaskFailed):
        if fmt == "site":
            _page_or_placeholder(course, lecture, store, "some of its sections have no good run")
        return results
    try:
        render_lecture(course, lecture, FORMATS[fmt], store, results)
    except LectureBuildError:
        if fmt == "site":
            _page_or_placeholder(course, lecture, store, "its page could not be rendered")
        raise
    return True


def _page_or_placeholder(course: Course, lecture: Lecture, store: Store, why: str) -> None:
    """A lecture without a site page gets one that says why it is empty: the other pages link it. One that
    has a page keeps it."""
    from lecturebuild.render.site import write_unbuilt_page

    if not FORMATS["site"].target(store.build, lecture.name).exists():
        write_unbuilt_page(course, lecture.name, why, store.build / "site")


def site_tasks(course: Course):
    """A page per lecture (after its handout and notebook, which it offers as downloads), then the
    pages about the whole course: index, execution report, search index and assets."""
    yield from render_tasks(course, "site")
    store = Store(course.root / "build")
    yield {
        "name": "course",
        "doc": "the course site's index, execution report, search index and assets",
        "actions": [(site_course_action, [course, str(store.build)])],
        "file_dep": [str(lecture.source) for lecture in course.lectures]
        + [path for lecture in course.lectures for path in store.result_files(lecture)],
        "uptodate": [config_changed({"renderer": renderer_digest(course.root), "course": course_outline(course)})],
        "targets": [str(store.build / "site" / name) for name in ("index.html", "report.html", "search-index.js")],
        "clean": True,
    }


@reported
def site_course_action(course: Course, build: str) -> bool | TaskFailed:
    from lecturebuild.render.site import remove_stale, write_course_pages

    store = Store(Path(build))
    loaded = {lecture.name: store.results(lecture) for lecture in course.lectures}
    results = {name: lecture_results.good() for name, lecture_results in loaded.items()}
    failed = [lecture for lecture in course.lectures if not loaded[lecture.name].all_good]
    # A lecture whose sections failed keeps its previous page and search entries; the index, report and
    # search are still brought up to date for the others.
    views = [lecture_view(course, lecture, results[lecture.name]) for lecture in course.lectures
             if lecture not in failed]
    write_course_pages(course, views, results, store, store.build / "site", kept=[lec.name for lec in failed])
    remove_stale(store.build / "site", course)
    remove_gone(store.build, course)
    if failed:
        message = ("lecturebuild: the site's index, report and search are up to date, but "
                   + ", ".join(lec.source.name for lec in failed) + " kept its previous page and search "
                   "entries (or, never built, a page saying so): some of its sections have no good run")
        say(message)
        return TaskFailed(message)
    return True


def pdf_tasks(course: Course):
    """A PDF per lecture, printed from its site page (so after it): the page, not the sections, is its input."""
    store = Store(course.root / "build")
    site = store.build / "site"
    printer = key_of({"renderer": renderer_digest(course.root), "course": course_outline(course)})
    for lecture in course.lectures:
        yield {
            "name": lecture.name,
            "doc": f"print {lecture.name} as a PDF handout",
            "actions": [(pdf_action, [course, lecture.name, str(store.build)])],
            "file_dep": [str(site / f"{lecture.name}.html")] + store.result_files(lecture),
            "uptodate": [config_changed({"printer": printer})],
            "targets": [str(store.build / "pdf" / f"{lecture.name}.pdf")],
            "clean": True,
        }


@reported
def pdf_action(course: Course, name: str, build: str) -> bool | TaskFailed:
    """Print the lecture's site page; where the course asks for PDFs (`pdf: true`) the site offers it too."""
    from lecturebuild.render.pdf import print_page
    from lecturebuild.render.site import copy_assets

    store = Store(Path(build))
    lecture = course.lecture(name)
    results = good_results(store, lecture, WHAT["pdf"])
    if isinstance(results, TaskFailed):
        return results
    site = store.build / "site"
    copy_assets(course.root, site / "assets")  # the stylesheets the page prints with, whatever built it
    target = print_page(site / f"{name}.html", store.build / "pdf" / f"{name}.pdf", lecture.source.name)
    if course.pdf:
        write_atomic(site / f"{name}.pdf", target.read_bytes())
    return True
