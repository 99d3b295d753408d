"""Load and validate a course: course.yml, lectures/*.md and the snippet files they name.

Nothing here runs code or imports torch; `dodo.py` calls `load_course` every time it starts.
Validation collects every problem in every lecture and raises one CourseError listing them all.

A lecture source looks like this (docs/authoring.md documents it for instructors)::

    ---
    title: RNNs, LSTMs, and Sequence Modeling
    order: 1
    summary: One sentence for the index.
    setup: setup.py          # optional, runs before every section
    seed: 42                 # optional, default 0
    sequential: true         # optional: run as a notebook does, each section after all earlier ones
    ---
    Intro prose.

    ## A classifier {#classifier}
    Prose.
    ```{snippet} classifier.py
    ```
    It has {{ classifier.params | thousands }} parameters.

    ## Training it {#training needs=classifier}
    ```{snippet} train.py
    :raises: RuntimeError
    ```
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from lecturebuild.course.parse import REQUIRED_KEYS, BodyReader, SectionDraft, check_keys, front_matter, parse_yaml
from lecturebuild.errors import CourseError, Problem
from lecturebuild.model import Course, Lecture, Limits, Prose, Section, Snippet
from lecturebuild.render import quote
from lecturebuild.render.templates import check_templates
from lecturebuild.store import write_atomic

COURSE_KEYS = {"title": str, "description": str, "executor": str, "scheduler": str, "slides": bool, "pdf": bool}
EXECUTORS = ("local", "dask")

PROSE_RULES = "2"  # the version of quote.check_prose's rules: a memo of clean prose from older rules is void
LECTURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def load_course(root: Path, memo: Path | None = None) -> Course:
    """Read and validate the whole course under `root`; raise CourseError listing every problem.

    `memo` (a JSON file) remembers the digests of prose and templates that validated cleanly, so the
    slow template checks only run on text that changed since the last clean load."""
    root = Path(root).resolve()
    problems: list[Problem] = []
    validated = _read_memo(memo)
    passed: set[str] = set()
    config = _load_course_config(root, problems)
    lectures_dir = root / "lectures"
    sources = sorted(lectures_dir.glob("*.md")) if lectures_dir.is_dir() else []
    if not sources:
        problems.append(Problem(lectures_dir, 0, "no lectures found (expected lectures/<name>.md files)"))
    lectures = [lec for src in sources if (lec := _load_lecture(root, src, problems, validated, passed)) is not None]
    _check_orders(lectures, problems)
    templates = _templates_digest(root)
    if templates not in validated:
        found = check_templates(root)
        problems.extend(found)
        if not found:
            passed.add(templates)
    if problems:
        raise CourseError(problems)
    if memo is not None and passed - validated:
        try:
            write_atomic(memo, json.dumps(sorted(passed)))
        except OSError:
            pass  # only a shortcut for the next load; whatever cannot be written is reported where it matters
    lectures.sort(key=lambda lec: (lec.order, lec.name))
    return replace(config, lectures=tuple(lectures))


def _read_memo(memo: Path | None) -> set[str]:
    try:
        return set(json.loads(memo.read_text())) if memo else set()
    except (OSError, ValueError):
        return set()


def _templates_digest(root: Path) -> str:
    from lecturebuild import TEMPLATES_DIR

    h = hashlib.sha256(b"templates")
    for folder in (root / "templates", TEMPLATES_DIR):
        for path in sorted(folder.rglob("*.j2")) if folder.is_dir() else []:
            h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _load_course_config(root: Path, problems: list[Problem]) -> Course:
    """course.yml as a Course without lectures: title, description, executor, scheduler address and the
    formats a plain build adds (slides, pdf)."""
    path = root / "course.yml"
    bare = Course(root=root, title=root.name, description="", lectures=())
    if not path.exists():
        return bare
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(path, 0, f"not valid UTF-8: {exc.reason} at byte {exc.start}; save it as UTF-8"))
        return bare
    data, lines = parse_yaml(path, text, 0, problems)
    if data is None:
        return bare
    check_keys(path, data, lines, COURSE_KEYS, (), problems)
    executor = str(data.get("executor", "local"))
    if executor not in EXECUTORS:
        problems.append(Problem(path, lines.get("executor", 0),
                                f"'executor' must be one of {', '.join(EXECUTORS)}, got {executor!r}"))
    return replace(bare, title=str(data.get("title", root.name)), description=str(data.get("description", "")),
                   executor=executor, scheduler=str(data.get("scheduler", "")),
                   slides=data.get("slides") is True, pdf=data.get("pdf") is True)


# ----------------------------------------------------------------------------------------------
# One lecture


def _load_lecture(root: Path, source: Path, problems: list[Problem], validated: set[str],
                  passed: set[str]) -> Lecture | None:
    name = source.stem
    before = len(problems)
    if not LECTURE_NAME.match(name):
        problems.append(Problem(source, 0, f"lecture file name {name!r} must be letters, digits, '-' and '_'"))
        return None
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(source, 0, f"not valid UTF-8: {exc.reason} at byte {exc.start}"))
        return None
    lines = text.splitlines()
    meta, body_start = front_matter(source, lines, problems)
    snippets_dir = root / "snippets" / name
    reader = BodyReader(root, source, snippets_dir, problems)
    intro, drafts = reader.read(lines, body_start)
    if meta.get("sequential"):
        drafts = _sequential(drafts)
    sections = _freeze_sections(source, drafts, problems)
    setup = None
    if "setup" in meta:
        setup = reader.snippet(str(meta["setup"]), meta.get("_line_setup", 1), raises="")
    # The prose checks depend on this text and on the rules (PROSE_RULES changes when the rules do).
    digest = hashlib.sha256(f"{PROSE_RULES}\0{text}".encode("utf-8")).hexdigest()
    if digest not in validated:
        found = [p for prose, ids in _all_prose(intro, sections) for p in quote.check_prose(source, prose, ids)]
        problems.extend(found)
        if not found:
            passed.add(digest)
    else:
        passed.add(digest)
    if len(problems) != before or any(k not in meta for k in REQUIRED_KEYS):
        return None
    return Lecture(
        name=name,
        source=source,
        title=str(meta["title"]),
        order=int(meta["order"]),
        summary=str(meta["summary"]),
        seed=int(meta.get("seed", 0)),
        setup=setup,
        intro=tuple(intro),
        sections=sections,
        limits=Limits(time=float(meta.get("time_limit", 0)), memory=int(meta.get("memory_limit", 0)),
                      output=int(meta.get("output_limit", 0))),
        tolerance=float(meta.get("tolerance", 1e-3)),
        threads=int(meta.get("threads", 1)),
        precision=str(meta.get("precision", "default")),
        platform_tolerance=float(meta.get("platform_tolerance", Lecture.platform_tolerance)),
        sequential=bool(meta.get("sequential", False)),
        slides=str(meta.get("slides", Lecture.slides)),
    )


def _sequential(drafts: list[SectionDraft]) -> list[SectionDraft]:
    """In a sequential lecture every section builds on all earlier ones, as cells of a notebook do."""
    earlier: list[str] = []
    for draft in drafts:
        draft.needs = tuple(earlier) + tuple(n for n in draft.needs if n not in earlier)
        earlier.append(draft.id)
    return drafts


def _all_prose(intro: list[Prose], sections: tuple[Section, ...]):
    runnable = {s.id for s in sections if s.snippets}
    for prose in intro:
        yield prose, runnable
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Prose):
                yield block, runnable


def _freeze_sections(source: Path, drafts: list[SectionDraft], problems: list[Problem]) -> tuple[Section, ...]:
    seen: dict[str, int] = {}
    used_snippets: dict[str, int] = {}
    for draft in drafts:
        if draft.id in seen:
            problems.append(Problem(source, draft.line, f"duplicate section id {draft.id!r} "
                                    f"(first used on line {seen[draft.id]})"))
        for need in draft.needs:
            if need == draft.id:
                problems.append(Problem(source, draft.line, f"section {draft.id!r} cannot need itself"))
            elif need in seen:
                continue
            elif any(d.id == need for d in drafts):
                later = next(d.line for d in drafts if d.id == need)
                problems.append(Problem(source, draft.line, f"section {draft.id!r} needs {need!r}, which comes "
                                        f"later (line {later}); a section may only build on earlier ones"))
            else:
                problems.append(Problem(source, draft.line, f"section {draft.id!r} needs unknown section {need!r}"))
        for block in draft.blocks:
            if isinstance(block, Snippet):
                if block.name in used_snippets:
                    problems.append(Problem(source, block.line, f"snippet {block.file} is already used on line "
                                            f"{used_snippets[block.name]}; each snippet file belongs to one place"))
                used_snippets.setdefault(block.name, block.line)
        seen.setdefault(draft.id, draft.line)
    return tuple(Section(id=d.id, title=d.title, line=d.line, needs=d.needs, blocks=tuple(d.blocks), limits=d.limits,
                         platform_tolerance=d.platform_tolerance, slide=d.slide) for d in drafts)


def _check_orders(lectures: list[Lecture], problems: list[Problem]) -> None:
    by_order: dict[int, Lecture] = {}
    for lecture in sorted(lectures, key=lambda lec: lec.name):
        if lecture.order in by_order:
            other = by_order[lecture.order].source.name
            problems.append(Problem(lecture.source, 1, f"order {lecture.order} is also used by {other}"))
        by_order.setdefault(lecture.order, lecture)
