"""The course site: build/site/, static files that work on any static host and opened from disk.

    index.html                 the course: its lectures in order; when, where and with what they ran
    <lecture>.html             a lecture: contents, prose, code, outputs, downloads, previous and next
    <lecture>/                 its figures, and the files its snippets declared
    <lecture>.ipynb .md .py    the downloads: executed notebook, Markdown handout, runnable script
    slides/<lecture>.html      its slide deck, where the course builds decks (course.yml: slides: true)
    <lecture>.pdf              its printable handout, where the course prints them (pdf: true)
    report.html                every section's run: time, device, memory, cache status; slowest first
    search-index.js            the search index, a script rather than JSON so search works from file://
    assets/                    stylesheet, Pygments colours, script

Every link is relative and nothing is fetched from elsewhere: equations are MathML made at build time
(mathml.py), and the browser draws them itself.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from lecturebuild import TEMPLATES_DIR
from lecturebuild.model import SETUP_ID, Course, Device, SectionResult
from lecturebuild.render.script import lecture_script
from lecturebuild.render.templates import render, render_template
from lecturebuild.render.text import markdown_to_html
from lecturebuild.render.view import LectureView, Text, attach
from lecturebuild.store import Store, write_atomic

ASSETS = ("site.css", "site.js")


@dataclass(frozen=True)
class Download:
    label: str
    href: str
    note: str
    save: bool = True  # a file to save; False: a page to open (the slides)


@dataclass(frozen=True)
class LectureEntry:
    """A lecture as the index and the navigation list it."""

    number: int
    name: str
    title: str
    summary: str
    href: str
    sections: int
    seconds: float  # compute time of all its sections
    slides: str = ""  # its deck, where the course builds decks
    pdf: str = ""  # its printable handout, where the course prints them


@dataclass(frozen=True)
class ReportRow:
    lecture: str  # title
    href: str  # the section on its page
    section: str  # title, or "setup"
    seconds: float
    wall: float
    device: Device
    status: str  # "ran" or "cached"
    reason: str  # why it ran, or when the cached result was made
    rss: float  # peak resident memory, MB
    cuda: float | None  # peak GPU memory, MB, on CUDA
    notes: tuple[str, ...]  # what the run noticed, e.g. a section on CUDA that never used the GPU
    bar: float  # seconds as a percentage of the slowest section's


@dataclass(frozen=True)
class Site:
    """What every site template gets as `site`, besides the lecture's view on lecture pages."""

    lectures: tuple[LectureEntry, ...]
    device: Device  # of the newest result
    built: str  # when the newest result was produced
    page: str  # this page's file name, for the navigation
    downloads: tuple[Download, ...] = ()
    report: tuple[ReportRow, ...] = ()
    last_run: str = ""  # when the build the report's cache status describes finished
    unbuilt: str = ""  # on the page of a lecture that has never been built: why

    @property
    def total_seconds(self) -> float:
        return sum(lecture.seconds for lecture in self.lectures)


def lecture_entries(course: Course, results: dict[str, dict[str, SectionResult]]) -> tuple[LectureEntry, ...]:
    return tuple(
        LectureEntry(number=number, name=lecture.name, title=lecture.title, summary=lecture.summary,
                     href=f"{lecture.name}.html", sections=len(lecture.sections),
                     seconds=sum(r.seconds for r in results.get(lecture.name, {}).values()),
                     slides=f"slides/{lecture.name}.html" if course.slides and lecture.in_deck else "",
                     pdf=f"{lecture.name}.pdf" if course.pdf else "")
        for number, lecture in enumerate(course.lectures, start=1))


def newest(results: dict[str, dict[str, SectionResult]]) -> SectionResult | None:
    every = [r for lecture in results.values() for r in lecture.values()]
    return max(every, key=lambda r: r.finished) if every else None


def _site(course: Course, results: dict[str, dict[str, SectionResult]], page: str, **extra) -> Site:
    latest = newest(results)
    return Site(lectures=lecture_entries(course, results), page=page,
                device=latest.device if latest else Device("none", "", "", ""),
                built=latest.finished if latest else "", **extra)


# ----------------------------------------------------------------------------------------------
# A lecture's page and downloads


