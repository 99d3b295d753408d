"""Truth checks: does the material still say what the code prints?

Snapshots. The outputs of the last accepted build live in the repository, one reviewable JSON file
per lecture and device kind: snapshots/<cpu|cuda>/<lecture>.json, holding the platform it was
accepted on (device kind and name, the CPU kernels torch used, torch's version), each section's
normalised text outputs (as lists of lines) and what its figures show (figures.py). `doit check`
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

import difflib
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .dataflow import DRAWS_RANDOM, SEEDS
from .execute import load_results
from .model import BUILD_LIMITS, HASH_SEED, SETUP_ID, Course, Error, Figure, File, Lecture, SectionResult, Stream, Value
from .store import Store

ABSOLUTE_FLOOR = 1e-6
# Across platforms, float32 rounding alone moves a value of order 1 by up to about 1e-5 after a few
# dozen operations (a from-scratch RNN against nn.RNN differs by 2e-7 on a CPU, 8e-6 on an H100).
PLATFORM_FLOOR = 1e-5

TIMING = re.compile(r"\b(\d+(?:\.\d+)?)\s?(ms|µs|us|ns|s|sec|seconds)\b(?!\w)")
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
                    r"|\d+[eE][-+]?\d+|\d+)")


def normalise(text: str) -> str:
    """Text with what legitimately varies between runs replaced: addresses, timings, the device."""
    text = re.sub(r"( object)? at 0x[0-9a-fA-F]{6,}", " at 0x<address>", text)  # IPython drops " object"
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x<address>", text)
    text = TIMING.sub("<time>", text) if _looks_timed(text) else text
    text = re.sub(r"(device[^\n:]*:\s*)(cpu|cuda(?::\d+)?|mps)\b", r"\1<device>", text, flags=re.IGNORECASE)
    # Where code lives: a snippet file in the build, a numbered cell file in a Jupyter kernel.
    return re.sub(r"/tmp/ipykernel_\d+/\d+\.py|snippets/[^\s:\"']+\.py", "<code>", text)


def _looks_timed(text: str) -> bool:
    return bool(re.search(r"\b(took|elapsed|time|seconds|ms)\b", text, re.IGNORECASE))


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
# Comparison


def lines_of(section: list[dict]) -> list[str]:
    """A section's snapshot as the lines a reader compares, each prefixed with where it came from."""
    lines = []
    for run in section:
        for output in run["outputs"]:
            ((kind, content),) = output.items()
            for line in content if isinstance(content, list) else [content]:
                lines.append(f"{run['snippet']} {kind}: {line}")
    return lines


def lines_agree(expected: str, actual: str, tolerance: float, across: bool = False) -> bool:
    """Same text between numbers; integers equal; floats equal within `tolerance` (relative). `across`
    platforms, floats one unit apart in their last printed digit agree too (0.978 and 0.979)."""
    expected_parts, actual_parts = NUMBER.split(expected), NUMBER.split(actual)
    expected_numbers, actual_numbers = NUMBER.findall(expected), NUMBER.findall(actual)
    if expected_parts != actual_parts or len(expected_numbers) != len(actual_numbers):
        return False
    return all(_numbers_agree(a, b, tolerance, across) for a, b in zip(expected_numbers, actual_numbers))


def _numbers_agree(expected: str, actual: str, tolerance: float, across: bool = False) -> bool:
    if _is_integer(expected) and _is_integer(actual):
        return expected == actual
    a, b = float(expected.replace(",", "")), float(actual.replace(",", ""))
    allowed = max(ABSOLUTE_FLOOR, tolerance * abs(a))
    if across:
        allowed = max(allowed, PLATFORM_FLOOR, _last_digit(expected), _last_digit(actual))
    return abs(a - b) <= allowed * (1 + 1e-9)  # the factor absorbs the rounding of the subtraction


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def _last_digit(token: str) -> float:
    """The value of one unit in the last printed digit: 0.001 for "0.978", 1e-08 for "1.2e-07"."""
    mantissa, _, exponent = token.replace(",", "").lower().partition("e")
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def _align_key(line: str) -> str:
    """What a diff aligns a line by: its text and integers, its floats masked (they agree within a tolerance)."""
    return NUMBER.sub(lambda m: m.group() if _is_integer(m.group()) else "\0", line)


