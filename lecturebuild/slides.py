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
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

from . import TEMPLATES_DIR
from .model import Error, Figure, Section, Stream, Value
from .render import Cell, Heading, LectureView, Text, render
from .store import Store, write_atomic

# Lines of code or output a slide holds at the deck's code type size (1280 x 720; deck.css: 20 px monospace),
# and characters in a line at that size; wider code and output is set smaller, down to MIN_PX.
SLIDE_LINES = 20
CODE_PX = 20
LINE_CHARS = 96
MIN_PX = 13
# Characters of prose in a line of a slide, for estimating how much of a slide a text takes.
PROSE_CHARS = 72

REVEAL = TEMPLATES_DIR / "slides" / "reveal"
ASSETS = {"reveal_css": REVEAL / "reveal.css", "reveal_js": REVEAL / "reveal.js", "notes_js": REVEAL / "notes.js",
          "deck_css": TEMPLATES_DIR / "slides" / "deck.css"}


@dataclass(frozen=True)
class Part(Cell):
    """What a slide shows of a code cell: all or some of its code or of one output."""

    caption: str = ""  # which lines it holds, where the code or output goes on over several slides
    px: int = CODE_PX  # the type size that fits its widest line


@dataclass(frozen=True)
class Slide:
    id: str  # its anchor: the section's id on a section's first slide, "<id>-2" on the next
    kind: str  # "title", "setup", "section" or "figure"
    title: str
    items: tuple[Text | Part, ...]  # what it shows: text, and parts of the handout's code cells
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
    if setup and lecture.slides != "outputs":  # the setup is code, and prints nothing worth a slide
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
        for piece, lines in (_text_pieces(item) if isinstance(item, Text) else _pieces(item, mode)):
            figure = isinstance(piece, Part) and any(isinstance(o, Figure) for o in piece.outputs)
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


def _text_pieces(text: Text) -> list[tuple[Text, float]]:
    """A text as its top-level Markdown blocks (paragraphs, lists, headings, formulas), so a long text
    goes on over slides between blocks; each with about how many code lines of a slide it takes (prose
    type is larger than code's). A single block longer than a slide scrolls."""
    from .render import _markdown_parser

    lines = text.markdown.split("\n")
    spans = [token.map for token in _markdown_parser().parse(text.markdown) if token.level == 0 and token.map]
    starts = sorted({span[0] for span in spans}) or [0]
    blocks = ["\n".join(lines[a:b]).strip("\n") for a, b in zip([0] + starts[1:], starts[1:] + [len(lines)])]
    for i in range(len(blocks) - 2, -1, -1):  # a heading stays with what it heads
        if blocks[i].startswith("#"):
            blocks[i:i + 2] = [blocks[i] + "\n\n" + blocks[i + 1]]
    return [(replace(text, markdown=block), 1.55 * sum(max(1, math.ceil(len(line) / PROSE_CHARS))
                                                       for line in block.split("\n")) + 0.6)
            for block in blocks if block.strip()]


def _pieces(cell: Cell, mode: str) -> list[tuple[Part, float]]:
    """A cell as what slides show of it, each piece with the share of a slide it takes: its code, then
    each output, in a type size that fits their widest line, each cut into slide-sized runs of lines
    where it is longer than a slide (each run says which lines it holds)."""
    px = _type_size(cell)
    budget = SLIDE_LINES * CODE_PX // px

    def part(of: Cell, lines: int, **changes) -> tuple[Part, float]:
        whole = Part(**{f.name: getattr(of, f.name) for f in fields(Cell)}, px=px)
        return replace(whole, **changes), (lines + 1) * px / CODE_PX

    pieces: list[tuple[Part, float]] = []
    if mode in ("all", "code", "prose") and cell.code.strip():
        for start, chunk, caption in _chunks(cell.code.split("\n"), budget, f"{cell.snippet.name}, lines"):
            pieces.append(part(cell, len(chunk), snippet=replace(cell.snippet, code="\n".join(chunk)), outputs=(),
                               caption=caption, setup=cell.setup and start == 0))
    if mode in ("all", "outputs", "prose"):
        bare = replace(cell, snippet=replace(cell.snippet, code=""), setup=False)
        for output in cell.outputs:
            text = _output_text(output)
            if text is None:  # a figure (a slide of its own) or a declared file (a line)
                pieces.append(part(bare, 0, outputs=(output,)))
                continue
            for _, chunk, caption in _chunks(text.rstrip("\n").split("\n"), budget, "output, lines"):
                pieces.append(part(bare, len(chunk), outputs=(_with_text(output, "\n".join(chunk)),), caption=caption))
    return pieces


def _type_size(cell: Cell) -> int:
    """The largest type, up to CODE_PX, in which the widest line of the cell's code and output fits the
    slide's width; never below MIN_PX (wider lines then scroll sideways)."""
    texts = [cell.code] + [t for o in cell.outputs if (t := _output_text(o)) is not None]
    widest = max((len(line) for t in texts for line in t.split("\n")), default=0)
    return max(MIN_PX, min(CODE_PX, CODE_PX * LINE_CHARS // max(widest, 1)))


def _chunks(lines: list[str], budget: int, what: str):
    """(first line's index, lines, caption) for each run of at most `budget` lines; a whole text gets no
    caption. A run ends, within its second half, after a blank line (between functions, say), else before
    the least indented line (a new statement rather than the middle of a block)."""
    if len(lines) <= budget:
        yield 0, lines, ""
        return
    start = 0
    while start < len(lines):
        end = min(start + budget, len(lines))
        if end < len(lines):
            ends = range(start + budget // 2, end + 1)
            after_blank = [e for e in ends if not lines[e - 1].strip()]
            end = after_blank[-1] if after_blank else max(ends, key=lambda e: (-_indent(lines[e]), e))
        yield start, lines[start:end], f"{what} {start + 1}-{end} of {len(lines)}"
        start = end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip()) if line.strip() else 1_000


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

