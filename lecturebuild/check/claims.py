"""The claims of an imported lecture: the outputs its source showed (claims/<lecture>.json), compared once
with the real run; the report says where they disagree, and why a difference may be expected."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from lecturebuild.check.compare import NUMBER, Drift, lines_agree, normalise, tolerant_diff
from lecturebuild.check.snapshots import section_snapshot
from lecturebuild.model import Course, Lecture, SectionResult, Stream, Value
from lecturebuild.prelude import DRAWS_RANDOM, SEEDS
from lecturebuild.store import Store


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
    if section_id not in sections:
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
    if not any(SEEDS.search(s.code) for s in everything):
        return UNSEEDED_NOTE
    return "" if lecture.sequential else RANDOM_STATE_NOTE  # sequential: the source's one stream, kept


def whole_output(result: SectionResult, store: Store) -> SectionResult:
    """A section's result with what it printed past the output limit put back (from the full output the
    worker kept), so that claims are compared with everything it printed, not with the cut copy."""
    from lecturebuild.run.capture import CUT_NOTE, uncut_runs

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
    results = {sid: whole_output(r, store) for sid, r in store.results(lecture).stored().items()}
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
