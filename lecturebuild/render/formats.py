"""The formats a lecture is rendered in, and rendering one of them once per set of inputs.

Each format is one record: the folder under build/ it goes to, its file suffix, its built-in template and
the function that writes it. A rendering is keyed by everything it depends on (the course as loaded, the
lecture's results, the templates and lecturebuild's rendering code), so a lecture rendered while the
build's sections still ran is not rendered again by its render task.
"""

from __future__ import annotations

import functools
import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from lecturebuild import TEMPLATES_DIR
from lecturebuild.model import Course, Lecture, LectureDone, SectionResult
from lecturebuild.render.view import lecture_view
from lecturebuild.store import Store, file_digest, key_of, write_atomic
from lecturebuild.version import RENDER_CODE, code_files


@dataclass(frozen=True)
class Format:
    name: str
    folder: str  # under build/
    suffix: str
    template: str  # the built-in template that writes it ("" where none does: a notebook is built as JSON)
    writer: str  # "module:function", imported when used: writing a notebook imports nbformat, which is slow
    slides: bool = False  # its view has the {slide} blocks

    def target(self, build: Path, lecture: str) -> Path:
        return build / self.folder / f"{lecture}{self.suffix}"

    def write(self, view, store: Store) -> Path:
        module, _, function = self.writer.partition(":")
        return getattr(importlib.import_module(module), function)(view, store, store.build / self.folder)


FORMATS = {f.name: f for f in (
    Format("markdown", "markdown", ".md", "markdown/lecture.md.j2", "lecturebuild.render.handout:write_markdown"),
    Format("html", "html", ".html", "html/lecture.html.j2", "lecturebuild.render.handout:write_html"),
    Format("notebook", "notebooks", ".ipynb", "", "lecturebuild.render.notebook:write_notebook"),
    Format("slides", "slides", ".html", "slides/deck.html.j2", "lecturebuild.render.slides:write_deck", slides=True),
    Format("site", "site", ".html", "site/lecture.html.j2", "lecturebuild.render.site:write_lecture_page"),
)}


@functools.lru_cache(maxsize=None)  # templates do not change while one doit run renders
def renderer_digest(root: Path) -> str:
    """One digest of lecturebuild's rendering code (version.RENDER_CODE) and of every file of the built-in
    templates and of the course's templates/ (templates, stylesheets, scripts, the slide assets): editing
    any of them re-renders everything, and runs nothing."""
    folders = [TEMPLATES_DIR, Path(root) / "templates"]
    files = code_files(*RENDER_CODE) + sorted(p for folder in folders if folder.is_dir()
                                              for p in folder.rglob("*") if p.is_file())
    return key_of({str(path): file_digest(path) for path in files})


def course_outline(course: Course) -> str:
    """A digest of what every page shows of the rest of the course: its title, description and formats, and
    each lecture's name, title, summary, place and deck. A page is rendered again when any of it changes
    (a lecture added, renamed, reordered or deleted), not only when its own lecture does."""
    return key_of({"course": repr((course.title, course.description, course.slides, course.pdf)),
                   "lectures": repr([(lec.name, lec.title, lec.summary, lec.in_deck, len(lec.sections))
                                     for lec in course.lectures])})


def remove_gone(build: Path, course: Course) -> list[Path]:
    """Remove the outputs of lectures the course no longer has (and decks of lectures no longer in a deck)
    from every format's folder and build/pdf/; what was removed. The site has its own (site.remove_stale)."""
    keep = {name: {lec.name for lec in course.lectures if name != "slides" or lec.in_deck}
            for name in FORMATS if name != "site"}
    keep["pdf"] = {lec.name for lec in course.lectures}
    folders = {name: build / (FORMATS[name].folder if name in FORMATS else name) for name in keep}
    removed = []
    for name, folder in folders.items():
        suffix = FORMATS[name].suffix if name in FORMATS else ".pdf"
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            stem = path.name[:-len(suffix)] if path.name.endswith(suffix) else path.name
            if (path.is_dir() or path.name.endswith(suffix)) and stem not in keep[name]:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed.append(path)
    return removed


def site_inputs(lecture: Lecture, store: Store) -> list[Path]:
    """The build outputs a lecture's site page copies: its handout and notebook (its deck and PDF put
    themselves in the site, so a deck that fails to render never holds the page back)."""
    return [FORMATS[name].target(store.build, lecture.name) for name in ("markdown", "notebook")]


_course_digests: dict[int, tuple[Course, str]] = {}


def render_key(course: Course, lecture: Lecture, fmt: Format, store: Store) -> str:
    """What a rendering of the lecture depends on: the course as loaded, the lecture's results, the
    templates and rendering code, and for a site page the handout and notebook it offers."""
    if id(course) not in _course_digests:
        _course_digests[id(course)] = (course, key_of({"course": repr(course)}))
    files = list(store.result_paths(lecture).values()) + (site_inputs(lecture, store) if fmt.name == "site" else [])
    return key_of({"fmt": fmt.name, "renderer": renderer_digest(course.root), "course": _course_digests[id(course)][1],
                   **{str(p): file_digest(p) if p.exists() else "" for p in files}})


def render_lecture(course: Course, lecture: Lecture, fmt: Format, store: Store,
                   results: dict[str, SectionResult]) -> None:
    """Write the lecture in `fmt`, unless it was written from the same inputs already (while sections ran)."""
    target = fmt.target(store.build, lecture.name)
    key = render_key(course, lecture, fmt, store)
    stamp = store.build / ".rendered" / f"{fmt.name}-{lecture.name}"
    if target.exists() and stamp.exists() and stamp.read_text() == key:
        return
    stamp.unlink(missing_ok=True)
    fmt.write(lecture_view(course, lecture, results, slides=fmt.slides), store)
    stamp.parent.mkdir(exist_ok=True)
    write_atomic(stamp, key)


def lecture_formats(course: Course, lecture: Lecture) -> list[Format]:
    """What a plain build renders of a lecture, in order: the site page last, as it offers the others."""
    deck = ["slides"] if course.slides and lecture.in_deck else []
    return [FORMATS[name] for name in ("markdown", "html", "notebook", *deck, "site")]


def render_ahead(course: Course, done: LectureDone, store: Store) -> None:
    """Render a lecture whose sections all ran well, in every format, while other lectures' sections still
    run; the render tasks that follow find it done. Only results exactly as the worker stored them (the
    digests `done` carries) are rendered: a lecture with a failed section is left to its render tasks,
    which say so. A failure to render raises, for the build to report."""
    lecture = course.lecture(done.lecture)

    def as_stored() -> bool:
        return all(file_digest(store.result_path(lecture.name, sid)) == digest for sid, digest in done.digests.items())

    results = store.results(lecture) if as_stored() else None
    if results is None or not results.all_good or not as_stored():
        return
    for fmt in lecture_formats(course, lecture):
        render_lecture(course, lecture, fmt, store, results.good())
