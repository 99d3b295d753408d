"""Bring existing material into the course: a notebook, a percent or sphinx-gallery script, or Markdown
with fenced code becomes lectures/<name>.md plus snippets/<name>/, and the outputs the source showed
become claims/<name>.json, which the first build compares with the real run (claims.py).

jupytext reads the formats. Markdown cells are then split at their headings and plain code fences
with markdown-it, which also gives the line of each, so messages can point into the source.

The rules, in the order they apply:

- Title: the source's first heading when it is level 1 and comes before any code; else the file name.
- Sections: code sits at some heading levels; the shallowest of those is the section level. Every
  heading at that level or above starts a section, and so does a deeper heading with code of its
  own; other headings stay in the prose, one level below sections.
- Code: code cells, and Markdown fences labelled python (or unlabelled) whose text parses as Python.
  A fence labelled text, output or console, or an unlabelled one that does not parse, right after a
  code block, is that block's output. Inside one unlabelled fence, code followed by pasted output is
  split where the longest Python prefix ending at a blank line stops.
- Split blocks: a code fence that does not parse, or one with no output whose next fence opens with
  an empty line, followed (blank lines between) by an unlabelled fence, is joined with it, the continuation dedented by the smallest amount that makes the code
  parse, as happens when a PDF page break cuts a block. When no amount does, the block is kept as is;
  the import warns, and the build reports the syntax error for that section while the others build.
- Setup: the import statements that open the first code block.
- needs: a name a section uses that an earlier section defines makes it need that section.
- IPython magics (`%...`, `!...`) are commented out. A notebook cell whose stored output is an error
  is marked `:raises:` with that error.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import keyword
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import dataflow
from .course import LECTURE_NAME
from .errors import LectureBuildError, Problem

CODE_INFOS = {"", "python", "py", "python3", "ipython", "ipython3"}
OUTPUT_INFOS = {"text", "output", "console", "out", "none"}
FORMATS = {".ipynb": "ipynb", ".md": "md", ".markdown": "md", ".txt": "md", ".py": "py"}


class ImportProblem(LectureBuildError):
    def __init__(self, source: Path, line: int, message: str):
        super().__init__(str(Problem(source, line, message)))


@dataclass
class Block:
    kind: str  # "heading", "prose" or "code"
    text: str
    line: int  # in the source file (for notebooks: the cell number)
    level: int = 0  # headings
    claims: list = field(default_factory=list)  # code: the outputs the source showed, snapshot-shaped
    raises: str = ""  # code: the exception its stored output shows
    where: str = ""  # "line 12" or "cell 4", for messages


# ----------------------------------------------------------------------------------------------
# Reading


def read_blocks(source: Path, fmt: str | None = None) -> list[Block]:
    """The source as headings, prose and code blocks in order; ImportProblem on unreadable input or
    on a source with no code at all."""
    if not source.is_file():
        raise ImportProblem(source, 0, "no such file")
    fmt = fmt or FORMATS.get(source.suffix.lower())
    if fmt not in set(FORMATS.values()):
        raise ImportProblem(source, 0, f"unknown format {source.suffix or '(no extension)'!r}: import reads "
                            ".ipynb notebooks, .py scripts (percent or sphinx-gallery), .md Markdown and "
                            "notebooks exported as text (In [ ]: cells); name the format with --format ipynb|py|md")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblem(source, 0, f"not UTF-8 text: {exc.reason}") from None
    if fmt == "ipynb":
        blocks = _notebook_blocks(source, text)
    elif fmt == "md" and IN_PROMPT.search(text):
        blocks = _text_export_blocks(source, text)
    elif fmt == "py" and _gallery_docstring(text) is not None:
        blocks = _gallery_blocks(source, text)
    else:
        blocks = _jupytext_blocks(source, text, fmt)
    if not any(b.kind == "code" and b.text.strip() for b in blocks):
        kinds = {"md": "no Python code fence (```python) and no In [ ]: cell", "py": "no code",
                 "ipynb": "no code cell"}
        raise ImportProblem(source, 0, f"found {kinds[fmt]}: nothing to run, so nothing to import (is the "
                            "format right? name it with --format ipynb|py|md)")
    return blocks


def _jupytext_blocks(source: Path, text: str, fmt: str) -> list[Block]:
    import jupytext

    jupytext_fmt = "md" if fmt == "md" else ("py:percent" if re.search(r"^# %%", text, re.M) else "py:light")
    try:
        notebook = jupytext.reads(text, fmt=jupytext_fmt)
    except Exception as exc:  # jupytext raises many kinds on malformed input
        raise ImportProblem(source, 0, f"cannot read as {jupytext_fmt}: {exc}") from None
    blocks, position = [], 0
    for cell in notebook.cells:
        at = text.find(cell.source, position) if cell.source else -1
        line = text.count("\n", 0, at) + 1 if at >= 0 else 0
        position = at + len(cell.source) if at >= 0 else position
        if cell.cell_type == "markdown":
            blocks += _markdown_blocks(cell.source, line, markdown_fences=fmt == "md")
        elif cell.cell_type == "code" and _foreign_cell(cell.source):
            blocks.append(_foreign_cell(cell.source))
        elif cell.cell_type == "code" and _has_code(_python(cell.source)):
            blocks.append(Block("code", _python(cell.source), line, where=f"line {line}"))
    return _join_split_blocks(source, blocks)


# sphinx-gallery: a module docstring, then code, with text blocks of `#` comments that open with a
# line of twenty or more `#`, or with `# %%`. The text is reStructuredText. A plain script that opens
# with a docstring reads the same way: its docstring is the lecture's introduction.
GALLERY_SEPARATOR = re.compile(r"^(?:#{20,}|# ?%%).*$")
GALLERY_CONFIG = re.compile(r"^#\s*sphinx_gallery_\w+\s*=.*$")


def _gallery_docstring(text: str) -> ast.Expr | None:
    """The module docstring of a script that opens with one, read as sphinx-gallery does (text blocks
    or not), or None. A percent script with Markdown cells (`# %% [markdown]`) is jupytext's."""
    if re.search(r"^# %% \[(?:markdown|md)\]", text, re.M):
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first
    return None


