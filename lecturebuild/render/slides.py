"""Slide decks: build/slides/<lecture>.html, one reveal.js deck per lecture, from the build's results.

A deck is the handout's view of the lecture (render/view.py, with the text of {slide} blocks)
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
import re
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

from lecturebuild import TEMPLATES_DIR
from lecturebuild.model import Error, Figure, Section, Stream, Value
from lecturebuild.render.templates import render
from lecturebuild.render.text import markdown_parser
from lecturebuild.render.view import Cell, Heading, LectureView, Text
from lecturebuild.store import Store, write_atomic

# Lines of code or output a slide holds at the deck's code type size (1280 x 720; deck.css: 20 px monospace),
# and characters in a line at that size; wider code and output is set smaller, down to MIN_PX.
SLIDE_LINES = 22
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
    """A text as its top-level Markdown blocks (paragraphs, lists, headings, formulas), and a list too long
    for a slide as its items, so a long text goes on over slides between them; each with about how many
    code lines of a slide it takes (prose type is larger than code's). A single paragraph longer than a
    slide scrolls."""

    lines = text.markdown.split("\n")
    tokens = markdown_parser().parse(text.markdown)
    blocks: list[str] = []
    for n, token in enumerate(tokens):
        if token.level != 0 or not token.map or token.nesting == -1:
            continue
        a, b = token.map
        block = "\n".join(lines[a:b]).strip("\n")
        if token.type in ("bullet_list_open", "ordered_list_open") and _text_lines(block) > SLIDE_LINES:
            blocks += _list_items(tokens[n:], lines, int(token.attrs.get("start", 1)), token.type[0] == "o")
        else:
            blocks.append(block)
    for i in range(len(blocks) - 2, -1, -1):  # a heading stays with what it heads
        if blocks[i].startswith("#"):
            blocks[i:i + 2] = [blocks[i] + "\n\n" + blocks[i + 1]]
    return [(replace(text, markdown=block), _text_lines(block)) for block in blocks if block.strip()]


def _list_items(tokens: list, lines: list[str], start: int, ordered: bool) -> list[str]:
    """The items of the list that `tokens` opens, each as a list of its own; an ordered list's items keep
    their numbers (CommonMark starts a list at the number its first item has)."""
    items = []
    for token in tokens[1:]:
        if token.level == 0:
            break  # the list's end
        if token.type == "list_item_open" and token.level == 1:
            item = "\n".join(lines[token.map[0]:token.map[1]]).strip("\n")
            if ordered:
                item = re.sub(r"^(\s*)\d+", lambda m: f"{m.group(1)}{start + len(items)}", item, count=1)
            items.append(item)
    return items


def _text_lines(block: str) -> float:
    return 1.55 * sum(max(1, math.ceil(len(line) / PROSE_CHARS)) for line in block.split("\n")) + 0.6


def _pieces(cell: Cell, mode: str) -> list[tuple[Part, float]]:
    """A cell as what slides show of it, each piece with the share of a slide it takes: its code, then
    each output, each in a type size that fits its widest line and cut into slide-sized runs of lines
    where it is longer than a slide (each run says which lines it holds)."""
    pieces: list[tuple[Part, float]] = []

    def add(of: Cell, text: str, what: str, changed) -> None:
        lines = text.rstrip("\n").split("\n")
        px = _type_size(lines)
        wide = "; wider than the slide: scroll sideways" if px == MIN_PX and _too_wide(lines) else ""
        for start, chunk, caption in _chunks(lines, SLIDE_LINES * CODE_PX // px, what):
            whole = Part(**{f.name: getattr(of, f.name) for f in fields(Cell)}, px=px)
            label = (caption + wide).removeprefix("; ")
            pieces.append((replace(whole, caption=label, **changed(start, "\n".join(chunk))),
                           (len(chunk) + 1) * px / CODE_PX))

    if mode in ("all", "code", "prose") and cell.code.strip():
        add(cell, cell.code, f"{cell.snippet.name}, lines", lambda start, chunk: dict(
            snippet=replace(cell.snippet, code=chunk), outputs=(), setup=cell.setup and start == 0))
    if mode in ("all", "outputs", "prose"):
        bare = replace(cell, snippet=replace(cell.snippet, code=""), setup=False)
        for output in cell.outputs:
            text = _output_text(output)
            if text is None:  # a figure (a slide of its own) or a declared file (a line)
                whole = Part(**{f.name: getattr(bare, f.name) for f in fields(Cell)})
                pieces.append((replace(whole, outputs=(output,)), 1.0))
            else:
                add(bare, text, "output, lines", lambda start, chunk, output=output: dict(
                    outputs=(_with_text(output, chunk),)))
    return pieces


def _type_size(lines: list[str]) -> int:
    """The largest type, up to CODE_PX, in which the widest of `lines` fits the slide's width; never
    below MIN_PX (wider lines then scroll sideways)."""
    widest = max((len(line) for line in lines), default=0)
    return max(MIN_PX, min(CODE_PX, CODE_PX * LINE_CHARS // max(widest, 1)))


def _too_wide(lines: list[str]) -> bool:
    return any(len(line) * MIN_PX > LINE_CHARS * CODE_PX for line in lines)


def _chunks(lines: list[str], budget: int, what: str):
    """(first line's index, lines, caption) for each run of at most `budget` lines; a whole text gets no
    caption. A run ends, within its second half, after a blank line (between functions, say), else before
    the least indented line (a new statement rather than the middle of a block)."""
    if len(lines) <= budget:
        yield 0, lines, ""
        return
    budget = math.ceil(len(lines) / math.ceil(len(lines) / budget))  # even runs: no last slide of one line
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


def write_deck(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/slides/<lecture>.html: the deck, with its figures embedded."""
    figures = store.figures_dir(view.lecture.name)

    def embedded(figure: Figure) -> str:
        return "data:image/png;base64," + base64.b64encode((figures / figure.file).read_bytes()).decode("ascii")

    target = out_dir / f"{view.lecture.name}.html"
    html = render(view, "slides", embedded, deck=build_deck(view, view.course.root))
    write_atomic(target, html)
    if view.course.slides:  # the site offers it: build/site/slides/<lecture>.html
        write_atomic(store.build / "site" / "slides" / target.name, html)
    return target

