"""What a source reads beside it: the local modules its code imports, and the files and folders its code
(and those modules') names by a path relative to the source's folder, as a notebook reads `names.txt`
next to it. The import brings them into the course: modules into the lecture's snippets folder, where
sections import them, and the rest into data/, whose entries every section finds in its working folder
by the names the source used (`names.txt`, `res/table.csv`), as well as under `data/`."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

LIMIT = 256 * 2**20  # the most the import copies into data/ (bytes); past it, it says so and copies nothing
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".git"}


@dataclass
class Beside:
    modules: dict[str, str] = field(default_factory=dict)  # path under snippets/<lecture>/ -> its text
    data: dict[str, Path] = field(default_factory=dict)  # path under data/ -> the file beside the source
    notes: list[str] = field(default_factory=list)


def found_beside(source: Path, codes: list[str]) -> Beside:
    """The modules and files the code of `source` (and of the local modules it imports) reads beside it."""
    folder = source.parent.resolve()
    found = Beside()
    queue, scanned = list(codes), []
    while queue:
        code = queue.pop(0)
        scanned.append(code)
        for name in _imported(code):
            for path in _module_files(folder, name):
                relative = path.relative_to(folder).as_posix()
                if relative not in found.modules and path.resolve() != source.resolve():
                    text = path.read_text(encoding="utf-8", errors="replace")
                    found.modules[relative] = text
                    queue.append(text)
    for code in scanned:
        for literal in _literals(code):
            for path in _files_named(folder, literal, source):
                relative = path.relative_to(folder).as_posix()
                if relative not in found.modules:
                    found.data.setdefault(relative, path)
    total = sum(path.stat().st_size for path in found.data.values())
    if total > LIMIT:
        found.notes.append(f"the files the source reads beside it come to {total / 2**20:.0f} MB, more than the "
                           f"{LIMIT // 2**20} MB the import copies: copy them into data/ yourself")
        found.data = {}
    return found


def _imported(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _module_files(folder: Path, name: str) -> list[Path]:
    """`name` as a module beside the source: `name.py`, or the .py files of a package folder `name/`."""
    if (folder / f"{name}.py").is_file():
        return [folder / f"{name}.py"]
    package = folder / name
    if package.is_dir() and (package / "__init__.py").is_file():
        return sorted(p for p in package.rglob("*.py") if not SKIPPED & set(p.relative_to(folder).parts))
    return []


def _literals(code: str) -> set[str]:
    """The string constants of `code` that could be relative paths."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and 0 < len(node.value) < 256 and "\n" not in node.value and "://" not in node.value
            and not node.value.startswith(("/", "~"))}


def _files_named(folder: Path, literal: str, source: Path) -> list[Path]:
    """The files `literal` names below `folder` (a file, or every file of a folder), never the source."""
    try:
        path = (folder / literal).resolve()
    except (OSError, ValueError):
        return []
    if path == folder or folder not in path.parents or path == source.resolve():
        return []
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not SKIPPED & set(p.relative_to(folder).parts)
                      and p != source.resolve())
    return []