def _gallery_blocks(source: Path, text: str) -> list[Block]:
    """Code cells and the Markdown of the reST text around them. The text blocks are joined into one
    reST document, with a marker comment where each code cell goes, so that heading levels come out as
    the whole page defines them; rest.py converts it."""
    from .rest import rest_to_markdown

    docstring = _gallery_docstring(text)
    lines = text.splitlines()
    parts = [inspect.cleandoc(docstring.value.value)]
    starts = [docstring.lineno]  # the source line of each text part
    cells: list[Block] = []
    code: list[str] = []
    code_line = 0

    def flush() -> None:
        body = "\n".join(code).strip("\n")
        if _has_code(body):
            cells.append(Block("code", _python(body), code_line, where=f"line {code_line}"))
            parts.append(f".. lecturebuild-cell {len(cells) - 1}")
            starts.append(code_line)
        code.clear()

    index = docstring.end_lineno
    while index < len(lines):
        line = lines[index]
        if GALLERY_SEPARATOR.match(line):
            flush()
            index += 1
            comment = []
            while index < len(lines) and lines[index].startswith("#"):
                comment.append(re.sub(r"^# ?", "", lines[index]))
                index += 1
            parts.append("\n".join(comment))
            starts.append(index - len(comment) + 1)
            continue
        if not code:
            code_line = index + 1
        if not GALLERY_CONFIG.match(line):
            code.append(line)
        index += 1
    flush()
    markdown = rest_to_markdown("\n\n".join(parts), str(source))
    blocks: list[Block] = []
    chunks = re.split(r"^<!-- lecturebuild-cell (\d+) -->$", markdown, flags=re.M)
    blocks += _markdown_blocks(chunks[0], docstring.lineno, markdown_fences=False)
    for number, chunk in zip(chunks[1::2], chunks[2::2]):
        blocks.append(cells[int(number)])
        blocks += _markdown_blocks(chunk, cells[int(number)].line, markdown_fences=False)
    return blocks


