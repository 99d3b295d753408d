"""Truth checks: does the material still say what the code prints?

Snapshots. The outputs of the last accepted build live in the repository, one reviewable JSON file
per lecture and device kind: snapshots/<cpu|cuda>/<lecture>.json, holding the platform it was
accepted on (device kind and name, the CPU kernels torch used, torch's version), each section's
normalised text outputs (as lists of lines) and what its figures show (run/figures.py). `doit check`
compares a build with them; `doit accept` writes them. A build is compared with the snapshot of its
own device kind, or where there is none yet, with the other kind's.

Comparison by kind. Text is normalised first: memory addresses, timings and the device line. Then
lines are compared token by token: integers (shapes, parameter counts, "2,071,554") exactly, floats
within a relative tolerance (with an absolute floor of 1e-6), all other text exactly. On the platform
the snapshot was accepted on, runs are deterministic and the tolerance is the lecture's `tolerance`
(default 1e-3). On another platform (another CPU's kernels, a GPU, another torch) float results
legitimately differ in their last digits, and more after many training steps: floats then agree
within the lecture's `platform_tolerance` (default 0.02), or a section's own, or one unit of the
last printed digit, with an absolute floor of 1e-5; everything else is still compared exactly. The report says which lectures were
compared across platforms.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lecturebuild.check.compare import compare_sections, normalise
from lecturebuild.check.prose import handtyped_numbers
from lecturebuild.model import Course, Error, Figure, File, Lecture, SectionResult, Stream, Value
from lecturebuild.store import Store

# ----------------------------------------------------------------------------------------------
# Snapshots


def section_snapshot(result: SectionResult, figures: Path) -> list[dict]:
    """A section's outputs as compact, reviewable data: text as lists of lines, figures as digests."""
    snapshot = []
    for run in result.runs:
        outputs = []
        for output in run.outputs:
            if isinstance(output, Stream):
                outputs.append({output.name: normalise(output.text).splitlines()})
            elif isinstance(output, Value):
                outputs.append({"value": normalise(output.text).splitlines()})
            elif isinstance(output, Error):
                outputs.append({"error": f"{output.ename}: {normalise(output.evalue)}"})
            elif isinstance(output, Figure) and output.data:
                outputs.append({"figure": list(output.data)})
            elif isinstance(output, Figure):  # a result from before figures were described: its bytes
                digest = hashlib.sha256((figures / output.file).read_bytes()).hexdigest()[:16]
                outputs.append({"figure": f"{output.alt} [{digest}]"})
            elif isinstance(output, File):
                outputs.append({"file": f"{output.file} ({output.size} bytes)"})
        snapshot.append({"snippet": run.snippet, "outputs": outputs})
    return snapshot


def lecture_snapshot(lecture: Lecture, results: dict[str, SectionResult], figures: Path) -> dict:
    return {sid: section_snapshot(result, figures) for sid, result in results.items() if result is not None}


def platform_of(results: dict[str, SectionResult]) -> dict[str, str]:
    """What a lecture's float results depend on, beyond its code: where it ran."""
    device = next((r.device for r in results.values() if r is not None), None)
    if device is None:  # a lecture without code
        return {}
    return {"device": device.kind, "name": device.name, "isa": device.isa, "torch": device.torch}


def describe_platform(platform: dict[str, str]) -> str:
    if not platform:
        return "an unrecorded platform"
    isa = f" ({platform['isa']} kernels)" if platform.get("isa") and platform.get("device") == "cpu" else ""
    return f"{platform.get('device', '?').upper()} {platform.get('name', '?')}{isa}, torch {platform.get('torch', '?')}"


def snapshot_path(root: Path, device: str, lecture: str) -> Path:
    return root / "snapshots" / device / f"{lecture}.json"


