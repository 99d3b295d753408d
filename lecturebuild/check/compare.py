"""Comparing outputs with what they should be: text normalised (addresses, timings, the device line), then
compared line by line, integers exactly and floats within a tolerance; the diff a check prints."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass

from lecturebuild.model import SETUP_ID

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
    text = TIMING.sub("<time>", text) if looks_timed(text) else text
    text = re.sub(r"(device[^\n:]*:\s*)(cpu|cuda(?::\d+)?|mps)\b", r"\1<device>", text, flags=re.IGNORECASE)
    # Where code lives: a snippet file in the build, a numbered cell file in a Jupyter kernel.
    return re.sub(r"/tmp/ipykernel_\d+/\d+\.py|snippets/[^\s:\"']+\.py", "<code>", text)


def looks_timed(text: str) -> bool:
    return bool(re.search(r"\b(took|elapsed|time|seconds|ms)\b", text, re.IGNORECASE))


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