class _TolerantMatcher(difflib.SequenceMatcher):
    """Aligns lines by their text and integers, then tags aligned lines whose floats disagree "differ".
    (Aligning by the check's rules directly costs minutes on a few thousand lines of a training log.)"""

    def __init__(self, old: list[str], new: list[str], agree):
        super().__init__(None, [_align_key(line) for line in old], [_align_key(line) for line in new])
        self.old, self.new, self.agree = old, new, agree

    def get_opcodes(self):
        opcodes = []
        for tag, i1, i2, j1, j2 in super().get_opcodes():
            if tag != "equal":
                opcodes.append((tag, i1, i2, j1, j2))
                continue
            pairs = itertools.groupby(range(i2 - i1), lambda k: self.agree(self.old[i1 + k], self.new[j1 + k]))
            for agrees, run in pairs:
                first, *rest = run
                last = rest[-1] if rest else first
                opcodes.append(("equal" if agrees else "differ", i1 + first, i1 + last + 1, j1 + first, j1 + last + 1))
        return opcodes


def _hunk_range(start: int, stop: int) -> str:
    """A unified diff's line range: 1-based start and length, the length left out when it is 1."""
    length = stop - start
    return str(start + 1) if length == 1 else f"{start + (1 if length else 0)},{length}"


def tolerant_diff(old: list[str], new: list[str], labels: tuple[str, str], tolerance: float,
                  across: bool = False) -> str:
    """A unified diff in which lines that agree within the tolerance are context."""
    matcher = _TolerantMatcher(old, new, lambda a, b: lines_agree(a, b, tolerance, across))
    lines = []
    for group in matcher.get_grouped_opcodes(1):
        if not lines:
            lines += [f"--- {labels[0]}", f"+++ {labels[1]}"]
        lines.append(f"@@ -{_hunk_range(group[0][1], group[-1][2])} +{_hunk_range(group[0][3], group[-1][4])} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in old[i1:i2]]
            elif tag == "differ":  # each line beside its counterpart
                lines += [f"{sign}{line}" for pair in zip(old[i1:i2], new[j1:j2]) for sign, line in zip("-+", pair)]
            else:
                lines += ["-" + line for line in old[i1:i2]] + ["+" + line for line in new[j1:j2]]
    return "\n".join(lines)


@dataclass(frozen=True)
class Drift:
    lecture: str
    where: str  # "section 'model'" or "notebook cell 'snippets/lec/model.py'"
    diff: str  # a unified diff of the normalised lines, the accepted or built ones first
    expected: str = "what was accepted"

    def __str__(self) -> str:
        return f"DRIFT {self.lecture}: {self.where} no longer prints {self.expected}:\n{self.diff}"


def compare_sections(lecture: str, expected: dict, actual: dict, tolerance: float,
                     tolerances: dict[str, float] | None = None, across: bool = False,
                     labels: tuple[str, str] = ("accepted", "this build")) -> list[Drift]:
    """Every section whose lines disagree; `tolerances` holds sections' own tolerances, `across` says the
    two sides come from different platforms."""
    drifts = []
    for sid in sorted(expected.keys() | actual.keys(), key=lambda s: (s != SETUP_ID, s)):
        old, new = lines_of(expected.get(sid, [])), lines_of(actual.get(sid, []))
        section_tolerance = (tolerances or {}).get(sid, tolerance)
        if len(old) == len(new) and all(lines_agree(a, b, section_tolerance, across) for a, b in zip(old, new)):
            continue
        diff = tolerant_diff(old, new, labels, section_tolerance, across)
        drifts.append(Drift(lecture, f"section {sid!r}", diff))
    return drifts


# ----------------------------------------------------------------------------------------------
# Claims: the outputs an imported source showed (importer.py), compared with the real run

def claims_path(root: Path, lecture: str) -> Path:
    return root / "claims" / f"{lecture}.json"


def _claim_lines(outputs: list[dict]) -> list[str]:
    """Outputs as comparable lines. Pasted output loses indentation and blank lines, so both are ignored."""
    lines = []
    for output in outputs:
        ((kind, content),) = output.items()
        if kind == "figure":
            lines.append("[figure]")
        elif kind == "error":
            lines.append(f"[error] {normalise(content).strip()}")
        else:
            lines += [line.strip() for line in normalise("\n".join(content)).splitlines() if line.strip()]
    return lines


def compare_claims(lecture: Lecture, claims: dict, results: dict[str, SectionResult],
                   figures: Path) -> list[tuple[str, Drift]]:
    """(section id, drift) for every code block whose real output differs from what the source showed, by
    the check's rules."""
    drifts = []
    for sid, entries in claims.get("sections", {}).items():
        result = results.get(sid)
        actual = {run["snippet"]: run["outputs"] for run in section_snapshot(result, figures)} if result else {}
        for entry in entries:
            old = _claim_lines(entry["outputs"])
            new = _claim_lines(actual.get(entry["snippet"], []))
            if len(old) == len(new) and all(lines_agree(a, b, lecture.tolerance) for a, b in zip(old, new)):
                continue
            diff = tolerant_diff(old, new, ("the source showed", "the run printed"), lecture.tolerance)
            where = (f"section {sid!r}, {entry['snippet']} (the block at {entry.get('source', '?')} of "
                     f"{claims.get('source', 'the source')})")
            drifts.append((sid, Drift(lecture.name, where, diff)))
    return drifts


RANDOM_STATE_NOTE = ("NOTE: this section or code it builds on draws random numbers, so the difference may come "
                     "from random state: the build reseeds before every section, while the source ran one random "
                     "stream from top to bottom; `sequential: true` in the lecture's front matter keeps the "
                     "source's stream")
UNSEEDED_NOTE = ("NOTE: this section or code it builds on draws random numbers and the source sets no seed, so "
                 "its numbers came from a random state no run can repeat; seed the lecture's code to make them "
                 "reproducible")


def random_state_note(lecture: Lecture, section_id: str, diff: str) -> str:
    """The note for a block of `section_id` that prints other numbers than the source showed, where the
    section's code, the code it builds on or the lecture's setup draws random numbers; "" elsewhere."""
    sections = {s.id: s for s in lecture.sections}
    if lecture.sequential or section_id not in sections:
        return ""
    changed = [line for line in diff.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]
    if not any(NUMBER.search(line) for line in changed):
        return ""
    section = sections[section_id]
    snippets = [s for needed in lecture.closure(section) + (section,) for s in needed.snippets]
    snippets += [lecture.setup] if lecture.setup is not None else []
    if not any(DRAWS_RANDOM.search(s.code) for s in snippets):
        return ""
    everything = [s for sec in lecture.sections for s in sec.snippets] + list(filter(None, [lecture.setup]))
    return RANDOM_STATE_NOTE if any(SEEDS.search(s.code) for s in everything) else UNSEEDED_NOTE


def _whole_output(result: SectionResult, store: Store) -> SectionResult:
    """A section's result with what it printed past the output limit put back (from the full output the
    worker kept), so that claims are compared with everything it printed, not with the cut copy."""
    from .capture import CUT_NOTE, uncut_runs

    if not any(isinstance(o, (Stream, Value)) and CUT_NOTE in o.text for run in result.runs for o in run.outputs):
        return result
    runs = uncut_runs(result.runs, store.output_log_path(result.lecture, result.section))
    return result if runs is None else replace(result, runs=runs)


# What a build prints of a claims report, and what build/claims/<lecture>.txt keeps: diff lines of
# each disagreeing block, and lines in all.
CLAIMS_PRINTED = (40, 200)
CLAIMS_KEPT = (2_000, 50_000)


@dataclass(frozen=True)
class ClaimsReport:
    heading: str
    blocks: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (heading lines, diff lines) per block

    def render(self, limits: tuple[int, int], elsewhere: str) -> str:
        """The report with at most `limits` (diff lines a block, lines in all); what is left out is
        counted, and `elsewhere` says where it is."""
        per_block, in_all = limits
        lines, left_blocks = [self.heading], 0
        for heading, diff in self.blocks:
            room = min(per_block, in_all - len(lines) - len(heading) - 1)
            if room < 1:
                left_blocks += 1
                continue
            lines += heading + diff[:room]
            if len(diff) > room:
                lines.append(f"[... {len(diff) - room:,} more lines of this diff {elsewhere}]")
        if left_blocks:
            lines.append(f"[... {left_blocks} more blocks that disagree {elsewhere}]")
        return "\n".join(lines) + "\n"


def claims_report(course: Course, lecture: Lecture, store: Store) -> ClaimsReport:
    """Where a lecture with a claims file prints otherwise than its imported source showed."""
    claims = json.loads(claims_path(course.root, lecture.name).read_text(encoding="utf-8"))
    results = {sid: _whole_output(r, store) for sid, r in load_results(store, lecture).items() if r is not None}
    drifts = compare_claims(lecture, claims, results, store.figures_dir(lecture.name))
    compared = sum(len(entries) for entries in claims.get("sections", {}).values())
    heading = (f"{lecture.name}: {len(drifts)} of {compared} code blocks print otherwise than "
               f"{claims.get('source', 'the imported source')} showed")
    blocks = []
    for sid, drift in drifts:
        note = random_state_note(lecture, sid, drift.diff)
        blocks.append(((f"CLAIM {drift.lecture}: {drift.where}:",) + ((note,) if note else ()),
                       tuple(drift.diff.splitlines())))
    return ClaimsReport(heading, tuple(blocks))


# ----------------------------------------------------------------------------------------------
# Hand-typed numbers in the prose

# What counts as a claim about a run: shapes, numbers with thousands separators or of five digits and
# more, decimals and percentages. Small whole numbers ("2 layers", "5 to 20 tokens", section numbers)
# and four-digit years are not claims; neither is anything inside {{ }} (quoted from the run) or
# inside $...$ math.
CLAIM = re.compile(r"torch\.Size\(\[[\d,\s]*\]\)|\(\d+(?:,\s*\d+)+\)|\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+\.\d+%?"
                   r"|\d+%|\d{5,}")
QUOTED = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)