def write_snapshot(path: Path, platform: dict[str, str], sections: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"platform": platform, "sections": sections}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def read_snapshot(path: Path) -> tuple[dict[str, str], dict] | None:
    """(the platform it was accepted on, its sections); None where there is none. A snapshot from before
    platforms were recorded has an empty platform, so it is compared as from another platform."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data.get("platform"), dict) and isinstance(data.get("sections"), dict):
        return data["platform"], data["sections"]
    return {}, data


# ----------------------------------------------------------------------------------------------
# The commands: doit check and accept


def platform_tolerances(lecture: Lecture) -> dict[str, float]:
    """Each section's float tolerance against outputs from another platform."""
    return {s.id: s.platform_tolerance or lecture.platform_tolerance for s in lecture.sections}


def find_snapshot(root: Path, lecture: Lecture, kind: str) -> tuple[dict[str, str], dict] | None:
    """The snapshot of this device kind, else of another kind (a CUDA build without a CUDA snapshot)."""
    for device in [kind] + [d for d in ("cpu", "cuda") if d != kind]:
        snapshot = read_snapshot(snapshot_path(root, device, lecture.name))
        if snapshot is not None:
            return snapshot
    return None


def check_lecture(course: Course, lecture: Lecture, store: Store, say) -> list[str]:
    """Every drift of the lecture from its accepted snapshot and every unsupported number in its prose."""
    results = store.results(lecture)
    if not results.all_good:
        return [f"lecturebuild: {lecture.source.name}: not checked: some sections have no good run"]
    problems = []
    platform = platform_of(results)
    actual = lecture_snapshot(lecture, results, store.figures_dir(lecture.name))
    snapshot = find_snapshot(course.root, lecture, platform.get("device", "cpu"))
    if snapshot is None:
        problems.append(f"lecturebuild: {lecture.name}: no accepted snapshot yet; review the build and run "
                        f"`doit accept:{lecture.name}`")
    elif snapshot[0] == platform:
        problems += [str(d) for d in compare_sections(lecture.name, snapshot[1], actual, lecture.tolerance)]
    else:
        if not snapshot[0]:
            say(f"lecturebuild: {lecture.name}: its snapshot predates recorded platforms and figure descriptions; "
                "figures will show as changed once: review the build, then `doit accept`")
        tolerances = platform_tolerances(lecture)
        own = ", ".join(f"{sid} {t:g}" for sid, t in tolerances.items() if t != lecture.platform_tolerance)
        say(f"lecturebuild: {lecture.name}: accepted on {describe_platform(snapshot[0])}; this build ran on "
            f"{describe_platform(platform)}. Compared across platforms: text and integers exactly, floats "
            f"within {lecture.platform_tolerance:g}" + (f" (sections with their own: {own})" if own else ""))
        problems += [str(d) for d in compare_sections(lecture.name, snapshot[1], actual, lecture.platform_tolerance,
                                                      tolerances, across=True)]
    return problems + handtyped_numbers(lecture, results)


def accept_lecture(course: Course, lecture: Lecture, store: Store, say) -> list[str]:
    """Write the lecture's current outputs as its accepted snapshot (review the diff, then commit it), saying
    first what changes against the snapshot there; a snapshot that would not change is left as it is."""
    results = store.results(lecture)
    if not results.all_good:
        return [f"lecturebuild: {lecture.source.name}: not accepted: some sections have no good run"]
    platform = platform_of(results)
    path = snapshot_path(course.root, platform.get("device", "cpu"), lecture.name)
    actual = lecture_snapshot(lecture, results, store.figures_dir(lecture.name))
    shown = path.relative_to(course.root)
    previous = read_snapshot(path) if path.exists() else None
    if previous == (platform, json.loads(json.dumps(actual))):
        say(f"lecturebuild: {shown} is unchanged")
        return []
    if previous is None:
        say(f"lecturebuild: {shown}: a new snapshot, {len(actual)} sections")
    else:
        changes = [f"lecturebuild: {shown}: {d.where} changes:\n{d.diff}"
                   for d in compare_sections(lecture.name, previous[1], actual, 0.0, labels=("accepted", "accepting"))]
        if previous[0] != platform:
            changes.insert(0, f"lecturebuild: {shown}: accepted on {describe_platform(previous[0])} before; "
                              f"now on {describe_platform(platform)}")
        for change in changes:
            say(change)
    write_snapshot(path, platform, actual)
    say(f"lecturebuild: accepted {shown} ({describe_platform(platform)})")
    return []
