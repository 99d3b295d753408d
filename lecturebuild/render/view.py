"""The view every format renders: a lecture as a flat list of items (headings, prose with its quoted values
filled in, code cells with their outputs), made once from the course and its results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lecturebuild.model import SETUP_ID, Course, Device, Figure, File, Lecture, Output, Prose, SectionResult, Snippet
from lecturebuild.render import quote
from lecturebuild.store import Store, write_atomic


@dataclass(frozen=True)
class Heading:
    title: str
    id: str
    result: SectionResult | None  # the section's run, for its time and device
    kind: str = "heading"


@dataclass(frozen=True)
class Text:
    markdown: str  # prose with quoted values filled in
    slide: bool = False  # from a {slide} block: only slide decks show it
    kind: str = "prose"


@dataclass(frozen=True)
class Cell:
    snippet: Snippet
    outputs: tuple[Output, ...]
    seconds: float
    setup: bool  # the lecture's setup code
    kind: str = "cell"

    @property
    def code(self) -> str:
        return self.snippet.code.rstrip("\n")


@dataclass(frozen=True)
class LectureView:
    course: Course
    lecture: Lecture
    items: tuple[Heading | Text | Cell, ...]
    device: Device
    built: str  # when the newest result was produced, ISO 8601
    previous: Lecture | None
    next: Lecture | None
    results: Mapping[str, SectionResult]  # what it was made from, by section id

    @property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(i for i in self.items if isinstance(i, Cell))

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(o for c in self.cells for o in c.outputs if isinstance(o, Figure))

    @property
    def files(self) -> tuple[File, ...]:
        return tuple(o for c in self.cells for o in c.outputs if isinstance(o, File))


def attach(view: LectureView, store: Store, out_dir: Path, figures: bool = True) -> None:
    """Put what the rendered lecture links beside it, in <out_dir>/<lecture>/: its figures (unless the format
    embeds them) and the files its snippets declared. Anything else there (a figure of an earlier run that
    no section draws any more) is removed, so that neither the build nor a published site keeps it."""
    folder = out_dir / view.lecture.name
    wanted = {}
    if figures:
        wanted.update({folder / f.file: store.figures_dir(view.lecture.name) / f.file for f in view.figures})
    source = store.results_dir(view.lecture.name) / "files"
    wanted.update({folder / "files" / f.file: source / f.file for f in view.files})
    for target, origin in wanted.items():
        write_atomic(target, origin.read_bytes())
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
            elif path not in wanted:
                path.unlink()


def lecture_view(course: Course, lecture: Lecture, results: dict[str, SectionResult],
                 slides: bool = False) -> LectureView:
    """Fill the prose's quoted values from `results` (every runnable section's result, and the setup's).
    The text of {slide} blocks is in the view only for a slide deck (`slides`)."""
    context = {sid: quote.SectionValues(sid, r.values) for sid, r in results.items() if sid != SETUP_ID}
    items: list = []

    def prose(block: Prose) -> Text:
        return Text(markdown=quote.render_prose(lecture.source, block, context), slide=block.slide)

    def cells(snippets: tuple[Snippet, ...], result: SectionResult, setup: bool) -> list[Cell]:
        runs = {run.snippet: run for run in result.runs}
        return [Cell(snippet=s, outputs=runs[s.name].outputs if s.name in runs else (),
                     seconds=runs[s.name].seconds if s.name in runs else 0.0, setup=setup) for s in snippets]

    items += [prose(p) for p in lecture.intro if slides or not p.slide]
    if lecture.setup is not None:
        items += cells((lecture.setup,), results[SETUP_ID], setup=True)
    for section in lecture.sections:
        result = results.get(section.id)
        items.append(Heading(title=section.title, id=section.id, result=result))
        for block in section.blocks:
            if isinstance(block, Prose):
                if slides or not block.slide:
                    items.append(prose(block))
            else:
                items += cells((block,), result, setup=False)
    index = course.lectures.index(lecture)
    ordered = sorted(results.values(), key=lambda r: r.finished)
    return LectureView(
        course=course, lecture=lecture, items=tuple(items),
        device=ordered[-1].device if ordered else Device("none", "", "", ""),
        built=ordered[-1].finished if ordered else "",
        previous=course.lectures[index - 1] if index > 0 else None,
        next=course.lectures[index + 1] if index + 1 < len(course.lectures) else None,
        results=results,
    )
