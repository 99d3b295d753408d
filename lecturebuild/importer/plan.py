"""From blocks to a lecture's plan: its title, setup, sections and what each needs, by the rules in
lecturebuild/importer/__init__.py."""

from __future__ import annotations

import ast
import importlib.util
import keyword
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from lecturebuild.importer import dataflow
from lecturebuild.importer.read import BANNER, Block, worth_keeping
from lecturebuild.prelude import DRAWS_RANDOM, SEEDS


def leading_imports(code: str) -> tuple[str, str]:
    """(the import statements that open `code`, the rest)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "", code
    lines = code.splitlines()
    end = 0
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            break
        end = node.end_lineno
    if not end:
        return "", code
    return "\n".join(lines[:end]).strip() + "\n", "\n".join(lines[end:]).strip("\n") + "\n"


@dataclass
class DraftSection:
    title: str
    id: str
    blocks: list  # prose strings and code Blocks
    needs: list = field(default_factory=list)
    inferred: dict = field(default_factory=dict)  # needed section -> names that made it needed


def identifier(title: str, taken: set[str], reserved=lambda name: False) -> str:
    """A section id (and snippet file stem) from a title: unused so far, and never a name `reserved`
    refuses."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()  # Données -> Donnees
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    while words and words[0].isdigit():
        words.pop(0)  # "1.2 PyTorch RNN" -> pytorch_rnn
    base = "_".join(words[:5]) or "section"
    base = base if base[0].isalpha() else f"s_{base}"
    if reserved(base):
        base = f"{base}_section"
    candidate, number = base, 2
    while candidate in taken or reserved(candidate):
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def _reserved(imported: set[str]):
    """What a section id must not be: the setup's file name, a name the course refuses, a Python
    keyword, or the name of a module (snippets/<lecture>/ comes first on the import path, so
    `torch.py` there would hide torch)."""
    from lecturebuild.course.parse import RESERVED_IDS

    fixed = {"setup", "device"} | RESERVED_IDS | set(keyword.kwlist) | set(sys.stdlib_module_names) | imported

    def reserved(name: str) -> bool:
        if name in fixed:
            return True
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    return reserved


def plan_sections(blocks: list[Block], fallback_title: str) -> tuple[str, list, str, list[DraftSection]]:
    """(title, intro prose, setup code, sections) by the rules in the module's docstring."""
    title = fallback_title
    opening = next((k for k, b in enumerate(blocks) if b.kind == "code"), len(blocks))
    blocks = [Block("prose", f"> **{b.text}**", b.line, where=b.where)  # a warning about the notebook: a quote
              if b.kind == "heading" and k < opening and BANNER.match(b.text) else b for k, b in enumerate(blocks)]
    first = next((k for k, b in enumerate(blocks) if b.kind in ("heading", "code")), None)
    if first is not None and blocks[first].kind == "heading" and blocks[first].level == 1:
        title, blocks = blocks[first].text, blocks[:first] + blocks[first + 1:]  # prose before it: the intro
    code_levels = []
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            following = next((b for b in blocks[index + 1:] if b.kind in ("heading", "code")), None)
            if following is not None and following.kind == "code":
                code_levels.append(block.level)
    section_level = min(code_levels, default=2)
    setup = ""
    first_code = next((b for b in blocks if b.kind == "code"), None)
    if first_code is not None:
        setup, rest = leading_imports(first_code.text)
        first_code.text = rest if rest.strip() else ""
    intro: list = []
    sections: list[DraftSection] = []
    taken: set[str] = set()
    reserved = _reserved({name for code in [setup] + [b.text for b in blocks if b.kind == "code"]
                          for name in dataflow.effects(code).modules})
    if not any(b.kind == "heading" for b in blocks):
        return title, *_without_headings(blocks, setup, taken, reserved)
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            with_code = block.level in code_levels and any(
                b.kind == "code" for b in _until_next_heading(blocks, index))
            if block.level <= section_level or with_code:
                sections.append(DraftSection(block.text, identifier(block.text, taken, reserved), []))
                continue
            text = "#" * 3 + " " + block.text
        elif block.kind == "code":
            if not worth_keeping(block.text):
                continue
            if not sections:
                sections.append(DraftSection("Getting started", identifier("start", taken, reserved), []))
            sections[-1].blocks.append(block)
            continue
        else:
            text = block.text
        (sections[-1].blocks if sections else intro).append(_escape_prose(text))
    return title, intro, setup, sections


