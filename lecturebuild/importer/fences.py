"""Code and pasted output in Markdown fences: where an unlabelled fence's code stops and its output begins,
and blocks a page break cut in two, joined again."""

from __future__ import annotations

import ast


def parses(code: str) -> bool:
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
    if parses(text):
        return text.rstrip("\n") + "\n", ""
    cuts = [k for k in range(len(lines), 0, -1) if k == len(lines) or not lines[k].strip()]
    for k in cuts:
        code = "\n".join(lines[:k])
        if code.strip() and parses(code):
            return code.rstrip() + "\n", "\n".join(lines[k:]).strip("\n")
    return text.rstrip("\n") + "\n", ""


def join_continuation(first: str, continuation: str) -> tuple[str, str] | None:
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
        if parses(code) and taken > 0 and (best is None or taken > best[0]):
            best = (taken, code)
    if best is None:
        return None
    taken, code = best
    # The output keeps its own indentation: the page break shifted the code, not what it printed.
    return code, "\n".join(lines[taken:]).strip("\n")


