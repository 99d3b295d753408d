"""Slide decks: build/slides/<lecture>.html, one reveal.js deck per lecture, from the build's results.

A deck is the handout's view of the lecture (render.lecture_view, with the text of {slide} blocks)
regrouped into slides; nothing runs again:

    title slide    the course, the lecture's title and summary, where its outputs come from;
                   the intro's prose as speaker notes, the intro's {slide} text on the slide
    setup          the setup code, where the lecture's slides show code
    a section      its title, then what its mode shows (model.SLIDE_MODES): by default its code and
                   outputs, with its prose as speaker notes beside the code it introduces, and the
                   text of its {slide} blocks on the slide; a section without code shows its prose
    continuations  code or output longer than a slide goes on over the next slides, each labelled
                   with the lines it holds, so nothing is cut; a figure gets a slide of its own

The deck is one file (reveal.js, its styles and the figures inline), so it works from file://, from a
USB stick in the lecture hall and on any static host.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from . import TEMPLATES_DIR
from .model import Error, Figure, Section, Stream, Value
from .render import Cell, Heading, LectureView, Text, render
from .store import Store, write_atomic

# Lines of code or output a slide holds at the deck's type size (1280 x 720, 20 px monospace).
SLIDE_LINES = 18
# Characters of prose in a line of a slide, for estimating how much of a slide a text takes.
PROSE_CHARS = 64

REVEAL = TEMPLATES_DIR / "slides" / "reveal"
ASSETS = {"reveal_css": REVEAL / "reveal.css", "reveal_js": REVEAL / "reveal.js", "notes_js": REVEAL / "notes.js",
          "deck_css": TEMPLATES_DIR / "slides" / "deck.css"}


@dataclass(frozen=True)
class Slide:
    id: str  # its anchor: the section's id on a section's first slide, "<id>-2" on the next
    kind: str  # "title", "setup", "section" or "figure"
    title: str
    items: tuple[Text | Cell, ...]  # what it shows, as the handout's view holds them
    notes: tuple[Text, ...]  # the speaker notes
    part: int = 1  # its place among its section's slides
    parts: int = 1


@dataclass(frozen=True)
class Deck:
    slides: tuple[Slide, ...]
    assets: dict[str, str]  # reveal.js, its stylesheet, the notes plugin and the deck's own style


# ----------------------------------------------------------------------------------------------
# Laying the view out as slides


def build_deck(view: LectureView, course_root: Path) -> Deck:
    """The lecture's slides; `view` must hold the text of {slide} blocks (lecture_view(..., slides=True))."""
    lecture = view.lecture
    groups = _by_section(view)
    intro = [i for i in groups[None] if isinstance(i, Text)]
    setup = [i for i in groups[None] if isinstance(i, Cell)]
    slides = [Slide(id="lecture-title", kind="title", title=lecture.title, items=tuple(t for t in intro if t.slide),
                    notes=tuple(t for t in intro if not t.slide))]
    if setup and lecture.slides in ("all", "code"):
        slides += _numbered(_pack("lecture-setup", "Setup", setup, "code", "setup"))
    for section in lecture.sections:
        mode = section.slide or lecture.slides
        if mode != "none":
            slides += _numbered(_pack(section.id, section.title, groups.get(section.id, []), mode, "section",
                                      prose_on_slide=_shows_prose(section, groups.get(section.id, []), mode)))
    return Deck(slides=tuple(slides), assets=deck_assets(course_root))


def _by_section(view: LectureView) -> dict[str | None, list]:
    """The view's items by the section they belong to (None: the intro and the setup, before any heading)."""
    groups: dict[str | None, list] = {None: []}
    current: str | None = None
    for item in view.items:
        if isinstance(item, Heading):
            current = item.id
            groups[current] = []
        else:
            groups[current].append(item)
    return groups


def _shows_prose(section: Section, items: list, mode: str) -> bool:
    """Prose goes on the slide in "prose" mode, and in a section with neither code nor {slide} text: the
    prose is all such a section has to show."""
    return mode == "prose" or (not section.snippets and not any(isinstance(i, Text) and i.slide for i in items))


