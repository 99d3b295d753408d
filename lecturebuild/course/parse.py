"""Reading a lecture's Markdown: its front matter, its headings as sections with their attributes, its
{snippet} and {slide} blocks; every problem found is collected with its file and line."""

from __future__ import annotations

import keyword
import math
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from lecturebuild.errors import Problem
from lecturebuild.model import PRECISIONS, SLIDE_MODES, Limits, Prose, Snippet

FRONT_MATTER_KEYS = {"title": str, "order": int, "summary": str, "setup": str, "seed": int,
                     "time_limit": (int, float), "memory_limit": int, "output_limit": int, "tolerance": (int, float),
                     "threads": int, "precision": str, "platform_tolerance": (int, float), "sequential": bool,
                     "slides": str}


REQUIRED_KEYS = ("title", "order", "summary")


SECTION_ATTRIBUTES = ("needs", "time_limit", "memory_limit", "platform_tolerance", "slide")


SNIPPET_OPTIONS = ("raises", "files")


SECTION_ID = re.compile(r"^[a-z][a-z0-9_]*$")


RESERVED_IDS = {"lecture", "course", "true", "false", "none", "and", "or", "not", "in", "is", "if", "else"}


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$")


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


HEADING_ATTRIBUTES = re.compile(r"\s*\{([^{}]*)\}$")


DIRECTIVE = re.compile(r"^\{snippet\}\s*(.*)$")


SLIDE_BLOCK = re.compile(r"^\{slide\}\s*$")  # Markdown shown on the section's slide only


# A {snippet} or {slide} opener anywhere a fence cannot open it: inside another fence, indented into a
# code block (a list item's), or in a quote.
STRAY_DIRECTIVE = re.compile(r"^[\s>]*(`{3,}|~{3,})\s*\{(snippet|slide)\}")


NEAR_DIRECTIVE = re.compile(r"^\{(snippet|slide)")  # a fence label that means one and is not it: {slides}


OPTION = re.compile(r"^:([A-Za-z_-]+):\s*(.*)$")


@dataclass
class SectionDraft:
    """A section while its lines are being read; frozen into a Section at the end."""

    id: str
    title: str
    line: int
    needs: tuple[str, ...]
    limits: Limits
    platform_tolerance: float = 0.0
    slide: str = ""
    blocks: list = field(default_factory=list)


