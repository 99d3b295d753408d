"""`doit portability`: every section run on the CPU and on the GPU, and what prints otherwise."""

from __future__ import annotations

from lecturebuild.check.compare import compare_sections
from lecturebuild.check.snapshots import platform_tolerances, section_snapshot
from lecturebuild.model import SETUP_ID, Course, SectionResult
from lecturebuild.store import Store


def portability_report(course: Course, stores: dict[str, Store]) -> tuple[list[str], list[str], int]:
    """(what differs between the two devices of `stores`, notes, sections compared). A section differs
    when it prints otherwise beyond its platform tolerance or fails on one device only."""
    (first, first_store), (second, second_store) = stores.items()
    problems, notes, compared = [], [], 0
    for lecture in course.lectures:
        one, two = first_store.results(lecture), second_store.results(lecture)
        for sid in one:
            a, b = one[sid], two[sid]
            where = f"{lecture.source.name}: " + (f"section {sid!r}" if sid != SETUP_ID else "setup")
            if a is None or b is None or not (a.ok and b.ok):
                if bool(a and a.ok) != bool(b and b.ok):
                    device, bad = (second, b) if a is not None and a.ok else (first, a)
                    problems.append(f"FAILS ON {device.upper()} ONLY {where}: {_why_failed(bad)}")
                continue
            compared += 1
            notes += [f"NOTE {where}: on {device}, it {note}" for device, result in ((first, a), (second, b))
                      for note in result.notes]
            drifts = compare_sections(lecture.name, {sid: section_snapshot(a, first_store.figures_dir(lecture.name))},
                                      {sid: section_snapshot(b, second_store.figures_dir(lecture.name))},
                                      lecture.platform_tolerance, platform_tolerances(lecture), across=True,
                                      labels=(first, second))
            problems += [f"DIFFERS {where} prints otherwise on {first} and {second}:\n{d.diff}" for d in drifts]
    return problems, notes, compared


def _why_failed(result: SectionResult | None) -> str:
    if result is None:
        return "it has no result"
    if result.failure:
        return result.failure
    error = next(e for e in result.errors if not e.expected)
    return f"{error.ename} at {error.location}: {error.evalue}"
