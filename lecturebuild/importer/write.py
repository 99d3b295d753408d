"""`lecturebuild import`: a source read (read.py) and planned (plan.py) becomes lectures/<name>.md, snippets/<name>/
and claims/<name>.json, all written or none: a failure leaves the course as it was."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lecturebuild.course.load import LECTURE_NAME
from lecturebuild.errors import ImportProblem
from lecturebuild.importer.beside import found_beside
from lecturebuild.importer.plan import identifier, infer_needs, notebook_seed, one_random_stream, plan_sections
from lecturebuild.importer.read import BANNER, Block, has_code, read_blocks

# ----------------------------------------------------------------------------------------------
# From blocks to a lecture


@dataclass
class Imported:
    """What `import_lecture` wrote and what it inferred, for its report."""

    name: str
    lecture: Path
    snippets: list[Path]
    claims: Path | None
    notes: list[str]


def import_lecture(source: Path, course: Path, name: str | None = None, fmt: str | None = None,
                   force: bool = False) -> Imported:
    """Write lectures/<name>.md, snippets/<name>/ and claims/<name>.json from `source`."""
    source, course = Path(source), Path(course)
    blocks = read_blocks(source, fmt)
    existing = sorted((course / "lectures").glob("*.md"))
    name = name or f"{len(existing) + 1:02d}_{identifier(source.stem, set())}"
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
    if not any(b.kind == "heading" for b in blocks) and len(sections) > 1:
        notes.append(f"the source has no headings: it became {len(sections)} sections, one at each stretch of prose "
                     "before code (or each code cell), so that a failing cell no longer holds back the whole lecture")
    comments = sum(1 for s in sections for b in s.blocks if isinstance(b, Block) and not has_code(b.text))
    if comments:
        notes.append(f"kept {comments} code cell{'s' * (comments != 1)} that hold{'s' * (comments == 1)} only "
                     "comments, as snippets (they run and print nothing)")
    seed = notebook_seed(source) if fmt == "ipynb" or source.suffix == ".ipynb" else None

    files: dict[str, str] = {}
    claims: dict[str, list] = {}
    if setup.strip():
        files["setup.py"] = setup
    beside = found_beside(source, [setup] + [b.text for s in sections for b in s.blocks if isinstance(b, Block)])
    notes += beside.notes
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
    front = {"title": without_math(title), "order": order or _next_order(existing), "summary": summary}
    if setup.strip():
        front["setup"] = "setup.py"
    if seed is not None:
        front["seed"] = seed
    stream = one_random_stream(setup, sections)
    if stream:
        front["sequential"] = True
        notes.append(f"sequential: true: {stream}; every section runs after all earlier ones and continues "
                     "their random state, as the source did")
    import yaml

    text = ("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000) + "---\n"
            + "".join(p.rstrip("\n") + "\n\n" for p in intro) + "\n".join(body))
    claims_text = json.dumps({"source": source.name, "sections": claims}, indent=1, ensure_ascii=False) + "\n"
    claims_path = course / "claims" / f"{name}.json"
    modules = {path: text for path, text in beside.modules.items() if path not in files}
    _write_all(source, {lecture_path: text, claims_path: claims_text if claims else None},
               snippet_dir, {**files, **modules})
    if modules:
        notes.append(f"brought along {len(modules)} local module{'s' * (len(modules) != 1)} the source imports, "
                     f"into snippets/{name}/: {_listed(list(modules))}")
    notes += _bring_data(course, beside.data)
    return Imported(name=name, lecture=lecture_path, snippets=[snippet_dir / file for file in files],
                    claims=claims_path if claims else None, notes=notes)


def _listed(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _bring_data(course: Path, data: dict[str, Path]) -> list[str]:
    """Copy the files the source reads beside it into the course's data/ (a path that starts with data/
    already goes there); notes of what was copied and what was kept because data/ holds another file."""
    import shutil

    copied, kept = [], []
    for relative, origin in data.items():
        target = course / "data" / (relative[len("data/"):] if relative.startswith("data/") else relative)
        if target.exists():
            if not target.is_file() or target.read_bytes() != origin.read_bytes():
                kept.append(str(target.relative_to(course)))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
        copied.append(str(target.relative_to(course)))
    notes = []
    if copied:
        notes.append(f"brought along {len(copied)} file{'s' * (len(copied) != 1)} the source reads beside it, into "
                     f"data/: {_listed(copied)}; sections find them by the names the source uses, as beside it")
    if kept:
        notes.append(f"kept {_listed(kept)} as the course has it, though the file beside the source differs")
    return notes


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
            (staged / file).parent.mkdir(parents=True, exist_ok=True)
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
        plain = without_math(plain)
        sentence = re.split(r"(?<=[.!?])\s", plain.strip(), maxsplit=1)[0]
        if BANNER.match(sentence) or sentence.endswith(":"):
            continue  # a warning or a note about the notebook, or the line that introduces a list
        if re.search(r"[A-Za-z]{2}", sentence):
            return sentence[:300]
    return ""



GREEK = dict(zip("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon "
                 "phi chi psi omega".split(), "αβγδεζηθικλμνξπρστυφχψω"))


def without_math(text: str) -> str:
    """`$x_t$` as x_t, `$\\alpha_{ij}$` as α_ij, `$x^2$` as x^2: a title or summary is shown as plain text, where
    LaTeX would stay raw."""
    def plain(match: re.Match) -> str:
        tex = re.sub(r"\\([A-Za-z]+)\s*", lambda m: GREEK.get(m.group(1), m.group(1)), match.group(1))
        return re.sub(r"[{}\\]", "", tex)

    return re.sub(r"\$([^$]+)\$", plain, text)


def _next_order(existing: list[Path]) -> int:
    return max([0] + [_order_of(path) or 0 for path in existing]) + 1


def _order_of(lecture: Path) -> int | None:
    import yaml

    try:
        match = re.match(r"---\n(.*?)\n---", lecture.read_text(encoding="utf-8"), re.S)
        return int(yaml.safe_load(match.group(1)).get("order"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, TypeError, AttributeError):
        return None