# A notebook exported as text: `In [3]:` (or `In [ ]:`, `In [None]:`) on a line of its own opens a
# code cell; `Out[3]:` opens the value it showed; everything else is Markdown.
IN_PROMPT = re.compile(r"^In \[(?:\s*|\d+|None)\]:[ \t]*$", re.M)
OUT_PROMPT = re.compile(r"^Out\[\d*\]:[ \t]*(.*)$")
MARKDOWN_HEADING = re.compile(r"^#{1,6} \S")
# The first line of a paragraph that is a printed value, not code: tensor(15), torch.Size([2, 3]), 0.25, ...
PRINTED = re.compile(r"^(?:tensor\(|torch\.Size\(|array\(|Parameter containing|-?\d|True$|False$|None$|\[|\(|<|\{)")


def _text_export_blocks(source: Path, text: str) -> list[Block]:
    lines = text.splitlines()
    prompts = [text.count("\n", 0, m.start()) for m in IN_PROMPT.finditer(text)]
    blocks = _markdown_blocks("\n".join(lines[:prompts[0]]), 1, markdown_fences=False)
    for number, (start, end) in enumerate(zip(prompts, prompts[1:] + [len(lines)]), start=1):
        code, claims, prose = _split_cell(lines[start + 1:end])
        where = f"line {start + 2} (cell {number})"
        if not _parses(code):
            where += " (a block that does not parse, left as it is: the build will report it)"
        block = Block("code", code, start + 2, claims=claims, where=where)
        if _has_code(code):
            blocks.append(block)
        if prose.strip():
            blocks += _markdown_blocks(prose, end - prose.count("\n"), markdown_fences=False)
    return blocks


def _split_cell(lines: list[str]) -> tuple[str, list[dict], str]:
    """(the code, the outputs shown, the Markdown that follows) of the text after an In prompt. The
    code is the longest part that parses and ends at a blank line; comment paragraphs at its end go to
    the Markdown when Markdown follows them or when they read as Markdown headings."""
    shown = next((k for k, line in enumerate(lines) if OUT_PROMPT.match(line)), len(lines))
    # `Out[3]: value` would parse as an annotated assignment: the code ends where the value starts.
    text = _python("\n".join(lines[:shown]).strip("\n"))
    code, rest = split_code_and_output(text)
    rest = "\n".join([rest] + lines[shown:])
    if not _parses(code):  # not Python at all: up to the first Markdown heading after a blank line
        cut = next((k for k in range(1, len(lines)) if MARKDOWN_HEADING.match(lines[k]) and not lines[k - 1].strip()),
                   len(lines))
        code, rest = "\n".join(lines[:cut]).strip("\n") + "\n", "\n".join(lines[cut:])
    kept = code.strip("\n").split("\n")
    while blanks := [k for k, line in enumerate(kept) if not line.strip()]:
        last = kept[blanks[-1] + 1:]
        if not all(line.startswith("#") for line in last) or not _has_code("\n".join(kept[:blanks[-1]])):
            break
        if not rest.strip() and not all(MARKDOWN_HEADING.match(line) for line in last):
            break
        rest = "\n".join(last) + "\n\n" + rest
        kept = "\n".join(kept[:blanks[-1]]).rstrip().split("\n")
    claims: list[dict] = []
    blanks = [k for k, line in enumerate(kept) if not line.strip()]
    if blanks and PRINTED.match(kept[blanks[-1] + 1]) and "print(" in "\n".join(kept[:blanks[-1]]):
        # What the cell printed, pasted under it without a prompt; `tensor(15)` parses, but is output.
        claims.append({"stdout": kept[blanks[-1] + 1:]})
        kept = "\n".join(kept[:blanks[-1]]).rstrip().split("\n")
    code = "\n".join(kept) + "\n"
    rest_lines = rest.strip("\n").splitlines()
    if rest_lines and (shown := OUT_PROMPT.match(rest_lines[0])):
        taken = next((k for k, line in enumerate(rest_lines) if k and not line.strip()), len(rest_lines))
        claims.append({"value": ([shown.group(1)] if shown.group(1).strip() else []) + rest_lines[1:taken]})
        rest_lines = rest_lines[taken:]
    return code, claims, "\n".join(rest_lines)