def write_lecture_page(view: LectureView, store: Store, site_dir: Path) -> Path:
    """<lecture>.html, its figures and files, and its downloads (the handout and notebook are copied from
    their own build outputs, so they are exactly what `doit` wrote there; the deck and the PDF, printed
    from this page, are put in the site by their own tasks)."""
    name = view.lecture.name
    course = view.course
    attach(view, store, site_dir)
    for folder, suffix in (("markdown", ".md"), ("notebooks", ".ipynb")):
        write_atomic(site_dir / f"{name}{suffix}", (store.build / folder / f"{name}{suffix}").read_bytes())
    write_atomic(site_dir / f"{name}.py", lecture_script(view.lecture, view.device.kind))
    downloads = (
        *([Download("Slides", f"slides/{name}.html", "press S for the speaker notes", save=False)]
          if course.slides and view.lecture.in_deck else []),
        *([Download("PDF", f"{name}.pdf", "printable handout")] if course.pdf else []),
        Download("Notebook", f"{name}.ipynb", "executed, with these outputs"),
        Download("Handout", f"{name}.md", "Markdown"),
        Download("Code", f"{name}.py", "the whole lecture as one runnable script"),
    )
    site = _site(view.course, {name: view.results}, f"{name}.html", downloads=downloads)
    target = site_dir / f"{name}.html"
    write_atomic(target, render(view, "site", lambda f: f"{name}/{f.file}", site=site))
    return target


# ----------------------------------------------------------------------------------------------
# The pages about the whole course


def write_unbuilt_page(course: Course, lecture_name: str, why: str, site_dir: Path) -> Path:
    """The page of a lecture that has no page yet (its sections never all ran well, or it failed to render):
    the navigation of every other page links it, and it says why there is nothing to read yet."""
    site = _site(course, {}, f"{lecture_name}.html", unbuilt=why)
    target = site_dir / f"{lecture_name}.html"
    write_atomic(target, render_template(course.root, "site/unbuilt.html.j2",
                                         {"course": course, "site": site, "lecture": course.lecture(lecture_name)}))
    return target


def write_course_pages(course: Course, views: list[LectureView], results: dict[str, dict[str, SectionResult]],
                       store: Store, site_dir: Path, kept: list[str] = ()) -> list[Path]:
    """index.html, report.html, search-index.js and the assets. The lectures in `kept` have no view (some
    of their sections failed): their entries in the previous search index are kept."""
    written = []
    index = _site(course, results, "index.html")
    written.append(_write_page(course, "site/index.html.j2", index, site_dir / "index.html"))
    last_run = _last_run(store)
    report = _site(course, results, "report.html", report=report_rows(course, results, last_run["sections"]),
                   last_run=last_run["finished"])
    written.append(_write_page(course, "site/report.html.j2", report, site_dir / "report.html"))
    search = site_dir / "search-index.js"
    old = _search_entries_of(search)
    fresh = {view.lecture.name: search_entries([view]) for view in views}
    entries = [entry for lecture in course.lectures for entry in (
        fresh.get(lecture.name) or [e for e in old if lecture.name in kept and e["href"].split(".html")[0] == lecture.name])]
    write_atomic(search, SEARCH_PREFIX + json.dumps(entries, ensure_ascii=True) + ";\n")
    written.append(search)
    written += copy_assets(course.root, site_dir / "assets")
    write_atomic(site_dir / ".nojekyll", "")  # GitHub Pages serves the files as they are
    return written


SEARCH_PREFIX = "window.LECTUREBUILD_SEARCH = "


def _search_entries_of(path: Path) -> list[dict[str, str]]:
    """The entries of a search index written before (none where there is none)."""
    try:
        return json.loads(path.read_text(encoding="utf-8").removeprefix(SEARCH_PREFIX).rstrip().rstrip(";"))
    except (OSError, ValueError):
        return []


def _write_page(course: Course, template: str, site: Site, target: Path) -> Path:
    write_atomic(target, render_template(course.root, template, {"course": course, "site": site}))
    return target


