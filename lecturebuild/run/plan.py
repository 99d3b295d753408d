"""Which sections must run, and why: a cache keyed per section by everything that can change its output.

A section's key hashes its snippet code, the lecture's setup code, seed, threads and float precision,
Python's hash seed, the keys of the sections it needs, the device kind, the torch and Python versions,
and lecturebuild's code that runs sections (run/, model.py, prelude.py). The
course files a run opened (data files, local modules; recorded while it ran, replayed sections
included) are checked too. Prose and templates are not inputs, so editing them never runs code.
The stored result is the cache: a section is fresh when its stored result has the same key, the
files it read are unchanged, and it ran to the end.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from lecturebuild.model import HASH_SEED, SETUP_ID, Lecture, Limits, SectionResult, Snippet
from lecturebuild.run.device import resolve_device, torch_version
from lecturebuild.store import digest, file_digest, key_of
from lecturebuild.version import RUN_CODE, code_digest


@dataclass(frozen=True)
class RunEnvironment:
    """The inputs every section shares: where and with what it runs."""

    device: str  # resolved kind: "cpu" or "cuda"
    torch: str
    python: str
    executor: str  # digest of the code that runs sections (version.RUN_CODE)

    @classmethod
    def detect(cls, request: str) -> "RunEnvironment":
        device = request if request in ("cpu", "cuda") else resolve_device(request)  # resolved: checked already
        return cls(device=device, torch=torch_version(), python=platform.python_version(),
                   executor=code_digest(*RUN_CODE))


@dataclass(frozen=True)
class Job:
    """One section to run: `section` is SETUP_ID for the lecture's setup."""

    section: str
    key: str
    inputs: dict[str, str]
    reason: str
    limits: Limits = Limits()  # the section's own, over its lecture's; the build fills in the rest


def _snippets_digest(snippets: tuple[Snippet, ...]) -> str:
    return digest(*(f"{s.name}\n{s.raises}\n{s.code}" for s in snippets))


def lecture_inputs(lecture: Lecture, env: RunEnvironment) -> dict[str, dict[str, str]]:
    """The inputs of the setup and of every section with code, by section id, in lecture order."""
    common = {"device": env.device, "torch": env.torch, "python": env.python, "executor": env.executor,
              "seed": str(lecture.seed), "threads": str(lecture.threads), "precision": lecture.precision,
              "hash seed": HASH_SEED,
              "setup": _snippets_digest((lecture.setup,)) if lecture.setup else "none"}
    if lecture.sequential:
        common["random state"] = "one stream through the lecture"
    table = {SETUP_ID: dict(common)}
    keys: dict[str, str] = {}
    for section in lecture.runnable:
        inputs = dict(common, code=_snippets_digest(section.snippets))
        for need in section.needs:
            inputs[f"needs {need}"] = keys.get(need, "no code")
        table[section.id] = inputs
        keys[section.id] = key_of(inputs)
    return table


def lecture_keys(lecture: Lecture, env: RunEnvironment) -> dict[str, str]:
    return {sid: key_of(inputs) for sid, inputs in lecture_inputs(lecture, env).items()}


def plan_lecture(lecture: Lecture, env: RunEnvironment, stored: dict[str, SectionResult | None],
                 root: Path) -> list[Job]:
    """The sections whose stored result is missing, failed, made from other inputs or from other files."""
    jobs = []
    for section, inputs in lecture_inputs(lecture, env).items():
        if section == SETUP_ID and lecture.setup is None:
            continue
        key = key_of(inputs)
        previous = stored.get(section)
        if previous is not None and previous.key == key and previous.ok and not changed_reads(previous, root):
            continue
        own = lecture.section(section).limits if section != SETUP_ID else Limits()
        jobs.append(Job(section=section, key=key, inputs=inputs, reason=why(previous, inputs, root),
                        limits=own.over(lecture.limits)))
    return jobs


def changed_reads(previous: SectionResult, root: Path) -> list[str]:
    """The course files the previous run read that have changed since (or disappeared)."""
    return [path for path, digest in sorted(previous.reads.items()) if file_digest(root / path) != digest]


def why(previous: SectionResult | None, inputs: dict[str, str], root: Path) -> str:
    """A short reason a section runs, naming the inputs that changed."""
    if previous is None:
        return "not run before"
    if previous.key == key_of(inputs):
        files = changed_reads(previous, root)
        return f"changed: {', '.join(files)}" if files and previous.ok else "its last run failed"
    changed = sorted(name for name in inputs.keys() | previous.inputs.keys()
                     if inputs.get(name) != previous.inputs.get(name))
    labels = {"code": "snippet code", "setup": "setup code", "executor": "lecturebuild's executor"}
    described = []
    for name in changed:
        if name in ("device", "torch", "python", "precision"):
            described.append(f"{name} {previous.inputs.get(name, '?')} -> {inputs.get(name, '?')}")
        else:
            described.append(labels.get(name, name))
    return "changed: " + ", ".join(described)