class BodyReader:
    """Splits a lecture body into intro prose and sections, reading {snippet} directives."""

    def __init__(self, root: Path, source: Path, snippets_dir: Path, problems: list[Problem]):
        self.root = root
        self.source = source
        self.snippets_dir = snippets_dir
        self.problems = problems

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def read(self, lines: list[str], start: int) -> tuple[list[Prose], list[SectionDraft]]:
        intro: list = []
        sections: list[SectionDraft] = []
        blocks = intro
        prose: list[str] = []
        prose_line = start + 1

        def flush() -> None:
            text = "\n".join(prose).strip("\n")
            if text.strip():
                first = prose_line + next(i for i, ln in enumerate(prose) if ln.strip())
                blocks.append(Prose(text=text, line=first))
            prose.clear()

        i = start
        while i < len(lines):
            line, number = lines[i], i + 1
            fence = FENCE.match(line)
            if fence:
                close = self._closing_fence(lines, i, fence.group(1))
                directive = DIRECTIVE.match(fence.group(2).strip())
                if NEAR_DIRECTIVE.match(fence.group(2).strip()) and not directive \
                        and not SLIDE_BLOCK.match(fence.group(2).strip()):
                    self.problem(number, f"'{fence.group(1)}{fence.group(2).strip()}' is neither "
                                 f"'{fence.group(1)}{{snippet}} file.py' nor '{fence.group(1)}{{slide}}' (which takes "
                                 "nothing after it); it would show as a code block")
                if SLIDE_BLOCK.match(fence.group(2).strip()):
                    flush()
                    self._stray_directives(lines, i + 1, close, f"inside the {{slide}} block opened on line {number}")
                    text = "\n".join(lines[i + 1 : close]).strip("\n")
                    if text.strip():
                        first = i + 2 + next(k for k, ln in enumerate(lines[i + 1 : close]) if ln.strip())
                        blocks.append(Prose(text=text, line=first, slide=True))
                    else:
                        self.problem(number, "this {slide} block is empty: put the Markdown the slide shows in it")
                    prose_line = close + 2
                elif directive:
                    flush()
                    snippet = self._directive(directive.group(1), lines[i + 1 : close], number)
                    if blocks is intro:
                        self.problem(number, "a {snippet} must be inside a section ('## Title' above it)")
                    elif snippet is not None:
                        blocks.append(snippet)
                    prose_line = close + 2
                else:
                    if not fence.group(2).strip():  # a labelled fence (```markdown) quotes its text on purpose
                        self._stray_directives(lines, i + 1, close, f"inside the fence opened on line {number} "
                                               "(label that fence, as in ````markdown, if it shows an example)")
                    prose.extend(lines[i : close + 1])
                i = close + 1
                continue
            if STRAY_DIRECTIVE.match(line):
                self._stray_directives(lines, i, i + 1, "in a quote ('>')" if line.lstrip().startswith(">") else
                                       "indented four spaces or more (in a list item, say), so Markdown reads it "
                                       "as text")
            heading = HEADING.match(line)
            if heading and len(heading.group(1)) <= 2:
                flush()
                if len(heading.group(1)) == 1:
                    self.problem(number, "'#' headings are not allowed: the title comes from the front matter "
                                 "and sections start at '## Title'")
                else:
                    sections.append(self._section(heading.group(2), number))
                    blocks = sections[-1].blocks
                prose_line = number + 1
            else:
                prose.append(line)
            i += 1
        flush()
        return intro, sections

    def _stray_directives(self, lines: list[str], start: int, end: int, where: str) -> None:
        """A {snippet} block that is not placed would never run and shows as text, a {slide} block would
        show in the handout and on no slide: an error, wherever the lecture came from."""
        for j in range(start, end):
            if stray := STRAY_DIRECTIVE.match(lines[j]):
                kind = stray.group(2)
                self.problem(j + 1, f"this {{{kind}}} block is not placed: it is {where}; it would show as text "
                             + ("and never run" if kind == "snippet" else "in the handout and on no slide"))

    def _closing_fence(self, lines: list[str], start: int, opener: str) -> int:
        for j in range(start + 1, len(lines)):
            stripped = lines[j].strip()
            if stripped.startswith(opener[0] * len(opener)) and not stripped.strip(opener[0]):
                return j
        self.problem(start + 1, "code fence is never closed")
        return len(lines)

    def _section(self, text: str, line: int) -> SectionDraft:
        attributes = HEADING_ATTRIBUTES.search(text)
        title = text[: attributes.start()].strip() if attributes else text.strip()
        section_id, needs, limits, slide = "", (), {}, ""
        if attributes:
            try:
                tokens = shlex.split(attributes.group(1))
            except ValueError as exc:
                tokens = []
                self.problem(line, f"cannot read the heading's attributes: {exc}")
            for token in tokens:
                if token.startswith("#"):
                    section_id = token[1:]
                elif "=" in token:
                    key, value = token.split("=", 1)
                    if key == "needs":
                        needs = tuple(n for n in re.split(r"[,\s]+", value) if n)
                    elif key == "slide":
                        slide = value
                        if value not in SLIDE_MODES:
                            self.problem(line, f"slide must be one of {', '.join(SLIDE_MODES)} (what the section's "
                                         f"slide shows), got {value!r}")
                    elif key in SECTION_ATTRIBUTES:
                        try:
                            limits[key] = int(value) if key == "memory_limit" else float(value)
                            assert 0 < limits[key] < math.inf
                        except (ValueError, AssertionError):
                            self.problem(line, f"{key} must be a positive number, got {value!r}")
                    else:
                        self.problem(line, f"unknown section attribute {key!r} (known: {', '.join(SECTION_ATTRIBUTES)})")
                else:
                    self.problem(line, f"cannot read section attribute {token!r}: use '#id' or 'needs=a,b'")
        if not section_id:
            section_id = identifier(title)
        elif not SECTION_ID.match(section_id) or section_id in RESERVED_IDS or keyword.iskeyword(section_id):
            self.problem(line, f"section id {section_id!r} must be lowercase letters, digits and '_', "
                         "starting with a letter, and not a reserved word")
        return SectionDraft(id=section_id, title=title, line=line, needs=needs,
                             limits=Limits(time=limits.get("time_limit", 0.0), memory=limits.get("memory_limit", 0)),
                             platform_tolerance=limits.get("platform_tolerance", 0.0), slide=slide)

    def _directive(self, argument: str, body: list[str], line: int) -> Snippet | None:
        options: dict[str, str] = {}
        for offset, text in enumerate(body, start=1):
            if not text.strip():
                continue
            option = OPTION.match(text.strip())
            if not option:
                self.problem(line + offset, "a {snippet} block holds only ':option: value' lines; "
                             "the code lives in the snippet file")
            elif option.group(1) not in SNIPPET_OPTIONS:
                self.problem(line + offset, f"unknown snippet option {option.group(1)!r} (known: raises, files)")
            else:
                options[option.group(1)] = option.group(2).strip()
        if not argument.strip():
            self.problem(line, "a {snippet} directive needs a file name: ```{snippet} name.py")
            return None
        files = tuple(options.get("files", "").replace(",", " ").split())
        for name in files:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                self.problem(line, f"declared file {name!r} must be a relative path inside the section's folder")
        snippet = self.snippet(argument.strip(), line, raises=options.get("raises", ""))
        return replace(snippet, files=files) if snippet is not None else None

    def snippet(self, name: str, line: int, raises: str) -> Snippet | None:
        path = (self.snippets_dir / name).resolve()
        if not path.is_relative_to(self.snippets_dir.resolve()):
            self.problem(line, f"snippet path {name!r} leaves snippets/{self.snippets_dir.name}/")
            return None
        if not path.is_relative_to(self.root):
            self.problem(line, f"snippet {name!r} is {path}, outside the course folder (is snippets/"
                         f"{self.snippets_dir.name} a link out of it?); keep snippets inside the course")
            return None
        rel = path.relative_to(self.root).as_posix()
        if path.suffix != ".py":
            self.problem(line, f"snippet {rel} must be a .py file")
            return None
        if not path.is_file():
            self.problem(line, f"snippet file {rel} does not exist")
            return None
        try:
            code = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.problem(line, f"snippet file {rel} is not valid UTF-8: {exc.reason}")
            return None
        return Snippet(name=name, file=rel, path=path, code=code, line=line, raises=raises)