def _pack(sid: str, title: str, items: list, mode: str, kind: str, prose_on_slide: bool = False) -> list[Slide]:
    """Fill slides in lecture order up to SLIDE_LINES; prose that is not shown becomes the notes of the
    slide that holds what follows it (or of the last slide)."""
    slides: list[Slide] = []
    shown: list = []
    notes: list[Text] = []
    pending: list[Text] = []
    used = 0.0

    def close(slide_kind: str = kind) -> None:
        nonlocal shown, notes, used
        if shown or notes:
            slides.append(Slide(id=sid, kind=slide_kind, title=title, items=tuple(shown), notes=tuple(notes)))
        shown, notes, used = [], [], 0.0

    for item in items:
        if isinstance(item, Text) and not (item.slide or prose_on_slide):
            pending.append(item)
            continue
        for piece, lines in ([(item, _text_lines(item))] if isinstance(item, Text) else _pieces(item, mode)):
            figure = isinstance(piece, Cell) and any(isinstance(o, Figure) for o in piece.outputs)
            if figure or (shown and used + lines > SLIDE_LINES):
                close()
            shown.append(piece)
            notes += pending
            pending = []
            used += lines
            if figure:
                close("figure")
    close()
    if pending:
        if slides:
            slides[-1] = replace(slides[-1], notes=slides[-1].notes + tuple(pending))
        else:
            slides.append(Slide(id=sid, kind=kind, title=title, items=(), notes=tuple(pending)))
    return slides or [Slide(id=sid, kind=kind, title=title, items=(), notes=())]


def _numbered(slides: list[Slide]) -> list[Slide]:
    count = len(slides)
    return [replace(s, id=s.id if n == 1 else f"{s.id}-{n}", part=n, parts=count) for n, s in enumerate(slides, 1)]


def _text_lines(text: Text) -> float:
    """About how many code lines of a slide a text takes (its type is larger than code's)."""
    lines = text.markdown.strip().split("\n")
    return 1.4 * sum(max(1, math.ceil(len(line) / PROSE_CHARS)) for line in lines) + 0.5


def _pieces(cell: Cell, mode: str) -> list[tuple[Cell, float]]:
    """A cell as what a slide shows of it: its code, then each output, each cut into slide-sized runs of
    lines where it is longer than a slide (each run says which lines it holds)."""
    pieces: list[tuple[Cell, float]] = []
    if mode in ("all", "code", "prose") and cell.code.strip():
        lines = cell.code.split("\n")
        for start, chunk, caption in _chunks(lines, f"{cell.snippet.name}, lines"):
            pieces.append((replace(cell, snippet=replace(cell.snippet, code="\n".join(chunk)), outputs=(),
                                   caption=caption, setup=cell.setup and start == 0), len(chunk) + 1))
    if mode in ("all", "outputs", "prose"):
        bare = replace(cell, snippet=replace(cell.snippet, code=""), setup=False)
        for output in cell.outputs:
            text = _output_text(output)
            if text is None:
                pieces.append((replace(bare, outputs=(output,)), 0 if isinstance(output, Figure) else 1))
                continue
            for _, chunk, caption in _chunks(text.rstrip("\n").split("\n"), "output, lines"):
                pieces.append((replace(bare, outputs=(_with_text(output, "\n".join(chunk)),), caption=caption),
                               len(chunk) + 1))
    return pieces


def _chunks(lines: list[str], what: str):
    """(first line's index, lines, caption) for each slide-sized run; the caption is "" for a whole text."""
    if len(lines) <= SLIDE_LINES:
        yield 0, lines, ""
        return
    for start in range(0, len(lines), SLIDE_LINES):
        chunk = lines[start:start + SLIDE_LINES]
        yield start, chunk, f"{what} {start + 1}-{start + len(chunk)} of {len(lines)}"


def _output_text(output) -> str | None:
    if isinstance(output, (Stream, Value)):
        return output.text
    if isinstance(output, Error):
        return output.traceback
    return None  # a figure or a declared file: shown whole


def _with_text(output, text: str):
    return replace(output, traceback=text) if isinstance(output, Error) else replace(output, text=text)


# ----------------------------------------------------------------------------------------------
# The file


def deck_assets(course_root: Path) -> dict[str, str]:
    """reveal.js and the deck's style as text to inline; a course's templates/slides/deck.css wins."""
    own = Path(course_root) / "templates" / "slides" / "deck.css"
    return {**_builtin_assets(), **({"deck_css": own.read_text(encoding="utf-8")} if own.is_file() else {})}


@lru_cache(maxsize=1)
def _builtin_assets() -> dict[str, str]:
    assets = {name: path.read_text(encoding="utf-8") for name, path in ASSETS.items()}
    # Inlined in <script> and <style> elements: nothing in them may end its element early.
    assert not any(f"</{'style' if name.endswith('css') else 'script'}" in text.lower() for name, text in assets.items())
    return assets


def asset_files(course_root: Path) -> list[Path]:
    """Every file a deck inlines, for the build's dependencies."""
    own = Path(course_root) / "templates" / "slides" / "deck.css"
    return list(ASSETS.values()) + ([own] if own.is_file() else [])


def write_deck(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/slides/<lecture>.html: the deck, with its figures embedded."""
    figures = store.figures_dir(view.lecture.name)

    def embedded(figure: Figure) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / figure.file).read_bytes()).decode("ascii")

    target = out_dir / f"{view.lecture.name}.html"
    write_atomic(target, render(view, "slides", embedded, deck=build_deck(view, view.course.root)))
    return target

