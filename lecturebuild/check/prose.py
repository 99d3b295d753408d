"""Numbers typed by hand in the prose that no output of the lecture supports: they go stale silently
when the code changes, where a quoted value ({{ section.name }}) cannot."""

from __future__ import annotations

import json
import re

from lecturebuild.check.compare import NUMBER
from lecturebuild.model import FACT, Lecture, SectionResult, Stream, Value

# What counts as a claim about a run: shapes, numbers with thousands separators or of five digits and
# more, decimals and percentages; and whole numbers of two to four digits next to what they count
# ("1455 parameters", "27 pixels") or stated as a value ("the side is 27", "= 128"). Single digits
# ("2 layers", section numbers) and years ("in 2017") are not claims; neither is anything inside {{ }}
# (quoted from the run), a {fact}`...` (a number from outside the run) or $...$ math.
CLAIM = re.compile(r"torch\.Size\(\[[\d,\s]*\]\)|\(\d+(?:,\s*\d+)+\)|\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+\.\d+%?"
                   r"|\d+%|\d{5,}")


QUOTED = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
UNITS = ("parameters|weights|biases|units|neurons|channels|features|dimensions|dims|pixels|samples|examples|"
         "images|tokens|words|characters|chars|steps|epochs|iterations|batches|classes|labels|rows|columns|"
         "entries|elements|values|points|nodes|edges|heads|bytes|MB|GB|KB")
COUNTED = re.compile(rf"(?<![\w.,$-])(\d{{2,4}})(?=\s+(?:{UNITS})\b)"
                     rf"|(?:\b(?:is|are|was|were|equals|becomes)\s+|=\s*)(\d{{2,4}})(?![\w,%]|\.\d)")


def handtyped_numbers(lecture: Lecture, results: dict[str, SectionResult]) -> list[str]:
    """`file:line: ...` for every number the prose states that no output or code of the lecture contains."""
    numbers, shapes = _evidence(lecture, results)
    problems = []
    blocks = list(lecture.intro) + [b for s in lecture.sections for b in s.blocks if hasattr(b, "text")]
    for block in blocks:
        text = MATH.sub(_blank, FACT.sub(_blank, QUOTED.sub(_blank, block.text)))
        found = [(m.start(), m.group()) for m in CLAIM.finditer(text)]
        found += [(m.start(m.lastindex), m.group(m.lastindex)) for m in COUNTED.finditer(text)]
        for start, claim in sorted(found):
            if _supported(claim, numbers, shapes):
                continue
            line = block.line + text.count("\n", 0, start)
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
