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
import builtins
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LectureBuildError, Problem

CODE_INFOS = {"", "python", "py", "python3", "ipython", "ipython3"}
OUTPUT_INFOS = {"text", "output", "console", "out", "none"}
FORMATS = {".ipynb": "ipynb", ".md": "md", ".markdown": "md", ".py": "py"}


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
    """The source as headings, prose and code blocks in order; ImportProblem on unreadable input."""
    import jupytext

    if not source.is_file():
        raise ImportProblem(source, 0, "no such file")
    fmt = fmt or FORMATS.get(source.suffix.lower())
    if fmt not in set(FORMATS.values()):
        raise ImportProblem(source, 0, f"unknown format {source.suffix or '(no extension)'!r}: import reads "
                            ".ipynb notebooks, .py scripts (percent or sphinx-gallery) and .md Markdown; "
                            "name the format with --format ipynb|py|md")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblem(source, 0, f"not UTF-8 text: {exc.reason}") from None
    if fmt == "ipynb":
        return _notebook_blocks(source, text)
    jupytext_fmt = "md" if fmt == "md" else _script_format(text)
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
        elif cell.cell_type == "code" and not _only_magics(cell.source):
            blocks.append(Block("code", cell.source, line, where=f"line {line}"))
    return _join_split_blocks(source, blocks)


def _script_format(text: str) -> str:
    """percent when the script has `# %%` cells; sphinx-gallery when it opens with a docstring and has
    `#####` comment blocks; else jupytext's light format."""
    if re.search(r"^# %%", text, re.M):
        return "py:percent"
    if re.match(r'\s*(?:"""|\'\'\')', text) and re.search(r"^#{20,}\s*$", text, re.M):
        return "py:sphinx"
    return "py:light"


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
        elif cell.cell_type == "code" and cell.source.strip() and not _only_magics(cell.source):
            claims, raises = _stored_outputs(cell.get("outputs", []))
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


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _only_magics(code: str) -> bool:
    lines = [line for line in code.splitlines() if line.strip()]
    return bool(lines) and all(line.lstrip().startswith(("%", "!")) for line in lines)


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
    code = _comment_magics(block.text)
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ImportProblem(source, 0, f"{block.where}, line {exc.lineno} of the cell: the code does not "
                            f"parse as Python: {exc.msg}") from None
    block.text = code


def _comment_magics(code: str) -> str:
    return "\n".join(f"# {line}  # IPython only: not run by lecturebuild" if line.lstrip().startswith(("%", "!"))
                     else line for line in code.splitlines()) + "\n"


# ----------------------------------------------------------------------------------------------
# Names: what each code block defines and uses


def defined_names(code: str) -> set[str]:
    """Names a block binds at module level (assignments, imports, defs, loops, with-targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return  # their bodies bind local names
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def used_names(code: str) -> set[str]:
    """Names a block reads that it does not bind anywhere itself, builtins left out."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
              for a in n.args + n.kwonlyargs + n.posonlyargs + [x for x in (n.vararg, n.kwarg) if x]}
    local |= defined_names(code)
    return loads - local - set(dir(builtins))


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


def _identifier(title: str, taken: set[str]) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    while words and words[0].isdigit():
        words.pop(0)  # "1.2 PyTorch RNN" -> pytorch_rnn
    base = "_".join(words[:5]) or "section"
    base = base if base[0].isalpha() else f"s_{base}"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def plan_sections(blocks: list[Block], fallback_title: str) -> tuple[str, list, str, list[DraftSection]]:
    """(title, intro prose, setup code, sections) by the rules in the module's docstring."""
    title = fallback_title
    if blocks and blocks[0].kind == "heading" and blocks[0].level == 1:
        title, blocks = blocks[0].text, blocks[1:]
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
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            has_code = block.level in code_levels and any(
                b.kind == "code" for b in _until_next_heading(blocks, index))
            if block.level <= section_level or has_code:
                sections.append(DraftSection(block.text, _identifier(block.text, taken), []))
                continue
            text = "#" * 3 + " " + block.text
        elif block.kind == "code":
            if not block.text.strip():
                continue
            if not sections:
                sections.append(DraftSection("Getting started", _identifier("start", taken), []))
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
    """Prose as the course's Markdown reads it: `{{`/`{%` are Jinja there, and `## ` starts a section."""
    text = text.replace("{{", "{{ '{{' }}").replace("{%", "{{ '{%' }}")
    return re.sub(r"^(#{1,2})(\s)", r"###\2", text, flags=re.M)