def handtyped_numbers(lecture: Lecture, results: dict[str, SectionResult]) -> list[str]:
    """`file:line: ...` for every number the prose states that no output or code of the lecture contains."""
    numbers, shapes = _evidence(lecture, results)
    problems = []
    blocks = list(lecture.intro) + [b for s in lecture.sections for b in s.blocks if hasattr(b, "text")]
    for block in blocks:
        text = MATH.sub(_blank, QUOTED.sub(_blank, block.text))
        for match in CLAIM.finditer(text):
            claim = match.group()
            if _supported(claim, numbers, shapes):
                continue
            line = block.line + text.count("\n", 0, match.start())
            problems.append(f"lectures/{lecture.source.name}:{line}: the prose states {claim!r}, which no output "
                            f"of this lecture contains; quote the value from the run instead "
                            f"({{{{ section.name }}}}), so it cannot drift")
    return problems


def _blank(match: re.Match) -> str:
    return re.sub(r"[^\n]", " ", match.group())  # keep line numbers and columns


def _evidence(lecture: Lecture, results: dict[str, SectionResult]) -> tuple[set[float], set[tuple[int, ...]]]:
    texts = [s.code for section in lecture.sections for s in section.snippets]
    for result in results.values():
        if result is not None:
            texts += [o.text for run in result.runs for o in run.outputs if isinstance(o, (Stream, Value))]
            texts.append(json.dumps(result.values))
    joined = "\n".join(texts)
    numbers = {float(n.replace(",", "")) for n in NUMBER.findall(joined)}
    shapes = {tuple(int(d) for d in re.findall(r"\d+", m)) for m in re.findall(r"\[[\d,\s]+\]|\([\d,\s]+\)", joined)}
    return numbers, shapes