def _last_run(store: Store) -> dict:
    try:
        data = json.loads(store.last_run_path.read_text(encoding="utf-8"))
        return {"finished": str(data["finished"]), "sections": dict(data["sections"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {"finished": "", "sections": {}}


def report_rows(course: Course, results: dict[str, dict[str, SectionResult]],
                ran: dict[str, str]) -> tuple[ReportRow, ...]:
    """Every section's latest run, slowest first; `ran` maps "<lecture>/<section>" to why the latest
    executing build ran it (the others were taken from the cache)."""
    rows = []
    for lecture in course.lectures:
        titles = {s.id: s.title for s in lecture.sections}
        for sid, result in results.get(lecture.name, {}).items():
            reason = ran.get(f"{lecture.name}/{sid}")
            rows.append(ReportRow(
                lecture=lecture.title, section=titles.get(sid, "setup"),
                href=f"{lecture.name}.html" + (f"#{sid}" if sid != SETUP_ID else ""),
                seconds=result.seconds, wall=result.wall, device=result.device,
                status="ran" if reason is not None else "cached",
                reason=reason if reason is not None else f"result of {result.finished[:16].replace('T', ' ')} UTC",
                rss=result.memory.get("rss", 0.0), cuda=result.memory.get("cuda"),
                notes=result.notes, bar=0.0))
    slowest = max((row.seconds for row in rows), default=0.0) or 1.0
    rows = [replace(row, bar=round(100 * row.seconds / slowest, 1)) for row in rows]
    return tuple(sorted(rows, key=lambda row: -row.seconds))


TAGS = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")


def search_entries(views: list[LectureView]) -> list[dict[str, str]]:
    """One entry per lecture introduction and per section: its title, link, prose as plain text and code."""
    entries = []
    for view in views:
        name = view.lecture.name
        current = {"lecture": view.lecture.title, "title": view.lecture.title, "href": f"{name}.html",
                   "text": view.lecture.summary, "code": ""}
        entries.append(current)
        for item in view.items:
            if item.kind == "heading":
                current = {"lecture": view.lecture.title, "title": item.title, "href": f"{name}.html#{item.id}",
                           "text": "", "code": ""}
                entries.append(current)
            elif isinstance(item, Text):
                current["text"] += " " + _plain(item.markdown)
            else:
                current["code"] += "\n" + item.code
    for entry in entries:
        entry["text"] = SPACE.sub(" ", entry["text"]).strip()
    return entries


def _plain(markdown: str) -> str:
    """Prose as the reader sees it: Markdown rendered, then tags dropped and entities decoded."""
    import html

    without_math = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", markdown, flags=re.S)
    return html.unescape(TAGS.sub(" ", markdown_to_html(without_math)))


def copy_assets(course_root: Path, target: Path) -> list[Path]:
    """The site's stylesheet and script (a course's templates/site/assets/ overrides them by name) and
    Pygments' colours for the light and the dark theme."""
    written = []
    for asset in ASSETS:
        own = Path(course_root) / "templates" / "site" / "assets" / asset
        source = own if own.exists() else TEMPLATES_DIR / "site" / "assets" / asset
        write_atomic(target / asset, source.read_bytes())
        written.append(target / asset)
    write_atomic(target / "pygments.css", pygments_themes())
    written.append(target / "pygments.css")
    return written


def pygments_themes() -> str:
    """Light colours by default; dark ones when the reader's system prefers dark or they chose it."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="github-dark").get_style_defs('html[data-theme="dark"] .highlight')
    auto = HtmlFormatter(style="github-dark").get_style_defs('html:not([data-theme="light"]) .highlight')
    return f"{light}\n{dark}\n@media (prefers-color-scheme: dark) {{\n{auto}\n}}\n"


def remove_stale(site_dir: Path, course: Course) -> None:
    """Drop pages and downloads of lectures the course no longer has, and decks and PDFs it no longer builds."""
    names = {lecture.name for lecture in course.lectures}
    decks = {lecture.name for lecture in course.lectures if lecture.in_deck}
    for path in [*site_dir.glob("*"), *site_dir.glob("slides/*")]:
        kept = (names if course.pdf else set()) if path.suffix == ".pdf" else \
            decks if path.parent.name == "slides" else names
        if path.suffix in {".html", ".md", ".ipynb", ".py", ".pdf"} and path.stem not in kept | {"index", "report"}:
            path.unlink()
        elif path.is_dir() and path.name not in names | {"assets", *(["slides"] if course.slides else [])}:
            shutil.rmtree(path)