def infer_needs(sections: list[DraftSection], setup: str) -> list[str]:
    """Fill each section's needs from the names it uses; notes for what was inferred or is missing."""
    notes = []
    defined_by: dict[str, str] = {name: "(setup)" for name in defined_names(setup)}
    for section in sections:
        code = [b for b in section.blocks if isinstance(b, Block)]
        own: set[str] = set()
        for block in code:
            for name in sorted(used_names(block.text) - own):
                source = defined_by.get(name)
                if source is None:
                    notes.append(f"section {section.id!r} uses {name!r}, which no earlier code defines")
                elif source != "(setup)" and source != section.id:
                    section.inferred.setdefault(source, set()).add(name)
            own |= defined_names(block.text)
        section.needs = [s.id for s in sections if s.id in section.inferred]
        for need in section.needs:
            notes.append(f"section {section.id!r} needs {need!r}: it uses "
                         f"{', '.join(sorted(section.inferred[need]))}")
        for name in own:
            defined_by[name] = section.id
    return notes


def import_lecture(source: Path, course: Path, name: str | None = None, fmt: str | None = None,
                   force: bool = False) -> Imported:
    """Write lectures/<name>.md, snippets/<name>/ and claims/<name>.json from `source`."""
    source, course = Path(source), Path(course)
    blocks = read_blocks(source, fmt)
    existing = sorted((course / "lectures").glob("*.md"))
    name = name or f"{len(existing) + 1:02d}_{_identifier(source.stem, set())}"
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ImportProblem(source, 0, f"{name!r} cannot name a lecture: use letters, digits, '_', '-' and '.'")
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
    front = {"title": title, "order": _next_order(existing), "summary": summary}
    if setup.strip():
        front["setup"] = "setup.py"
    if seed is not None:
        front["seed"] = seed
    import yaml

    text = ("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000) + "---\n"
            + "".join(p.rstrip("\n") + "\n\n" for p in intro) + "\n".join(body))
    if force and snippet_dir.exists():
        import shutil

        shutil.rmtree(snippet_dir)
    snippet_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file, code in files.items():
        (snippet_dir / file).write_text(code, encoding="utf-8")
        written.append(snippet_dir / file)
    lecture_path.parent.mkdir(parents=True, exist_ok=True)
    lecture_path.write_text(text, encoding="utf-8")
    claims_path = course / "claims" / f"{name}.json"
    if claims:
        claims_path.parent.mkdir(parents=True, exist_ok=True)
        claims_path.write_text(json.dumps({"source": source.name, "sections": claims}, indent=1,
                                          ensure_ascii=False) + "\n", encoding="utf-8")
    elif claims_path.exists():
        claims_path.unlink()
    return Imported(name=name, lecture=lecture_path, snippets=written,
                    claims=claims_path if claims else None, notes=notes)


def _summary(intro: list) -> str:
    for paragraph in intro:
        text = paragraph.strip()
        if text and not text.startswith(("#", "```", "-", "*", "|", ">")):
            sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
            return re.sub(r"[*_`]+", "", sentence)[:300]
    return ""


def _next_order(existing: list[Path]) -> int:
    import yaml

    orders = [0]
    for path in existing:
        match = re.match(r"---\n(.*?)\n---", path.read_text(encoding="utf-8"), re.S)
        try:
            data = yaml.safe_load(match.group(1)) if match else {}
            orders.append(int(data.get("order", 0)))
        except (yaml.YAMLError, ValueError, TypeError, AttributeError):
            continue
    return max(orders) + 1


def _notebook_seed(source: Path) -> int | None:
    """The seed a lecturebuild notebook's prelude uses, so a re-imported lecture reproduces it."""
    match = re.search(r"def lecturebuild_seed\(seed=(\d+)\)", source.read_text(encoding="utf-8"))
    return int(match.group(1)) if match else None