def _without_headings(blocks: list[Block], setup: str, taken: set[str], reserved) -> tuple[list, str, list]:
    """Sections for material without headings (a notebook of cells): a section starts at each stretch of
    prose that comes before code, titled from its first words, and where there is no prose after the
    first code at all, at every code cell. One failing cell then fails its own section, not the lecture."""
    intro: list = []
    sections: list[DraftSection] = []
    prose: list[str] = []
    first = next((k for k, b in enumerate(blocks) if b.kind == "code"), len(blocks))  # its imports: the setup
    talks = any(b.kind == "prose" for b in blocks[first + 1:])  # prose between the cells, or none at all
    for index, block in enumerate(blocks):
        if block.kind == "prose":
            (prose if index > first else intro).append(_escape_prose(block.text))
        elif block.kind == "code" and worth_keeping(block.text):
            if not sections or prose or not talks:
                title = _title_from(prose) or ("Getting started" if not sections else f"Step {len(sections) + 1}")
                key = "start" if title == "Getting started" else title
                sections.append(DraftSection(title, identifier(key, taken, reserved), list(prose)))
                prose.clear()
            sections[-1].blocks.append(block)
    if prose and sections:
        sections[-1].blocks += prose
    return intro, setup, sections


def _title_from(prose: list[str]) -> str:
    """A section title from the first words of the prose before it: its first sentence, plain, at most about
    eight words."""
    text = re.sub(r"[*_`#>\[\]]|\(http[^)]*\)|<[^>]+>", "", " ".join(prose)).strip()
    sentence = re.split(r"(?<=[.!?:])\s", text, maxsplit=1)[0].rstrip(".:!? ")
    words = sentence.split()
    return " ".join(words[:8]) + (" ..." if len(words) > 8 else "") if words else ""


def _until_next_heading(blocks: list[Block], index: int) -> list[Block]:
    following = []
    for block in blocks[index + 1:]:
        if block.kind == "heading":
            break
        following.append(block)
    return following


def _escape_prose(text: str) -> str:
    """Prose as the course's Markdown reads it: `{{`/`{%` are Jinja there, and, outside code fences,
    `## ` starts a section."""
    text = text.replace("{{", "{{ '{{' }}").replace("{%", "{{ '{%' }}")
    lines, fence = text.split("\n"), ""
    for index, line in enumerate(lines):
        opener = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = ""
        elif opener:
            fence = opener.group(1)
        else:
            lines[index] = re.sub(r"^(#{1,2})(\s)", r"###\2", line)
    return "\n".join(lines)


def infer_needs(sections: list[DraftSection], setup: str) -> list[str]:
    """Fill each section's needs from the names it reads and what earlier sections defined or changed
    (dataflow.py); notes for what was inferred or is missing."""
    notes = []
    tracker = dataflow.Tracker(setup)
    for section in sections:
        found = tracker.add(section.id, [b.text for b in section.blocks if isinstance(b, Block)])
        for name in sorted(found.undefined):
            notes.append(f"section {section.id!r} uses {name!r}, which no earlier code defines")
        section.inferred = found.needs
        section.needs = [s.id for s in sections if s.id in found.needs]
        for need in section.needs:
            notes.append(f"section {section.id!r} needs {need!r}: it uses "
                         f"{', '.join(sorted(section.inferred[need]))}")
    return notes


def one_random_stream(setup: str, sections: list[DraftSection]) -> str:
    """Why the lecture should run sequentially, or "" when the source does not rely on one random
    stream running through it."""
    blocks = [setup] + [b.text for s in sections for b in s.blocks if isinstance(b, Block)]
    seeded = next((k for k, code in enumerate(blocks) if SEEDS.search(code)), None)
    classes = {name for code in blocks for name in re.findall(r"^class (\w+)\(.*(?:Module|nn\.)", code, re.M)}
    draws = re.compile(DRAWS_RANDOM.pattern + "".join(rf"|\b{name}\(" for name in classes))
    if seeded is None or any(draws.search(code) for code in blocks[:seeded]):
        return ""
    later = [code for code in blocks[seeded + 1:] if not SEEDS.search(code)]
    if not any(draws.search(code) for code in later):
        return ""
    return "the source seeds its random generators once, at the top, and later code draws random numbers"


def notebook_seed(source: Path) -> int | None:
    """The seed a lecturebuild notebook's prelude uses, so a re-imported lecture reproduces it."""
    match = re.search(r"def lecturebuild_seed\(seed=(\d+)\)", source.read_text(encoding="utf-8"))
    return int(match.group(1)) if match else None
