"""Reading a source into blocks: headings, prose, and code with the outputs the source showed. jupytext
reads notebooks, percent scripts and Markdown; sphinx-gallery scripts and notebooks exported as text are read
here. Markdown cells are split at their headings and plain code fences with markdown-it, which also gives
the line of each, so that messages point into the source."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lecturebuild.errors import ImportProblem
from lecturebuild.importer.fences import join_continuation, parses, split_code_and_output

# The opening of a banner about the notebook rather than the lecture ("Warning: ...", "Note: run this on a GPU").
BANNER = re.compile(r"^\W*(?:warning|caution|disclaimer|deprecated|outdated|note|notice)\s*(?:[:!\u2014\u2013-]|$)"
                    r"|^\s*(?:\u26a0|\U0001f6a7|\u2757)", re.IGNORECASE)
CODE_INFOS = {"", "python", "py", "python3", "ipython", "ipython3"}


OUTPUT_INFOS = {"text", "output", "console", "out", "none"}


FORMATS = {".ipynb": "ipynb", ".md": "md", ".markdown": "md", ".txt": "md", ".py": "py"}


@dataclass
class Block:
    kind: str  # "heading", "prose" or "code"
    text: str
    line: int  # in the source file (for notebooks: the cell number)
    level: int = 0  # headings
    claims: list = field(default_factory=list)  # code: the outputs the source showed, snapshot-shaped
    raises: str = ""  # code: the exception its stored output shows
    where: str = ""  # "line 12" or "cell 4", for messages


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
        elif cell.cell_type == "code" and worth_keeping(_python(cell.source)):
            blocks.append(Block("code", _python(cell.source), line, where=f"line {line}"))
    return join_split_blocks(source, blocks)


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
    from lecturebuild.importer.rest import rest_to_markdown

    docstring = _gallery_docstring(text)
    lines = text.splitlines()
    parts = [inspect.cleandoc(docstring.value.value)]
    starts = [docstring.lineno]  # the source line of each text part
    cells: list[Block] = []
    code: list[str] = []
    code_line = 0

    def flush() -> None:
        body = "\n".join(code).strip("\n")
        if has_code(body):
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
        if not parses(code):
            where += " (a block that does not parse, left as it is: the build will report it)"
        block = Block("code", code, start + 2, claims=claims, where=where)
        if has_code(code):
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
    if not parses(code):  # not Python at all: up to the first Markdown heading after a blank line
        cut = next((k for k in range(1, len(lines)) if MARKDOWN_HEADING.match(lines[k]) and not lines[k - 1].strip()),
                   len(lines))
        code, rest = "\n".join(lines[:cut]).strip("\n") + "\n", "\n".join(lines[cut:])
    kept = code.strip("\n").split("\n")
    while blanks := [k for k, line in enumerate(kept) if not line.strip()]:
        last = kept[blanks[-1] + 1:]
        if not all(line.startswith("#") for line in last) or not has_code("\n".join(kept[:blanks[-1]])):
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
        elif cell.cell_type == "code" and worth_keeping(_python(cell.source)):
            claims, raises = _stored_outputs(cell.get("outputs", []))
            claims = _without_magic_output(cell.source, claims)
            blocks.append(Block("code", cell.source, number, claims=claims, raises=raises, where=f"cell {number}"))
    for block in blocks:
        if block.kind == "code":
            require_python(source, block)
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


def has_code(code: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in code.splitlines())


def worth_keeping(code: str) -> bool:
    """Whether a code block (its magics made plain, _python) holds code, or the author's own comments only
    (notes to the reader, kept so that nothing of the source is lost); not when all it holds is magics
    commented out by the import."""
    return has_code(code) or any(line.lstrip().startswith("#") and not any(note in line for note in MAGIC_NOTES)
                                 for line in code.splitlines())


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


MAGIC_NOTES = ("IPython only: ", "# IPython cell magic ")  # what _python writes beside the magics it comments out


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
    """A heading's text without its emphasis and code marks (but math, `$\\alpha_{ij}$`, as it is)."""
    parts = re.split(r"(\$[^$]+\$)", title)
    title = "".join(part if part.startswith("$") else re.sub(r"[*_`]+", "", part) for part in parts)
    return re.sub(r"\s+", " ", title).strip()


def join_split_blocks(source: Path, blocks: list[Block]) -> list[Block]:
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
        cut = not parses(text) or (not output and following is not None and following.text[:1] == "\n")
        if cut and following is not None and following.kind in ("code", "output") and following.level == -1:
            joined = join_continuation(text, following.text)
        if joined is not None:
            code, output = joined
            block.where += f", joined with the block at {following.where} (a page break had split it)"
            index += 1
        elif not parses(code) and block.level == -1:
            code, output = "", text  # an unlabelled fence of something else
        elif not parses(code):
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


def require_python(source: Path, block: Block) -> None:
    code = _python(block.text)
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ImportProblem(source, 0, f"{block.where}, line {exc.lineno} of the cell: the code does not "
                            f"parse as Python: {exc.msg}") from None
    block.text = code