def _supported(claim: str, numbers: set[float], shapes: set[tuple[int, ...]]) -> bool:
    if claim.startswith(("torch.Size", "(")):
        return tuple(int(d) for d in re.findall(r"\d+", claim)) in shapes
    value = float(claim.rstrip("%").replace(",", ""))
    if claim.endswith("%"):  # 97.3% is supported by an output of 0.973 (or of 97.3)
        return any(abs(n * 100 - value) <= 0.051 or abs(n - value) <= 0.051 for n in numbers)
    return value in numbers


# ----------------------------------------------------------------------------------------------
# Notebooks that reproduce


def notebook_lines(notebook) -> dict[str, list[str]]:
    """Each code cell's outputs as comparable lines, keyed by cell id. Figures count, not their pixels:
    a kernel's inline backend draws them at its own size."""
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = []
        for output in cell.outputs:
            kind = output.output_type
            if kind == "stream":
                lines += [f"{output.name}: {line}" for line in normalise(output.text).splitlines()]
            elif kind == "execute_result":
                lines += [f"value: {line}" for line in normalise(output.data.get("text/plain", "")).splitlines()]
            elif kind == "display_data" and "image/png" in output.data:
                lines.append("figure")
            elif kind == "error":
                lines.append(f"error: {output.ename}: {normalise(output.evalue)}")
        cells[cell.id] = lines
    return cells