def identifier(title: str) -> str:
    ident = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "section"
    return ident if ident[0].isalpha() else "s" + ident


def front_matter(source: Path, lines: list[str], problems: list[Problem]) -> tuple[dict, int]:
    """Parse the YAML between the leading '---' lines; return it and the index of the body's first line."""
    if not lines or lines[0].strip() != "---":
        problems.append(Problem(source, 1, "missing front matter: the file must start with a '---' line"))
        return {}, 0
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        problems.append(Problem(source, 1, "front matter is not closed by a '---' line"))
        return {}, len(lines)
    data, key_lines = parse_yaml(source, "\n".join(lines[1:end]), 1, problems)
    if data is None:
        return {}, end + 1
    check_keys(source, data, key_lines, FRONT_MATTER_KEYS, REQUIRED_KEYS, problems)
    if "setup" in key_lines:
        data["_line_setup"] = key_lines["setup"]
    return data, end + 1


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ten times faster


TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def parse_yaml(path: Path, text: str, offset: int, problems: list[Problem]) -> tuple[dict | None, dict[str, int]]:
    """Parse a YAML mapping; return it (None if unreadable) and each key's line (offset = lines before `text`)."""
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 + offset if mark else offset + 1
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(path, line, f"invalid YAML: {reason}"))
        return None, {}
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        problems.append(Problem(path, offset + 1, "expected 'key: value' lines"))
        return None, {}
    key_lines = {m.group(1): text.count("\n", 0, m.start()) + 1 + offset for m in TOP_LEVEL_KEY.finditer(text)}
    return data, key_lines


def check_keys(path, data, key_lines, allowed, required, problems) -> None:
    for key, value in data.items():
        line = key_lines.get(str(key), 0)
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.append(Problem(path, line, f"unknown key {key!r} (known keys: {known})"))
        elif not isinstance(value, allowed[key]) or (isinstance(value, bool) and allowed[key] is not bool):
            wanted = {int: "an integer", str: "text", bool: "true or false"}.get(allowed[key], "a number")
            if key == "slides" and allowed[key] is str:  # `slides: true` belongs in course.yml
                wanted = f"one of {', '.join(SLIDE_MODES)} (what the lecture's slides show; course.yml's " \
                         "`slides: true` makes every build write the decks)"
            problems.append(Problem(path, line, f"{key!r} must be {wanted}, got {value!r}"))
        elif (key.endswith(("_limit", "tolerance")) or key == "threads") and not 0 < value < math.inf:
            problems.append(Problem(path, line, f"{key!r} must be a positive, finite number, got {value!r}"))
        elif key == "precision" and value not in PRECISIONS:
            problems.append(Problem(path, line, f"'precision' must be one of {', '.join(PRECISIONS)}, got {value!r}"))
        elif key == "slides" and allowed[key] is str and value not in SLIDE_MODES:
            problems.append(Problem(path, line, f"'slides' must be one of {', '.join(SLIDE_MODES)} (what the "
                                    f"lecture's slides show), got {value!r}"))
    for key in required:
        if key not in data:
            problems.append(Problem(path, 1, f"front matter lacks {key!r}"))