def _notebook_blocks(source: Path, text: str) -> list[Block]:
    import nbformat

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportProblem(source, getattr(exc, "lineno", 0), f"not a notebook: invalid JSON: {exc}") from None
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        raise ImportProblem(source, 0, "not a notebook: the JSON has no 'cells' and 'nbformat'")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise ImportProblem(source, 0, f"not a valid notebook: {exc}") from None
    blocks = []
    for number, cell in enumerate(notebook.cells, start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        if "lecturebuild-prelude" in tags or "lecturebuild-seed" in tags:
            continue  # added by lecturebuild's own notebooks; a build adds them again
        if cell.cell_type == "markdown":
            for block in _markdown_blocks(cell.source, number, markdown_fences=False):
                block.where = f"cell {number}"
                blocks.append(block)
        elif cell.cell_type == "code" and _foreign_cell(cell.source):
            blocks.append(_foreign_cell(cell.source))
        elif cell.cell_type == "code" and _has_code(_python(cell.source)):
            claims, raises = _stored_outputs(cell.get("outputs", []))
            claims = _without_magic_output(cell.source, claims)
            blocks.append(Block("code", cell.source, number, claims=claims, raises=raises, where=f"cell {number}"))
    for block in blocks:
        if block.kind == "code":
            _require_python(source, block)
    return blocks


def _stored_outputs(outputs: list) -> tuple[list, str]:
    claims, raises = [], ""
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            claims.append({output.get("name", "stdout"): _text(output.get("text", "")).splitlines()})
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                claims.append({"figure": "a figure"})
            elif kind == "execute_result" and "text/plain" in data:
                claims.append({"value": _text(data["text/plain"]).splitlines()})
        elif kind == "error":
            raises = output.get("ename", "Exception")
            claims.append({"error": f"{raises}: {output.get('evalue', '')}"})
    return claims, raises


def _without_magic_output(code: str, claims: list) -> list:
    """Stored outputs less what the import does not run: timings of %time and %%time, and everything a
    cell with shell lines (`!pip ...`, `%pip`) printed, which cannot be told apart from the Python's."""
    lines = [line.strip() for line in code.splitlines()]
    if any(line.startswith(("!", "%pip", "%conda", "%%bash", "%%sh")) for line in lines):
        return [c for c in claims if "stdout" not in c and "stderr" not in c]
    if any(re.match(r"%%?time\b", line) for line in lines):
        timing = re.compile(r"^(CPU times|Wall time|\d.* per loop \(mean)")
        return [{k: [x for x in v if not timing.match(x)]} if k in ("stdout", "stderr") else {k: v}
                for c in claims for k, v in c.items()]
    return claims


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _has_code(code: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in code.splitlines())


# IPython magics. Timing and capturing keep their statement, run once; others are commented out.
STATEMENT_MAGIC = re.compile(r"^(\s*)%(?:time|timeit|prun)(?:\s+-[a-z]+(?:\s+\d+)?)*\s+(\S.*)$")
CELL_MAGIC = re.compile(r"^\s*%%(\w+)")


def _foreign_cell(code: str) -> Block | None:
    """A cell in another language (`%%bash`, `%%html`, ...) as a prose code block, so it is shown, not run."""
    lines = code.strip("\n").splitlines()
    cell = CELL_MAGIC.match(lines[0]) if lines else None
    if not cell or cell.group(1) in ("time", "timeit", "capture", "prun"):
        return None
    body = "\n".join(lines[1:])
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", body)), default=0))
    return Block("prose", f"{fence}{cell.group(1)}\n{body}\n{fence}", 0)


def _python(code: str) -> str:
    """A cell's code with IPython's magics made plain Python (see STATEMENT_MAGIC)."""
    lines = code.splitlines()
    cell = CELL_MAGIC.match(lines[0]) if lines else None
    if cell and cell.group(1) not in ("time", "timeit", "capture", "prun"):
        return "\n".join([f"# IPython cell magic %%{cell.group(1)}: this cell is not Python and does not run"]
                         + [f"# {line}" for line in lines]) + "\n"
    if cell:
        lines[0] = f"# {lines[0].strip()}  (IPython only: the cell runs once, untimed)"
    result = []
    for line in lines:
        statement = STATEMENT_MAGIC.match(line)
        if statement:
            result.append(f"{statement.group(1)}{statement.group(2)}  # {line.strip().split()[0]} in the source")
        elif line.lstrip().startswith(("%", "!")):
            result.append(f"# {line}  # IPython only: not run by lecturebuild")
        else:
            result.append(line)
    return "\n".join(result) + "\n"


def _markdown_blocks(text: str, first_line: int, markdown_fences: bool) -> list[Block]:
    """Headings, prose and (in Markdown sources) fences as code or output, with their lines."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    blocks: list[Block] = []
    cursor = 0

    def prose_until(end: int) -> None:
        chunk = "\n".join(lines[cursor:end]).strip("\n")
        if chunk.strip():
            blocks.append(Block("prose", chunk, first_line + cursor, where=f"line {first_line + cursor}"))

    for index, token in enumerate(tokens):
        if token.level != 0 or token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open":
            prose_until(start)
            title = "".join(t.content for t in tokens[index + 1].children or [] if t.type in ("text", "code_inline"))
            title = tokens[index + 1].content if not title else title
            blocks.append(Block("heading", _clean_title(title), first_line + start, level=int(token.tag[1]),
                                where=f"line {first_line + start}"))
            cursor = end
        elif token.type == "fence" and markdown_fences:
            info = token.info.strip().split(" ")[0].lower().strip("{}")
            if info in CODE_INFOS | OUTPUT_INFOS:
                prose_until(start)
                kind = "code" if info in CODE_INFOS else "output"
                blocks.append(Block(kind, token.content, first_line + start + 1, level=0 if info else -1,
                                    where=f"line {first_line + start + 1}"))
                cursor = end
    prose_until(len(lines))
    return blocks


def _clean_title(title: str) -> str:
    title = re.sub(r"[*_`]+", "", title)
    return re.sub(r"\s+", " ", title).strip()


# ----------------------------------------------------------------------------------------------
# Code and pasted output in Markdown fences


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def split_code_and_output(text: str) -> tuple[str, str]:
    """(code, output) of a fence that holds code with its output pasted under it. The code is the
    longest Python prefix ending at a blank line (or the end); what follows, unless it is itself
    Python, is the output."""
    lines = text.rstrip("\n").splitlines()
    if _parses(text):
        return text.rstrip("\n") + "\n", ""
    cuts = [k for k in range(len(lines), 0, -1) if k == len(lines) or not lines[k].strip()]
    for k in cuts:
        code = "\n".join(lines[:k])
        if code.strip() and _parses(code):
            return code.rstrip() + "\n", "\n".join(lines[k:]).strip("\n")
    return text.rstrip("\n") + "\n", ""


def _join_split_blocks(source: Path, blocks: list[Block]) -> list[Block]:
    """Plain fences become code blocks with their claims; page-break splits are joined."""
    result: list[Block] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if block.kind == "output":
            if result and result[-1].kind == "code":
                result[-1].claims.append({"stdout": block.text.rstrip("\n").splitlines()})
            else:
                result.append(Block("prose", "```\n" + block.text.rstrip("\n") + "\n```", block.line, where=block.where))
            index += 1
            continue
        if block.kind != "code":
            result.append(block)
            index += 1
            continue
        text = block.text
        code, output = split_code_and_output(text)
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        joined = None
        cut = not _parses(text) or (not output and following is not None and following.text[:1] == "\n")
        if cut and following is not None and following.kind in ("code", "output") and following.level == -1:
            joined = _join(text, following.text)
        if joined is not None:
            code, output = joined
            block.where += f", joined with the block at {following.where} (a page break had split it)"
            index += 1
        elif not _parses(code) and block.level == -1:
            code, output = "", text  # an unlabelled fence of something else
        elif not _parses(code):
            block.where += " (a block that does not parse, left as it is: the build will report it)"
        if not code.strip():
            if result and result[-1].kind == "code" and output.strip():
                result[-1].claims.append({"stdout": output.splitlines()})
            else:
                result.append(Block("prose", "```\n" + text.rstrip("\n") + "\n```", block.line, where=block.where))
            index += 1
            continue
        new = Block("code", code, block.line, where=block.where)
        if output.strip():
            new.claims.append({"stdout": output.splitlines()})
        result.append(new)
        index += 1
    return result


def _join(first: str, continuation: str) -> tuple[str, str] | None:
    """The code and output of a block cut in two, or None when no dedent of the continuation parses.
    Of the dedents that parse, the one taking the most lines into the code wins (the smaller on a tie)."""
    lines = continuation.strip("\n").splitlines()
    head = len(first.rstrip("\n").splitlines())
    indents = sorted({len(line) - len(line.lstrip(" ")) for line in lines if line.strip()})
    best: tuple[int, str] | None = None
    for shift in indents:
        moved = [line[min(shift, len(line) - len(line.lstrip(" "))):] for line in lines]
        code, _ = split_code_and_output(first.rstrip("\n") + "\n" + "\n".join(moved))
        taken = len(code.rstrip("\n").splitlines()) - head
        if _parses(code) and taken > 0 and (best is None or taken > best[0]):
            best = (taken, code)
    if best is None:
        return None
    taken, code = best
    # The output keeps its own indentation: the page break shifted the code, not what it printed.
    return code, "\n".join(lines[taken:]).strip("\n")


def _require_python(source: Path, block: Block) -> None:
    code = _python(block.text)
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ImportProblem(source, 0, f"{block.where}, line {exc.lineno} of the cell: the code does not "
                            f"parse as Python: {exc.msg}") from None
    block.text = code


# ----------------------------------------------------------------------------------------------
# Setup


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


# ----------------------------------------------------------------------------------------------
# From blocks to a lecture


@dataclass
class DraftSection:
    title: str
    id: str
    blocks: list  # prose strings and code Blocks
    needs: list = field(default_factory=list)
    inferred: dict = field(default_factory=dict)  # needed section -> names that made it needed


@dataclass
class Imported:
    """What `import_lecture` wrote and what it inferred, for its report."""

    name: str
    lecture: Path
    snippets: list[Path]
    claims: Path | None
    notes: list[str]


def _identifier(title: str, taken: set[str], reserved=lambda name: False) -> str:
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
    from .course import RESERVED_IDS

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
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            has_code = block.level in code_levels and any(
                b.kind == "code" for b in _until_next_heading(blocks, index))
            if block.level <= section_level or has_code:
                sections.append(DraftSection(block.text, _identifier(block.text, taken, reserved), []))
                continue
            text = "#" * 3 + " " + block.text
        elif block.kind == "code":
            if not _has_code(block.text):
                continue
            if not sections:
                sections.append(DraftSection("Getting started", _identifier("start", taken, reserved), []))
            sections[-1].blocks.append(block)
            continue
        else:
            text = block.text
        (sections[-1].blocks if sections else intro).append(_escape_prose(text))
    return title, intro, setup, sections


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


def import_lecture(source: Path, course: Path, name: str | None = None, fmt: str | None = None,
                   force: bool = False) -> Imported:
    """Write lectures/<name>.md, snippets/<name>/ and claims/<name>.json from `source`."""
    source, course = Path(source), Path(course)
    blocks = read_blocks(source, fmt)
    existing = sorted((course / "lectures").glob("*.md"))
    name = name or f"{len(existing) + 1:02d}_{_identifier(source.stem, set())}"
    if not LECTURE_NAME.match(name):
        raise ImportProblem(source, 0, f"{name!r} cannot name a lecture: use letters, digits, '_' and '-', "
                            "starting with a letter or digit")
    lecture_path = course / "lectures" / f"{name}.md"
    snippet_dir = course / "snippets" / name
    if not force and (lecture_path.exists() or snippet_dir.exists()):
        raise ImportProblem(lecture_path, 0, "a lecture of this name exists; choose another --name, or pass "
                            "--force to replace it")
    title, intro, setup, sections = plan_sections(blocks, source.stem.replace("_", " ").strip().title())
    notes = infer_needs(sections, setup)
    seed = _notebook_seed(source) if fmt == "ipynb" or source.suffix == ".ipynb" else None

    files: dict[str, str] = {}
    claims: dict[str, list] = {}
    if setup.strip():
        files["setup.py"] = setup
    body = []
    for section in sections:
        attributes = f"#{section.id}" + (f" needs={','.join(section.needs)}" if section.needs else "")
        body.append(f"## {section.title} {{{attributes}}}\n")
        count = 0
        for block in section.blocks:
            if not isinstance(block, Block):
                body.append(block.rstrip("\n") + "\n")
                continue
            count += 1
            file = f"{section.id}.py" if count == 1 else f"{section.id}_{count}.py"
            while file in files:  # section "a" has a second block and a section "A 2" follows
                count += 1
                file = f"{section.id}_{count}.py"
            files[file] = block.text if block.text.endswith("\n") else block.text + "\n"
            options = f":raises: {block.raises}\n" if block.raises else ""
            body.append(f"```{{snippet}} {file}\n{options}```\n")
            if block.claims:
                claims.setdefault(section.id, []).append({"snippet": file, "outputs": block.claims,
                                                          "source": block.where})
            if "does not parse" in block.where:
                notes.append(f"{source}: {block.where.split(' (')[0]}: the code does not parse as Python "
                             f"even joined with the block after it; section {section.id!r} will fail to build "
                             "until it is fixed")
            if "joined with" in block.where:
                notes.append(f"section {section.id!r}: {file} is the block at {block.where}")
            if block.raises:
                notes.append(f"section {section.id!r}: {file} is marked to raise {block.raises}, as the "
                             "source's stored output shows")
    summary = (_summary(intro) or _summary([b for s in sections for b in s.blocks if isinstance(b, str)])
               or f"Imported from {source.name}.")
    order = _order_of(lecture_path) if lecture_path.exists() else None  # a replaced lecture keeps its place
    front = {"title": title, "order": order or _next_order(existing), "summary": summary}
    if setup.strip():
        front["setup"] = "setup.py"
    if seed is not None:
        front["seed"] = seed
    stream = _one_random_stream(setup, sections)
    if stream:
        front["sequential"] = True
        notes.append(f"sequential: true: {stream}; every section runs after all earlier ones and continues "
                     "their random state, as the source did")
    import yaml

    text = ("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000) + "---\n"
            + "".join(p.rstrip("\n") + "\n\n" for p in intro) + "\n".join(body))
    claims_text = json.dumps({"source": source.name, "sections": claims}, indent=1, ensure_ascii=False) + "\n"
    claims_path = course / "claims" / f"{name}.json"
    _write_all(source, {lecture_path: text, claims_path: claims_text if claims else None},
               snippet_dir, files)
    return Imported(name=name, lecture=lecture_path, snippets=[snippet_dir / file for file in files],
                    claims=claims_path if claims else None, notes=notes)


def _write_all(source: Path, texts: dict[Path, str | None], snippet_dir: Path, files: dict[str, str]) -> None:
    """Write the whole import or nothing: everything goes to hidden temporary names first, and only
    then takes its place. A text of None removes that file."""
    import shutil

    for folder in [snippet_dir.parent] + [path.parent for path, text in texts.items() if text is not None]:
        if folder.exists() and not folder.is_dir():
            raise ImportProblem(folder, 0, "is a file, but the import writes a folder of this name; nothing "
                                "was written")
    for path in [*texts, snippet_dir]:
        if not path.parent.is_dir():
            continue  # nothing there yet, or a file in the folder's place (refused above when it is written)
        if path.is_dir() != (path == snippet_dir) and path.exists():
            kind = "folder" if path.is_dir() else "file"
            raise ImportProblem(path, 0, f"is a {kind}, but the import writes a "
                                f"{'file' if kind == 'folder' else 'folder'} of this name; nothing was written")
    staged = snippet_dir.with_name(f".{snippet_dir.name}.importing")
    old = snippet_dir.with_name(f".{snippet_dir.name}.replaced")
    temporary = {path: path.with_name(f".{path.name}.importing") for path in texts}
    try:
        for leftover in (staged, old):
            shutil.rmtree(leftover, ignore_errors=True)
        staged.mkdir(parents=True)
        for file, code in files.items():
            (staged / file).write_text(code, encoding="utf-8")
        for path, text in texts.items():
            if text is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary[path].write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        for path in temporary.values():
            path.unlink(missing_ok=True)
        raise ImportProblem(Path(exc.filename or source), 0, f"cannot write the import: {exc.strerror}; nothing "
                            "was written") from None
    if snippet_dir.exists():
        snippet_dir.rename(old)
    staged.rename(snippet_dir)
    for path, text in texts.items():
        if text is not None:
            temporary[path].replace(path)
        elif path.parent.is_dir():
            path.unlink(missing_ok=True)  # a claims file left by an earlier import of this lecture
    shutil.rmtree(old, ignore_errors=True)


def _one_random_stream(setup: str, sections: list[DraftSection]) -> str:
    """Why the lecture should run sequentially, or "" when the source does not rely on one random
    stream running through it."""
    blocks = [setup] + [b.text for s in sections for b in s.blocks if isinstance(b, Block)]
    seeded = next((k for k, code in enumerate(blocks) if dataflow.SEEDS.search(code)), None)
    classes = {name for code in blocks for name in re.findall(r"^class (\w+)\(.*(?:Module|nn\.)", code, re.M)}
    draws = re.compile(dataflow.DRAWS_RANDOM.pattern + "".join(rf"|\b{name}\(" for name in classes))
    if seeded is None or any(draws.search(code) for code in blocks[:seeded]):
        return ""
    later = [code for code in blocks[seeded + 1:] if not dataflow.SEEDS.search(code)]
    if not any(draws.search(code) for code in later):
        return ""
    return "the source seeds its random generators once, at the top, and later code draws random numbers"


def _summary(intro: list) -> str:
    """The first sentence of the first paragraph that reads as one, as plain text: not a heading,
    list, quote, table, code, image or row of links."""
    for paragraph in (p for block in intro for p in re.split(r"\n\s*\n", block)):
        text = paragraph.strip()
        if not text or text.startswith(("#", "```", "~~~", "-", "*", "+", "|", ">", "!", "<", "$$")):
            continue
        if len(re.findall(r"\]\(", text)) > 1 or "||" in text:
            continue  # navigation: links between the pages of the source's site
        plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
        plain = re.sub(r"<[^>]+>", "", plain)  # raw HTML, which the index would show as text
        plain = re.sub(r"(?<![\w\\])[*_]+|[*_]+(?!\w)|`+", "", " ".join(plain.split()))
        sentence = re.split(r"(?<=[.!?])\s", plain.strip(), maxsplit=1)[0]
        if re.search(r"[A-Za-z]{2}", sentence):
            return sentence[:300]
    return ""


def _next_order(existing: list[Path]) -> int:
    return max([0] + [_order_of(path) or 0 for path in existing]) + 1


def _order_of(lecture: Path) -> int | None:
    import yaml

    try:
        match = re.match(r"---\n(.*?)\n---", lecture.read_text(encoding="utf-8"), re.S)
        return int(yaml.safe_load(match.group(1)).get("order"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, TypeError, AttributeError):
        return None


def _notebook_seed(source: Path) -> int | None:
    """The seed a lecturebuild notebook's prelude uses, so a re-imported lecture reproduces it."""
    match = re.search(r"def lecturebuild_seed\(seed=(\d+)\)", source.read_text(encoding="utf-8"))
    return int(match.group(1)) if match else None