def reproduce_notebook(path: Path, tolerance: float, workdir: Path, timeout: float) -> list[Drift]:
    """Run a built notebook top to bottom in a fresh kernel; the cells whose outputs differ from the built ones."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    built = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    workdir.mkdir(parents=True, exist_ok=True)
    # The build's own interpreter, not whichever "python3" kernel is installed on the machine: another
    # Python hashes strings differently and may have another torch.
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(fresh, km=kernel, timeout=int(timeout), resources={"metadata": {"path": str(workdir)}})
    client.execute(env={**os.environ, "PYTHONHASHSEED": HASH_SEED})  # as the build's sections ran
    expected, actual = notebook_lines(built), notebook_lines(fresh)
    drifts = []
    for cell in built.cells:
        if cell.cell_type != "code":
            continue
        old, new = expected[cell.id], actual.get(cell.id, [])
        if len(old) == len(new) and all(lines_agree(a, b, tolerance) for a, b in zip(old, new)):
            continue
        where = cell.metadata.get("lecturebuild", {}).get("snippet", cell.id)
        diff = tolerant_diff(old, new, ("built", "re-executed"), tolerance)
        drifts.append(Drift(path.stem, f"notebook cell {where!r}", diff, "what the build printed"))
    return drifts


# ----------------------------------------------------------------------------------------------
# The commands: doit check, accept and reproduce


def _good_results(lecture: Lecture, store: Store) -> dict[str, SectionResult] | None:
    results = load_results(store, lecture)
    return None if any(r is None or not r.ok for r in results.values()) else results


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


def check_course(course: Course, store: Store, say) -> list[str]:
    """Every drift from the accepted snapshots and every unsupported number in the prose."""
    problems = []
    for lecture in course.lectures:
        results = _good_results(lecture, store)
        if results is None:
            problems.append(f"lecturebuild: {lecture.source.name}: not checked: some sections have no good run")
            continue
        platform = platform_of(results)
        actual = lecture_snapshot(lecture, results, store.figures_dir(lecture.name))
        snapshot = find_snapshot(course.root, lecture, platform.get("device", "cpu"))
        if snapshot is None:
            problems.append(f"lecturebuild: {lecture.name}: no accepted snapshot yet; review the build and run "
                            "`doit accept`")
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
        problems += handtyped_numbers(lecture, results)
    return problems


def accept_course(course: Course, store: Store, say) -> list[str]:
    """Write each lecture's current outputs as its accepted snapshot (review the diff, then commit it)."""
    for lecture in course.lectures:
        results = _good_results(lecture, store)
        if results is None:
            return [f"lecturebuild: {lecture.source.name}: not accepted: some sections have no good run"]
        platform = platform_of(results)
        path = snapshot_path(course.root, platform.get("device", "cpu"), lecture.name)
        write_snapshot(path, platform, lecture_snapshot(lecture, results, store.figures_dir(lecture.name)))
        say(f"lecturebuild: accepted {path.relative_to(course.root)} ({describe_platform(platform)})")
    return []


def reproduce_course(course: Course, store: Store, say) -> list[str]:
    """Re-execute every built notebook in a fresh Jupyter kernel; every cell that prints otherwise."""
    problems = []
    for lecture in course.lectures:
        path = store.build / "notebooks" / f"{lecture.name}.ipynb"
        limit = lecture.limits.over(BUILD_LIMITS).time * max(1, len(lecture.runnable))
        say(f"  re-executing {path.name} in a fresh kernel")
        workdir = store.scratch_dir(lecture.name, "_notebook")
        problems += [str(d) for d in reproduce_notebook(path, lecture.tolerance, workdir, limit)]
    return problems


# ----------------------------------------------------------------------------------------------
# Portability: the same course on the CPU and on the GPU


def portability_report(course: Course, stores: dict[str, Store]) -> tuple[list[str], list[str], int]:
    """(what differs between the two devices of `stores`, notes, sections compared). A section differs
    when it prints otherwise beyond its platform tolerance or fails on one device only."""
    (first, first_store), (second, second_store) = stores.items()
    problems, notes, compared = [], [], 0
    for lecture in course.lectures:
        one, two = load_results(first_store, lecture), load_results(second_store, lecture)
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
